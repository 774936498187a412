//! The `/auth` routes.

use std::time::Duration;

use axum::extract::{Path, State};
use landlord_audit::AuditEntry;
use landlord_core::crypto::random_hex;
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::client::ClientInfo;
use landlord_core::http::{ApiSuccess, Envelope, Json};
use landlord_core::ids::{OrganizationId, SessionId, UserId};
use landlord_core::{ApiError, Timestamp};
use landlord_mail::{Mail, Template};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::CurrentUser;
use crate::mail_limits::{self, MailKind};
use crate::model::{OrganizationRow, OrganizationView, Role, UserRow, UserView};
use crate::store::{self, Membership, NewRefreshToken, Purpose, TokenProblem};
use crate::{password, IdentityState};

const EMAIL_VERIFICATION_TTL: Duration = Duration::from_secs(24 * 3600);
const PASSWORD_RESET_TTL: Duration = Duration::from_secs(3600);
const MAX_NAME: usize = 100;

pub fn router() -> OpenApiRouter<IdentityState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(verify_email))
        .routes(routes!(request_email_verification))
        .routes(routes!(request_password_reset))
        .routes(routes!(reset_password))
        .routes(routes!(change_password))
        .routes(routes!(me))
        .routes(routes!(organizations))
        .routes(routes!(switch_organization))
        .routes(routes!(list_sessions, revoke_all_sessions))
        .routes(routes!(revoke_session))
}

// ---- shapes -----------------------------------------------------------------

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// Name of the new organization.
    #[schema(example = "Acme")]
    pub organization_name: String,
    #[schema(example = "Ada Lovelace")]
    pub name: Option<String>,
    #[schema(example = "ada@acme.test")]
    pub email: String,
    /// 8 to 128 characters, not the email address.
    #[schema(example = "correct horse battery", min_length = 8, max_length = 128)]
    pub password: String,
}

landlord_core::debug_redacted!(RegisterRequest { organization_name, name, email } secret { password });

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

landlord_core::debug_redacted!(LoginRequest { email } secret { password });

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

landlord_core::debug_redacted!(RefreshRequest {  } secret { refresh_token });

#[derive(Debug, Deserialize, ToSchema)]
pub struct EmailRequest {
    pub email: String,
}

#[derive(Deserialize, ToSchema)]
pub struct TokenRequest {
    /// The token from the mail.
    pub token: String,
}

landlord_core::debug_redacted!(TokenRequest {  } secret { token });

#[derive(Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    pub token: String,
    /// 8 to 128 characters, not the account's email address.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

landlord_core::debug_redacted!(ResetPasswordRequest {  } secret { token, new_password });

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    pub current_password: String,
    /// 8 to 128 characters, not the account's email address.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

landlord_core::debug_redacted!(ChangePasswordRequest {  } secret { current_password, new_password });

#[derive(Debug, Deserialize, ToSchema)]
pub struct SwitchOrganizationRequest {
    pub organization_id: String,
}

/// A signed-in session: tokens, the user and the active organization.
#[derive(Serialize, ToSchema)]
pub struct AuthResponse {
    /// Short-lived JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Single-use token for `POST /auth/refresh`; rotated at every use.
    pub refresh_token: String,
    pub user: UserView,
    pub organization: OrganizationView,
    pub role: Role,
}

landlord_core::debug_redacted!(AuthResponse { token_type, expires_in, user, organization, role } secret { access_token, refresh_token });

#[derive(Serialize, ToSchema)]
pub struct AccessTokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub organization: OrganizationView,
    pub role: Role,
}

landlord_core::debug_redacted!(AccessTokenResponse { token_type, expires_in, organization, role } secret { access_token });

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    pub organization: OrganizationView,
    pub role: Role,
    /// Whether this is the organization the access token acts in.
    pub active: bool,
    pub joined_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    pub user: UserView,
    pub organization: OrganizationView,
    pub role: Role,
    pub memberships: Vec<MembershipView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// Session id (for `DELETE /auth/sessions/{id}`).
    pub id: SessionId,
    pub started_at: Timestamp,
    pub last_refreshed_at: Timestamp,
    pub expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The session of the access token making this request.
    pub current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageResponse {
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedResponse {
    /// Sessions revoked by this request.
    pub revoked: u64,
}

// ---- input checks ---------------------------------------------------------------

/// Trims, lower-cases and checks an email address.
pub fn normalize_email(field: &str, raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    if email.is_empty() {
        return Err(ApiError::invalid_field(field, "is required"));
    }
    if email.len() > 254 || email.parse::<lettre::Address>().is_err() {
        return Err(ApiError::invalid_field(
            field,
            "is not a valid email address",
        ));
    }
    Ok(email)
}

pub fn optional_name(field: &str, raw: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(name) = raw.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if name.chars().count() > MAX_NAME {
        return Err(ApiError::invalid_field(
            field,
            format!("must be at most {MAX_NAME} characters long"),
        ));
    }
    Ok(Some(name.to_string()))
}

pub fn required_name(field: &str, raw: &str) -> Result<String, ApiError> {
    optional_name(field, Some(raw))?.ok_or_else(|| ApiError::invalid_field(field, "is required"))
}

fn token_error(field: &str, problem: TokenProblem) -> ApiError {
    match problem {
        TokenProblem::Unknown => ApiError::invalid_field(field, "is not a valid token"),
        TokenProblem::Used => ApiError::invalid_field(field, "has already been used"),
        TokenProblem::Expired => ApiError::invalid_field(field, "has expired; ask for a new one"),
    }
}

fn unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

// ---- sessions -------------------------------------------------------------------

fn new_refresh_token() -> String {
    format!("rt_{}", random_hex(32))
}

impl IdentityState {
    fn refresh_expiry(&self) -> Timestamp {
        Timestamp::now().plus(Duration::from_secs(
            self.config.refresh_token_ttl_days * 24 * 3600,
        ))
    }

    fn access_token(
        &self,
        user_id: &UserId,
        org_id: &OrganizationId,
        session_id: &SessionId,
    ) -> Result<String, ApiError> {
        self.tokens
            .issue(user_id, org_id, session_id)
            .map_err(ApiError::internal)
    }

    fn link(&self, page: &str, token: &str) -> String {
        format!("{}/{page}?token={token}", self.config.app_url())
    }
}

/// Stores a new refresh token in the session `family_id` and returns it.
async fn issue_refresh_token(
    conn: &mut sqlx::AnyConnection,
    state: &IdentityState,
    family_id: &SessionId,
    user_id: &UserId,
    organization_id: &OrganizationId,
    client: &ClientInfo,
) -> Result<String, ApiError> {
    let refresh_token = new_refresh_token();
    let token = NewRefreshToken {
        family_id,
        user_id,
        organization_id,
        refresh_token: &refresh_token,
        expires_at: state.refresh_expiry(),
        ip: client.ip.as_deref(),
        user_agent: client.user_agent.as_deref(),
    };
    store::insert_session(conn, token).await?;
    Ok(refresh_token)
}

/// Starts a session family and returns (family id, refresh token).
pub async fn start_session(
    conn: &mut sqlx::AnyConnection,
    state: &IdentityState,
    user_id: &UserId,
    organization_id: &OrganizationId,
    client: &ClientInfo,
) -> Result<(SessionId, String), ApiError> {
    let family_id = SessionId::generate();
    let refresh_token =
        issue_refresh_token(conn, state, &family_id, user_id, organization_id, client).await?;
    Ok((family_id, refresh_token))
}

pub fn auth_response(
    state: &IdentityState,
    user: &UserRow,
    organization: &OrganizationRow,
    role: Role,
    family_id: &SessionId,
    refresh_token: String,
) -> Result<AuthResponse, ApiError> {
    Ok(AuthResponse {
        access_token: state.access_token(&user.id, &organization.id, family_id)?,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_secs,
        refresh_token,
        user: user.into(),
        organization: organization.into(),
        role,
    })
}

async fn queue_verification_mail(
    conn: &mut sqlx::AnyConnection,
    state: &IdentityState,
    user: &UserRow,
) -> Result<(), ApiError> {
    let token = random_hex(32);
    store::insert_one_time_token(
        conn,
        &user.id,
        Purpose::EmailVerification,
        &token,
        Timestamp::now().plus(EMAIL_VERIFICATION_TTL),
    )
    .await?;
    let mail = Mail {
        to: user.email.clone(),
        template: Template::EmailVerification,
        context: serde_json::json!({
            "name": user.name,
            "link": state.link("verify-email", &token),
            "token": token,
        }),
    };
    landlord_mail::queue_sealed(conn, &mail, &state.payload_cipher).await?;
    Ok(())
}

// ---- handlers ---------------------------------------------------------------------

/// Create an organization and its owner, and sign in.
///
/// Sends a verification mail (valid 24 hours).
#[utoipa::path(
    post, path = "/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered and signed in", body = Envelope<AuthResponse>),
        (status = 409, description = "An account with this email exists", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid", body = ErrorEnvelope),
        (status = 429, description = "Too many requests from this address or for this account, or too many verification mails to this email today; see Retry-After", body = ErrorEnvelope),
        (status = 503, description = "Password hashing is at its bound; retry after `Retry-After`", body = ErrorEnvelope),
    )
)]
pub async fn register(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Json(body): Json<RegisterRequest>,
) -> Result<ApiSuccess<AuthResponse>, ApiError> {
    let organization_name = required_name("organization_name", &body.organization_name)?;
    let name = optional_name("name", body.name.as_deref())?;
    let email = normalize_email("email", &body.email)?;
    password::validate("password", &body.password, &email)?;
    // Registering sends a verification mail: it counts against the
    // address's budget, whether or not the address is taken.
    mail_limits::per_recipient(&state, MailKind::EmailVerification, &email).await?;
    let conflict = || ApiError::Conflict("an account with this email already exists".into());
    if store::user_by_email(state.db.pool(), &email)
        .await?
        .is_some()
    {
        return Err(conflict());
    }
    state.limit_password_work(&email).await?;
    let password_hash = password::hash(&state.hashing, body.password).await?;

    let mut tx = state.db.begin().await?;
    let user_id = match store::insert_user(&mut tx, &email, name.as_deref(), &password_hash).await {
        Ok(id) => id,
        Err(e) if unique_violation(&e) => return Err(conflict()),
        Err(e) => return Err(e.into()),
    };
    let organization_id = store::insert_organization(
        &mut tx,
        &organization_name,
        &email,
        &state.config.default_plan,
    )
    .await?;
    store::insert_membership(&mut tx, &organization_id, &user_id, Role::Owner).await?;
    let user = store::user_by_id(&mut *tx, &user_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("user vanished in its transaction")))?;
    let organization = store::organization_by_id(&mut *tx, &organization_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("organization vanished")))?;
    queue_verification_mail(&mut tx, &state, &user).await?;
    let (family_id, refresh_token) =
        start_session(&mut tx, &state, &user_id, &organization_id, &client).await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("auth.register")
            .organization(&organization_id)
            .actor(&user_id)
            .target("user", &user_id)
            .client(&client),
    )
    .await?;
    tx.commit().await?;
    state.jobs.notify_one();
    let response = auth_response(
        &state,
        &user,
        &organization,
        Role::Owner,
        &family_id,
        refresh_token,
    )?;
    Ok(ApiSuccess::created(response))
}

/// Sign in with email and password.
///
/// Failed attempts are limited per (account, client address) tightly, per
/// account loosely and per client address; past a limit the answer is 429
/// with `Retry-After` until the window passes.
#[utoipa::path(
    post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = Envelope<AuthResponse>),
        (status = 401, description = "Email or password is incorrect", body = ErrorEnvelope),
        (status = 429, description = "Too many failed attempts (per account and address, per account, per address) or requests from this address", body = ErrorEnvelope),
        (status = 503, description = "Password hashing is at its bound; retry after `Retry-After`", body = ErrorEnvelope),
    )
)]
pub async fn login(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Json(body): Json<LoginRequest>,
) -> Result<ApiSuccess<AuthResponse>, ApiError> {
    let email = normalize_email("email", &body.email)?;
    // Tight per (account, address), loose per account, and per address:
    // guessing from one address stops early, guessing from many cannot lock
    // the owner (who signs in from elsewhere) out.
    let ip = client.ip.as_deref().unwrap_or("unknown");
    let pair_key = format!("account:{email}:ip:{ip}");
    let account_key = format!("account:{email}");
    let ip_key = format!("ip:{ip}");
    let config = &state.config;
    for (key, max) in [
        (&pair_key, config.login_max_failures_per_account_address),
        (&account_key, config.login_max_failures_per_account),
        (&ip_key, config.login_max_failures_per_ip),
    ] {
        if let Err(retry) = state.login_failures.check(key, max) {
            return Err(ApiError::RateLimited {
                message: "too many failed sign-in attempts; try again later".into(),
                retry_after_secs: retry.as_secs().max(1),
            });
        }
    }

    let user = store::user_by_email(state.db.pool(), &email).await?;
    let valid = password::verify(
        &state.hashing,
        body.password,
        user.as_ref().map(|u| u.password_hash.expose().clone()),
    )
    .await?;
    let Some(user) = user.filter(|_| valid) else {
        state.login_failures.record_failure(&pair_key);
        state.login_failures.record_failure(&account_key);
        state.login_failures.record_failure(&ip_key);
        let mut entry = AuditEntry::new("auth.login_failed")
            .client(&client)
            .details(serde_json::json!({ "email": email }));
        if let Some(user_id) = store::user_by_email(state.db.pool(), &email)
            .await?
            .map(|u| u.id)
        {
            entry = entry.actor(&user_id).target("user", &user_id);
        }
        landlord_audit::record(state.db.pool(), entry).await?;
        return Err(ApiError::Unauthorized(
            "email or password is incorrect".into(),
        ));
    };
    state.login_failures.clear(&pair_key);
    state.login_failures.clear(&account_key);

    let Membership {
        organization, role, ..
    } = store::memberships(state.db.pool(), &user.id)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| {
            ApiError::Forbidden("this account does not belong to any organization".into())
        })?;
    let mut tx = state.db.begin().await?;
    let (family_id, refresh_token) =
        start_session(&mut tx, &state, &user.id, &organization.id, &client).await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("auth.login")
            .organization(&organization.id)
            .actor(&user.id)
            .target("session", &family_id)
            .client(&client),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(auth_response(
        &state,
        &user,
        &organization,
        role,
        &family_id,
        refresh_token,
    )?))
}

/// Exchange a refresh token for a new access token and refresh token.
///
/// Each refresh token works once. Presenting one that was already used
/// revokes its whole session (stolen-token detection).
#[utoipa::path(
    post, path = "/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = Envelope<AuthResponse>),
        (status = 401, description = "Unknown, expired, revoked or reused refresh token", body = ErrorEnvelope),
    )
)]
pub async fn refresh(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Json(body): Json<RefreshRequest>,
) -> Result<ApiSuccess<AuthResponse>, ApiError> {
    let invalid = || ApiError::Unauthorized("the refresh token is not valid".into());
    let mut tx = state.db.begin().await?;
    let session = store::session_by_token(&mut tx, body.refresh_token.trim())
        .await?
        .ok_or_else(invalid)?;
    if session.revoked_at.is_some() {
        return Err(ApiError::Unauthorized(
            "the session has been revoked".into(),
        ));
    }
    if session.used_at.is_some() || !store::mark_session_used(&mut tx, &session.id).await? {
        store::revoke_family(&mut *tx, &session.family_id, "refresh_token_reused").await?;
        landlord_audit::record(
            &mut *tx,
            AuditEntry::new("auth.refresh_token_reused")
                .organization(&session.organization_id)
                .actor(&session.user_id)
                .target("session", &session.family_id)
                .client(&client),
        )
        .await?;
        tx.commit().await?;
        tracing::warn!(session = %session.family_id, "refresh token reused: session revoked");
        return Err(ApiError::Unauthorized(
            "this refresh token was already used; the session has been revoked, sign in again"
                .into(),
        ));
    }
    if session.expires_at <= Timestamp::now() {
        return Err(ApiError::Unauthorized(
            "the refresh token has expired; sign in again".into(),
        ));
    }
    let user = store::user_by_id(&mut *tx, &session.user_id)
        .await?
        .ok_or_else(invalid)?;
    let role = store::role_in(&mut *tx, &user.id, &session.organization_id)
        .await?
        .ok_or_else(|| {
            ApiError::Unauthorized("you are no longer a member of this organization".into())
        })?;
    let organization = store::organization_by_id(&mut *tx, &session.organization_id)
        .await?
        .ok_or_else(invalid)?;
    let refresh_token = issue_refresh_token(
        &mut tx,
        &state,
        &session.family_id,
        &user.id,
        &organization.id,
        &client,
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(auth_response(
        &state,
        &user,
        &organization,
        role,
        &session.family_id,
        refresh_token,
    )?))
}

/// End the current session: its access and refresh tokens stop working.
#[utoipa::path(
    post, path = "/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Signed out", body = Envelope<RevokedResponse>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    )
)]
pub async fn logout(
    State(state): State<IdentityState>,
    user: CurrentUser,
    client: ClientInfo,
) -> Result<ApiSuccess<RevokedResponse>, ApiError> {
    let mut tx = state.db.begin().await?;
    store::revoke_family(&mut *tx, &user.session_id, "logout").await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(&user, &client, "auth.logout").target("session", &user.session_id),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(RevokedResponse { revoked: 1 }))
}

/// Confirm an email address with the token from the verification mail.
#[utoipa::path(
    post, path = "/auth/verify-email", tag = "auth",
    request_body = TokenRequest,
    responses(
        (status = 200, description = "Email verified", body = Envelope<UserView>),
        (status = 422, description = "Unknown, used or expired token", body = ErrorEnvelope),
    )
)]
pub async fn verify_email(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Json(body): Json<TokenRequest>,
) -> Result<ApiSuccess<UserView>, ApiError> {
    let mut tx = state.db.begin().await?;
    let user_id =
        store::consume_one_time_token(&mut tx, Purpose::EmailVerification, body.token.trim())
            .await?
            .map_err(|p| token_error("token", p))?;
    store::mark_email_verified(&mut *tx, &user_id).await?;
    let user = store::user_by_id(&mut *tx, &user_id)
        .await?
        .ok_or_else(|| ApiError::invalid_field("token", "is not a valid token"))?;
    let organization = store::memberships(&mut *tx, &user_id)
        .await?
        .into_iter()
        .next()
        .map(|m| m.organization);
    if let Some(organization) = &organization {
        let mail = Mail {
            to: user.email.clone(),
            template: Template::Welcome,
            context: serde_json::json!({
                "name": user.name,
                "organization_name": organization.name,
                "link": format!("{}/login", state.config.app_url()),
            }),
        };
        landlord_mail::queue_sealed(&mut *tx, &mail, &state.payload_cipher).await?;
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("auth.email_verified")
            .maybe_organization(organization.as_ref().map(|o| &o.id))
            .actor(&user_id)
            .target("user", &user_id)
            .client(&client),
    )
    .await?;
    tx.commit().await?;
    state.jobs.notify_one();
    Ok(ApiSuccess::ok(UserView::from(&user)))
}

const VERIFICATION_REQUESTED: &str =
    "if an unverified account uses this email, a verification mail is on its way";
const RESET_REQUESTED: &str = "if an account uses this email, a password reset mail is on its way";

/// Send a new verification mail.
///
/// Answers the same whether or not the account exists. At most
/// `mails_per_recipient_per_day` verification mails a day to one address,
/// counted for the address whether or not an account uses it (so a 429
/// reveals nothing about the account).
#[utoipa::path(
    post, path = "/auth/request-email-verification", tag = "auth",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Accepted", body = Envelope<MessageResponse>),
        (status = 422, description = "Not an email address", body = ErrorEnvelope),
        (status = 429, description = "Too many requests from this address, or too many verification mails to this email today; see Retry-After", body = ErrorEnvelope),
    )
)]
pub async fn request_email_verification(
    State(state): State<IdentityState>,
    Json(body): Json<EmailRequest>,
) -> Result<ApiSuccess<MessageResponse>, ApiError> {
    let email = normalize_email("email", &body.email)?;
    // Before the lookup: unknown addresses are limited like known ones.
    mail_limits::per_recipient(&state, MailKind::EmailVerification, &email).await?;
    if let Some(user) = store::user_by_email(state.db.pool(), &email).await? {
        if user.email_verified_at.is_none() {
            let mut tx = state.db.begin().await?;
            queue_verification_mail(&mut tx, &state, &user).await?;
            tx.commit().await?;
            state.jobs.notify_one();
        }
    }
    Ok(ApiSuccess::accepted(MessageResponse {
        message: VERIFICATION_REQUESTED.into(),
    }))
}

/// Send a password reset mail (valid 1 hour).
///
/// Answers the same whether or not the account exists. At most
/// `mails_per_recipient_per_day` reset mails a day to one address, counted
/// for the address whether or not an account uses it (so a 429 reveals
/// nothing about the account).
#[utoipa::path(
    post, path = "/auth/request-password-reset", tag = "auth",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "Accepted", body = Envelope<MessageResponse>),
        (status = 422, description = "Not an email address", body = ErrorEnvelope),
        (status = 429, description = "Too many requests from this address, or too many reset mails to this email today; see Retry-After", body = ErrorEnvelope),
    )
)]
pub async fn request_password_reset(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Json(body): Json<EmailRequest>,
) -> Result<ApiSuccess<MessageResponse>, ApiError> {
    let email = normalize_email("email", &body.email)?;
    // Before the lookup: unknown addresses are limited like known ones.
    mail_limits::per_recipient(&state, MailKind::PasswordReset, &email).await?;
    if let Some(user) = store::user_by_email(state.db.pool(), &email).await? {
        let token = random_hex(32);
        let mut tx = state.db.begin().await?;
        store::insert_one_time_token(
            &mut tx,
            &user.id,
            Purpose::PasswordReset,
            &token,
            Timestamp::now().plus(PASSWORD_RESET_TTL),
        )
        .await?;
        let mail = Mail {
            to: user.email.clone(),
            template: Template::PasswordReset,
            context: serde_json::json!({
                "name": user.name,
                "link": state.link("reset-password", &token),
                "token": token,
            }),
        };
        landlord_mail::queue_sealed(&mut *tx, &mail, &state.payload_cipher).await?;
        landlord_audit::record(
            &mut *tx,
            AuditEntry::new("auth.password_reset_requested")
                .actor(&user.id)
                .target("user", &user.id)
                .client(&client),
        )
        .await?;
        tx.commit().await?;
        state.jobs.notify_one();
    }
    Ok(ApiSuccess::accepted(MessageResponse {
        message: RESET_REQUESTED.into(),
    }))
}

/// Choose a new password with the token from the reset mail.
///
/// Every session of the account is revoked.
#[utoipa::path(
    post, path = "/auth/reset-password", tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "Password changed", body = Envelope<MessageResponse>),
        (status = 422, description = "Unknown, used or expired token, or a weak password", body = ErrorEnvelope),
        (status = 429, description = "Too many requests from this address or for this account", body = ErrorEnvelope),
        (status = 503, description = "Password hashing is at its bound; retry after `Retry-After`", body = ErrorEnvelope),
    )
)]
pub async fn reset_password(
    State(state): State<IdentityState>,
    client: ClientInfo,
    Json(body): Json<ResetPasswordRequest>,
) -> Result<ApiSuccess<MessageResponse>, ApiError> {
    // Cheap checks first: the length, then the token (read, not yet used),
    // the policy with the account's email and the account's limit; only
    // then the hashing.
    password::validate("new_password", &body.new_password, "")?;
    let token = body.token.trim();
    let holder = store::peek_one_time_token(state.db.pool(), Purpose::PasswordReset, token)
        .await?
        .map_err(|p| token_error("token", p))?;
    let holder = store::user_by_id(state.db.pool(), &holder)
        .await?
        .ok_or_else(|| ApiError::invalid_field("token", "is not a valid token"))?;
    password::validate("new_password", &body.new_password, &holder.email)?;
    state.limit_password_work(&holder.email).await?;
    let password_hash = password::hash(&state.hashing, body.new_password.clone()).await?;
    let mut tx = state.db.begin().await?;
    let user_id = store::consume_one_time_token(&mut tx, Purpose::PasswordReset, token)
        .await?
        .map_err(|p| token_error("token", p))?;
    let user = store::user_by_id(&mut *tx, &user_id)
        .await?
        .ok_or_else(|| ApiError::invalid_field("token", "is not a valid token"))?;
    store::set_password_hash(&mut *tx, &user_id, &password_hash).await?;
    let revoked = store::revoke_user_sessions(&mut *tx, &user_id, None, "password_reset").await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("auth.password_reset")
            .actor(&user_id)
            .target("user", &user_id)
            .client(&client)
            .details(serde_json::json!({ "sessions_revoked": revoked })),
    )
    .await?;
    tx.commit().await?;
    state
        .login_failures
        .clear(&format!("account:{}", user.email));
    Ok(ApiSuccess::ok(MessageResponse {
        message: "password changed; sign in with the new password".into(),
    }))
}

/// Change the password of the signed-in user.
///
/// The user's other sessions are revoked; this one stays.
#[utoipa::path(
    post, path = "/auth/change-password", tag = "auth",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, description = "Password changed", body = Envelope<RevokedResponse>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
        (status = 422, description = "Wrong current password or a weak new one", body = ErrorEnvelope),
        (status = 429, description = "Too many requests from this address or for this account", body = ErrorEnvelope),
        (status = 503, description = "Password hashing is at its bound; retry after `Retry-After`", body = ErrorEnvelope),
    )
)]
pub async fn change_password(
    State(state): State<IdentityState>,
    current: CurrentUser,
    client: ClientInfo,
    Json(body): Json<ChangePasswordRequest>,
) -> Result<ApiSuccess<RevokedResponse>, ApiError> {
    let user = store::user_by_id(state.db.pool(), &current.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
    // Cheap first: the new password's policy, the account's limit; then
    // the current password (one hash), and only then the new one.
    password::validate("new_password", &body.new_password, &user.email)?;
    state.limit_password_work(&user.email).await?;
    if !password::verify(
        &state.hashing,
        body.current_password,
        Some(user.password_hash.expose().clone()),
    )
    .await?
    {
        return Err(ApiError::invalid_field(
            "current_password",
            "is not the current password",
        ));
    }
    let password_hash = password::hash(&state.hashing, body.new_password).await?;
    let mut tx = state.db.begin().await?;
    store::set_password_hash(&mut *tx, &user.id, &password_hash).await?;
    let revoked = store::revoke_user_sessions(
        &mut *tx,
        &user.id,
        Some(&current.session_id),
        "password_changed",
    )
    .await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(&current, &client, "auth.password_changed")
            .target("user", &user.id)
            .details(serde_json::json!({ "sessions_revoked": revoked })),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(RevokedResponse { revoked }))
}

/// The signed-in user, the active organization and every membership.
#[utoipa::path(
    get, path = "/auth/me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The current user", body = Envelope<MeResponse>),
        (status = 401, description = "Not signed in", body = ErrorEnvelope),
    )
)]
pub async fn me(
    State(state): State<IdentityState>,
    current: CurrentUser,
) -> Result<ApiSuccess<MeResponse>, ApiError> {
    let user = store::user_by_id(state.db.pool(), &current.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
    let memberships = membership_views(&state, &current).await?;
    let active = memberships
        .iter()
        .find(|m| m.active)
        .map(|m| m.organization.clone())
        .ok_or_else(|| {
            ApiError::Unauthorized("you are no longer a member of this organization".into())
        })?;
    Ok(ApiSuccess::ok(MeResponse {
        user: UserView::from(&user),
        organization: active,
        role: current.role,
        memberships,
    }))
}

async fn membership_views(
    state: &IdentityState,
    current: &CurrentUser,
) -> Result<Vec<MembershipView>, ApiError> {
    Ok(store::memberships(state.db.pool(), &current.user_id)
        .await?
        .into_iter()
        .map(|membership| MembershipView {
            active: membership.organization.id == current.organization_id,
            organization: OrganizationView::from(&membership.organization),
            role: membership.role,
            joined_at: membership.joined_at,
        })
        .collect())
}

/// The organizations the signed-in user belongs to.
#[utoipa::path(
    get, path = "/auth/organizations", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "Memberships", body = Envelope<Vec<MembershipView>>))
)]
pub async fn organizations(
    State(state): State<IdentityState>,
    current: CurrentUser,
) -> Result<ApiSuccess<Vec<MembershipView>>, ApiError> {
    Ok(ApiSuccess::ok(membership_views(&state, &current).await?))
}

/// Act in another organization the user belongs to.
///
/// Answers a new access token; the session's refresh token keeps working
/// and now refreshes into the new organization.
#[utoipa::path(
    post, path = "/auth/switch-organization", tag = "auth",
    security(("bearer" = [])),
    request_body = SwitchOrganizationRequest,
    responses(
        (status = 200, description = "Switched", body = Envelope<AccessTokenResponse>),
        (status = 404, description = "Not a member of that organization", body = ErrorEnvelope),
    )
)]
pub async fn switch_organization(
    State(state): State<IdentityState>,
    current: CurrentUser,
    Json(body): Json<SwitchOrganizationRequest>,
) -> Result<ApiSuccess<AccessTokenResponse>, ApiError> {
    let target = OrganizationId::parse(body.organization_id.trim())
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let role = store::role_in(state.db.pool(), &current.user_id, &target)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    let organization = store::organization_by_id(state.db.pool(), &target)
        .await?
        .ok_or_else(|| ApiError::not_found("organization"))?;
    store::switch_session_organization(state.db.pool(), &current.session_id, &organization.id)
        .await?;
    Ok(ApiSuccess::ok(AccessTokenResponse {
        access_token: state.access_token(
            &current.user_id,
            &organization.id,
            &current.session_id,
        )?,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_secs,
        organization: OrganizationView::from(&organization),
        role,
    }))
}

/// The signed-in user's active sessions, most recently refreshed first.
#[utoipa::path(
    get, path = "/auth/sessions", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "Sessions", body = Envelope<Vec<SessionView>>))
)]
pub async fn list_sessions(
    State(state): State<IdentityState>,
    current: CurrentUser,
) -> Result<ApiSuccess<Vec<SessionView>>, ApiError> {
    let sessions = store::active_sessions(state.db.pool(), &current.user_id).await?;
    Ok(ApiSuccess::ok(
        sessions
            .into_iter()
            .map(|s| SessionView {
                current: s.family_id == current.session_id,
                id: s.family_id,
                started_at: s.started_at,
                last_refreshed_at: s.last_used_at,
                expires_at: s.expires_at,
                ip: s.ip,
                user_agent: s.user_agent,
            })
            .collect(),
    ))
}

/// Revoke every session of the signed-in user, this one included.
#[utoipa::path(
    delete, path = "/auth/sessions", tag = "auth",
    security(("bearer" = [])),
    responses((status = 200, description = "Revoked", body = Envelope<RevokedResponse>))
)]
pub async fn revoke_all_sessions(
    State(state): State<IdentityState>,
    current: CurrentUser,
    client: ClientInfo,
) -> Result<ApiSuccess<RevokedResponse>, ApiError> {
    let mut tx = state.db.begin().await?;
    let families: Vec<SessionId> = store::active_sessions(&mut *tx, &current.user_id)
        .await?
        .into_iter()
        .map(|s| s.family_id)
        .collect();
    store::revoke_user_sessions(&mut *tx, &current.user_id, None, "revoked_by_user").await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(&current, &client, "auth.sessions_revoked")
            .target("user", &current.user_id)
            .details(serde_json::json!({ "sessions": families })),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(RevokedResponse {
        revoked: families.len() as u64,
    }))
}

/// Revoke one session of the signed-in user.
#[utoipa::path(
    delete, path = "/auth/sessions/{id}", tag = "auth",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Session id")),
    responses(
        (status = 200, description = "Revoked", body = Envelope<RevokedResponse>),
        (status = 404, description = "No such active session of yours", body = ErrorEnvelope),
    )
)]
pub async fn revoke_session(
    State(state): State<IdentityState>,
    current: CurrentUser,
    client: ClientInfo,
    Path(id): Path<String>,
) -> Result<ApiSuccess<RevokedResponse>, ApiError> {
    let id = SessionId::parse(&id).ok_or_else(|| ApiError::not_found("session"))?;
    let mut tx = state.db.begin().await?;
    if !store::revoke_user_family(&mut *tx, &current.user_id, &id, "revoked_by_user").await? {
        return Err(ApiError::not_found("session"));
    }
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(&current, &client, "auth.session_revoked").target("session", &id),
    )
    .await?;
    tx.commit().await?;
    Ok(ApiSuccess::ok(RevokedResponse { revoked: 1 }))
}
