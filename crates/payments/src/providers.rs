//! The payment providers behind one interface. Each speaks its provider's
//! documented REST API at a configurable base URL.

use landlord_core::telemetry::SendTraced;
use std::sync::Arc;
use std::time::Duration;

use landlord_core::calls::{failed_status, CallCounts, Counter};

use landlord_core::ids::{BillingCycleId, OrganizationId};
use landlord_core::Config;
use serde_json::Value;

/// A checkout to start for one billing cycle.
#[derive(Debug, Clone)]
pub struct CheckoutRequest {
    pub billing_cycle_id: BillingCycleId,
    pub organization_id: OrganizationId,
    pub period: String,
    pub amount: i64,
    pub currency: String,
    pub email: String,
    pub idempotency_key: String,
}

/// Where the customer pays.
#[derive(Debug, Clone)]
pub struct Checkout {
    /// Checkout session id (Stripe) or transaction reference (Paystack).
    pub reference: String,
    pub url: String,
}

landlord_core::text_enum!(
    /// A payment provider, as stored beside its payments and events.
    pub enum ProviderName {
        Stripe = "stripe",
        Paystack = "paystack",
    }
);

/// Both providers' clients.
#[derive(Clone)]
pub struct Providers {
    http: reqwest::Client,
    stripe: Option<(String, String)>,
    paystack: Option<(String, String)>,
    success_url: String,
    /// Every real call's outcome, for integration health (probes are not
    /// counted).
    stripe_calls: Arc<Counter>,
    paystack_calls: Arc<Counter>,
}

/// Counts a provider call: failed when the provider could not be reached
/// or its status says it failed ([`failed_status`]).
fn note(counter: &Counter, sent: &Result<reqwest::Response, reqwest::Error>) {
    counter.record(match sent {
        Ok(response) => !failed_status(response.status().as_u16()),
        Err(_) => false,
    });
}

impl Providers {
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
            success_url: format!("{}/billing", config.app_url()),
            stripe_calls: CallCounts::of(config).counter("stripe"),
            paystack_calls: CallCounts::of(config).counter("paystack"),
        }
    }

    pub fn configured(&self, provider: ProviderName) -> bool {
        match provider {
            ProviderName::Stripe => self.stripe.is_some(),
            ProviderName::Paystack => self.paystack.is_some(),
        }
    }

    /// Starts a checkout; the cycle and organization travel in metadata.
    pub async fn checkout(
        &self,
        provider: ProviderName,
        request: &CheckoutRequest,
    ) -> anyhow::Result<Checkout> {
        match provider {
            ProviderName::Stripe => self.stripe_checkout(request).await,
            ProviderName::Paystack => self.paystack_initialize(request).await,
        }
    }

    /// Stripe: `POST /v1/checkout/sessions` (form-encoded).
    async fn stripe_checkout(&self, r: &CheckoutRequest) -> anyhow::Result<Checkout> {
        let (base, key) = self
            .stripe
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("Stripe is not configured"))?;
        let amount = r.amount.to_string();
        let currency = r.currency.to_lowercase();
        let name = format!("Invoice {}", r.period);
        let success = format!("{}?paid={}", self.success_url, r.billing_cycle_id);
        let form: Vec<(&str, &str)> = vec![
            ("mode", "payment"),
            ("success_url", &success),
            ("cancel_url", &self.success_url),
            ("client_reference_id", r.billing_cycle_id.as_str()),
            ("customer_email", &r.email),
            ("line_items[0][quantity]", "1"),
            ("line_items[0][price_data][currency]", &currency),
            ("line_items[0][price_data][unit_amount]", &amount),
            ("line_items[0][price_data][product_data][name]", &name),
            ("metadata[billing_cycle_id]", r.billing_cycle_id.as_str()),
            ("metadata[organization_id]", r.organization_id.as_str()),
        ];
        let response = self
            .http
            .post(format!("{base}/v1/checkout/sessions"))
            .bearer_auth(key)
            .header("Idempotency-Key", &r.idempotency_key)
            .form(&form)
            .send_traced("stripe")
            .await;
        note(&self.stripe_calls, &response);
        let response = response?;
        let status = response.status();
        let body: Value = response.json().await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(NotFound(format!("Stripe: {}", body["error"]["message"])).into());
        }
        if !status.is_success() {
            anyhow::bail!("Stripe answered {status}: {}", body["error"]["message"]);
        }
        Ok(Checkout {
            reference: body["id"].as_str().unwrap_or_default().to_string(),
            url: body["url"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Paystack: `POST /transaction/initialize` (JSON, amount in kobo).
    async fn paystack_initialize(&self, r: &CheckoutRequest) -> anyhow::Result<Checkout> {
        let (base, key) = self
            .paystack
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("Paystack is not configured"))?;
        let reference = format!(
            "ll_{}",
            r.idempotency_key
                .replace(|c: char| !c.is_ascii_alphanumeric(), "")
        );
        let response = self
            .http
            .post(format!("{base}/transaction/initialize"))
            .bearer_auth(key)
            .json(&serde_json::json!({
                "email": r.email,
                "amount": r.amount,
                "currency": r.currency,
                "reference": reference,
                "callback_url": format!("{}?paid={}", self.success_url, r.billing_cycle_id),
                "metadata": {
                    "billing_cycle_id": r.billing_cycle_id,
                    "organization_id": r.organization_id,
                },
            }))
            .send_traced("paystack")
            .await;
        note(&self.paystack_calls, &response);
        let response = response?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() || body["status"] != true {
            anyhow::bail!("Paystack answered {status}: {}", body["message"]);
        }
        Ok(Checkout {
            reference: body["data"]["reference"]
                .as_str()
                .unwrap_or(&reference)
                .to_string(),
            url: body["data"]["authorization_url"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        })
    }

    /// Stripe: `GET /v1/checkout/sessions/{id}` → (payment_status, amount_total, currency);
    /// a 404 is [`NotFound`].
    pub async fn stripe_session(&self, id: &str) -> anyhow::Result<(String, i64, String)> {
        let (base, key) = self
            .stripe
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("Stripe is not configured"))?;
        let response = self
            .http
            .get(format!("{base}/v1/checkout/sessions/{id}"))
            .bearer_auth(key)
            .send_traced("stripe")
            .await;
        note(&self.stripe_calls, &response);
        let response = response?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            anyhow::bail!("Stripe answered {status}: {}", body["error"]["message"]);
        }
        Ok((
            body["payment_status"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            body["amount_total"].as_i64().unwrap_or(-1),
            body["currency"].as_str().unwrap_or_default().to_uppercase(),
        ))
    }

    /// Paystack: `GET /transaction/verify/{reference}` → (status, amount, currency);
    /// a 404 is [`NotFound`].
    pub async fn paystack_verify(&self, reference: &str) -> anyhow::Result<(String, i64, String)> {
        let (base, key) = self
            .paystack
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("Paystack is not configured"))?;
        let response = self
            .http
            .get(format!("{base}/transaction/verify/{reference}"))
            .bearer_auth(key)
            .send_traced("paystack")
            .await;
        note(&self.paystack_calls, &response);
        let response = response?;
        let status = response.status();
        let body: Value = response.json().await?;
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(NotFound(format!("Paystack: {}", body["message"])).into());
        }
        if !status.is_success() || body["status"] != true {
            anyhow::bail!("Paystack verify answered {status}: {}", body["message"]);
        }
        Ok((
            body["data"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            body["data"]["amount"].as_i64().unwrap_or(-1),
            body["data"]["currency"]
                .as_str()
                .unwrap_or_default()
                .to_uppercase(),
        ))
    }
}

impl Providers {
    /// A light authenticated call that proves the credentials work and
    /// the provider answers: Stripe `GET /v1/balance`, Paystack
    /// `GET /balance`. `Ok(None)` when `provider` is not configured.
    pub async fn probe(
        &self,
        provider: ProviderName,
        timeout: Duration,
    ) -> Option<anyhow::Result<()>> {
        let (url, key) = match provider {
            ProviderName::Stripe => {
                let (base, key) = self.stripe.as_ref()?;
                (format!("{base}/v1/balance"), key)
            }
            ProviderName::Paystack => {
                let (base, key) = self.paystack.as_ref()?;
                (format!("{base}/balance"), key)
            }
        };
        let call = async {
            let response = self
                .http
                .get(url)
                .bearer_auth(key)
                .timeout(timeout)
                .send()
                .await?;
            let status = response.status();
            if !status.is_success() {
                anyhow::bail!("{provider} answered {status}");
            }
            Ok(())
        };
        Some(call.await)
    }
}

/// The provider answered 404: it has no such payment — a definite answer,
/// unlike a timeout or a 5xx (found with `anyhow::Error::downcast_ref`).
#[derive(Debug)]
pub struct NotFound(pub String);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not found at the provider ({})", self.0)
    }
}

impl std::error::Error for NotFound {}
