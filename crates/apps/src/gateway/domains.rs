//! Custom domains: an app asks for one, proves it owns it with a TXT
//! record `_landlord-challenge.{domain}`, and only then is it routed.
//! Re-checked every `apps.domain_recheck_hours`; a record gone detaches it.
//!
//! - A domain is added `pending` with a random challenge; the answer gives
//!   the record to publish. It is checked a few seconds later, then every
//!   few minutes until it is verified (and at once on demand).
//! - Verified: the record held the challenge. Only one app on the platform
//!   holds a domain verified (a unique index says so); another app's claim
//!   is a 409.
//! - A verified domain is re-checked every `apps.domain_recheck_hours`; a
//!   record gone (or changed) makes it `failed`: it is detached from
//!   routing at once and the organization's owners are mailed.
//! - A removed domain stays reserved for its organization for
//!   `apps.slug_quarantine_days`, as a deleted app's slug does.
//!
//! The checks run in a loop of the gateway ([`Checker::run`], spawned by
//! `Gateway::run`) rather than as jobs: the work is a periodic sweep over
//! a table, not an action with a payload, and a job per domain would only
//! re-create that table in the queue. Several instances may run the loop
//! at once; each domain's check is claimed first (a conditional update of
//! its `checked_at`), so only one instance checks a domain at a time.

use std::net::IpAddr;
use std::time::Duration;

use landlord_audit::{Actor, AuditEntry};
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::OrganizationId;
use landlord_core::{ApiError, Timestamp};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use utoipa::ToSchema;

use super::dns::{self, TxtAnswer};
use crate::ids::{AppDomainId, AppId};
use crate::store::domains::{self as store, DomainRow, DomainStatus};
use crate::AppsState;

/// Most custom domains one app asks for.
pub const MAX_DOMAINS_PER_APP: i64 = 10;

/// Prefix of a challenge token.
pub const CHALLENGE_PREFIX: &str = "landlord-challenge=";

/// How long after being added a domain is first checked.
const FIRST_CHECK_AFTER: Duration = Duration::from_secs(3);

/// How often a pending (or failed) domain is checked again.
const PENDING_RECHECK: Duration = Duration::from_secs(10 * 60);

/// How often the loop looks for domains due for a check.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Most domains one sweep checks.
const SWEEP_BATCH: i64 = 100;

/// `POST /apps/{id}/domains`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddDomainRequest {
    /// A lower-case DNS name of two labels or more (`shop.example.com`), at
    /// most 253 characters; not an IP address, not under the platform's
    /// apps domain or its own host.
    #[schema(min_length = 1, max_length = 253, example = "shop.example.com")]
    pub domain: String,
}

/// The DNS record that proves a domain is the app's.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DomainRecord {
    /// Always `TXT`.
    #[serde(rename = "type")]
    #[schema(example = "TXT")]
    pub kind: &'static str,
    /// `_landlord-challenge.{domain}`.
    pub name: String,
    /// The challenge: the record's whole text.
    pub value: String,
}

/// A custom domain of an app.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DomainView {
    pub id: AppDomainId,
    pub app_id: AppId,
    pub domain: String,
    /// `pending` (waiting for its record), `verified` (routed to the app)
    /// or `failed` (the record was missing or wrong at the last check; a
    /// verified domain whose record went away is detached).
    #[schema(value_type = String, example = "pending")]
    pub status: DomainStatus,
    /// The record to publish.
    pub record: DomainRecord,
    /// What the last check found, when it did not verify the domain.
    pub last_error: Option<String>,
    pub verified_at: Option<Timestamp>,
    pub checked_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl DomainView {
    pub fn new(row: DomainRow) -> Self {
        Self {
            record: DomainRecord {
                kind: "TXT",
                name: dns::record_name(&row.domain),
                value: row.challenge,
            },
            id: row.id,
            app_id: row.app_id,
            domain: row.domain,
            status: row.status,
            last_error: row.last_error,
            verified_at: row.verified_at,
            checked_at: row.checked_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// A removed domain, and until when no other organization may take it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeletedDomain {
    pub domain: DomainView,
    pub reserved_until: Timestamp,
}

/// Why `domain` cannot be a custom domain, if it cannot (its shape and the
/// platform's own names; not who else holds it).
pub fn check_shape(domain: &str, apps_domain: &str, platform_host: &str) -> Result<(), String> {
    if domain.is_empty() {
        return Err("is required".into());
    }
    if domain.len() > 253 {
        return Err("must be at most 253 characters".into());
    }
    let bare = domain.trim_start_matches('[').trim_end_matches(']');
    if bare.parse::<IpAddr>().is_ok() {
        return Err("must be a domain name, not an IP address".into());
    }
    if domain.chars().any(|c| c.is_ascii_uppercase()) {
        return Err("must be lower case".into());
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err("must have at least two labels, such as example.com".into());
    }
    for label in &labels {
        if label.is_empty() || label.len() > 63 {
            return Err("each label (between dots) must be 1 to 63 characters".into());
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err("may only hold a-z, 0-9, hyphens and dots".into());
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a label may not start or end with a hyphen".into());
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("must end with a name, not a number".into());
    }
    let under = |parent: &str| {
        !parent.is_empty() && (domain == parent || domain.ends_with(&format!(".{parent}")))
    };
    if under(apps_domain) {
        return Err(format!(
            "may not be under {apps_domain}: the app already answers there"
        ));
    }
    if under(platform_host) {
        return Err("may not be the platform's own host or under it".into());
    }
    Ok(())
}

/// The platform's own host (`public_url`'s), lower case.
fn platform_host(state: &AppsState) -> String {
    url::Url::parse(&state.config.public_url)
        .ok()
        .and_then(|url| url.host_str().map(super::hosts::normalise))
        .unwrap_or_default()
}

fn conflict_verified_elsewhere() -> ApiError {
    ApiError::Conflict("domain: another app has verified this domain".into())
}

fn conflict_already_there() -> ApiError {
    ApiError::Conflict("domain: this app already has this domain".into())
}

fn conflict_quarantined() -> ApiError {
    ApiError::Conflict(
        "domain: this domain is reserved for a while after another organization removed it".into(),
    )
}

fn new_challenge() -> String {
    format!(
        "{CHALLENGE_PREFIX}{}",
        landlord_core::crypto::random_hex(24)
    )
}

/// The organization's app's domains, oldest first.
pub async fn list(
    state: &AppsState,
    organization_id: &OrganizationId,
    app_id: &str,
) -> Result<Vec<DomainView>, ApiError> {
    let app = crate::registry::own(state, organization_id, app_id).await?;
    let rows = store::domains_of_app(state.db.pool(), organization_id, &app.id).await?;
    Ok(rows.into_iter().map(DomainView::new).collect())
}

/// Adds `domain` to the organization's app, `pending`; it is checked a
/// few seconds later. Refused (409) when another app holds it verified, or
/// another organization removed it lately. Audited as `app.domain_added`.
pub async fn add(
    state: &AppsState,
    actor: &impl Actor,
    client: &ClientInfo,
    app_id: &str,
    request: AddDomainRequest,
) -> Result<DomainView, ApiError> {
    let organization_id = actor.organization_id();
    let app = crate::registry::own(state, organization_id, app_id).await?;
    let domain = request.domain;
    check_shape(&domain, &state.settings().domain, &platform_host(state))
        .map_err(|reason| ApiError::invalid_field("domain", reason))?;
    let pool = state.db.pool();
    let own = store::domains_of_app(pool, organization_id, &app.id).await?;
    if own.iter().any(|row| row.domain == domain) {
        return Err(conflict_already_there());
    }
    if store::verified_holder(pool, &domain).await?.is_some() {
        return Err(conflict_verified_elsewhere());
    }
    let holder = store::domain_quarantined_for(pool, &domain, Timestamp::now()).await?;
    if holder.is_some_and(|holder| &holder != organization_id) {
        return Err(conflict_quarantined());
    }
    if store::count_domains_of_app(pool, &app.id).await? >= MAX_DOMAINS_PER_APP {
        return Err(ApiError::invalid_field(
            "domain",
            format!("an app has at most {MAX_DOMAINS_PER_APP} domains: remove one first"),
        ));
    }
    let now = Timestamp::now();
    let row = DomainRow {
        id: AppDomainId::generate(),
        app_id: app.id.clone(),
        organization_id: organization_id.clone(),
        domain: domain.clone(),
        challenge: new_challenge(),
        status: DomainStatus::Pending,
        last_error: None,
        verified_at: None,
        checked_at: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin().await?;
    match store::insert_domain(&mut *tx, &row).await {
        Ok(()) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(conflict_already_there());
        }
        Err(e) => return Err(e.into()),
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(actor, client, "app.domain_added")
            .target("app", &app.id)
            .details(serde_json::json!({ "domain": domain, "domain_id": row.id })),
    )
    .await?;
    tx.commit().await?;
    // The first check, soon: the record may already be there.
    let later = state.clone();
    let id = row.id.clone();
    tokio::spawn(async move {
        tokio::time::sleep(FIRST_CHECK_AFTER).await;
        if let Ok(Some(row)) = store::domain_by_id(later.db.pool(), &id).await {
            if row.status == DomainStatus::Pending && row.checked_at.is_none() {
                let _ = check(&later, &row, false).await;
            }
        }
    });
    Ok(DomainView::new(row))
}

/// Checks the organization's app's domain now: 200 with it verified, or
/// a 422 saying what was found (the domain keeps the reason as
/// `last_error`). A 409 when another app verified it first.
pub async fn verify(
    state: &AppsState,
    actor: &impl Actor,
    client: &ClientInfo,
    app_id: &str,
    domain_id: &str,
) -> Result<DomainView, ApiError> {
    let row = own_domain(state, actor.organization_id(), app_id, domain_id).await?;
    let outcome = check(state, &row, false).await?;
    let after = store::domain_by_id(state.db.pool(), &row.id)
        .await?
        .ok_or_else(|| ApiError::not_found("domain"))?;
    if outcome == Outcome::Verified && row.status != DomainStatus::Verified {
        landlord_audit::record(
            state.db.pool(),
            AuditEntry::by(actor, client, "app.domain_verified")
                .target("app", &row.app_id)
                .details(serde_json::json!({ "domain": row.domain, "domain_id": row.id })),
        )
        .await?;
    }
    match outcome {
        Outcome::Verified => Ok(DomainView::new(after)),
        Outcome::TakenElsewhere => Err(conflict_verified_elsewhere()),
        Outcome::NotProved(reason) => Err(not_proved(&row.domain, &reason)),
    }
}

fn not_proved(domain: &str, reason: &str) -> ApiError {
    ApiError::Validation {
        status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        message: format!("domain: not verified: {reason}"),
        details: Some(serde_json::json!({
            "fields": [{ "field": "domain", "reason": format!("not verified: {reason}") }],
            "record": dns::record_name(domain),
        })),
    }
}

/// Removes the organization's app's domain (detached at once if it was
/// routed); the organization keeps it for `apps.slug_quarantine_days`.
/// Audited as `app.domain_removed`.
pub async fn remove(
    state: &AppsState,
    actor: &impl Actor,
    client: &ClientInfo,
    app_id: &str,
    domain_id: &str,
) -> Result<DeletedDomain, ApiError> {
    let organization_id = actor.organization_id();
    let row = own_domain(state, organization_id, app_id, domain_id).await?;
    let until = Timestamp::now().plus(Duration::from_secs(
        u64::from(state.settings().slug_quarantine_days) * 24 * 3600,
    ));
    let mut tx = state.db.begin().await?;
    if !store::delete_domain(&mut *tx, organization_id, &row.id).await? {
        return Err(ApiError::not_found("domain"));
    }
    store::quarantine_domain(&mut *tx, &row.domain, organization_id, until).await?;
    if row.status == DomainStatus::Verified {
        crate::store::gateway::bump_routing_version(&mut *tx).await?;
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(actor, client, "app.domain_removed")
            .target("app", &row.app_id)
            .details(serde_json::json!({ "domain": row.domain, "domain_id": row.id })),
    )
    .await?;
    tx.commit().await?;
    if row.status == DomainStatus::Verified {
        super::hosts::routing_changed(state).await;
    }
    Ok(DeletedDomain {
        domain: DomainView::new(row),
        reserved_until: until,
    })
}

/// Keeps the domains of a deleted app from other organizations, as its
/// slug is (in the deletion's transaction, before the rows go).
pub async fn quarantine_app_domains(
    conn: &mut sqlx::AnyConnection,
    organization_id: &OrganizationId,
    app_id: &AppId,
    until: Timestamp,
) -> Result<(), sqlx::Error> {
    let rows = store::domains_of_app(&mut *conn, organization_id, app_id).await?;
    for row in rows {
        store::quarantine_domain(&mut *conn, &row.domain, organization_id, until).await?;
    }
    Ok(())
}

async fn own_domain(
    state: &AppsState,
    organization_id: &OrganizationId,
    app_id: &str,
    domain_id: &str,
) -> Result<DomainRow, ApiError> {
    let app = crate::registry::own(state, organization_id, app_id).await?;
    let id = AppDomainId::parse_or_not_found(domain_id, "domain")?;
    store::own_domain(state.db.pool(), organization_id, &app.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("domain"))
}

/// What a check concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Verified,
    /// The record held the challenge but another app verified the domain
    /// first.
    TakenElsewhere,
    /// The record was missing or wrong, or the lookup failed: the reason.
    NotProved(String),
}

/// What the lookup of `row`'s record says, in words.
async fn look(state: &AppsState, row: &DomainRow) -> Outcome {
    let name = dns::record_name(&row.domain);
    match dns::lookup_txt(&state.settings().dns_resolver, &name).await {
        TxtAnswer::Found(texts) if texts.iter().any(|t| t.trim() == row.challenge) => {
            Outcome::Verified
        }
        TxtAnswer::Found(texts) => {
            let shown: Vec<String> = texts
                .iter()
                .take(3)
                .map(|t| {
                    let t: String = t.chars().take(100).collect();
                    format!("\"{t}\"")
                })
                .collect();
            Outcome::NotProved(format!(
                "the TXT record {name} holds {}, not the challenge",
                shown.join(", ")
            ))
        }
        TxtAnswer::Missing => Outcome::NotProved(format!("no TXT record found at {name}")),
        TxtAnswer::Failed(reason) => Outcome::NotProved(reason),
    }
}

/// Checks one domain and records the outcome: verified (routed), or a
/// reason kept as `last_error`. A verified domain that no longer proves
/// itself becomes `failed` and is detached; with `mail`, the
/// organization's owners are told.
pub async fn check(state: &AppsState, row: &DomainRow, mail: bool) -> Result<Outcome, ApiError> {
    let outcome = look(state, row).await;
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let routing_moved = match &outcome {
        Outcome::Verified => {
            match store::set_domain_status(&mut *tx, &row.id, DomainStatus::Verified, None, now)
                .await
            {
                Ok(_) => row.status != DomainStatus::Verified,
                Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                    drop(tx);
                    tx = state.db.begin().await?;
                    let status = if row.status == DomainStatus::Verified {
                        DomainStatus::Failed
                    } else {
                        row.status
                    };
                    store::set_domain_status(
                        &mut *tx,
                        &row.id,
                        status,
                        Some("another app has verified this domain"),
                        now,
                    )
                    .await?;
                    tx.commit().await?;
                    return Ok(Outcome::TakenElsewhere);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Outcome::TakenElsewhere => false,
        Outcome::NotProved(reason) => {
            // A pending domain waits for its record; a verified one whose
            // record went away is detached.
            let status = if row.status == DomainStatus::Verified {
                DomainStatus::Failed
            } else {
                row.status
            };
            store::set_domain_status(&mut *tx, &row.id, status, Some(reason), now).await?;
            if row.status == DomainStatus::Verified {
                landlord_audit::record(
                    &mut *tx,
                    AuditEntry::new("app.domain_detached")
                        .organization(&row.organization_id)
                        .target("app", &row.app_id)
                        .details(serde_json::json!({
                            "domain": row.domain,
                            "domain_id": row.id,
                            "reason": reason,
                        })),
                )
                .await?;
                if mail {
                    mail_owners(state, &mut tx, row, reason).await?;
                }
                true
            } else {
                false
            }
        }
    };
    if routing_moved {
        crate::store::gateway::bump_routing_version(&mut *tx).await?;
    }
    tx.commit().await?;
    if routing_moved {
        super::hosts::routing_changed(state).await;
    }
    Ok(outcome)
}

/// Tells the organization's owners that `row` was detached (in the
/// transaction that detached it).
async fn mail_owners(
    state: &AppsState,
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    row: &DomainRow,
    reason: &str,
) -> Result<(), ApiError> {
    let app = crate::store::own_app(&mut **tx, &row.organization_id, &row.app_id).await?;
    let app_name = app.map(|app| app.name).unwrap_or_default();
    let base = state
        .config
        .app_url
        .clone()
        .unwrap_or_else(|| state.config.public_url.clone());
    let link = format!(
        "{}/o/{}/apps/{}#domains",
        base.trim_end_matches('/'),
        row.organization_id,
        row.app_id
    );
    for to in landlord_identity::store::owner_emails(&mut **tx, &row.organization_id).await? {
        let mail = landlord_mail::Mail {
            to,
            template: crate::mail::DOMAIN_DETACHED.template(),
            context: serde_json::json!({
                "domain": row.domain,
                "app_name": app_name,
                "record_name": dns::record_name(&row.domain),
                "reason": reason,
                "link": link,
            }),
        };
        landlord_mail::queue(&mut **tx, &mail).await?;
    }
    Ok(())
}

/// Checks the domains that are due: pending and failed ones every few
/// minutes, verified ones every `apps.domain_recheck_hours` (all verified
/// ones with `everything`). Each is claimed first, so that two instances
/// never check one domain at once. Answers how many were checked.
pub async fn check_due(state: &AppsState, everything: bool) -> Result<usize, ApiError> {
    let now = Timestamp::now();
    let pending_before = now.minus(PENDING_RECHECK);
    let verified_before = if everything {
        now.plus(Duration::from_secs(1))
    } else {
        now.minus(Duration::from_secs(
            state.settings().domain_recheck_hours * 3600,
        ))
    };
    let due = store::domains_due(
        state.db.pool(),
        pending_before,
        verified_before,
        SWEEP_BATCH,
    )
    .await?;
    let mut checked = 0;
    for row in due {
        if !store::claim_check(state.db.pool(), &row.id, row.checked_at, now).await? {
            continue;
        }
        match check(state, &row, true).await {
            Ok(_) => checked += 1,
            Err(error) => {
                tracing::warn!(%error, domain = %row.domain, "a custom domain could not be checked")
            }
        }
    }
    Ok(checked)
}

/// The loop that keeps custom domains checked, until `stop`.
pub struct Checker;

impl Checker {
    pub async fn run(state: &AppsState, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(SWEEP_EVERY);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            // A sweep is cut short by `stop` (a check cut short changes
            // nothing: its transaction is not committed).
            tokio::select! {
                _ = stop.cancelled() => return,
                result = check_due(state, false) => {
                    if let Err(error) = result {
                        tracing::warn!(%error, "custom domains could not be checked");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_shape;

    fn shape(domain: &str) -> Result<(), String> {
        check_shape(domain, "apps.localhost", "landlord.example.com")
    }

    #[test]
    fn domains_follow_the_rules() {
        assert!(shape("shop.example.com").is_ok());
        assert!(shape("a-b.example.co.uk").is_ok());
        assert!(shape("").is_err());
        assert!(shape("localhost").is_err());
        assert!(shape("Shop.example.com").is_err());
        assert!(shape("127.0.0.1").is_err());
        assert!(shape("[::1]").is_err());
        assert!(shape("::1").is_err());
        assert!(shape("-a.example.com").is_err());
        assert!(shape("a..example.com").is_err());
        assert!(shape("a_b.example.com").is_err());
        assert!(shape(&format!("{}.com", "a".repeat(64))).is_err());
        assert!(shape(&format!("{}com", "a.".repeat(127))).is_err());
        assert!(shape("notes.apps.localhost").is_err());
        assert!(shape("apps.localhost").is_err());
        assert!(shape("landlord.example.com").is_err());
        assert!(shape("x.landlord.example.com").is_err());
        assert!(shape("example.com").is_ok());
    }
}
