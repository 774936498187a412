//! The marketplace's calls to Stripe and Paystack, in their documented
//! shapes, at the configured base URLs: starting a payment (PaymentIntent,
//! Checkout Session, transaction initialize), verifying a Paystack
//! transaction, refunds, and transfers to vendors.

use landlord_core::telemetry::SendTraced;
use std::sync::Arc;
use std::time::Duration;

use landlord_core::calls::{failed_status, CallCounts, Counter};
use landlord_core::Config;
use serde_json::Value;

use crate::store::{OrderRow, PayoutProvider, PayoutRow};

/// What a provider answered when it did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The request was refused for what it says (4xx): retrying the same
    /// request will not help.
    #[error("{0}")]
    Declined(String),
    /// 404: what was asked for does not exist there (a definite answer,
    /// unlike [`ProviderError::Unavailable`]).
    #[error("{0}")]
    NotFound(String),
    /// Timeouts, 5xx, unreadable answers: worth another try with the same
    /// idempotency key.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0} is not configured on this server")]
    NotConfigured(&'static str),
}

/// Where the buyer pays an order.
#[derive(Debug, Clone)]
pub struct StartedPayment {
    /// PaymentIntent id (`pi_…`), Checkout Session id (`cs_…`) or Paystack reference.
    pub reference: String,
    /// For Stripe.js (`stripe.confirmPayment`).
    pub client_secret: Option<String>,
    /// A hosted payment page (Stripe Checkout, Paystack).
    pub url: Option<String>,
}

#[derive(Clone)]
pub struct PaymentClient {
    http: reqwest::Client,
    stripe: Option<(String, String)>,
    paystack: Option<(String, String)>,
    app_url: String,
    /// Every real call's outcome, for integration health.
    stripe_calls: Arc<Counter>,
    paystack_calls: Arc<Counter>,
}

/// A provider call's outcome, counted: failed when the provider could not
/// be reached or its status says it failed ([`failed_status`]).
fn counted(
    counter: &Counter,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<reqwest::Response, reqwest::Error> {
    counter.record(match &sent {
        Ok(response) => !failed_status(response.status().as_u16()),
        Err(_) => false,
    });
    sent
}

impl PaymentClient {
    pub fn from_config(config: &Config) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_default();
        let base = |url: &str| url.trim_end_matches('/').to_string();
        Self {
            http,
            stripe: config
                .stripe_secret_key
                .as_ref()
                .map(|key| (base(&config.stripe_api_base), key.expose_str().to_string())),
            paystack: config.paystack_secret_key.as_ref().map(|key| {
                (
                    base(&config.paystack_api_base),
                    key.expose_str().to_string(),
                )
            }),
            app_url: config.app_url().to_string(),
            stripe_calls: CallCounts::of(config).counter("stripe"),
            paystack_calls: CallCounts::of(config).counter("paystack"),
        }
    }

    pub fn configured(&self, provider: PayoutProvider) -> bool {
        match provider {
            PayoutProvider::Stripe => self.stripe.is_some(),
            PayoutProvider::Paystack => self.paystack.is_some(),
        }
    }

    fn stripe(&self) -> Result<&(String, String), ProviderError> {
        self.stripe
            .as_ref()
            .ok_or(ProviderError::NotConfigured("Stripe"))
    }

    fn paystack(&self) -> Result<&(String, String), ProviderError> {
        self.paystack
            .as_ref()
            .ok_or(ProviderError::NotConfigured("Paystack"))
    }

    /// Stripe: a form POST with an idempotency key; the answer's JSON.
    async fn stripe_post(
        &self,
        path: &str,
        idempotency_key: &str,
        form: &[(&str, String)],
    ) -> Result<Value, ProviderError> {
        let (base, key) = self.stripe()?;
        let response = self
            .http
            .post(format!("{base}{path}"))
            .bearer_auth(key)
            .header("Idempotency-Key", idempotency_key)
            .form(form)
            .send_traced("stripe")
            .await;
        let response = counted(&self.stripe_calls, response)
            .map_err(|e| ProviderError::Unavailable(format!("Stripe: {e}")))?;
        answer("Stripe", response, |body| {
            body["error"]["message"].as_str().map(str::to_string)
        })
        .await
    }

    /// Paystack: a JSON POST; the answer's `data`.
    async fn paystack_post(&self, path: &str, body: &Value) -> Result<Value, ProviderError> {
        let (base, key) = self.paystack()?;
        let response = self
            .http
            .post(format!("{base}{path}"))
            .bearer_auth(key)
            .json(body)
            .send_traced("paystack")
            .await;
        let response = counted(&self.paystack_calls, response)
            .map_err(|e| ProviderError::Unavailable(format!("Paystack: {e}")))?;
        let body = answer("Paystack", response, |body| {
            body["message"].as_str().map(str::to_string)
        })
        .await?;
        if body["status"] != true {
            return Err(ProviderError::Declined(format!(
                "Paystack: {}",
                body["message"].as_str().unwrap_or("refused")
            )));
        }
        Ok(body["data"].clone())
    }

    /// Starts the buyer's payment of `order`. Stripe: a PaymentIntent for
    /// the total (its client secret for Stripe.js), or with `hosted` a
    /// Checkout Session whose PaymentIntent carries the order id. Paystack:
    /// a transaction (its authorization URL). The idempotency key derives
    /// from the order, so a retried checkout starts one payment.
    pub async fn start_payment(
        &self,
        order: &OrderRow,
        email: &str,
        hosted: bool,
    ) -> Result<StartedPayment, ProviderError> {
        let key = format!("marketplace_order_{}", order.id);
        let order_page = format!("{}/marketplace/orders/{}", self.app_url, order.id);
        match order.provider {
            PayoutProvider::Stripe if hosted => {
                let form = [
                    ("mode", "payment".to_string()),
                    ("success_url", format!("{order_page}?paid=1")),
                    ("cancel_url", order_page.clone()),
                    ("client_reference_id", order.id.to_string()),
                    ("customer_email", email.to_string()),
                    ("line_items[0][quantity]", "1".to_string()),
                    (
                        "line_items[0][price_data][currency]",
                        order.currency.to_lowercase(),
                    ),
                    (
                        "line_items[0][price_data][unit_amount]",
                        order.total.to_string(),
                    ),
                    (
                        "line_items[0][price_data][product_data][name]",
                        format!("Order {}", order.id),
                    ),
                    ("metadata[marketplace_order_id]", order.id.to_string()),
                    (
                        "payment_intent_data[metadata][marketplace_order_id]",
                        order.id.to_string(),
                    ),
                ];
                let body = self
                    .stripe_post("/v1/checkout/sessions", &format!("{key}_hosted"), &form)
                    .await?;
                Ok(StartedPayment {
                    reference: text(&body["id"])?,
                    client_secret: None,
                    url: Some(text(&body["url"])?),
                })
            }
            PayoutProvider::Stripe => {
                let form = [
                    ("amount", order.total.to_string()),
                    ("currency", order.currency.to_lowercase()),
                    ("automatic_payment_methods[enabled]", "true".to_string()),
                    ("receipt_email", email.to_string()),
                    ("metadata[marketplace_order_id]", order.id.to_string()),
                ];
                let body = self.stripe_post("/v1/payment_intents", &key, &form).await?;
                Ok(StartedPayment {
                    reference: text(&body["id"])?,
                    client_secret: Some(text(&body["client_secret"])?),
                    url: None,
                })
            }
            PayoutProvider::Paystack => {
                let reference = format!("mkt_{}", order.id.as_str().replace('-', ""));
                let data = self
                    .paystack_post(
                        "/transaction/initialize",
                        &serde_json::json!({
                            "email": email,
                            "amount": order.total,
                            "currency": order.currency,
                            "reference": reference,
                            "callback_url": format!("{order_page}?paid=1"),
                            "metadata": { "marketplace_order_id": order.id },
                        }),
                    )
                    .await?;
                Ok(StartedPayment {
                    reference: data["reference"].as_str().unwrap_or(&reference).to_string(),
                    client_secret: None,
                    url: Some(text(&data["authorization_url"])?),
                })
            }
        }
    }

    /// Paystack: `GET /transaction/verify/{reference}` → (status, amount, currency).
    pub async fn paystack_verify(
        &self,
        reference: &str,
    ) -> Result<(String, i64, String), ProviderError> {
        let (base, key) = self.paystack()?;
        let response = self
            .http
            .get(format!("{base}/transaction/verify/{reference}"))
            .bearer_auth(key)
            .send_traced("paystack")
            .await;
        let response = counted(&self.paystack_calls, response)
            .map_err(|e| ProviderError::Unavailable(format!("Paystack: {e}")))?;
        let body = answer("Paystack", response, |body| {
            body["message"].as_str().map(str::to_string)
        })
        .await?;
        let data = &body["data"];
        Ok((
            data["status"].as_str().unwrap_or_default().to_string(),
            data["amount"].as_i64().unwrap_or(-1),
            data["currency"].as_str().unwrap_or_default().to_uppercase(),
        ))
    }

    /// Refunds `amount` of a payment; `key` makes a retry the same refund
    /// (Stripe's `Idempotency-Key`) and marks it for [`find_refund`]
    /// (Stripe `metadata[landlord_refund_key]`, Paystack `merchant_note`).
    /// Returns the provider's refund id.
    ///
    /// [`find_refund`]: PaymentClient::find_refund
    pub async fn refund(
        &self,
        provider: PayoutProvider,
        payment_reference: &str,
        amount: i64,
        key: &str,
    ) -> Result<String, ProviderError> {
        match provider {
            PayoutProvider::Stripe => {
                let form = [
                    ("payment_intent", payment_reference.to_string()),
                    ("amount", amount.to_string()),
                    ("metadata[landlord_refund_key]", key.to_string()),
                ];
                let body = self.stripe_post("/v1/refunds", key, &form).await?;
                text(&body["id"])
            }
            PayoutProvider::Paystack => {
                let data = self
                    .paystack_post(
                        "/refund",
                        &serde_json::json!({
                            "transaction": payment_reference,
                            "amount": amount,
                            "merchant_note": paystack_refund_note(key),
                        }),
                    )
                    .await?;
                Ok(id_text(&data["id"]))
            }
        }
    }

    /// The refund made under `key` of a payment, asked of the provider:
    /// its id, or `None` when the provider lists none (failed and
    /// cancelled refunds do not count). Stripe: `GET /v1/refunds?
    /// payment_intent=`; Paystack: `GET /refund?transaction=`.
    pub async fn find_refund(
        &self,
        provider: PayoutProvider,
        payment_reference: &str,
        key: &str,
    ) -> Result<Option<String>, ProviderError> {
        match provider {
            PayoutProvider::Stripe => {
                let body = self
                    .stripe_get(
                        "/v1/refunds",
                        &[("payment_intent", payment_reference), ("limit", "100")],
                    )
                    .await?;
                Ok(listed(&body["data"])?
                    .iter()
                    .find(|refund| {
                        refund["metadata"]["landlord_refund_key"] == key
                            && !matches!(refund["status"].as_str(), Some("failed" | "canceled"))
                    })
                    .map(|refund| id_text(&refund["id"])))
            }
            PayoutProvider::Paystack => {
                let note = paystack_refund_note(key);
                let data = self
                    .paystack_get(
                        "/refund",
                        &[("transaction", payment_reference), ("perPage", "100")],
                    )
                    .await?;
                Ok(listed(&data)?
                    .iter()
                    .find(|refund| {
                        refund["merchant_note"] == note.as_str()
                            && refund["status"].as_str() != Some("failed")
                    })
                    .map(|refund| id_text(&refund["id"])))
            }
        }
    }

    /// Sends a payout: a Stripe Connect transfer (`Idempotency-Key:
    /// payout_<id>`) or a Paystack transfer (`reference`, which Paystack
    /// keeps unique). Returns the transfer's id or code.
    pub async fn transfer(&self, payout: &PayoutRow) -> Result<String, ProviderError> {
        let key = format!("payout_{}", payout.id);
        match payout.provider {
            PayoutProvider::Stripe => {
                let form = [
                    ("amount", payout.amount.to_string()),
                    ("currency", payout.currency.to_lowercase()),
                    ("destination", payout.account.clone()),
                    ("transfer_group", key.clone()),
                    ("metadata[payout_id]", payout.id.to_string()),
                ];
                let body = self.stripe_post("/v1/transfers", &key, &form).await?;
                text(&body["id"])
            }
            PayoutProvider::Paystack => {
                let data = self
                    .paystack_post(
                        "/transfer",
                        &serde_json::json!({
                            "source": "balance",
                            "amount": payout.amount,
                            "currency": payout.currency,
                            "recipient": payout.account,
                            "reference": key.replace('-', ""),
                            "reason": format!("Marketplace payout {}", payout.id),
                        }),
                    )
                    .await?;
                text(&data["transfer_code"])
            }
        }
    }

    /// The transfer an earlier attempt at `payout` made, asked of the
    /// provider: its id or code, or `None` when there is none. Stripe:
    /// `GET /v1/transfers?transfer_group=payout_<id>` (its idempotency key
    /// is forgotten after 24 hours; the group is not); Paystack:
    /// `GET /transfer/verify/{reference}`, a 404 meaning none.
    pub async fn find_transfer(&self, payout: &PayoutRow) -> Result<Option<String>, ProviderError> {
        let key = format!("payout_{}", payout.id);
        match payout.provider {
            PayoutProvider::Stripe => {
                let body = self
                    .stripe_get(
                        "/v1/transfers",
                        &[("transfer_group", &key), ("limit", "100")],
                    )
                    .await?;
                Ok(listed(&body["data"])?
                    .iter()
                    .find(|transfer| transfer["transfer_group"] == key.as_str())
                    .map(|transfer| id_text(&transfer["id"])))
            }
            PayoutProvider::Paystack => {
                let reference = key.replace('-', "");
                match self
                    .paystack_get(&format!("/transfer/verify/{reference}"), &[])
                    .await
                {
                    Ok(data) if matches!(data["status"].as_str(), Some("failed" | "reversed")) => {
                        Ok(None)
                    }
                    Ok(data) => text(&data["transfer_code"]).map(Some),
                    Err(ProviderError::NotFound(_)) => Ok(None),
                    Err(error) => Err(error),
                }
            }
        }
    }

    /// Stripe: a GET with query parameters; the answer's JSON.
    async fn stripe_get(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, ProviderError> {
        let (base, key) = self.stripe()?;
        let response = self
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(key)
            .query(query)
            .send_traced("stripe")
            .await;
        let response = counted(&self.stripe_calls, response)
            .map_err(|e| ProviderError::Unavailable(format!("Stripe: {e}")))?;
        answer("Stripe", response, |body| {
            body["error"]["message"].as_str().map(str::to_string)
        })
        .await
    }

    /// Paystack: a GET with query parameters; the answer's `data`.
    async fn paystack_get(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Value, ProviderError> {
        let (base, key) = self.paystack()?;
        let response = self
            .http
            .get(format!("{base}{path}"))
            .bearer_auth(key)
            .query(query)
            .send_traced("paystack")
            .await;
        let response = counted(&self.paystack_calls, response)
            .map_err(|e| ProviderError::Unavailable(format!("Paystack: {e}")))?;
        let body = answer("Paystack", response, |body| {
            body["message"].as_str().map(str::to_string)
        })
        .await?;
        if body["status"] != true {
            return Err(ProviderError::Unavailable(format!(
                "Paystack: {}",
                body["message"].as_str().unwrap_or("refused")
            )));
        }
        Ok(body["data"].clone())
    }
}

/// What marks a Paystack refund as ours (its `merchant_note`).
fn paystack_refund_note(key: &str) -> String {
    format!("landlord {key}")
}

/// A list's items; a missing list is an unreadable answer.
fn listed(value: &Value) -> Result<&Vec<Value>, ProviderError> {
    value
        .as_array()
        .ok_or_else(|| ProviderError::Unavailable("the provider's answer lacks its list".into()))
}

/// An id the provider gives as a number (Paystack) or a string.
fn id_text(value: &Value) -> String {
    match value {
        Value::Number(n) => n.to_string(),
        other => other.as_str().unwrap_or_default().to_string(),
    }
}

/// Reads a provider's answer: 2xx → its JSON; 4xx → declined with the
/// provider's message; anything else → unavailable.
async fn answer(
    provider: &str,
    response: reqwest::Response,
    message: impl Fn(&Value) -> Option<String>,
) -> Result<Value, ProviderError> {
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|e| ProviderError::Unavailable(format!("{provider} answered {status}: {e}")))?;
    if status.is_success() {
        return Ok(body);
    }
    let said = message(&body).unwrap_or_else(|| "no message".into());
    let text = format!("{provider} answered {status}: {said}");
    if status.as_u16() == 404 {
        Err(ProviderError::NotFound(text))
    } else if status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 409 {
        Err(ProviderError::Declined(text))
    } else {
        Err(ProviderError::Unavailable(text))
    }
}

fn text(value: &Value) -> Result<String, ProviderError> {
    value
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| ProviderError::Unavailable("the provider's answer lacks a field".into()))
}
