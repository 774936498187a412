//! Twilio's status callbacks: the signature first, then the message moved
//! forward only — `queued`/`sent` → `delivered`, or → `failed` on
//! `failed`/`undelivered` — never backwards and never out of a final
//! status, so a repeated or late callback changes nothing.

use landlord_core::ids::MessageId;
use landlord_core::{ApiError, Timestamp};

use crate::delivery::record_event;
use crate::routes::MessagesState;
use crate::store::{self, Advance, Channel, MessageStatus};
use crate::twilio;

/// What became of a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOutcome {
    /// The message moved to this status.
    Moved(MessageStatus),
    /// Nothing to change: a repeat, a step backwards, a status that says
    /// nothing, or a message this server does not know.
    Unchanged,
}

/// How many times a callback reads its message again when another change
/// came in between (a delivery recording its hand-over, another callback).
const RETRIES: usize = 5;

/// Checks a Twilio status callback to `path_and_query` (as received) with
/// the form-encoded `body` and the `X-Twilio-Signature` header, and
/// applies it.
pub async fn twilio_status(
    state: &MessagesState,
    path_and_query: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<CallbackOutcome, ApiError> {
    let Some(callback) = state.twilio.as_ref() else {
        return Err(ApiError::ServiceUnavailable {
            message: "twilio is not configured on this server".into(),
            details: None,
        });
    };
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| ApiError::bad_request("the body must be form-encoded parameters"))?;
    // Twilio signs the URL it requested: this server's public address and
    // the path and query it received.
    let url = format!("{}{path_and_query}", callback.public_url);
    let signed = signature.is_some_and(|signature| {
        twilio::verify(callback.auth_token.expose_str(), &url, &params, signature)
    });
    if !signed {
        // Nothing of an unsigned request is read further: only this counter moves.
        metrics::counter!("webhook_signature_failures_total", "provider" => "twilio").increment(1);
        return Err(ApiError::InvalidSignature(
            "X-Twilio-Signature is missing or does not match".into(),
        ));
    }
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    };
    let (Some(sid), Some(twilio_status)) = (param("MessageSid"), param("MessageStatus")) else {
        return Ok(CallbackOutcome::Unchanged);
    };
    let Some(status) = twilio::status_of(twilio_status) else {
        return Ok(CallbackOutcome::Unchanged);
    };
    // The StatusCallback URL carries our id (see `TwilioProvider`); a
    // callback configured on a Messaging Service finds it by Twilio's.
    let message_id = query_param(path_and_query, "message_id").and_then(|id| MessageId::parse(&id));
    let reason = (status == MessageStatus::Failed)
        .then(|| twilio::failure_reason(twilio_status, param("ErrorCode"), param("ErrorMessage")));
    for _ in 0..RETRIES {
        let mut tx = state.db.begin().await?;
        let target = store::callback_target(&mut *tx, message_id.as_ref(), "twilio", sid).await?;
        let Some(target) = target else {
            return Ok(CallbackOutcome::Unchanged);
        };
        // Only an SMS goes through Twilio; and a callback must be about
        // the hand-over recorded (each message is handed over once).
        let other_handover = target
            .provider_message_id
            .as_deref()
            .is_some_and(|known| known != sid);
        if target.channel != Channel::Sms || other_handover {
            return Ok(CallbackOutcome::Unchanged);
        }
        let forward =
            target.status != MessageStatus::Simulated && status.rank() > target.status.rank();
        if !forward {
            return Ok(CallbackOutcome::Unchanged);
        }
        let moved = store::advance_status(
            &mut *tx,
            &target.id,
            target.status,
            Advance {
                status,
                provider: "twilio",
                provider_message_id: sid,
                failure_reason: reason.as_deref(),
                at: Timestamp::now(),
            },
        )
        .await?;
        if !moved {
            continue; // changed in between: read it again
        }
        // `message.sent` once, when it leaves `queued`; `message.failed`
        // when it fails.
        let event = match (target.status, status) {
            (MessageStatus::Queued, _) | (_, MessageStatus::Failed) => Some(status),
            _ => None,
        };
        if let Some(event) = event {
            record_event(
                &mut tx,
                &target.organization_id,
                &target.id,
                &target,
                event,
                reason.clone(),
            )
            .await?;
        }
        tx.commit().await?;
        return Ok(CallbackOutcome::Moved(status));
    }
    Err(ApiError::internal(anyhow::anyhow!(
        "a Twilio callback kept racing other changes of its message"
    )))
}

/// The first value of `name` in the query of `path_and_query`.
fn query_param(path_and_query: &str, name: &str) -> Option<String> {
    let query = path_and_query.split_once('?')?.1;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs
        .into_iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value)
}
