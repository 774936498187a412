//! Creating and changing apps: the rules an app's fields follow (slug,
//! redirect URIs, scopes) and its client secret, shown once.

use landlord_audit::{Actor, AuditEntry};
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::{ApiError, Timestamp};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::ids::AppId;
use crate::scopes::{Grantor, ScopeSet};
use crate::store::{self, AppRow, AppStatus, ClientType};
use crate::tokens;
use crate::views::{AppView, CreatedApp, DeletedApp, RotatedSecret};
use crate::AppsState;

/// The directory's categories.
pub const CATEGORIES: &[&str] = &[
    "analytics",
    "communication",
    "developer-tools",
    "finance",
    "marketing",
    "productivity",
    "sales",
    "support",
    "other",
];

/// Most redirect URIs one app registers.
pub const MAX_REDIRECT_URIS: usize = 10;

/// Prefix of a client secret.
pub const CLIENT_SECRET_PREFIX: &str = "llcs_";

/// `POST /apps`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppRequest {
    /// The app's subdomain and name in URLs: 3 to 40 of a-z, 0-9 and
    /// single hyphens, unique on the platform; some names are reserved.
    #[schema(min_length = 3, max_length = 40, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: String,
    #[schema(min_length = 1, max_length = 80)]
    pub name: String,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// One of the directory's categories (`other` when omitted).
    pub category: Option<String>,
    /// `public` (a browser or mobile app: PKCE, no secret) or
    /// `confidential` (a server: PKCE and a secret, shown once).
    pub client_type: ClientType,
    /// Where people are sent back after signing in, matched byte for byte:
    /// https, or http only for loopback addresses and `*.localhost`.
    #[schema(max_items = 10)]
    pub redirect_uris: Vec<String>,
    /// The scopes it asks a person for when they sign in (`openid`,
    /// `profile`, `email`, `organizations:read`, …).
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The scopes it asks an organization for when installed.
    #[serde(default)]
    pub organization_scopes: Vec<String>,
    /// The app's home page, shown in the directory (https).
    #[schema(max_length = 2000)]
    pub homepage_url: Option<String>,
    /// A square image shown beside its name (https).
    #[schema(max_length = 2000)]
    pub icon_url: Option<String>,
    /// Where the app hears `app.installed`, `app.uninstalled` and
    /// `app.scopes_accepted`, signed (https; the outgoing webhooks'
    /// address rules apply when they are sent).
    #[schema(max_length = 2000)]
    pub webhook_url: Option<String>,
    /// The app's own server, which the gateway forwards
    /// `https://{slug}.{apps domain}` to (http or https; a public address
    /// unless the platform allows private ones).
    #[schema(max_length = 2000)]
    pub upstream_url: Option<String>,
}

/// An app's web address (home page, icon, webhook): absolute https, or
/// http to a loopback host; no credentials.
pub fn check_web_url(url: &str) -> Result<(), &'static str> {
    check_redirect_uri(url).map_err(|reason| match reason {
        "may not have a #fragment" => reason,
        _ if url.len() > 2000 => "must be at most 2000 characters",
        _ => "must be an https URL (http only for loopback hosts)",
    })
}

fn check_optional_url(field: &str, url: Option<&str>) -> Option<ApiError> {
    url.and_then(|url| {
        check_web_url(url)
            .err()
            .map(|r| ApiError::invalid_field(field, r))
    })
}

/// The app's redirect URI `uri`, if Landlord accepts it: absolute, no
/// fragment, no credentials; https, or http to a loopback host.
pub fn check_redirect_uri(uri: &str) -> Result<(), &'static str> {
    if uri.len() > 2000 {
        return Err("must be at most 2000 characters");
    }
    let parsed = url::Url::parse(uri).map_err(|_| "must be an absolute URL")?;
    if parsed.fragment().is_some() {
        return Err("may not have a #fragment");
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("may not carry a user name or password");
    }
    let host = parsed.host_str().unwrap_or_default();
    match parsed.scheme() {
        "https" if !host.is_empty() => Ok(()),
        "http" if is_loopback_host(host) => Ok(()),
        "http" => Err(
            "http is only for loopback hosts (127.0.0.1, [::1], localhost, *.localhost); use https",
        ),
        _ => Err("must be an https URL"),
    }
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The slug's rules: shape, reserved, quarantined for another organization.
pub async fn check_slug(
    state: &AppsState,
    organization_id: &OrganizationId,
    slug: &str,
) -> Result<(), ApiError> {
    crate::slug::check_shape(slug).map_err(|reason| ApiError::invalid_field("slug", reason))?;
    if state.settings().is_reserved(slug) {
        return Err(ApiError::invalid_field(
            "slug",
            "is reserved by the platform",
        ));
    }
    let holder = store::slug_quarantined_for(state.db.pool(), slug, Timestamp::now()).await?;
    if holder.is_some_and(|holder| &holder != organization_id) {
        return Err(slug_taken());
    }
    Ok(())
}

fn slug_taken() -> ApiError {
    ApiError::Conflict("slug: this slug is taken".into())
}

fn check_text(field: &str, text: &str, min: usize, max: usize) -> Option<ApiError> {
    let length = text.chars().count();
    (length < min || length > max || (min > 0 && text.trim().is_empty())).then(|| {
        ApiError::invalid_field(
            field,
            if min > 0 {
                format!("must be {min} to {max} characters, not blank")
            } else {
                format!("must be at most {max} characters")
            },
        )
    })
}

fn check_scopes(field: &str, names: &[String], grantor: Grantor) -> Option<ApiError> {
    let set = ScopeSet::from_names(names.iter().cloned());
    let refused = set.not_grantable(grantor);
    (!refused.is_empty()).then(|| {
        ApiError::invalid_field(
            field,
            format!("unknown or not allowed here: {}", refused.join(", ")),
        )
    })
}

fn check_redirect_uris(uris: &[String]) -> Option<ApiError> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Some(ApiError::invalid_field(
            "redirect_uris",
            format!("at most {MAX_REDIRECT_URIS}"),
        ));
    }
    uris.iter().enumerate().find_map(|(i, uri)| {
        check_redirect_uri(uri)
            .err()
            .map(|reason| ApiError::invalid_field(&format!("redirect_uris[{i}]"), reason))
    })
}

/// Creates a draft app; a confidential client's secret is in the answer,
/// and only there. Audited as `app.created` by `created_by`.
pub async fn create(
    state: &AppsState,
    organization_id: &OrganizationId,
    created_by: &UserId,
    body: CreateAppRequest,
) -> Result<CreatedApp, ApiError> {
    let entry = AuditEntry::new("app.created")
        .organization(organization_id)
        .actor(created_by);
    create_recorded(state, organization_id, created_by, entry, body).await
}

/// [`create`] by a signed-in person, audited with their client's address.
pub async fn create_by(
    state: &AppsState,
    actor: &impl Actor,
    client: &ClientInfo,
    body: CreateAppRequest,
) -> Result<CreatedApp, ApiError> {
    let entry = AuditEntry::by(actor, client, "app.created");
    create_recorded(state, actor.organization_id(), actor.user_id(), entry, body).await
}

async fn create_recorded(
    state: &AppsState,
    organization_id: &OrganizationId,
    created_by: &UserId,
    entry: AuditEntry,
    body: CreateAppRequest,
) -> Result<CreatedApp, ApiError> {
    let category = body.category.clone().unwrap_or_else(|| "other".into());
    let errors = [
        crate::slug::check_shape(&body.slug)
            .err()
            .map(|reason| ApiError::invalid_field("slug", reason)),
        check_text("name", &body.name, 1, 80),
        body.description
            .as_deref()
            .and_then(|d| check_text("description", d, 0, 2000)),
        check_category(&category),
        check_redirect_uris(&body.redirect_uris),
        check_scopes("scopes", &body.scopes, Grantor::Person),
        check_scopes(
            "organization_scopes",
            &body.organization_scopes,
            Grantor::Organization,
        ),
        check_optional_url("homepage_url", body.homepage_url.as_deref()),
        check_optional_url("icon_url", body.icon_url.as_deref()),
        check_optional_url("webhook_url", body.webhook_url.as_deref()),
    ];
    if errors.iter().any(Option::is_some) {
        return Err(ApiError::all_fields(errors));
    }
    check_slug(state, organization_id, &body.slug).await?;
    if let Some(url) = body.upstream_url.as_deref() {
        crate::gateway::upstream::check(url, state.settings())
            .await
            .map_err(|reason| ApiError::invalid_field("upstream_url", reason))?;
    }
    let secret = (body.client_type == ClientType::Confidential)
        .then(|| tokens::new_secret(CLIENT_SECRET_PREFIX));
    let now = Timestamp::now();
    let description = body.description.unwrap_or_default();
    let row = AppRow {
        id: AppId::generate(),
        organization_id: organization_id.clone(),
        search_text: search_text(&body.name, &description, &category),
        slug: body.slug,
        name: body.name.trim().to_owned(),
        description,
        category,
        icon_url: body.icon_url,
        homepage_url: body.homepage_url,
        upstream_url: body.upstream_url,
        webhook_url: body.webhook_url,
        status: AppStatus::Draft,
        status_reason: None,
        client_type: body.client_type,
        client_secret_hash: secret.as_deref().map(tokens::hash),
        redirect_uris: serde_json::Value::from(body.redirect_uris).to_string(),
        scopes: ScopeSet::from_names(body.scopes).to_json(),
        organization_scopes: ScopeSet::from_names(body.organization_scopes).to_json(),
        created_by: Some(created_by.clone()),
        published_at: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin().await?;
    match store::insert_app(&mut *tx, &row).await {
        Ok(()) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(slug_taken()),
        Err(e) => return Err(e.into()),
    }
    let (gateway_secret, sealed) =
        crate::gateway::signature::new_secret(&state.identity.payload_cipher, &row.id)?;
    store::gateway::set_missing_gateway_secret(&mut *tx, &row.id, &sealed).await?;
    landlord_audit::record(
        &mut *tx,
        entry.target("app", &row.id).details(serde_json::json!({
            "slug": row.slug,
            "client_type": row.client_type,
        })),
    )
    .await?;
    tx.commit().await?;
    // The notices' endpoint exists from the start: the developer reads its
    // signing secret before the first installation is announced.
    crate::notices::ensure_endpoint(state, &row).await?;
    Ok(CreatedApp {
        app: AppView::new(row),
        client_secret: secret,
        gateway_secret,
    })
}

fn search_text(name: &str, description: &str, category: &str) -> String {
    format!("{} {} {}", name.trim(), description, category).to_lowercase()
}

fn check_category(category: &str) -> Option<ApiError> {
    (!CATEGORIES.contains(&category)).then(|| {
        ApiError::invalid_field(
            "category",
            format!("must be one of {}", CATEGORIES.join(", ")),
        )
    })
}

// ---- Managing an app ----------------------------------------------------------------

/// `PATCH /apps/{id}`: the fields to change; those left out stay. The
/// same rules as at creation. An empty `homepage_url`, `icon_url` or
/// `webhook_url` removes it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAppRequest {
    /// A new slug: the old one stays reserved for this organization for
    /// the quarantine's days, as when an app is deleted.
    #[schema(min_length = 3, max_length = 40, pattern = r"^[a-z0-9]+(-[a-z0-9]+)*$")]
    pub slug: Option<String>,
    #[schema(min_length = 1, max_length = 80)]
    pub name: Option<String>,
    #[schema(max_length = 2000)]
    pub description: Option<String>,
    /// One of the directory's categories.
    pub category: Option<String>,
    /// Replaces every redirect URI (matched byte for byte).
    #[schema(max_items = 10)]
    pub redirect_uris: Option<Vec<String>>,
    /// Replaces the scopes asked of a person.
    pub scopes: Option<Vec<String>>,
    /// Replaces the scopes asked of an installing organization.
    pub organization_scopes: Option<Vec<String>>,
    #[schema(max_length = 2000)]
    pub homepage_url: Option<String>,
    #[schema(max_length = 2000)]
    pub icon_url: Option<String>,
    #[schema(max_length = 2000)]
    pub webhook_url: Option<String>,
    /// The app's own server behind the gateway; empty removes it (the
    /// app's subdomain then answers 502).
    #[schema(max_length = 2000)]
    pub upstream_url: Option<String>,
}

/// An optional address as sent in a change: empty removes it.
fn changed_url(url: Option<String>) -> Option<Option<String>> {
    url.map(|url| {
        let url = url.trim().to_owned();
        (!url.is_empty()).then_some(url)
    })
}

/// The organization's app `id` (404 for another organization's, or for
/// an id that is not one).
pub async fn own(
    state: &AppsState,
    organization_id: &OrganizationId,
    id: &str,
) -> Result<AppRow, ApiError> {
    let id = AppId::parse_or_not_found(id, "app")?;
    store::own_app(state.db.pool(), organization_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("app"))
}

/// Changes the organization's app. Its status stays (a published app's
/// change keeps it published). A new slug quarantines the old one for
/// the organization, as a deletion does. Audited as `app.updated`.
pub async fn update(
    state: &AppsState,
    actor: &impl Actor,
    client: &ClientInfo,
    id: &str,
    body: UpdateAppRequest,
) -> Result<AppView, ApiError> {
    let organization_id = actor.organization_id();
    let mut row = own(state, organization_id, id).await?;
    let homepage_url = changed_url(body.homepage_url);
    let icon_url = changed_url(body.icon_url);
    let webhook_url = changed_url(body.webhook_url);
    let upstream_url = changed_url(body.upstream_url);
    let errors = [
        body.slug.as_deref().and_then(|slug| {
            crate::slug::check_shape(slug)
                .err()
                .map(|reason| ApiError::invalid_field("slug", reason))
        }),
        body.name
            .as_deref()
            .and_then(|name| check_text("name", name, 1, 80)),
        body.description
            .as_deref()
            .and_then(|d| check_text("description", d, 0, 2000)),
        body.category.as_deref().and_then(check_category),
        body.redirect_uris.as_deref().and_then(check_redirect_uris),
        body.scopes
            .as_deref()
            .and_then(|s| check_scopes("scopes", s, Grantor::Person)),
        body.organization_scopes
            .as_deref()
            .and_then(|s| check_scopes("organization_scopes", s, Grantor::Organization)),
        homepage_url
            .as_ref()
            .and_then(|u| check_optional_url("homepage_url", u.as_deref())),
        icon_url
            .as_ref()
            .and_then(|u| check_optional_url("icon_url", u.as_deref())),
        webhook_url
            .as_ref()
            .and_then(|u| check_optional_url("webhook_url", u.as_deref())),
    ];
    if errors.iter().any(Option::is_some) {
        return Err(ApiError::all_fields(errors));
    }
    if let Some(Some(url)) = upstream_url.as_ref() {
        crate::gateway::upstream::check(url, state.settings())
            .await
            .map_err(|reason| ApiError::invalid_field("upstream_url", reason))?;
    }
    let old_slug = row.slug.clone();
    let mut changed = Vec::new();
    if let Some(slug) = body.slug.filter(|slug| *slug != row.slug) {
        check_slug(state, organization_id, &slug).await?;
        row.slug = slug;
        changed.push("slug");
    }
    if let Some(name) = body.name {
        row.name = name.trim().to_owned();
        changed.push("name");
    }
    if let Some(description) = body.description {
        row.description = description;
        changed.push("description");
    }
    if let Some(category) = body.category {
        row.category = category;
        changed.push("category");
    }
    if let Some(uris) = body.redirect_uris {
        row.redirect_uris = serde_json::Value::from(uris).to_string();
        changed.push("redirect_uris");
    }
    if let Some(scopes) = body.scopes {
        row.scopes = ScopeSet::from_names(scopes).to_json();
        changed.push("scopes");
    }
    if let Some(scopes) = body.organization_scopes {
        row.organization_scopes = ScopeSet::from_names(scopes).to_json();
        changed.push("organization_scopes");
    }
    if let Some(url) = homepage_url {
        row.homepage_url = url;
        changed.push("homepage_url");
    }
    if let Some(url) = icon_url {
        row.icon_url = url;
        changed.push("icon_url");
    }
    if let Some(url) = webhook_url {
        row.webhook_url = url;
        changed.push("webhook_url");
    }
    if let Some(url) = upstream_url {
        row.upstream_url = url;
        changed.push("upstream_url");
    }
    let now = Timestamp::now();
    row.search_text = search_text(&row.name, &row.description, &row.category);
    row.updated_at = now;
    let mut tx = state.db.begin().await?;
    match store::update_app(&mut *tx, &row).await {
        Ok(true) => {}
        Ok(false) => return Err(ApiError::not_found("app")),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(slug_taken()),
        Err(e) => return Err(e.into()),
    }
    if row.slug != old_slug {
        store::quarantine_slug(
            &mut *tx,
            &old_slug,
            organization_id,
            quarantine_end(state, now),
        )
        .await?;
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(actor, client, "app.updated")
            .target("app", &row.id)
            .details(serde_json::json!({
                "changed": changed,
                "slug": row.slug,
                "old_slug": (row.slug != old_slug).then_some(&old_slug),
            })),
    )
    .await?;
    tx.commit().await?;
    if changed
        .iter()
        .any(|field| ["slug", "name", "upstream_url"].contains(field))
    {
        crate::gateway::hosts::routing_changed(state).await;
    }
    if changed.contains(&"webhook_url") {
        // The notices' endpoint follows the address now, so its signing
        // secret is there to read before the first notice.
        crate::notices::ensure_endpoint(state, &row).await?;
    }
    Ok(AppView::new(row))
}

/// When a slug freed at `now` may be taken by another organization.
fn quarantine_end(state: &AppsState, now: Timestamp) -> Timestamp {
    now.plus(std::time::Duration::from_secs(
        u64::from(state.settings().slug_quarantine_days) * 24 * 3600,
    ))
}

/// Deletes the organization's app — its tokens, codes, consents and
/// installations with it — and keeps its slug from every other
/// organization for the quarantine's days. Audited as `app.deleted`.
pub async fn delete(
    state: &AppsState,
    actor: &impl Actor,
    client: &ClientInfo,
    id: &str,
) -> Result<DeletedApp, ApiError> {
    let organization_id = actor.organization_id();
    let row = own(state, organization_id, id).await?;
    let now = Timestamp::now();
    let until = quarantine_end(state, now);
    let mut tx = state.db.begin().await?;
    crate::gateway::domains::quarantine_app_domains(&mut tx, organization_id, &row.id, until)
        .await?;
    if !store::delete_app(&mut *tx, organization_id, &row.id).await? {
        return Err(ApiError::not_found("app"));
    }
    store::quarantine_slug(&mut *tx, &row.slug, organization_id, until).await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(actor, client, "app.deleted")
            .target("app", &row.id)
            .details(serde_json::json!({ "slug": row.slug, "name": row.name })),
    )
    .await?;
    tx.commit().await?;
    crate::gateway::hosts::routing_changed(state).await;
    Ok(DeletedApp {
        app: AppView::new(row),
        slug_reserved_until: until,
    })
}

/// A confidential client's new secret, shown this once; the old one stops
/// working at once. A public client has none (409). Audited as
/// `app.secret_rotated`.
pub async fn rotate_secret(
    state: &AppsState,
    actor: &impl Actor,
    client: &ClientInfo,
    id: &str,
) -> Result<RotatedSecret, ApiError> {
    let organization_id = actor.organization_id();
    let mut row = own(state, organization_id, id).await?;
    if row.client_type != ClientType::Confidential {
        return Err(ApiError::Conflict(
            "a public client has no secret to rotate: it proves itself with PKCE alone".into(),
        ));
    }
    let secret = tokens::new_secret(CLIENT_SECRET_PREFIX);
    let now = Timestamp::now();
    let hash = tokens::hash(&secret);
    let mut tx = state.db.begin().await?;
    if !store::set_client_secret_hash(&mut *tx, organization_id, &row.id, &hash, now).await? {
        return Err(ApiError::not_found("app"));
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(actor, client, "app.secret_rotated").target("app", &row.id),
    )
    .await?;
    tx.commit().await?;
    row.client_secret_hash = Some(hash);
    row.updated_at = now;
    Ok(RotatedSecret {
        app: AppView::new(row),
        client_secret: secret,
    })
}

/// Submits a draft for review (`in_review`; the operator's last reason
/// cleared). Only a draft with at least one redirect URI; anything else is
/// a 409 that says why. Audited as `app.submitted`.
pub async fn submit(
    state: &AppsState,
    actor: &impl Actor,
    client: &ClientInfo,
    id: &str,
) -> Result<AppView, ApiError> {
    let organization_id = actor.organization_id();
    let row = own(state, organization_id, id).await?;
    let refusal = match row.status {
        AppStatus::Draft if row.redirect_uris().is_empty() => {
            Some("add at least one redirect URI before submitting: people sign in through it")
        }
        AppStatus::Draft => None,
        AppStatus::InReview => Some("the app is in review already"),
        AppStatus::Published => Some("the app is published already; its changes stay published"),
        AppStatus::Suspended => {
            Some("the app is suspended by a platform administrator; only they can publish it again")
        }
    };
    if let Some(refusal) = refusal {
        return Err(ApiError::Conflict(refusal.into()));
    }
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    if !store::set_app_status(
        &mut *tx,
        &row.id,
        &[AppStatus::Draft],
        AppStatus::InReview,
        None,
        now,
    )
    .await?
    {
        return Err(ApiError::Conflict(
            "the app is no longer a draft; reload it".into(),
        ));
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(actor, client, "app.submitted").target("app", &row.id),
    )
    .await?;
    tx.commit().await?;
    own(state, organization_id, row.id.as_str())
        .await
        .map(AppView::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_https_or_loopback_http() {
        for ok in [
            "https://app.example.com/callback",
            "https://app.example.com/cb?x=1",
            "http://127.0.0.1:8000/cb",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
            "http://notes.apps.localhost/cb",
            "com.example.app:/oauth2redirect",
        ] {
            if ok.starts_with("com.") {
                assert!(check_redirect_uri(ok).is_err(), "{ok}");
            } else {
                assert_eq!(check_redirect_uri(ok), Ok(()), "{ok}");
            }
        }
        for bad in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#x",
            "https://user:pw@app.example.com/cb",
            "/relative",
            "javascript:alert(1)",
            "http://localhost.example.com/cb",
        ] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
