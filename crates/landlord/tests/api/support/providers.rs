//! A local stand-in for the Stripe and Paystack APIs, speaking their
//! documented request and response shapes (Checkout Sessions; transaction
//! initialize and verify). Tests read what it received and steer it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};

pub const STRIPE_KEY: &str = "sk_test_stripe_standin";
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_standin";
pub const PAYSTACK_KEY: &str = "sk_test_paystack_standin";

#[derive(Default)]
pub struct StandInState {
    /// Stripe sessions created: the form fields.
    pub sessions: Vec<HashMap<String, String>>,
    /// Stripe's idempotency: key → the answer given.
    pub stripe_idempotency: HashMap<String, Value>,
    /// Paystack transactions: reference → (amount, currency).
    pub transactions: HashMap<String, (i64, String)>,
    /// When set, Paystack's verify call fails with 500.
    pub verify_fails: bool,
    /// Checkout sessions paid at Stripe (the customer paid).
    pub paid_sessions: std::collections::HashSet<String>,
}

pub struct ProviderStandIn {
    pub url: String,
    pub state: Arc<Mutex<StandInState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ProviderStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Shared = Arc<Mutex<StandInState>>;

fn authorized(headers: &HeaderMap, key: &str) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {key}"))
}

async fn create_session(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> (StatusCode, Json<Value>) {
    if !authorized(&headers, STRIPE_KEY) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(
                json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}),
            ),
        );
    }
    let mut state = state.lock().unwrap();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    if let Some(previous) = key.as_ref().and_then(|k| state.stripe_idempotency.get(k)) {
        return (StatusCode::OK, Json(previous.clone()));
    }
    let fields: HashMap<String, String> = form.into_iter().collect();
    let id = format!("cs_test_{}", state.sessions.len() + 1);
    let answer = json!({
        "id": id,
        "object": "checkout.session",
        "mode": fields.get("mode"),
        "amount_total": fields.get("line_items[0][price_data][unit_amount]").and_then(|a| a.parse::<i64>().ok()),
        "currency": fields.get("line_items[0][price_data][currency]"),
        "client_reference_id": fields.get("client_reference_id"),
        "metadata": {
            "billing_cycle_id": fields.get("metadata[billing_cycle_id]"),
            "organization_id": fields.get("metadata[organization_id]"),
        },
        "payment_status": "unpaid",
        "url": format!("https://checkout.stripe.test/c/pay/{id}"),
    });
    state.sessions.push(fields);
    if let Some(key) = key {
        state.stripe_idempotency.insert(key, answer.clone());
    }
    (StatusCode::OK, Json(answer))
}

async fn retrieve_session(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> (StatusCode, Json<Value>) {
    if !authorized(&headers, STRIPE_KEY) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"message": "Invalid API Key provided"}})),
        );
    }
    let state = state.lock().unwrap();
    let Some(index) = id
        .strip_prefix("cs_test_")
        .and_then(|n| n.parse::<usize>().ok())
    else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"message": "No such checkout.session"}})),
        );
    };
    let Some(fields) = state.sessions.get(index.wrapping_sub(1)) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"message": "No such checkout.session"}})),
        );
    };
    let paid = state.paid_sessions.contains(&id);
    (
        StatusCode::OK,
        Json(json!({
            "id": id,
            "object": "checkout.session",
            "amount_total": fields.get("line_items[0][price_data][unit_amount]").and_then(|a| a.parse::<i64>().ok()),
            "currency": fields.get("line_items[0][price_data][currency]"),
            "payment_status": if paid { "paid" } else { "unpaid" },
        })),
    )
}

async fn initialize(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    if !authorized(&headers, PAYSTACK_KEY) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"status": false, "message": "Invalid key"})),
        );
    }
    let reference = body["reference"]
        .as_str()
        .unwrap_or("generated")
        .to_string();
    let amount = body["amount"].as_i64().unwrap_or(0);
    let currency = body["currency"].as_str().unwrap_or("NGN").to_string();
    state
        .lock()
        .unwrap()
        .transactions
        .insert(reference.clone(), (amount, currency));
    (
        StatusCode::OK,
        Json(json!({
            "status": true,
            "message": "Authorization URL created",
            "data": {
                "authorization_url": format!("https://checkout.paystack.test/{reference}"),
                "access_code": "access_standin",
                "reference": reference,
            }
        })),
    )
}

async fn verify(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> (StatusCode, Json<Value>) {
    if !authorized(&headers, PAYSTACK_KEY) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"status": false, "message": "Invalid key"})),
        );
    }
    let state = state.lock().unwrap();
    if state.verify_fails {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"status": false, "message": "Internal error"})),
        );
    }
    match state.transactions.get(&reference) {
        Some((amount, currency)) => (
            StatusCode::OK,
            Json(json!({
                "status": true,
                "message": "Verification successful",
                "data": {"status": "success", "reference": reference, "amount": amount, "currency": currency}
            })),
        ),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"status": false, "message": "Transaction reference not found"})),
        ),
    }
}

impl ProviderStandIn {
    pub async fn start() -> ProviderStandIn {
        let state: Shared = Arc::new(Mutex::new(StandInState::default()));
        let router = Router::new()
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(retrieve_session))
            .route("/transaction/initialize", post(initialize))
            .route("/transaction/verify/{reference}", get(verify))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        ProviderStandIn { url, state, task }
    }

    /// Points a configuration at this stand-in for both providers.
    pub fn configure(&self, config: &mut landlord_core::Config) {
        config.stripe_api_base = self.url.clone();
        config.stripe_secret_key = Some(STRIPE_KEY.into());
        config.stripe_webhook_secret = Some(STRIPE_WEBHOOK_SECRET.into());
        config.paystack_api_base = self.url.clone();
        config.paystack_secret_key = Some(PAYSTACK_KEY.into());
    }
}
