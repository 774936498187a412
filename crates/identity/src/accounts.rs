//! What signs people up and in, and recovers accounts: the rules of
//! `/auth/register`, `/auth/login`, `/auth/verify-email`,
//! `/auth/request-email-verification`, `/auth/request-password-reset` and
//! `/auth/reset-password`, written once. The API's routes and the console's
//! pages both call these functions.

use std::time::Duration;

use landlord_audit::AuditEntry;
use landlord_core::crypto::random_hex;
use landlord_core::http::client::ClientInfo;
use landlord_core::{ApiError, Timestamp};
use landlord_mail::{Mail, Template};

use crate::auth::CurrentUser;
use crate::mail_limits::{self, MailKind};
use crate::model::{Role, UserRow};
use crate::sessions::{auth_response, start_session, AuthResponse};
use crate::store::{self, Membership, Purpose, TokenProblem};
use crate::validation::{normalize_email, optional_name, required_name};
use crate::{password, IdentityState};

const EMAIL_VERIFICATION_TTL: Duration = Duration::from_secs(24 * 3600);
const PASSWORD_RESET_TTL: Duration = Duration::from_secs(3600);

/// The refusal of a one-time token, naming `field`.
pub fn token_error(field: &str, problem: TokenProblem) -> ApiError {
    match problem {
        TokenProblem::Unknown => ApiError::invalid_field(field, "is not a valid token"),
        TokenProblem::Used => ApiError::invalid_field(field, "has already been used"),
        TokenProblem::Expired => ApiError::invalid_field(field, "has expired; ask for a new one"),
    }
}

fn unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// What a person registers with.
pub struct Registration<'a> {
    pub organization_name: &'a str,
    pub name: Option<&'a str>,
    pub email: &'a str,
    pub password: String,
}

/// Creates an organization and its owner, queues the verification mail and
/// starts a session.
pub async fn register(
    state: &IdentityState,
    client: &ClientInfo,
    input: Registration<'_>,
) -> Result<AuthResponse, ApiError> {
    // Every wrong field at once: the sign-up form shows each at its field.
    let checked = (
        required_name("organization_name", input.organization_name),
        optional_name("name", input.name),
        normalize_email("email", input.email),
    );
    let password_check = password::validate(
        "password",
        &input.password,
        checked.2.as_deref().unwrap_or(input.email),
    );
    let (organization_name, name, email) = match (checked, password_check) {
        ((Ok(organization_name), Ok(name), Ok(email)), Ok(())) => (organization_name, name, email),
        ((organization_name, name, email), password) => {
            return Err(ApiError::all_fields([
                organization_name.err(),
                name.err(),
                email.err(),
                password.err(),
            ]))
        }
    };
    // Registering sends a verification mail: it counts against the
    // address's budget, whether or not the address is taken.
    mail_limits::per_recipient(state, MailKind::EmailVerification, &email).await?;
    let conflict = || ApiError::Conflict("an account with this email already exists".into());
    if store::user_by_email(state.db.pool(), &email)
        .await?
        .is_some()
    {
        return Err(conflict());
    }
    state.limit_password_work(&email).await?;
    let password_hash = password::hash(&state.hashing, input.password).await?;

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
    queue_verification_mail(&mut tx, state, &user).await?;
    let (family_id, refresh_token) =
        start_session(&mut tx, state, &user_id, &organization_id, client).await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("auth.register")
            .organization(&organization_id)
            .actor(&user_id)
            .target("user", &user_id)
            .client(client),
    )
    .await?;
    landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
    auth_response(
        state,
        &user,
        &organization,
        Role::Owner,
        &family_id,
        refresh_token,
    )
}

/// Checks an email and password and starts a session in the person's first
/// organization.
///
/// Failed attempts are limited per (account, client address) tightly, per
/// account loosely and per client address.
pub async fn sign_in(
    state: &IdentityState,
    client: &ClientInfo,
    email: &str,
    password: String,
) -> Result<AuthResponse, ApiError> {
    let email = normalize_email("email", email)?;
    // Tight per (account, address), loose per account, and per address:
    // guessing from one address stops early, guessing from many cannot lock
    // the owner (who signs in from elsewhere) out. The attempt counts from
    // here, before the password is checked, so parallel guesses count too.
    let ip = client.ip.as_deref().unwrap_or("unknown");
    let attempt = state
        .login_failures
        .begin(&state.config, &email, ip)
        .await?;

    let checked = async {
        let user = store::user_by_email(state.db.pool(), &email).await?;
        let valid = password::verify(
            &state.hashing,
            password,
            user.as_ref().map(|u| u.password_hash.expose().clone()),
        )
        .await?;
        Ok::<_, ApiError>((user, valid))
    }
    .await;
    let (user, valid) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            // Not checked (hashing at its bound, the database down): no
            // guess was made, so none is counted.
            state.login_failures.abandoned(attempt).await;
            return Err(error);
        }
    };
    let Some(user) = user.filter(|_| valid) else {
        // The reserved attempt stays counted.
        drop(attempt);
        let mut entry = AuditEntry::new("auth.login_failed")
            .client(client)
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
    state.login_failures.succeeded(attempt).await;

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
        start_session(&mut tx, state, &user.id, &organization.id, client).await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("auth.login")
            .organization(&organization.id)
            .actor(&user.id)
            .target("session", &family_id)
            .client(client),
    )
    .await?;
    tx.commit().await?;
    auth_response(state, &user, &organization, role, &family_id, refresh_token)
}

/// Queues a verification mail with a new token (retiring earlier ones).
pub(crate) async fn queue_verification_mail(
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

/// Confirms an email address with the token from the verification mail
/// (refusals name the field `field`) and queues the welcome mail.
pub async fn verify_email(
    state: &IdentityState,
    client: &ClientInfo,
    field: &str,
    token: &str,
) -> Result<UserRow, ApiError> {
    let mut tx = state.db.begin().await?;
    let user_id = store::consume_one_time_token(&mut tx, Purpose::EmailVerification, token.trim())
        .await?
        .map_err(|p| token_error(field, p))?;
    store::mark_email_verified(&mut *tx, &user_id).await?;
    let user = store::user_by_id(&mut *tx, &user_id)
        .await?
        .ok_or_else(|| ApiError::invalid_field(field, "is not a valid token"))?;
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
                "link": format!("{}/sign-in", state.config.app_url()),
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
            .client(client),
    )
    .await?;
    landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
    Ok(user)
}

/// Sends a new verification mail when an unverified account uses `email`;
/// limited per recipient whether or not it does.
pub async fn request_email_verification(
    state: &IdentityState,
    email: &str,
) -> Result<(), ApiError> {
    let email = normalize_email("email", email)?;
    // Before the lookup: unknown addresses are limited like known ones.
    mail_limits::per_recipient(state, MailKind::EmailVerification, &email).await?;
    if let Some(user) = store::user_by_email(state.db.pool(), &email).await? {
        if user.email_verified_at.is_none() {
            let mut tx = state.db.begin().await?;
            queue_verification_mail(&mut tx, state, &user).await?;
            landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
        }
    }
    Ok(())
}

/// Sends a password reset mail (valid 1 hour) when an account uses `email`;
/// limited per recipient whether or not it does.
pub async fn request_password_reset(
    state: &IdentityState,
    client: &ClientInfo,
    email: &str,
) -> Result<(), ApiError> {
    let email = normalize_email("email", email)?;
    // Before the lookup: unknown addresses are limited like known ones.
    mail_limits::per_recipient(state, MailKind::PasswordReset, &email).await?;
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
                .client(client),
        )
        .await?;
        landlord_jobs::commit_and_wake(tx, &state.jobs).await?;
    }
    Ok(())
}

/// Sets a new password with the token from the reset mail and revokes every
/// session of the account. `fields` names the (token, password) fields in
/// refusals.
pub async fn reset_password(
    state: &IdentityState,
    client: &ClientInfo,
    fields: (&str, &str),
    token: &str,
    new_password: String,
) -> Result<(), ApiError> {
    let (token_field, password_field) = fields;
    // Cheap checks first: the length, then the token (read, not yet used),
    // the policy with the account's email and the account's limit; only
    // then the hashing.
    password::validate(password_field, &new_password, "")?;
    let token = token.trim();
    let holder = store::peek_one_time_token(state.db.pool(), Purpose::PasswordReset, token)
        .await?
        .map_err(|p| token_error(token_field, p))?;
    let holder = store::user_by_id(state.db.pool(), &holder)
        .await?
        .ok_or_else(|| ApiError::invalid_field(token_field, "is not a valid token"))?;
    password::validate(password_field, &new_password, &holder.email)?;
    state.limit_password_work(&holder.email).await?;
    let password_hash = password::hash(&state.hashing, new_password).await?;
    let mut tx = state.db.begin().await?;
    let user_id = store::consume_one_time_token(&mut tx, Purpose::PasswordReset, token)
        .await?
        .map_err(|p| token_error(token_field, p))?;
    let user = store::user_by_id(&mut *tx, &user_id)
        .await?
        .ok_or_else(|| ApiError::invalid_field(token_field, "is not a valid token"))?;
    store::set_password_hash(&mut *tx, &user_id, &password_hash).await?;
    let revoked = store::revoke_user_sessions(&mut *tx, &user_id, None, "password_reset").await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("auth.password_reset")
            .actor(&user_id)
            .target("user", &user_id)
            .client(client)
            .details(serde_json::json!({ "sessions_revoked": revoked })),
    )
    .await?;
    tx.commit().await?;
    state.access_ended(&user_id);
    state
        .login_failures
        .clear(&crate::throttle::account_key(&user.email))
        .await;
    Ok(())
}

/// Ends the signed-in person's session: its access and refresh tokens (and
/// the console's cookie) stop working.
pub async fn sign_out(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
) -> Result<(), ApiError> {
    let mut tx = state.db.begin().await?;
    store::revoke_family(&mut *tx, &user.session_id, "logout").await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(user, client, "auth.logout").target("session", &user.session_id),
    )
    .await?;
    tx.commit().await?;
    state.access_ended(&user.user_id);
    Ok(())
}

/// Changes the signed-in person's password after checking the current one;
/// their other sessions are revoked, `current`'s stays. Answers how many
/// were revoked. Audited as `auth.password_changed`.
pub async fn change_password(
    state: &IdentityState,
    current: &CurrentUser,
    client: &ClientInfo,
    current_password: String,
    new_password: String,
) -> Result<u64, ApiError> {
    let user = store::user_by_id(state.db.pool(), &current.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("the account no longer exists".into()))?;
    // Cheap first: the new password's policy, the account's limit; then
    // the current password (one hash), and only then the new one.
    password::validate("new_password", &new_password, &user.email)?;
    state.limit_password_work(&user.email).await?;
    if !password::verify(
        &state.hashing,
        current_password,
        Some(user.password_hash.expose().clone()),
    )
    .await?
    {
        return Err(ApiError::invalid_field(
            "current_password",
            "is not the current password",
        ));
    }
    let password_hash = password::hash(&state.hashing, new_password).await?;
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
        AuditEntry::by(current, client, "auth.password_changed")
            .target("user", &user.id)
            .details(serde_json::json!({ "sessions_revoked": revoked })),
    )
    .await?;
    tx.commit().await?;
    state.access_ended(&user.id);
    Ok(revoked)
}

/// Creates another organization for the signed-in person, its owner, on
/// the default plan (billed to the person's address), and makes it the
/// session's active organization. Audited as `organization.created` in the
/// new organization.
pub async fn create_organization(
    state: &IdentityState,
    current: &CurrentUser,
    client: &ClientInfo,
    name: &str,
) -> Result<crate::model::OrganizationRow, ApiError> {
    let name = required_name("name", name)?;
    let user = store::user_by_id(state.db.pool(), &current.user_id)
        .await?
        .ok_or_else(|| ApiError::Unauthorized("this account no longer exists".into()))?;
    let mut tx = state.db.begin().await?;
    let organization_id =
        store::insert_organization(&mut tx, &name, &user.email, &state.config.default_plan).await?;
    store::insert_membership(&mut tx, &organization_id, &current.user_id, Role::Owner).await?;
    store::switch_session_organization(&mut *tx, &current.session_id, &organization_id).await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::new("organization.created")
            .organization(&organization_id)
            .actor(&current.user_id)
            .target("organization", &organization_id)
            .client(client),
    )
    .await?;
    let organization = store::organization_by_id(&mut *tx, &organization_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("organization vanished")))?;
    tx.commit().await?;
    Ok(organization)
}

/// Renames the signed-in person (1 to 100 characters). Audited as
/// `auth.name_changed`.
pub async fn rename(
    state: &IdentityState,
    current: &CurrentUser,
    client: &ClientInfo,
    name: &str,
) -> Result<(), ApiError> {
    let name = crate::validation::required_name("name", name)?;
    let mut tx = state.db.begin().await?;
    store::set_user_name(&mut *tx, &current.user_id, &name).await?;
    landlord_audit::record(
        &mut *tx,
        AuditEntry::by(current, client, "auth.name_changed").target("user", &current.user_id),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
