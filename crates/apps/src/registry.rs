//! Creating and changing apps: the rules an app's fields follow (slug,
//! redirect URIs, scopes) and its client secret, shown once.

use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::{ApiError, Timestamp};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::ids::AppId;
use crate::scopes::{Grantor, ScopeSet};
use crate::store::{self, AppRow, AppStatus, ClientType};
use crate::tokens;
use crate::views::{AppView, CreatedApp};
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
/// and only there.
pub async fn create(
    state: &AppsState,
    organization_id: &OrganizationId,
    created_by: &UserId,
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
        (!CATEGORIES.contains(&category.as_str())).then(|| {
            ApiError::invalid_field(
                "category",
                format!("must be one of {}", CATEGORIES.join(", ")),
            )
        }),
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
    let secret = (body.client_type == ClientType::Confidential)
        .then(|| tokens::new_secret(CLIENT_SECRET_PREFIX));
    let now = Timestamp::now();
    let description = body.description.unwrap_or_default();
    let row = AppRow {
        id: AppId::generate(),
        organization_id: organization_id.clone(),
        search_text: format!("{} {} {}", body.name, description, category).to_lowercase(),
        slug: body.slug,
        name: body.name.trim().to_owned(),
        description,
        category,
        icon_url: body.icon_url,
        homepage_url: body.homepage_url,
        upstream_url: None,
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
    match store::insert_app(state.db.pool(), &row).await {
        Ok(()) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(slug_taken()),
        Err(e) => return Err(e.into()),
    }
    Ok(CreatedApp {
        app: AppView::new(row),
        client_secret: secret,
    })
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
