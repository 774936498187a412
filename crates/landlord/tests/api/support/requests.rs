//! Requests as the different callers make them: a signed-in person (bearer
//! token), a service (API key), a client behind a proxy, a provider posting
//! raw bytes.

use serde_json::Value;

use super::TestApp;

impl TestApp {
    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn post_as(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn delete_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    /// `method path` with an `X-Api-Key`.
    pub async fn with_key(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .header("x-api-key", key)
            .send()
            .await
            .expect("request sent")
    }

    /// `POST /messages/send` with an API key and, if given, an idempotency key.
    pub async fn send_message(
        &self,
        key: &str,
        body: &Value,
        idempotency: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/api/v1/messages/send"))
            .header("x-api-key", key)
            .json(body);
        if let Some(k) = idempotency {
            request = request.header("idempotency-key", k);
        }
        request.send().await.expect("request sent")
    }

    /// `POST path` with `body` as if through a proxy chain `forwarded_for`.
    pub async fn post_forwarded(
        &self,
        path: &str,
        forwarded_for: &str,
        body: &Value,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("x-forwarded-for", forwarded_for)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// `POST path` with raw JSON bytes, as a payment provider posts webhooks.
    pub async fn post_raw(&self, path: &str, body: &[u8]) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .expect("request sent")
    }
}
