//! Telling an app what happened to its installations: `app.installed`,
//! `app.uninstalled` and `app.scopes_accepted`, POSTed to the app's
//! `webhook_url` through the outgoing webhooks' machinery (Standard
//! Webhooks signature, retries, the address rules, the attempt log).
//!
//! How: the app's webhook address is a webhook endpoint of the publishing
//! organization whose id is the app's id (so the developer finds its
//! signing secret at `GET /api/v1/webhooks/endpoints/{app_id}/secret`,
//! and its attempts beside the organization's other endpoints). Each
//! notice is an event recorded in the publishing organization without
//! fan-out, delivered to that endpoint only. The endpoint subscribes to
//! `app.scopes_accepted` alone, a type that is only ever sent this way, so
//! the fan-out of the publisher's own events never reaches the app.

use landlord_core::ids::{WebhookDeliveryId, WebhookEndpointId};
use landlord_core::{ApiError, Timestamp};
use landlord_events::Event;
use landlord_webhooks::deliver::{self, DeliverPayload};
use landlord_webhooks::endpoint::{self, EventFilter};
use landlord_webhooks::store::{self as webhooks, AttemptCause, EndpointChange, EndpointRow};
use sqlx::{Any, Transaction};

use crate::events::APP_SCOPES_ACCEPTED;
use crate::store::AppRow;
use crate::AppsState;

/// The id of the endpoint that carries `app`'s notices: the app's own.
pub fn endpoint_id(app: &AppRow) -> WebhookEndpointId {
    WebhookEndpointId::from_trusted(app.id.as_str())
}

fn description(app: &AppRow) -> String {
    format!(
        "The app {} ({}): app.installed, app.uninstalled and app.scopes_accepted, sent to this \
         address only",
        app.name, app.slug
    )
}

/// Makes sure the app's notice endpoint exists and points at its
/// `webhook_url` (created with a new signing secret the first time);
/// `None` when the app has no webhook address. Called before a notice,
/// and by whoever sets an app's webhook address.
pub async fn ensure_endpoint(
    state: &AppsState,
    app: &AppRow,
) -> Result<Option<EndpointRow>, ApiError> {
    let Some(url) = app.webhook_url.as_deref() else {
        return Ok(None);
    };
    let id = endpoint_id(app);
    let found = webhooks::endpoint(state.db.pool(), &app.organization_id, &id).await?;
    if let Some(found) = found {
        if found.url == url {
            return Ok(Some(found));
        }
        // The app's address changed: the endpoint follows it.
        let enabled = found.enabled == 1;
        webhooks::update_endpoint(
            state.db.pool(),
            &app.organization_id,
            &id,
            EndpointChange {
                url,
                description: &description(app),
                event_types: &found.event_types,
                enabled,
                disabled_reason: found.disabled_reason.as_deref(),
            },
        )
        .await?;
        return Ok(webhooks::endpoint(state.db.pool(), &app.organization_id, &id).await?);
    }
    let secret = endpoint::new_secret();
    let sealed =
        endpoint::seal(&state.identity.payload_cipher, &id, &secret).map_err(ApiError::internal)?;
    let now = Timestamp::now();
    let row = EndpointRow {
        id: id.clone(),
        organization_id: app.organization_id.clone(),
        url: url.to_owned(),
        description: description(app),
        event_types: EventFilter(vec![APP_SCOPES_ACCEPTED]).encode(),
        enabled: 1,
        disabled_reason: None,
        secret_sealed: sealed,
        previous_secret_sealed: None,
        previous_secret_until: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    match webhooks::insert_endpoint(state.db.pool(), &row).await {
        Ok(()) => Ok(Some(row)),
        // Two notices of a new app at once: the other one created it.
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            Ok(webhooks::endpoint(state.db.pool(), &app.organization_id, &id).await?)
        }
        Err(e) => Err(e.into()),
    }
}

/// Records `payload` as a notice to `app` in `tx` (an event of the
/// publishing organization, not fanned out) with its delivery to the
/// app's endpoint only, queued as a job: it leaves after `tx` commits.
/// `endpoint` is [`ensure_endpoint`]'s answer; `None` sends nothing.
pub async fn queue<P: Event>(
    tx: &mut Transaction<'static, Any>,
    app: &AppRow,
    endpoint: Option<&EndpointRow>,
    payload: &P,
) -> Result<(), ApiError> {
    let Some(endpoint) = endpoint else {
        return Ok(());
    };
    let event_id =
        landlord_events::store::record_without_dispatch(&mut **tx, &app.organization_id, payload)
            .await?;
    let added = webhooks::insert_deliveries(
        tx,
        &[webhooks::NewDelivery {
            id: WebhookDeliveryId::generate(),
            organization_id: app.organization_id.clone(),
            endpoint_id: endpoint.id.clone(),
            event_id,
        }],
        Timestamp::now(),
    )
    .await?;
    for delivery_id in added {
        landlord_jobs::enqueue(
            &mut **tx,
            deliver::job(
                &DeliverPayload {
                    delivery_id,
                    seq: 0,
                    cause: AttemptCause::Scheduled,
                },
                None,
            ),
        )
        .await?;
    }
    Ok(())
}
