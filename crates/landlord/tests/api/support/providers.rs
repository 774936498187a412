//! A local stand-in for the Stripe and Paystack APIs, speaking their
//! documented request and response shapes. Tests read what it received and
//! steer it through [`StandInState`].
//!
//! Stripe: Checkout Sessions (create, retrieve, and, for marketplace
//! sessions, a hosted page that pays and sends a signed
//! `payment_intent.succeeded` to the app), PaymentIntents (create, retrieve),
//! Transfers and Refunds. Paystack: transaction initialize and verify,
//! transfers and refunds.
//!
//! Stripe idempotency: an `Idempotency-Key` replays the first answer given
//! under it, and a key reused on another endpoint answers 400
//! `idempotency_error`, as at Stripe. Failures before creation (injected
//! 500s, declines, missing parameters) are not remembered, so a retry under
//! the same key can still succeed.
//!
//! Transfer failure switches (each provider has its own set:
//! `transfers_*` for Stripe, `paystack_transfers_*` for Paystack), checked
//! in this order on every call:
//! - `*_fail_before: N`: the next N calls answer 500 and create nothing;
//! - a known idempotency key (Stripe) or reference (Paystack) answers the
//!   transfer created under it, 200;
//! - `*_decline: true`: calls answer 400 (unknown destination/recipient);
//! - `*_lose_answer: N`: the next N calls create the transfer (and remember
//!   it under the key or reference) but answer 500: the answer was lost.
//!
//! Refunds: `refunds_lose_answer` (Stripe) and `paystack_refunds_lose_answer`
//! make the next N refunds and answer 500; `refund_lists_fail` fails the
//! next N list calls. The documented lists answer what was made: Stripe
//! `GET /v1/refunds?payment_intent=` and `GET /v1/transfers?transfer_group=`
//! (`{object: "list", data: [...]}`), Paystack `GET /refund?transaction=`
//! (`{status: true, data: [{id, transaction, amount, status, merchant_note,
//! ...}]}`) and `GET /transfer/verify/{reference}` (404 when unknown).
//! [`ProviderStandIn::forget_idempotency_keys`] is Stripe 24 hours later.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Map, Value};

pub const STRIPE_KEY: &str = "sk_test_stripe_standin";
pub const STRIPE_WEBHOOK_SECRET: &str = "whsec_standin";
pub const PAYSTACK_KEY: &str = "sk_test_paystack_standin";

/// One Stripe event the stand-in tried to deliver to the app.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    /// The app's HTTP status; `None` when not sent (no `webhook_target`)
    /// or when the request itself failed.
    pub status: Option<u16>,
}

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
    pub paid_sessions: HashSet<String>,

    /// This stand-in's own base URL (hosted checkout pages live under it).
    pub base_url: String,
    /// The app's base URL, where hosted-checkout payments send their
    /// signed Stripe events (`/api/v1/webhooks/stripe`); `None`: not sent.
    pub webhook_target: Option<String>,
    /// Stripe events sent to the app, in order.
    pub webhook_deliveries: Vec<Delivery>,
    /// Events numbered so far (`evt_test_N`).
    pub events: u32,
    /// Stripe's idempotency: key → the endpoint it was first used on.
    pub stripe_idempotency_paths: HashMap<String, &'static str>,
    /// Stripe PaymentIntents, in creation order (`pi_test_N` is the Nth):
    /// created by `POST /v1/payment_intents` or by paying a hosted session.
    pub payment_intents: Vec<Value>,
    /// Hosted checkout: session id → the PaymentIntent its payment made.
    pub session_intents: HashMap<String, String>,
    /// Stripe transfers created (each once, whatever the retries): the form
    /// fields plus `id` and, when one was sent, `idempotency_key`.
    pub transfers: Vec<HashMap<String, String>>,
    /// Every `POST /v1/transfers` received, failed and replayed included.
    pub transfer_calls: u32,
    pub transfers_fail_before: u32,
    pub transfers_lose_answer: u32,
    pub transfers_decline: bool,
    /// Stripe refunds created: the form fields plus `id` and, when one was
    /// sent, `idempotency_key` (`amount` filled in when it was omitted).
    pub refunds: Vec<HashMap<String, String>>,
    /// Paystack initialize: reference → the `metadata` sent (a JSON string
    /// is parsed), beside `transactions`.
    pub transaction_metadata: HashMap<String, Value>,
    /// Paystack transfers created (each reference once): the JSON body plus
    /// `transfer_code` (and `reference` when it was generated).
    pub paystack_transfers: Vec<Value>,
    /// Every `POST /transfer` received, failed and duplicates included.
    pub paystack_transfer_calls: u32,
    /// Calls whose reference was already known (answered the stored one).
    pub paystack_duplicate_references: u32,
    pub paystack_transfers_fail_before: u32,
    pub paystack_transfers_lose_answer: u32,
    pub paystack_transfers_decline: bool,
    /// Paystack refunds: the JSON body plus `id` (and `amount` when omitted).
    pub paystack_refunds: Vec<Value>,
    /// Every `POST /v1/refunds` received, failed and replayed included.
    pub refund_calls: u32,
    /// The next N Stripe refunds are made (and remembered under their
    /// key) but answered 500: the answer was lost.
    pub refunds_lose_answer: u32,
    /// Every `POST /refund` received (Paystack).
    pub paystack_refund_calls: u32,
    /// The next N Paystack refunds are made but answered 500.
    pub paystack_refunds_lose_answer: u32,
    /// The next N list calls (`GET /v1/refunds`, `GET /refund`) answer 500.
    pub refund_lists_fail: u32,
    /// Paystack refunds are answered this many ms after they arrive (made
    /// once the wait is over): a call still in flight.
    pub paystack_refunds_delay_ms: u64,
    /// The balance calls (Stripe `GET /v1/balance`, Paystack
    /// `GET /balance`, integration health's probes) answer this many ms
    /// late.
    pub balance_delay_ms: u64,
    /// When set, the balance calls answer 500.
    pub balance_fails: bool,
    /// Balance calls received.
    pub balance_calls: u32,
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
type Answer = (StatusCode, Json<Value>);

fn authorized(headers: &HeaderMap, key: &str) -> bool {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {key}"))
}

fn stripe_unauthorized() -> Answer {
    (
        StatusCode::UNAUTHORIZED,
        Json(
            json!({"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}),
        ),
    )
}

fn stripe_error(status: StatusCode, kind: &str, code: Option<&str>, message: String) -> Answer {
    let mut error = json!({"type": kind, "message": message});
    if let Some(code) = code {
        error["code"] = json!(code);
    }
    (status, Json(json!({ "error": error })))
}

fn stripe_api_error() -> Answer {
    stripe_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "api_error",
        None,
        "An unknown error occurred (stand-in failure)".into(),
    )
}

fn missing(param: &str) -> Answer {
    let (status, Json(mut body)) = stripe_error(
        StatusCode::BAD_REQUEST,
        "invalid_request_error",
        Some("parameter_missing"),
        format!("Missing required param: {param}."),
    );
    body["error"]["param"] = json!(param);
    (status, Json(body))
}

fn idempotency_key(headers: &HeaderMap) -> Option<String> {
    headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

/// The answer first given under `key`, if any; a key first used on
/// another endpoint is refused, as Stripe does.
fn replay(
    state: &StandInState,
    key: Option<&String>,
    path: &'static str,
) -> Result<Option<Value>, Answer> {
    let Some(key) = key else { return Ok(None) };
    match state.stripe_idempotency_paths.get(key) {
        Some(first) if *first != path => Err(stripe_error(
            StatusCode::BAD_REQUEST,
            "idempotency_error",
            None,
            format!(
                "Keys for idempotent requests can only be used for the same endpoint they were first used for ('{first}' vs '{path}')."
            ),
        )),
        _ => Ok(state.stripe_idempotency.get(key).cloned()),
    }
}

fn remember(state: &mut StandInState, key: Option<String>, path: &'static str, answer: &Value) {
    if let Some(key) = key {
        state.stripe_idempotency_paths.insert(key.clone(), path);
        state.stripe_idempotency.insert(key, answer.clone());
    }
}

/// The `{prefix}[name]` fields of a Stripe form as a JSON object.
fn bracketed(fields: &HashMap<String, String>, prefix: &str) -> Value {
    let mut object = Map::new();
    for (key, value) in fields {
        if let Some(name) = key
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('['))
            .and_then(|rest| rest.strip_suffix(']'))
        {
            if !name.contains('[') {
                object.insert(name.to_string(), json!(value));
            }
        }
    }
    Value::Object(object)
}

fn int(fields: &HashMap<String, String>, name: &str) -> Option<i64> {
    fields.get(name).and_then(|a| a.parse::<i64>().ok())
}

fn marketplace_order(fields: &HashMap<String, String>) -> Option<&String> {
    fields.get("payment_intent_data[metadata][marketplace_order_id]")
}

/// A checkout session's total: unit amount × quantity (1 when absent).
fn session_total(fields: &HashMap<String, String>) -> Option<i64> {
    let unit = int(fields, "line_items[0][price_data][unit_amount]")?;
    Some(unit * int(fields, "line_items[0][quantity]").unwrap_or(1))
}

fn session_index(id: &str) -> Option<usize> {
    id.strip_prefix("cs_test_")
        .and_then(|n| n.parse::<usize>().ok())
        .and_then(|n| n.checked_sub(1))
}

async fn create_session(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Answer {
    if !authorized(&headers, STRIPE_KEY) {
        return stripe_unauthorized();
    }
    let mut state = state.lock().unwrap();
    let key = idempotency_key(&headers);
    match replay(&state, key.as_ref(), "/v1/checkout/sessions") {
        Ok(Some(previous)) => return (StatusCode::OK, Json(previous)),
        Ok(None) => {}
        Err(refused) => return refused,
    }
    let fields: HashMap<String, String> = form.into_iter().collect();
    let id = format!("cs_test_{}", state.sessions.len() + 1);
    let answer = if marketplace_order(&fields).is_some() {
        json!({
            "id": id,
            "object": "checkout.session",
            "mode": fields.get("mode"),
            "amount_total": session_total(&fields),
            "currency": fields.get("line_items[0][price_data][currency]"),
            "client_reference_id": fields.get("client_reference_id"),
            "metadata": bracketed(&fields, "metadata"),
            "payment_intent": null,
            "payment_status": "unpaid",
            "success_url": fields.get("success_url"),
            "url": format!("{}/checkout/pay/{id}", state.base_url),
        })
    } else {
        json!({
            "id": id,
            "object": "checkout.session",
            "mode": fields.get("mode"),
            "amount_total": int(&fields, "line_items[0][price_data][unit_amount]"),
            "currency": fields.get("line_items[0][price_data][currency]"),
            "client_reference_id": fields.get("client_reference_id"),
            "metadata": {
                "billing_cycle_id": fields.get("metadata[billing_cycle_id]"),
                "organization_id": fields.get("metadata[organization_id]"),
            },
            "payment_status": "unpaid",
            "url": format!("https://checkout.stripe.test/c/pay/{id}"),
        })
    };
    state.sessions.push(fields);
    remember(&mut state, key, "/v1/checkout/sessions", &answer);
    (StatusCode::OK, Json(answer))
}

async fn retrieve_session(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    if !authorized(&headers, STRIPE_KEY) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"message": "Invalid API Key provided"}})),
        );
    }
    let state = state.lock().unwrap();
    let Some(fields) = session_index(&id).and_then(|i| state.sessions.get(i)) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"message": "No such checkout.session"}})),
        );
    };
    let paid = state.paid_sessions.contains(&id);
    let mut answer = json!({
        "id": id,
        "object": "checkout.session",
        "amount_total": int(fields, "line_items[0][price_data][unit_amount]"),
        "currency": fields.get("line_items[0][price_data][currency]"),
        "payment_status": if paid { "paid" } else { "unpaid" },
    });
    if marketplace_order(fields).is_some() {
        answer["amount_total"] = json!(session_total(fields));
        answer["payment_intent"] = json!(state.session_intents.get(&id));
    }
    (StatusCode::OK, Json(answer))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// "USD 12.34": two decimals whatever the currency (a stand-in).
fn display_amount(amount: i64, currency: &str) -> String {
    format!(
        "{} {}.{:02}",
        currency.to_uppercase(),
        amount / 100,
        (amount % 100).abs()
    )
}

fn page(body: &str) -> Html<String> {
    Html(format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stand-in Stripe Checkout</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f6f8fa; color: #1a1f36; margin: 0; }}
main {{ max-width: 26rem; margin: 4rem auto; padding: 2rem; background: #fff; border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }}
h1 {{ font-size: 1.1rem; margin: 0 0 1.5rem; }}
#amount {{ font-size: 2rem; font-weight: 600; margin: 0 0 1.5rem; }}
button {{ width: 100%; padding: .75rem; font-size: 1rem; color: #fff; background: #635bff; border: 0; border-radius: 6px; cursor: pointer; }}
</style>
</head>
<body>
<main>
<h1>Stand-in Stripe Checkout</h1>
{body}
</main>
</body>
</html>
"#
    ))
}

fn not_found_page() -> Response {
    (
        StatusCode::NOT_FOUND,
        page("<p>No such checkout session.</p>"),
    )
        .into_response()
}

async fn checkout_page(State(state): State<Shared>, Path(id): Path<String>) -> Response {
    let state = state.lock().unwrap();
    let Some(fields) = session_index(&id).and_then(|i| state.sessions.get(i)) else {
        return not_found_page();
    };
    if marketplace_order(fields).is_none() {
        return not_found_page();
    }
    let amount = display_amount(
        session_total(fields).unwrap_or(0),
        fields
            .get("line_items[0][price_data][currency]")
            .map_or("", String::as_str),
    );
    let item = fields
        .get("line_items[0][price_data][product_data][name]")
        .map(|name| format!("<p class=\"item\">{}</p>\n", escape(name)))
        .unwrap_or_default();
    let action = if state.paid_sessions.contains(&id) {
        "<p id=\"paid\">Paid.</p>".to_string()
    } else {
        format!(
            "<form method=\"post\" action=\"/checkout/pay/{}\">\n<button id=\"pay\" type=\"submit\">Pay</button>\n</form>",
            escape(&id)
        )
    };
    page(&format!(
        "{item}<p id=\"amount\">{}</p>\n{action}",
        escape(&amount)
    ))
    .into_response()
}

/// An event's object: the intent as Stripe sends it in events here.
fn event_object(intent: &Value) -> Value {
    let mut object = intent.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("client_secret");
    }
    object
}

fn next_event_id(state: &mut StandInState) -> String {
    state.events += 1;
    format!("evt_test_{}", state.events)
}

/// The customer pays a hosted marketplace session: a succeeded
/// PaymentIntent, a signed `payment_intent.succeeded` to the app, then
/// 303 to the session's `success_url`.
async fn pay_session(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let (success_url, delivery) = {
        let mut state = shared.lock().unwrap();
        let Some(fields) = session_index(&id)
            .and_then(|i| state.sessions.get(i))
            .cloned()
        else {
            return not_found_page();
        };
        let Some(order) = marketplace_order(&fields).cloned() else {
            return not_found_page();
        };
        let success_url = fields
            .get("success_url")
            .map(|url| url.replace("{CHECKOUT_SESSION_ID}", &id));
        if state.paid_sessions.contains(&id) {
            (success_url, None)
        } else {
            let intent_id = format!("pi_test_{}", state.payment_intents.len() + 1);
            let intent = json!({
                "id": intent_id,
                "object": "payment_intent",
                "amount": session_total(&fields),
                "currency": fields.get("line_items[0][price_data][currency]"),
                "status": "succeeded",
                "client_secret": format!("{intent_id}_secret_standin"),
                "metadata": {"marketplace_order_id": order},
            });
            let event_id = next_event_id(&mut state);
            let event = ProviderStandIn::signed_stripe_event(
                &event_id,
                "payment_intent.succeeded",
                event_object(&intent),
            );
            state.payment_intents.push(intent);
            state.session_intents.insert(id.clone(), intent_id);
            state.paid_sessions.insert(id.clone());
            (
                success_url,
                Some((event_id, event, state.webhook_target.clone())),
            )
        }
    };
    if let Some((event_id, (body, signature), target)) = delivery {
        let status = match target {
            Some(target) => reqwest::Client::new()
                .post(format!("{target}/api/v1/webhooks/stripe"))
                .header("content-type", "application/json")
                .header("stripe-signature", signature)
                .body(body)
                .timeout(Duration::from_secs(15))
                .send()
                .await
                .ok()
                .map(|answer| answer.status().as_u16()),
            None => None,
        };
        shared.lock().unwrap().webhook_deliveries.push(Delivery {
            event_id,
            event_type: "payment_intent.succeeded".into(),
            status,
        });
    }
    match success_url {
        Some(url) => Redirect::to(&url).into_response(),
        None => page("<p id=\"paid\">Paid.</p>").into_response(),
    }
}

async fn create_intent(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Answer {
    const PATH: &str = "/v1/payment_intents";
    if !authorized(&headers, STRIPE_KEY) {
        return stripe_unauthorized();
    }
    let mut state = state.lock().unwrap();
    let key = idempotency_key(&headers);
    match replay(&state, key.as_ref(), PATH) {
        Ok(Some(previous)) => return (StatusCode::OK, Json(previous)),
        Ok(None) => {}
        Err(refused) => return refused,
    }
    let fields: HashMap<String, String> = form.into_iter().collect();
    let Some(amount) = int(&fields, "amount") else {
        return missing("amount");
    };
    let Some(currency) = fields.get("currency") else {
        return missing("currency");
    };
    let id = format!("pi_test_{}", state.payment_intents.len() + 1);
    let mut intent = json!({
        "id": id,
        "object": "payment_intent",
        "amount": amount,
        "currency": currency,
        "status": "requires_payment_method",
        "client_secret": format!("{id}_secret_standin"),
        "metadata": bracketed(&fields, "metadata"),
    });
    if let Some(enabled) = fields.get("automatic_payment_methods[enabled]") {
        intent["automatic_payment_methods"] = json!({"enabled": enabled == "true"});
    }
    state.payment_intents.push(intent.clone());
    remember(&mut state, key, PATH, &intent);
    (StatusCode::OK, Json(intent))
}

async fn retrieve_intent(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Answer {
    if !authorized(&headers, STRIPE_KEY) {
        return stripe_unauthorized();
    }
    let state = state.lock().unwrap();
    match state
        .payment_intents
        .iter()
        .find(|i| i["id"] == id.as_str())
    {
        Some(intent) => (StatusCode::OK, Json(intent.clone())),
        None => stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("resource_missing"),
            format!("No such payment_intent: '{id}'"),
        ),
    }
}

async fn create_transfer(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Answer {
    const PATH: &str = "/v1/transfers";
    if !authorized(&headers, STRIPE_KEY) {
        return stripe_unauthorized();
    }
    let mut state = state.lock().unwrap();
    state.transfer_calls += 1;
    if state.transfers_fail_before > 0 {
        state.transfers_fail_before -= 1;
        return stripe_api_error();
    }
    let key = idempotency_key(&headers);
    match replay(&state, key.as_ref(), PATH) {
        Ok(Some(previous)) => return (StatusCode::OK, Json(previous)),
        Ok(None) => {}
        Err(refused) => return refused,
    }
    let mut fields: HashMap<String, String> = form.into_iter().collect();
    let Some(amount) = int(&fields, "amount") else {
        return missing("amount");
    };
    let Some(currency) = fields.get("currency").cloned() else {
        return missing("currency");
    };
    let Some(destination) = fields.get("destination").cloned() else {
        return missing("destination");
    };
    if state.transfers_decline {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("account_invalid"),
            format!("No such destination: '{destination}'"),
        );
    }
    let id = format!("tr_test_{}", state.transfers.len() + 1);
    let answer = json!({
        "id": id,
        "object": "transfer",
        "amount": amount,
        "currency": currency,
        "destination": destination,
        "transfer_group": fields.get("transfer_group"),
        "metadata": bracketed(&fields, "metadata"),
    });
    fields.insert("id".into(), id);
    if let Some(key) = &key {
        fields.insert("idempotency_key".into(), key.clone());
    }
    state.transfers.push(fields);
    remember(&mut state, key, PATH, &answer);
    if state.transfers_lose_answer > 0 {
        state.transfers_lose_answer -= 1;
        return stripe_api_error();
    }
    (StatusCode::OK, Json(answer))
}

async fn create_refund(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Answer {
    const PATH: &str = "/v1/refunds";
    if !authorized(&headers, STRIPE_KEY) {
        return stripe_unauthorized();
    }
    let mut state = state.lock().unwrap();
    state.refund_calls += 1;
    let key = idempotency_key(&headers);
    match replay(&state, key.as_ref(), PATH) {
        Ok(Some(previous)) => return (StatusCode::OK, Json(previous)),
        Ok(None) => {}
        Err(refused) => return refused,
    }
    let mut fields: HashMap<String, String> = form.into_iter().collect();
    let Some(intent_id) = fields.get("payment_intent").cloned() else {
        return missing("payment_intent");
    };
    let Some(paid) = state
        .payment_intents
        .iter()
        .find(|i| i["id"] == intent_id.as_str())
        .and_then(|i| i["amount"].as_i64())
    else {
        return stripe_error(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("resource_missing"),
            format!("No such payment_intent: '{intent_id}'"),
        );
    };
    let refunded: i64 = state
        .refunds
        .iter()
        .filter(|r| r.get("payment_intent") == Some(&intent_id))
        .filter_map(|r| int(r, "amount"))
        .sum();
    let amount = int(&fields, "amount").unwrap_or(paid - refunded);
    if amount <= 0 || amount > paid - refunded {
        return stripe_error(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            Some("amount_too_large"),
            format!(
                "Refund amount ({amount}) is greater than unrefunded amount on charge ({})",
                paid - refunded
            ),
        );
    }
    let id = format!("re_test_{}", state.refunds.len() + 1);
    let answer = json!({
        "id": id,
        "object": "refund",
        "amount": amount,
        "payment_intent": intent_id,
        "status": "succeeded",
        "metadata": bracketed(&fields, "metadata"),
    });
    fields.insert("amount".into(), amount.to_string());
    fields.insert("id".into(), id);
    if let Some(key) = &key {
        fields.insert("idempotency_key".into(), key.clone());
    }
    state.refunds.push(fields);
    remember(&mut state, key, PATH, &answer);
    if state.refunds_lose_answer > 0 {
        state.refunds_lose_answer -= 1;
        return stripe_api_error();
    }
    (StatusCode::OK, Json(answer))
}

/// `GET /v1/refunds?payment_intent=`: the intent's refunds, newest first.
async fn list_refunds(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    if !authorized(&headers, STRIPE_KEY) {
        return stripe_unauthorized();
    }
    let mut state = state.lock().unwrap();
    if state.refund_lists_fail > 0 {
        state.refund_lists_fail -= 1;
        return stripe_api_error();
    }
    let intent = query.get("payment_intent");
    let data: Vec<Value> = state
        .refunds
        .iter()
        .rev()
        .filter(|r| intent.is_none() || r.get("payment_intent") == intent)
        .map(|r| {
            json!({
                "id": r["id"],
                "object": "refund",
                "amount": int(r, "amount"),
                "payment_intent": r.get("payment_intent"),
                "status": "succeeded",
                "metadata": bracketed(r, "metadata"),
            })
        })
        .collect();
    (
        StatusCode::OK,
        Json(json!({"object": "list", "url": "/v1/refunds", "has_more": false, "data": data})),
    )
}

/// `GET /v1/transfers?transfer_group=`: the group's transfers, newest first.
async fn list_transfers(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    if !authorized(&headers, STRIPE_KEY) {
        return stripe_unauthorized();
    }
    let state = state.lock().unwrap();
    let group = query.get("transfer_group");
    let data: Vec<Value> = state
        .transfers
        .iter()
        .rev()
        .filter(|t| group.is_none() || t.get("transfer_group") == group)
        .map(|t| {
            json!({
                "id": t["id"],
                "object": "transfer",
                "amount": int(t, "amount"),
                "currency": t.get("currency"),
                "destination": t.get("destination"),
                "transfer_group": t.get("transfer_group"),
                "metadata": bracketed(t, "metadata"),
            })
        })
        .collect();
    (
        StatusCode::OK,
        Json(json!({"object": "list", "url": "/v1/transfers", "has_more": false, "data": data})),
    )
}

fn paystack_unauthorized() -> Answer {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"status": false, "message": "Invalid key"})),
    )
}

fn paystack_error(status: StatusCode, message: &str) -> Answer {
    (status, Json(json!({"status": false, "message": message})))
}

/// A Paystack amount: a JSON integer, or a string of one.
fn paystack_amount(value: &Value) -> Option<i64> {
    value
        .as_i64()
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
}

async fn initialize(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Answer {
    if !authorized(&headers, PAYSTACK_KEY) {
        return paystack_unauthorized();
    }
    let reference = body["reference"]
        .as_str()
        .unwrap_or("generated")
        .to_string();
    let amount = body["amount"].as_i64().unwrap_or(0);
    let currency = body["currency"].as_str().unwrap_or("NGN").to_string();
    let mut state = state.lock().unwrap();
    state
        .transactions
        .insert(reference.clone(), (amount, currency));
    if let Some(metadata) = body.get("metadata").filter(|m| !m.is_null()) {
        let metadata = metadata
            .as_str()
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_else(|| metadata.clone());
        state
            .transaction_metadata
            .insert(reference.clone(), metadata);
    }
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
) -> Answer {
    if !authorized(&headers, PAYSTACK_KEY) {
        return paystack_unauthorized();
    }
    let state = state.lock().unwrap();
    if state.verify_fails {
        return paystack_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal error");
    }
    match state.transactions.get(&reference) {
        Some((amount, currency)) => {
            let mut data = json!({"status": "success", "reference": reference, "amount": amount, "currency": currency});
            if let Some(metadata) = state.transaction_metadata.get(&reference) {
                data["metadata"] = metadata.clone();
            }
            (
                StatusCode::OK,
                Json(json!({
                    "status": true,
                    "message": "Verification successful",
                    "data": data,
                })),
            )
        }
        None => paystack_error(StatusCode::NOT_FOUND, "Transaction reference not found"),
    }
}

fn paystack_transfer_answer(transfer: &Value) -> Value {
    json!({
        "status": true,
        "message": "Transfer has been queued",
        "data": {
            "transfer_code": transfer["transfer_code"],
            "reference": transfer["reference"],
            "amount": paystack_amount(&transfer["amount"]),
            "currency": transfer.get("currency").cloned().unwrap_or(json!("NGN")),
            "status": "success",
            "recipient": transfer["recipient"],
        }
    })
}

async fn paystack_transfer(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Answer {
    if !authorized(&headers, PAYSTACK_KEY) {
        return paystack_unauthorized();
    }
    let mut state = state.lock().unwrap();
    state.paystack_transfer_calls += 1;
    if state.paystack_transfers_fail_before > 0 {
        state.paystack_transfers_fail_before -= 1;
        return paystack_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An error occurred (stand-in failure)",
        );
    }
    let reference = body["reference"].as_str().map(String::from);
    if let Some(reference) = &reference {
        let known = state
            .paystack_transfers
            .iter()
            .find(|t| t["reference"] == reference.as_str())
            .cloned();
        if let Some(known) = known {
            // Paystack answers 400 "Duplicate Transfer Reference"; the
            // stand-in answers the stored transfer and counts the call.
            state.paystack_duplicate_references += 1;
            return (StatusCode::OK, Json(paystack_transfer_answer(&known)));
        }
    }
    if body["source"] != "balance" {
        return paystack_error(StatusCode::BAD_REQUEST, "Invalid source: use 'balance'");
    }
    let Some(amount) = paystack_amount(&body["amount"]).filter(|a| *a > 0) else {
        return paystack_error(StatusCode::BAD_REQUEST, "Amount is required");
    };
    let Some(recipient) = body["recipient"].as_str() else {
        return paystack_error(StatusCode::BAD_REQUEST, "Recipient is required");
    };
    if state.paystack_transfers_decline {
        let message = format!("Recipient specified is invalid: {recipient}");
        return paystack_error(StatusCode::BAD_REQUEST, &message);
    }
    let number = state.paystack_transfers.len() + 1;
    let mut transfer = body.clone();
    transfer["amount"] = json!(amount);
    transfer["transfer_code"] = json!(format!("TRF_test_{number}"));
    if reference.is_none() {
        transfer["reference"] = json!(format!("standin_ref_{number}"));
    }
    let answer = paystack_transfer_answer(&transfer);
    state.paystack_transfers.push(transfer);
    if state.paystack_transfers_lose_answer > 0 {
        state.paystack_transfers_lose_answer -= 1;
        return paystack_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An error occurred (stand-in lost the answer)",
        );
    }
    (StatusCode::OK, Json(answer))
}

async fn paystack_refund(
    State(state): State<Shared>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Answer {
    if !authorized(&headers, PAYSTACK_KEY) {
        return paystack_unauthorized();
    }
    let delay = {
        let mut state = state.lock().unwrap();
        state.paystack_refund_calls += 1;
        state.paystack_refunds_delay_ms
    };
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let mut state = state.lock().unwrap();
    let Some(reference) = body["transaction"].as_str().map(String::from) else {
        return paystack_error(StatusCode::BAD_REQUEST, "Transaction is required");
    };
    let Some((paid, currency)) = state.transactions.get(&reference).cloned() else {
        return paystack_error(StatusCode::NOT_FOUND, "Transaction not found");
    };
    let refunded: i64 = state
        .paystack_refunds
        .iter()
        .filter(|r| r["transaction"] == reference.as_str())
        .filter_map(|r| r["amount"].as_i64())
        .sum();
    let amount = paystack_amount(&body["amount"]).unwrap_or(paid - refunded);
    if amount <= 0 || amount > paid - refunded {
        return paystack_error(
            StatusCode::BAD_REQUEST,
            "Refund amount cannot be more than the unrefunded transaction amount",
        );
    }
    let id = state.paystack_refunds.len() + 1;
    let mut refund = body.clone();
    refund["amount"] = json!(amount);
    refund["id"] = json!(id);
    refund["currency"] = json!(currency);
    state.paystack_refunds.push(refund);
    if state.paystack_refunds_lose_answer > 0 {
        state.paystack_refunds_lose_answer -= 1;
        return paystack_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "An error occurred (stand-in lost the answer)",
        );
    }
    (
        StatusCode::OK,
        Json(json!({
            "status": true,
            "message": "Refund has been queued for processing",
            "data": {
                "id": id,
                "transaction": {"reference": reference},
                "amount": amount,
                "currency": currency,
                "status": "pending",
            }
        })),
    )
}

/// Paystack `GET /refund?transaction=`: the transaction's refunds.
async fn paystack_list_refunds(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    if !authorized(&headers, PAYSTACK_KEY) {
        return paystack_unauthorized();
    }
    let mut state = state.lock().unwrap();
    if state.refund_lists_fail > 0 {
        state.refund_lists_fail -= 1;
        return paystack_error(StatusCode::INTERNAL_SERVER_ERROR, "An error occurred");
    }
    let transaction = query.get("transaction").map(String::as_str);
    let data: Vec<Value> = state
        .paystack_refunds
        .iter()
        .filter(|r| transaction.is_none() || r["transaction"].as_str() == transaction)
        .map(|r| {
            json!({
                "id": r["id"],
                "transaction": r["transaction"],
                "amount": r["amount"],
                "currency": r["currency"],
                "status": "processed",
                "merchant_note": r.get("merchant_note").cloned().unwrap_or(Value::Null),
                "customer_note": r.get("customer_note").cloned().unwrap_or(Value::Null),
            })
        })
        .collect();
    let total = data.len();
    (
        StatusCode::OK,
        Json(json!({
            "status": true,
            "message": "Refunds retrieved",
            "data": data,
            "meta": {"total": total, "page": 1, "perPage": 100},
        })),
    )
}

/// Paystack `GET /transfer/verify/{reference}`.
async fn paystack_verify_transfer(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> Answer {
    if !authorized(&headers, PAYSTACK_KEY) {
        return paystack_unauthorized();
    }
    let state = state.lock().unwrap();
    match state
        .paystack_transfers
        .iter()
        .find(|t| t["reference"] == reference.as_str())
    {
        Some(transfer) => {
            let mut answer = paystack_transfer_answer(transfer);
            answer["message"] = json!("Transfer retrieved");
            (StatusCode::OK, Json(answer))
        }
        None => paystack_error(StatusCode::NOT_FOUND, "Transfer not found"),
    }
}

/// Stripe `GET /v1/balance` and Paystack `GET /balance`: the key checked,
/// late or failing as the test sets it.
async fn balance(State(shared): State<Shared>, headers: HeaderMap) -> Answer {
    let (delay, fails) = {
        let mut state = shared.lock().unwrap();
        state.balance_calls += 1;
        (state.balance_delay_ms, state.balance_fails)
    };
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    if !authorized(&headers, STRIPE_KEY) && !authorized(&headers, PAYSTACK_KEY) {
        return stripe_unauthorized();
    }
    if fails {
        return stripe_api_error();
    }
    (
        StatusCode::OK,
        Json(json!({
            "object": "balance",
            "available": [{"amount": 0, "currency": "usd"}],
            "pending": [{"amount": 0, "currency": "usd"}],
            "livemode": false,
            "status": true,
            "data": [{"currency": "NGN", "balance": 0}],
        })),
    )
}

impl ProviderStandIn {
    pub async fn start() -> ProviderStandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state: Shared = Arc::new(Mutex::new(StandInState {
            base_url: url.clone(),
            ..StandInState::default()
        }));
        let router = Router::new()
            .route("/v1/balance", get(balance))
            .route("/balance", get(balance))
            .route("/v1/checkout/sessions", post(create_session))
            .route("/v1/checkout/sessions/{id}", get(retrieve_session))
            .route("/checkout/pay/{id}", get(checkout_page).post(pay_session))
            .route("/v1/payment_intents", post(create_intent))
            .route("/v1/payment_intents/{id}", get(retrieve_intent))
            .route("/v1/transfers", post(create_transfer).get(list_transfers))
            .route("/v1/refunds", post(create_refund).get(list_refunds))
            .route("/transaction/initialize", post(initialize))
            .route("/transaction/verify/{reference}", get(verify))
            .route("/transfer", post(paystack_transfer))
            .route("/refund", post(paystack_refund).get(paystack_list_refunds))
            .route(
                "/transfer/verify/{reference}",
                get(paystack_verify_transfer),
            )
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        ProviderStandIn { url, state, task }
    }

    /// Stripe keeps idempotency keys 24 hours: from now on every key is
    /// new to it, as a day later.
    pub fn forget_idempotency_keys(&self) {
        let mut state = self.state.lock().unwrap();
        state.stripe_idempotency.clear();
        state.stripe_idempotency_paths.clear();
    }

    /// Points a configuration at this stand-in for both providers.
    pub fn configure(&self, config: &mut landlord::settings::Settings) {
        config.stripe_api_base = self.url.clone();
        config.stripe_secret_key = Some(STRIPE_KEY.into());
        config.stripe_webhook_secret = Some(STRIPE_WEBHOOK_SECRET.into());
        config.paystack_api_base = self.url.clone();
        config.paystack_secret_key = Some(PAYSTACK_KEY.into());
    }

    /// Hosted-checkout payments send their signed Stripe events to
    /// `{app_base_url}/api/v1/webhooks/stripe` from now on.
    pub fn deliver_webhooks_to(&self, app_base_url: &str) {
        self.state.lock().unwrap().webhook_target =
            Some(app_base_url.trim_end_matches('/').to_string());
    }

    /// A PaymentIntent by id, as last stored.
    pub fn intent(&self, id: &str) -> Option<Value> {
        let state = self.state.lock().unwrap();
        state
            .payment_intents
            .iter()
            .find(|i| i["id"] == id)
            .cloned()
    }

    /// A checkout session's form fields by id (`cs_test_N`).
    pub fn session(&self, id: &str) -> Option<HashMap<String, String>> {
        let state = self.state.lock().unwrap();
        session_index(id).and_then(|i| state.sessions.get(i).cloned())
    }

    /// The Stripe events sent to the app so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().webhook_deliveries.clone()
    }

    /// A Stripe event around `object`, and its `Stripe-Signature` header
    /// signed now with [`STRIPE_WEBHOOK_SECRET`] (as `sign_stripe` does).
    pub fn signed_stripe_event(
        event_id: &str,
        event_type: &str,
        object: Value,
    ) -> (Vec<u8>, String) {
        let now = super::clock::now_secs();
        let body = serde_json::to_vec(&json!({
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": now,
            "livemode": false,
            "data": {"object": object},
        }))
        .unwrap();
        let signature =
            landlord_payments::signature::sign_stripe(&body, STRIPE_WEBHOOK_SECRET, now);
        (body, signature)
    }

    /// The customer's payment on a stored PaymentIntent ends: marks it
    /// `succeeded` (or, failed, back to `requires_payment_method` with a
    /// declined card) and returns the signed `payment_intent.succeeded` /
    /// `payment_intent.payment_failed` event for the test to post.
    /// Panics on an unknown intent.
    pub fn settle_intent(&self, id: &str, succeeded: bool) -> (Vec<u8>, String) {
        let mut state = self.state.lock().unwrap();
        let event_id = next_event_id(&mut state);
        let intent = state
            .payment_intents
            .iter_mut()
            .find(|i| i["id"] == id)
            .unwrap_or_else(|| panic!("no PaymentIntent {id} at the stand-in"));
        let event_type = if succeeded {
            intent["status"] = json!("succeeded");
            "payment_intent.succeeded"
        } else {
            intent["status"] = json!("requires_payment_method");
            intent["last_payment_error"] = json!({
                "type": "card_error",
                "code": "card_declined",
                "message": "Your card was declined.",
            });
            "payment_intent.payment_failed"
        };
        ProviderStandIn::signed_stripe_event(&event_id, event_type, event_object(intent))
    }
}

/// The stand-in's own checks: the shapes and switches above, without the app.
#[cfg(test)]
mod tests {
    use super::*;
    use landlord_payments::signature::verify_stripe;

    type Received = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

    /// A receiver standing for the app's Stripe webhook endpoint.
    async fn receiver() -> (String, Received) {
        let received: Received = Arc::default();
        let router = Router::new()
            .route(
                "/api/v1/webhooks/stripe",
                post(
                    |State(received): State<Received>,
                     headers: HeaderMap,
                     body: axum::body::Bytes| async move {
                        let signature = headers["stripe-signature"].to_str().unwrap().to_string();
                        received.lock().unwrap().push((signature, body.to_vec()));
                        StatusCode::OK
                    },
                ),
            )
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        (url, received)
    }

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    async fn stripe(
        stand_in: &ProviderStandIn,
        path: &str,
        key: Option<&str>,
        form: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = client()
            .post(format!("{}{path}", stand_in.url))
            .bearer_auth(STRIPE_KEY)
            .form(form);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let answer = request.send().await.unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap())
    }

    async fn paystack(stand_in: &ProviderStandIn, path: &str, body: Value) -> (u16, Value) {
        let answer = client()
            .post(format!("{}{path}", stand_in.url))
            .bearer_auth(PAYSTACK_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        (answer.status().as_u16(), answer.json().await.unwrap())
    }

    fn event(body: &[u8], signature: &str) -> Value {
        verify_stripe(
            Some(signature),
            body,
            STRIPE_WEBHOOK_SECRET,
            super::super::clock::now_secs(),
        )
        .expect("signed with the webhook secret");
        serde_json::from_slice(body).unwrap()
    }

    #[tokio::test]
    async fn a_hosted_marketplace_session_pays_signs_and_redirects() {
        let stand_in = ProviderStandIn::start().await;
        let (app, received) = receiver().await;
        stand_in.deliver_webhooks_to(&format!("{app}/"));
        let (_, billing) = stripe(
            &stand_in,
            "/v1/checkout/sessions",
            None,
            &[("line_items[0][price_data][unit_amount]", "6000")],
        )
        .await;
        assert_eq!(
            billing["url"],
            "https://checkout.stripe.test/c/pay/cs_test_1"
        );
        let (status, session) = stripe(
            &stand_in,
            "/v1/checkout/sessions",
            Some("order-1"),
            &[
                ("mode", "payment"),
                (
                    "success_url",
                    "http://app.test/orders/o1?s={CHECKOUT_SESSION_ID}",
                ),
                ("line_items[0][quantity]", "1"),
                ("line_items[0][price_data][currency]", "usd"),
                ("line_items[0][price_data][unit_amount]", "1234"),
                (
                    "line_items[0][price_data][product_data][name]",
                    "Tea <& cups>",
                ),
                ("payment_intent_data[metadata][marketplace_order_id]", "o1"),
            ],
        )
        .await;
        assert_eq!(status, 200);
        let pay = format!("{}/checkout/pay/cs_test_2", stand_in.url);
        assert_eq!(session["url"], pay.as_str());
        assert_eq!(session["amount_total"], 1234);
        assert_eq!(
            stand_in.session("cs_test_2").unwrap()["success_url"],
            "http://app.test/orders/o1?s={CHECKOUT_SESSION_ID}"
        );

        let page = client().get(&pay).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let html = page.text().await.unwrap();
        assert!(html.contains("Stand-in Stripe Checkout"));
        assert!(html.contains("USD 12.34"));
        assert!(html.contains("Tea &lt;&amp; cups&gt;"));
        assert!(html.contains(r#"<button id="pay" type="submit">Pay</button>"#));

        let paid = client().post(&pay).send().await.unwrap();
        assert_eq!(paid.status(), 303);
        assert_eq!(
            paid.headers()["location"],
            "http://app.test/orders/o1?s=cs_test_2"
        );
        let received = received.lock().unwrap().clone();
        assert_eq!(received.len(), 1);
        let event = event(&received[0].1, &received[0].0);
        assert_eq!(event["type"], "payment_intent.succeeded");
        let object = &event["data"]["object"];
        assert_eq!(
            (
                &object["id"],
                &object["object"],
                &object["amount"],
                &object["currency"],
                &object["status"]
            ),
            (
                &json!("pi_test_1"),
                &json!("payment_intent"),
                &json!(1234),
                &json!("usd"),
                &json!("succeeded")
            )
        );
        assert_eq!(object["metadata"]["marketplace_order_id"], "o1");
        assert_eq!(stand_in.intent("pi_test_1").unwrap()["status"], "succeeded");
        let deliveries = stand_in.deliveries();
        assert_eq!(deliveries.len(), 1);
        assert_eq!(
            (
                deliveries[0].event_id.as_str(),
                deliveries[0].event_type.as_str(),
                deliveries[0].status
            ),
            (
                event["id"].as_str().unwrap(),
                "payment_intent.succeeded",
                Some(200)
            )
        );

        let again = client().post(&pay).send().await.unwrap();
        assert_eq!(again.status(), 303, "paying twice redirects again");
        assert_eq!(stand_in.deliveries().len(), 1, "without a second event");
        let retrieved: Value = client()
            .get(format!("{}/v1/checkout/sessions/cs_test_2", stand_in.url))
            .bearer_auth(STRIPE_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            (&retrieved["payment_status"], &retrieved["payment_intent"]),
            (&json!("paid"), &json!("pi_test_1"))
        );
    }

    #[tokio::test]
    async fn payment_intents_settle_and_refund_once_per_key() {
        let stand_in = ProviderStandIn::start().await;
        let form = [
            ("amount", "2500"),
            ("currency", "usd"),
            ("metadata[marketplace_order_id]", "o2"),
            ("automatic_payment_methods[enabled]", "true"),
        ];
        let (status, intent) =
            stripe(&stand_in, "/v1/payment_intents", Some("checkout-o2"), &form).await;
        assert_eq!(status, 200);
        assert_eq!(intent["id"], "pi_test_1");
        assert_eq!(intent["status"], "requires_payment_method");
        assert!(intent["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("pi_test_1_secret_"));
        assert_eq!(intent["metadata"], json!({"marketplace_order_id": "o2"}));
        let (_, replay) =
            stripe(&stand_in, "/v1/payment_intents", Some("checkout-o2"), &form).await;
        assert_eq!(replay, intent);
        assert_eq!(stand_in.state.lock().unwrap().payment_intents.len(), 1);
        let (status, _) = stripe(
            &stand_in,
            "/v1/refunds",
            Some("checkout-o2"),
            &[("payment_intent", "pi_test_1")],
        )
        .await;
        assert_eq!(status, 400, "a key is for one endpoint");

        let (body, signature) = stand_in.settle_intent("pi_test_1", false);
        let failed = event(&body, &signature);
        assert_eq!(failed["type"], "payment_intent.payment_failed");
        assert_eq!(
            failed["data"]["object"]["metadata"]["marketplace_order_id"],
            "o2"
        );
        let (body, signature) = stand_in.settle_intent("pi_test_1", true);
        assert_eq!(
            event(&body, &signature)["data"]["object"]["status"],
            "succeeded"
        );
        let (body, signature) = ProviderStandIn::signed_stripe_event(
            "evt_x",
            "payment_intent.succeeded",
            json!({"id": "pi_x"}),
        );
        assert_eq!(event(&body, &signature)["id"], "evt_x");

        let refund = [("payment_intent", "pi_test_1"), ("amount", "1000")];
        let (status, first) = stripe(&stand_in, "/v1/refunds", Some("refund-1"), &refund).await;
        assert_eq!(status, 200);
        assert_eq!(
            first,
            json!({"id": "re_test_1", "object": "refund", "amount": 1000, "payment_intent": "pi_test_1", "status": "succeeded", "metadata": {}})
        );
        assert_eq!(
            stripe(&stand_in, "/v1/refunds", Some("refund-1"), &refund)
                .await
                .1,
            first
        );
        let (status, _) = stripe(
            &stand_in,
            "/v1/refunds",
            Some("refund-2"),
            &[("payment_intent", "pi_test_1"), ("amount", "1501")],
        )
        .await;
        assert_eq!(status, 400, "more than is left");
        let (status, _) = stripe(
            &stand_in,
            "/v1/refunds",
            None,
            &[("payment_intent", "pi_nope")],
        )
        .await;
        assert_eq!(status, 404);
        let refunds = stand_in.state.lock().unwrap().refunds.clone();
        assert_eq!(refunds.len(), 1);
        assert_eq!(refunds[0]["idempotency_key"], "refund-1");
    }

    #[tokio::test]
    async fn stripe_transfers_fail_lose_answers_and_decline() {
        let stand_in = ProviderStandIn::start().await;
        let form = [
            ("amount", "9000"),
            ("currency", "usd"),
            ("destination", "acct_1"),
            ("transfer_group", "payout_p1"),
            ("metadata[payout_id]", "p1"),
        ];
        {
            let mut state = stand_in.state.lock().unwrap();
            state.transfers_fail_before = 1;
            state.transfers_lose_answer = 1;
        }
        let (status, failed) = stripe(&stand_in, "/v1/transfers", Some("payout_p1"), &form).await;
        assert_eq!(
            (status, &failed["error"]["type"]),
            (500, &json!("api_error"))
        );
        assert!(stand_in.state.lock().unwrap().transfers.is_empty());
        let (status, _) = stripe(&stand_in, "/v1/transfers", Some("payout_p1"), &form).await;
        assert_eq!(status, 500, "the answer was lost");
        let (status, transfer) = stripe(&stand_in, "/v1/transfers", Some("payout_p1"), &form).await;
        assert_eq!(status, 200);
        assert_eq!(
            transfer,
            json!({"id": "tr_test_1", "object": "transfer", "amount": 9000, "currency": "usd", "destination": "acct_1", "transfer_group": "payout_p1", "metadata": {"payout_id": "p1"}})
        );
        stand_in.state.lock().unwrap().transfers_decline = true;
        let (status, declined) = stripe(&stand_in, "/v1/transfers", Some("payout_p2"), &form).await;
        assert_eq!(
            (status, &declined["error"]["code"]),
            (400, &json!("account_invalid"))
        );
        let state = stand_in.state.lock().unwrap();
        assert_eq!(state.transfer_calls, 4);
        assert_eq!(state.transfers.len(), 1);
        assert_eq!(state.transfers[0]["idempotency_key"], "payout_p1");
        assert_eq!(state.transfers[0]["id"], "tr_test_1");
    }

    #[tokio::test]
    async fn paystack_records_metadata_transfers_once_and_refunds() {
        let stand_in = ProviderStandIn::start().await;
        let (status, _) = paystack(
            &stand_in,
            "/transaction/initialize",
            json!({"reference": "ref1", "amount": 5000, "currency": "NGN", "metadata": "{\"marketplace_order_id\":\"o3\"}"}),
        )
        .await;
        assert_eq!(status, 200);
        {
            let state = stand_in.state.lock().unwrap();
            assert_eq!(state.transactions["ref1"], (5000, "NGN".to_string()));
            assert_eq!(
                state.transaction_metadata["ref1"]["marketplace_order_id"],
                "o3"
            );
        }
        let transfer = json!({"source": "balance", "amount": 4500, "recipient": "RCP_1", "reference": "payout1", "reason": "Payout"});
        stand_in
            .state
            .lock()
            .unwrap()
            .paystack_transfers_lose_answer = 1;
        let (status, _) = paystack(&stand_in, "/transfer", transfer.clone()).await;
        assert_eq!(status, 500);
        let (status, answer) = paystack(&stand_in, "/transfer", transfer.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(
            answer,
            json!({"status": true, "message": "Transfer has been queued", "data": {"transfer_code": "TRF_test_1", "reference": "payout1", "amount": 4500, "currency": "NGN", "status": "success", "recipient": "RCP_1"}})
        );
        {
            let mut state = stand_in.state.lock().unwrap();
            assert_eq!(
                (
                    state.paystack_transfers.len(),
                    state.paystack_duplicate_references
                ),
                (1, 1)
            );
            state.paystack_transfers_decline = true;
        }
        let mut other = transfer.clone();
        other["reference"] = json!("payout2");
        assert_eq!(paystack(&stand_in, "/transfer", other).await.0, 400);

        let (status, refund) = paystack(
            &stand_in,
            "/refund",
            json!({"transaction": "ref1", "amount": 2000}),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(refund["message"], "Refund has been queued for processing");
        assert_eq!(refund["data"]["transaction"]["reference"], "ref1");
        assert_eq!(
            (
                &refund["data"]["id"],
                &refund["data"]["amount"],
                &refund["data"]["status"]
            ),
            (&json!(1), &json!(2000), &json!("pending"))
        );
        assert_eq!(
            paystack(
                &stand_in,
                "/refund",
                json!({"transaction": "ref1", "amount": 3001})
            )
            .await
            .0,
            400
        );
        assert_eq!(
            paystack(&stand_in, "/refund", json!({"transaction": "nope"}))
                .await
                .0,
            404
        );
        assert_eq!(stand_in.state.lock().unwrap().paystack_refunds.len(), 1);
    }
}
