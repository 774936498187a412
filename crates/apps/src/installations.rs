//! Apps installed into organizations, and their server-to-server tokens:
//! installing (an owner or admin consents to organization scopes the app
//! asks for), changing the scopes, uninstalling (the installation's tokens
//! are revoked in the same transaction that ends it, and the app is told
//! after it commits), and the client-credentials grant that gives an
//! installed app its 1-hour access tokens.

use landlord_audit::AuditEntry;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{Meta, PageQuery};
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::{ApiError, Timestamp};
use landlord_identity::auth::CurrentUser;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::directory::ScopeView;
use crate::events::{
    AppInstalledPayload, AppScopesAcceptedPayload, AppUninstalledPayload, APP_INSTALLED,
};
use crate::ids::{AppId, InstallationId, TokenId};
use crate::notices;
use crate::oauth::{OAuthError, TokenResponse};
use crate::scopes::ScopeSet;
use crate::store::{self, AppRow, AppStatus, ClientType, InstallationRow, TokenKind, TokenRow};
use crate::tokens::{self, ACCESS_PREFIX};
use crate::AppsState;

/// `POST /installations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InstallRequest {
    /// The published app (its `id`, which is also its `client_id`).
    #[schema(format = Uuid)]
    pub app_id: String,
    /// The organization scopes consented to: each must be one the app
    /// asks for (`organization_scopes` in the directory).
    #[schema(max_items = 20)]
    pub scopes: Vec<String>,
}

/// `PATCH /installations/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInstallationRequest {
    /// The organization scopes the installation holds from now on. More
    /// than before: the app is told (`app.scopes_accepted`); fewer: its
    /// current tokens are revoked (it asks for new ones).
    #[schema(max_items = 20)]
    pub scopes: Vec<String>,
}

/// An installation as shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InstallationView {
    /// What the app names in the client-credentials grant
    /// (`installation_id`).
    pub id: InstallationId,
    pub app_id: AppId,
    pub app_slug: String,
    pub app_name: String,
    /// The installing organization.
    pub organization_id: OrganizationId,
    /// The organization scopes consented to, in words.
    pub scopes: Vec<ScopeView>,
    pub installed_by: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When it was uninstalled; `null` while installed.
    pub uninstalled_at: Option<Timestamp>,
}

impl InstallationView {
    pub fn new(row: InstallationRow, app: &AppRow) -> Self {
        Self {
            scopes: ScopeView::of(&ScopeSet::from_json(&row.scopes)),
            id: row.id,
            app_id: row.app_id,
            app_slug: app.slug.clone(),
            app_name: app.name.clone(),
            organization_id: row.organization_id,
            installed_by: row.installed_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
            uninstalled_at: row.uninstalled_at,
        }
    }
}

fn installation_not_found() -> ApiError {
    ApiError::not_found("installation")
}

fn app_not_found() -> ApiError {
    ApiError::not_found("app")
}

/// `names` as a scope set, when each is an organization scope `app` asks
/// for (a 422 naming the others otherwise).
fn consented_scopes(app: &AppRow, names: &[String]) -> Result<ScopeSet, ApiError> {
    if names.len() > 20 {
        return Err(ApiError::invalid_field("scopes", "at most 20"));
    }
    let asked = ScopeSet::from_json(&app.organization_scopes);
    let set = ScopeSet::from_names(names.iter().cloned());
    let outside: Vec<&str> = set.iter().filter(|s| !asked.contains(s)).collect();
    if !outside.is_empty() {
        return Err(ApiError::invalid_field(
            "scopes",
            format!(
                "the app does not ask for {} (it asks for: {})",
                outside.join(", "),
                if asked.is_empty() {
                    "none".to_owned()
                } else {
                    asked.names().join(", ")
                }
            ),
        ));
    }
    Ok(set)
}

/// Installs the published app `request.app_id` into `user`'s organization
/// (the caller checked `install_apps`); tells the app.
pub async fn install(
    state: &AppsState,
    user: &CurrentUser,
    client: &ClientInfo,
    request: &InstallRequest,
) -> Result<InstallationView, ApiError> {
    let app_id = AppId::parse(request.app_id.trim()).ok_or_else(app_not_found)?;
    let app = store::app(state.db.pool(), &app_id)
        .await?
        .filter(|app| app.status == AppStatus::Published)
        .ok_or_else(app_not_found)?;
    let scopes = consented_scopes(&app, &request.scopes)?;
    let endpoint = notices::ensure_endpoint(state, &app).await?;
    let now = Timestamp::now();
    let row = InstallationRow {
        id: InstallationId::generate(),
        app_id: app.id.clone(),
        organization_id: user.organization_id.clone(),
        scopes: scopes.to_json(),
        installed_by: Some(user.user_id.clone()),
        created_at: now,
        updated_at: now,
        uninstalled_at: None,
    };
    let mut tx = state.db.begin().await?;
    // One live installation per app and organization, however many
    // installs run at once: they take turns.
    landlord_identity::store::hold_organization(&mut tx, state.db.backend(), &user.organization_id)
        .await?;
    if store::live_installation_of_app(&mut *tx, &user.organization_id, &app.id)
        .await?
        .is_some()
    {
        return Err(ApiError::Conflict(
            "the app is installed in this organization already; change its scopes with PATCH \
             /installations/{id}"
                .into(),
        ));
    }
    store::insert_installation(&mut *tx, &row).await?;
    let payload = AppInstalledPayload {
        organization_id: user.organization_id.clone(),
        app_id: app.id.clone(),
        installation_id: row.id.clone(),
        scopes: scopes.names(),
    };
    landlord_events::record(&mut *tx, &user.organization_id, &payload).await?;
    landlord_audit::store::record(
        &mut *tx,
        AuditEntry::by(user, client, APP_INSTALLED.as_str())
            .target("app_installation", &row.id)
            .details(serde_json::json!({ "app_id": app.id, "scopes": scopes.names() })),
    )
    .await?;
    notices::queue(&mut tx, &app, endpoint.as_ref(), &payload).await?;
    landlord_jobs::commit_and_wake(tx, &state.identity.jobs).await?;
    Ok(InstallationView::new(row, &app))
}

/// The organization's installation `id` with its app (uninstalled ones
/// too), or 404.
pub async fn find(
    state: &AppsState,
    organization_id: &OrganizationId,
    id: &str,
) -> Result<(InstallationRow, AppRow), ApiError> {
    let id = InstallationId::parse(id.trim()).ok_or_else(installation_not_found)?;
    let row = store::installation(state.db.pool(), organization_id, &id)
        .await?
        .ok_or_else(installation_not_found)?;
    let app = store::app(state.db.pool(), &row.app_id)
        .await?
        .ok_or_else(installation_not_found)?;
    Ok((row, app))
}

/// A page of the organization's installed apps, newest first.
pub async fn list(
    state: &AppsState,
    organization_id: &OrganizationId,
    query: &PageQuery,
) -> Result<(Vec<InstallationView>, Meta), ApiError> {
    let page = query.page()?;
    let before = page.cursor.as_deref().map(InstallationId::from_trusted);
    let mut rows = store::live_installations(
        state.db.pool(),
        organization_id,
        before.as_ref(),
        page.fetch(),
    )
    .await?;
    let meta = page.finish(&mut rows, |r| r.id.to_string());
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(app) = store::app(state.db.pool(), &row.app_id).await? {
            views.push(InstallationView::new(row, &app));
        }
    }
    Ok((views, meta))
}

/// Sets a live installation's scopes; more than before tells the app
/// (`app.scopes_accepted`), fewer revokes its tokens.
pub async fn update_scopes(
    state: &AppsState,
    user: &CurrentUser,
    client: &ClientInfo,
    id: &str,
    request: &UpdateInstallationRequest,
) -> Result<InstallationView, ApiError> {
    let (row, app) = find(state, &user.organization_id, id).await?;
    if row.uninstalled_at.is_some() {
        return Err(installation_not_found());
    }
    let scopes = consented_scopes(&app, &request.scopes)?;
    let before = ScopeSet::from_json(&row.scopes);
    let added: Vec<String> = scopes
        .iter()
        .filter(|s| !before.contains(s))
        .map(str::to_owned)
        .collect();
    let narrowed = !before.is_subset(&scopes);
    let endpoint = if added.is_empty() {
        None
    } else {
        notices::ensure_endpoint(state, &app).await?
    };
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    if !store::set_installation_scopes(&mut *tx, &row.id, &scopes.to_json(), now).await? {
        return Err(installation_not_found());
    }
    if narrowed {
        // Tokens carry the scopes they were issued with.
        store::revoke_installation_tokens(&mut *tx, &row.id, now).await?;
    }
    landlord_audit::store::record(
        &mut *tx,
        AuditEntry::by(user, client, "app.installation_updated")
            .target("app_installation", &row.id)
            .details(serde_json::json!({
                "app_id": app.id, "scopes": scopes.names(), "added": added,
            })),
    )
    .await?;
    if !added.is_empty() {
        let payload = AppScopesAcceptedPayload {
            organization_id: user.organization_id.clone(),
            app_id: app.id.clone(),
            installation_id: row.id.clone(),
            scopes: scopes.names(),
            added_scopes: added,
        };
        notices::queue(&mut tx, &app, endpoint.as_ref(), &payload).await?;
    }
    landlord_jobs::commit_and_wake(tx, &state.identity.jobs).await?;
    let (row, app) = find(state, &user.organization_id, row.id.as_str()).await?;
    Ok(InstallationView::new(row, &app))
}

/// Uninstalls: revokes every token of the installation and ends it, then
/// tells the app. The notice is queued in the same transaction, after
/// the revocation, and leaves only once it commits: when the app hears
/// `app.uninstalled`, its tokens already fail.
pub async fn uninstall(
    state: &AppsState,
    user: &CurrentUser,
    client: &ClientInfo,
    id: &str,
) -> Result<InstallationView, ApiError> {
    let (row, app) = find(state, &user.organization_id, id).await?;
    if row.uninstalled_at.is_some() {
        return Err(installation_not_found());
    }
    let endpoint = notices::ensure_endpoint(state, &app).await?;
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    store::revoke_installation_tokens(&mut *tx, &row.id, now).await?;
    if !store::mark_uninstalled(&mut *tx, &row.id, now).await? {
        return Err(installation_not_found());
    }
    let payload = AppUninstalledPayload {
        organization_id: user.organization_id.clone(),
        app_id: app.id.clone(),
        installation_id: row.id.clone(),
    };
    landlord_events::record(&mut *tx, &user.organization_id, &payload).await?;
    landlord_audit::store::record(
        &mut *tx,
        AuditEntry::by(user, client, "app.uninstalled")
            .target("app_installation", &row.id)
            .details(serde_json::json!({ "app_id": app.id })),
    )
    .await?;
    notices::queue(&mut tx, &app, endpoint.as_ref(), &payload).await?;
    landlord_jobs::commit_and_wake(tx, &state.identity.jobs).await?;
    let (row, app) = find(state, &user.organization_id, row.id.as_str()).await?;
    Ok(InstallationView::new(row, &app))
}

/// The client-credentials grant: an access token (no refresh token) for
/// `app`'s installation `installation_id` (the token request's
/// `installation_id` parameter), within the scopes the installing
/// organization consented to. The caller has authenticated `app` as a
/// confidential client. `requested` empty: every scope of the
/// installation; a scope outside them: `invalid_scope`. Another app's
/// installation, or one uninstalled: `invalid_grant`.
pub async fn client_credentials(
    state: &AppsState,
    app: &AppRow,
    requested: &ScopeSet,
    installation_id: Option<&str>,
) -> Result<TokenResponse, OAuthError> {
    if app.client_type != ClientType::Confidential {
        return Err(OAuthError::UnauthorizedClient(
            "client_credentials is for confidential clients (an app with a secret)".into(),
        ));
    }
    let installation_id = installation_id
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| {
            OAuthError::InvalidRequest(
                "installation_id is required: the installation the token acts for".into(),
            )
        })?;
    let not_installed = || {
        OAuthError::InvalidGrant("no such installation of this app (or it was uninstalled)".into())
    };
    let installation_id = InstallationId::parse(installation_id).ok_or_else(not_installed)?;
    let installation = store::live_installation_for_app(state.db.pool(), &app.id, &installation_id)
        .await?
        .ok_or_else(not_installed)?;
    let held = ScopeSet::from_json(&installation.scopes);
    let scopes = if requested.is_empty() {
        held
    } else if requested.is_subset(&held) {
        requested.clone()
    } else {
        let outside: Vec<&str> = requested.iter().filter(|s| !held.contains(s)).collect();
        return Err(OAuthError::InvalidScope(format!(
            "the installation was not granted {}",
            outside.join(", ")
        )));
    };
    let ttl = state.settings().installation_token_ttl_secs;
    let secret = tokens::new_secret(ACCESS_PREFIX);
    let now = Timestamp::now();
    store::insert_token(
        state.db.pool(),
        &TokenRow {
            id: TokenId::generate(),
            token_hash: tokens::hash(&secret),
            kind: TokenKind::Access,
            app_id: app.id.clone(),
            user_id: None,
            organization_id: Some(installation.organization_id.clone()),
            installation_id: Some(installation.id.clone()),
            consent_id: None,
            family_id: None,
            code_hash: None,
            scopes: scopes.to_json(),
            created_at: now,
            expires_at: now.plus(std::time::Duration::from_secs(ttl)),
            rotated_at: None,
            revoked_at: None,
        },
    )
    .await?;
    Ok(TokenResponse {
        access_token: secret,
        token_type: "Bearer".into(),
        expires_in: ttl,
        refresh_token: None,
        scope: scopes.to_oauth(),
        id_token: None,
    })
}
