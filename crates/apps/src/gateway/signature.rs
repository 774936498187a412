//! `X-Landlord-Signature`: the gateway signs what it tells the upstream
//! (method, path and query, timestamp, and the identity headers) with the
//! app's gateway secret, in the Standard Webhooks scheme, so the upstream
//! can refuse what did not come through Landlord.
//!
//! The signed content is [`content`]: six lines joined by `\n` (no final
//! newline) —
//!
//! ```text
//! {METHOD}
//! {path and query, as the upstream receives them}
//! x-landlord-app:{app id}
//! x-landlord-user:{user id, or empty}
//! x-landlord-organization:{organization id, or empty}
//! x-landlord-installation:{installation id, or empty}
//! ```
//!
//! and the signature is Standard Webhooks' `v1,{base64 HMAC-SHA256 of
//! "{X-Landlord-Id}.{X-Landlord-Timestamp}.{content}"}` with the key the
//! `whsec_…` secret encodes. During a rotation's overlap both secrets sign
//! (two signatures, space-separated).
//!
//! The secrets are kept sealed with the payload cipher in `apps`; the
//! gateway holds them opened in the app's cached route, so no request reads
//! the database for them.

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use landlord_audit::{Actor, AuditEntry};
use landlord_core::http::client::ClientInfo;
use landlord_core::sealed::PayloadCipher;
use landlord_core::{ApiError, Timestamp};

use crate::ids::AppId;
use crate::store;
use crate::views::{AppView, RotatedGatewaySecret};
use crate::AppsState;

pub static LANDLORD_ID: HeaderName = HeaderName::from_static("x-landlord-id");
pub static LANDLORD_TIMESTAMP: HeaderName = HeaderName::from_static("x-landlord-timestamp");
pub static LANDLORD_SIGNATURE: HeaderName = HeaderName::from_static("x-landlord-signature");

/// The identity headers the signature covers, in the order of [`content`].
pub const SIGNED_HEADERS: [&str; 4] = [
    "x-landlord-app",
    "x-landlord-user",
    "x-landlord-organization",
    "x-landlord-installation",
];

/// An app's opened gateway secrets: the current one, and the previous one
/// until its overlap ends.
#[derive(Clone, Default)]
pub struct SigningSecrets {
    pub current: Option<String>,
    pub previous: Option<(String, Timestamp)>,
}

impl std::fmt::Debug for SigningSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecrets([redacted])")
    }
}

impl SigningSecrets {
    /// The secrets that sign at `now`: the current, and the previous one
    /// while its overlap lasts.
    fn signing_at(&self, now: Timestamp) -> impl Iterator<Item = &str> {
        let previous = self
            .previous
            .as_ref()
            .filter(|(_, until)| *until > now)
            .map(|(secret, _)| secret.as_str());
        self.current.as_deref().into_iter().chain(previous)
    }
}

/// The signed content of a request (see the module's documentation):
/// `method`, `path_and_query`, and the identity headers of `headers`
/// (absent ones empty).
pub fn content(method: &str, path_and_query: &str, headers: &HeaderMap) -> String {
    let mut text = format!("{method}\n{path_and_query}");
    for name in SIGNED_HEADERS {
        let value = headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        text.push('\n');
        text.push_str(name);
        text.push(':');
        text.push_str(value);
    }
    text
}

/// Sets `X-Landlord-Id` (`id`), `X-Landlord-Timestamp` (now, Unix seconds)
/// and `X-Landlord-Signature` over `method`, `path_and_query` and the
/// identity headers already in `headers`. Without a secret, only the id
/// and the timestamp are set.
pub fn sign(
    secrets: &SigningSecrets,
    id: &str,
    method: &str,
    path_and_query: &str,
    headers: &mut HeaderMap,
) {
    let now = Timestamp::now();
    let timestamp = now.millis().div_euclid(1000);
    let signed = content(method, path_and_query, headers);
    let signatures: Vec<String> = secrets
        .signing_at(now)
        .filter_map(|secret| {
            landlord_core::webhook_signature::sign(secret, id, timestamp, signed.as_bytes())
        })
        .collect();
    if let Ok(value) = HeaderValue::from_str(id) {
        headers.insert(LANDLORD_ID.clone(), value);
    }
    headers.insert(LANDLORD_TIMESTAMP.clone(), HeaderValue::from(timestamp));
    if let Ok(value) = HeaderValue::from_str(&signatures.join(" ")) {
        if !signatures.is_empty() {
            headers.insert(LANDLORD_SIGNATURE.clone(), value);
        }
    }
}

/// What a sealed gateway secret is bound to: its app, so a sealed value
/// copied to another row does not open.
fn context(app_id: &AppId) -> Vec<u8> {
    format!("app_gateway_secret:{app_id}").into_bytes()
}

/// A new gateway secret (`whsec_…`, 32 random bytes) and its sealed form.
pub fn new_secret(cipher: &PayloadCipher, app_id: &AppId) -> Result<(String, String), ApiError> {
    let secret = landlord_webhooks::endpoint::new_secret();
    let sealed = cipher
        .seal(secret.as_bytes(), &context(app_id))
        .map_err(ApiError::internal)?;
    Ok((secret, sealed))
}

fn open(cipher: &PayloadCipher, app_id: &AppId, sealed: &str) -> Option<String> {
    match cipher.open(sealed, &context(app_id)) {
        Ok(bytes) => String::from_utf8(bytes).ok(),
        Err(error) => {
            tracing::error!(%error, app = %app_id, "an app's gateway secret cannot be opened");
            None
        }
    }
}

/// The app's gateway secrets, opened, for its cached route; an app that
/// has none yet (created before the gateway signed) gets one now.
pub async fn route_secrets(
    apps: &AppsState,
    app_id: &AppId,
) -> Result<SigningSecrets, sqlx::Error> {
    let cipher = &apps.identity.payload_cipher;
    let pool = apps.db.pool();
    let mut sealed = store::gateway::gateway_secrets(pool, app_id)
        .await?
        .unwrap_or_default();
    if sealed.gateway_secret.is_none() {
        let Ok((_, new)) = new_secret(cipher, app_id) else {
            return Ok(SigningSecrets::default());
        };
        store::gateway::set_missing_gateway_secret(pool, app_id, &new).await?;
        sealed = store::gateway::gateway_secrets(pool, app_id)
            .await?
            .unwrap_or_default();
    }
    let current = sealed
        .gateway_secret
        .as_deref()
        .and_then(|s| open(cipher, app_id, s));
    let previous = match (
        sealed.gateway_secret_previous.as_deref(),
        sealed.gateway_secret_previous_until,
    ) {
        (Some(s), Some(until)) if until > Timestamp::now() => {
            open(cipher, app_id, s).map(|secret| (secret, until))
        }
        _ => None,
    };
    Ok(SigningSecrets { current, previous })
}

/// A new gateway secret for the organization's app, shown this once; the
/// previous one keeps signing beside it for
/// `apps.gateway_secret_overlap_hours`. Audited as
/// `app.gateway_secret_rotated`; every instance's routing hears of it.
pub async fn rotate(
    state: &AppsState,
    actor: &impl Actor,
    client: &ClientInfo,
    id: &str,
) -> Result<RotatedGatewaySecret, ApiError> {
    let organization_id = actor.organization_id();
    let row = crate::registry::own(state, organization_id, id).await?;
    let (secret, sealed) = new_secret(&state.identity.payload_cipher, &row.id)?;
    let until = Timestamp::now().plus(std::time::Duration::from_secs(
        state.settings().gateway_secret_overlap_hours * 3600,
    ));
    let mut tx = state.db.begin().await?;
    let had_one = store::gateway::gateway_secrets(&mut *tx, &row.id)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))?
        .gateway_secret
        .is_some();
    store::gateway::rotate_gateway_secret(&mut *tx, &row.id, &sealed, had_one.then_some(until))
        .await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(actor, client, "app.gateway_secret_rotated")
            .target("app", &row.id)
            .details(serde_json::json!({
                "previous_valid_until": had_one.then_some(until),
            })),
    )
    .await?;
    store::gateway::bump_routing_version(&mut *tx).await?;
    tx.commit().await?;
    super::hosts::routing_changed(state).await;
    Ok(RotatedGatewaySecret {
        app: AppView::new(row),
        gateway_secret: secret,
        previous_valid_until: had_one.then_some(until),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_lists_the_identity_headers_in_order() {
        let mut headers = HeaderMap::new();
        headers.insert("x-landlord-app", HeaderValue::from_static("app_1"));
        headers.insert("x-landlord-user", HeaderValue::from_static("usr_2"));
        assert_eq!(
            content("GET", "/a?b=1", &headers),
            "GET\n/a?b=1\nx-landlord-app:app_1\nx-landlord-user:usr_2\n\
             x-landlord-organization:\nx-landlord-installation:"
        );
    }

    #[test]
    fn both_secrets_sign_during_the_overlap_only() {
        let old = landlord_webhooks::endpoint::new_secret();
        let new = landlord_webhooks::endpoint::new_secret();
        let now = Timestamp::now();
        let secrets = SigningSecrets {
            current: Some(new.clone()),
            previous: Some((old.clone(), now.plus(std::time::Duration::from_secs(60)))),
        };
        let mut headers = HeaderMap::new();
        sign(&secrets, "req_1", "GET", "/", &mut headers);
        let signature = headers[&LANDLORD_SIGNATURE].to_str().unwrap().to_owned();
        let timestamp: i64 = headers[&LANDLORD_TIMESTAMP]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let signed = content("GET", "/", &headers);
        for secret in [&old, &new] {
            assert!(landlord_core::webhook_signature::verify(
                secret,
                "req_1",
                timestamp,
                signed.as_bytes(),
                &signature
            ));
        }
        let expired = SigningSecrets {
            current: Some(new),
            previous: Some((old, now)),
        };
        assert_eq!(expired.signing_at(now).count(), 1);
    }
}
