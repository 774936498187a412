//! Connecting WhatsApp numbers: the rules of `/inbox/channels` (owners and
//! admins). Secrets are sealed with the payload key, bound to the channel,
//! and never shown again in full.

use crate::graph::GraphClient;
use crate::ids::InboxChannelId;
use landlord_audit::AuditEntry;
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::OrganizationId;
use landlord_core::sealed::PayloadCipher;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::auth::CurrentUser;
use landlord_identity::IdentityState;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::store::{self, ChannelRow};

/// Most channels an organization connects.
pub const MAX_CHANNELS: usize = 20;

pub fn channel_not_found() -> ApiError {
    ApiError::not_found("channel")
}

#[derive(Default, Deserialize, ToSchema)]
pub struct ConnectChannelRequest {
    /// For people: "Support line".
    #[schema(min_length = 1, max_length = 100, example = "Support line")]
    pub name: String,
    /// Meta's phone number id (digits).
    #[schema(pattern = r"^[0-9]{1,32}$", example = "106540352242922")]
    pub phone_number_id: String,
    /// The WhatsApp Business Account id (digits).
    #[schema(pattern = r"^[0-9]{1,32}$", example = "102290129340398")]
    pub business_account_id: String,
    /// A system user's access token for the Graph API.
    #[schema(min_length = 8, max_length = 1024)]
    pub access_token: String,
    /// The Meta app's secret: inbound notifications are signed with it.
    #[schema(min_length = 8, max_length = 256)]
    pub app_secret: String,
    /// The token Meta's verification request must carry.
    #[schema(min_length = 8, max_length = 256)]
    pub verify_token: String,
}

landlord_core::debug_redacted!(ConnectChannelRequest { name, phone_number_id, business_account_id } secret { access_token, app_secret, verify_token });

/// A channel as shown: its secrets never, the access token's last four
/// characters only.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    pub id: InboxChannelId,
    pub name: String,
    pub phone_number_id: String,
    pub business_account_id: String,
    /// `…` + the access token's last four characters.
    #[schema(example = "…x9Qz")]
    pub access_token_hint: String,
    /// Where Meta sends notifications: give it this URL (GET for the
    /// verification, POST for messages and statuses).
    pub webhook_url: String,
    /// Inbound notifications refused for a bad or missing signature.
    pub rejected_webhooks: i64,
    pub created_at: Timestamp,
}

impl ChannelView {
    pub fn new(row: ChannelRow, public_url: &str) -> Self {
        Self {
            webhook_url: format!(
                "{}/api/v1/inbox/webhooks/whatsapp/{}",
                public_url.trim_end_matches('/'),
                row.id
            ),
            id: row.id,
            name: row.name,
            phone_number_id: row.phone_number_id,
            business_account_id: row.business_account_id,
            access_token_hint: format!("…{}", row.access_token_hint),
            rejected_webhooks: row.rejected_webhooks,
            created_at: row.created_at,
        }
    }
}

/// What a sealed secret of a channel is bound to.
fn context(id: &InboxChannelId, which: &str) -> Vec<u8> {
    format!("inbox_channel:{id}:{which}").into_bytes()
}

pub fn seal(
    cipher: &PayloadCipher,
    id: &InboxChannelId,
    which: &str,
    secret: &str,
) -> Result<String, ApiError> {
    cipher
        .seal(secret.as_bytes(), &context(id, which))
        .map_err(ApiError::internal)
}

pub fn open(
    cipher: &PayloadCipher,
    id: &InboxChannelId,
    which: &str,
    sealed: &str,
) -> anyhow::Result<String> {
    let bytes = cipher.open(sealed, &context(id, which))?;
    Ok(String::from_utf8(bytes)?)
}

fn digits(field: &str, value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.len() > 32 || !value.chars().all(|c| c.is_ascii_digit()) {
        return Err(ApiError::invalid_field(field, "must be 1 to 32 digits"));
    }
    Ok(value.to_string())
}

fn secret(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.len() < 8 || value.len() > max {
        return Err(ApiError::invalid_field(
            field,
            format!("must be 8 to {max} characters"),
        ));
    }
    if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ApiError::invalid_field(
            field,
            "must not contain spaces or control characters",
        ));
    }
    Ok(value.to_string())
}

fn name(value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 100 || value.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "name",
            "must be 1 to 100 characters, without control characters",
        ));
    }
    Ok(value.to_string())
}

/// Connects a number, once Meta accepts its id and access token (a
/// refusal names the field; Meta out of reach saves nothing).
pub async fn connect(
    state: &IdentityState,
    graph: &GraphClient,
    user: &CurrentUser,
    client: &ClientInfo,
    request: ConnectChannelRequest,
) -> Result<ChannelView, ApiError> {
    let checked = (
        name(&request.name),
        digits("phone_number_id", &request.phone_number_id),
        digits("business_account_id", &request.business_account_id),
        secret("access_token", &request.access_token, 1024),
        secret("app_secret", &request.app_secret, 256),
        secret("verify_token", &request.verify_token, 256),
    );
    let (name, phone, account, token, app_secret, verify) = match checked {
        (Ok(a), Ok(b), Ok(c), Ok(d), Ok(e), Ok(f)) => (a, b, c, d, e, f),
        (a, b, c, d, e, f) => {
            return Err(ApiError::all_fields([
                a.err(),
                b.err(),
                c.err(),
                d.err(),
                e.err(),
                f.err(),
            ]))
        }
    };
    crate::graph::check(graph, &state.config, &phone, &token)
        .await
        .admit()?;
    let id = InboxChannelId::generate();
    let cipher = &state.payload_cipher;
    let now = Timestamp::now();
    let row = ChannelRow {
        access_token_sealed: seal(cipher, &id, "access_token", &token)?,
        app_secret_sealed: seal(cipher, &id, "app_secret", &app_secret)?,
        verify_token_sealed: seal(cipher, &id, "verify_token", &verify)?,
        access_token_hint: token
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect(),
        id: id.clone(),
        organization_id: user.organization_id.clone(),
        name,
        phone_number_id: phone,
        business_account_id: account,
        rejected_webhooks: 0,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.db.begin().await?;
    // The count and the insert are one decision: the organization's row is
    // locked first (PostgreSQL: a row lock; SQLite: the write lock, taken
    // before the count is read), so parallel connections — on any number of
    // instances — wait their turn and the cap holds.
    landlord_identity::store::lock_organization(&mut tx, &user.organization_id).await?;
    if store::channels(&mut *tx, &user.organization_id)
        .await?
        .len()
        >= MAX_CHANNELS
    {
        return Err(ApiError::Conflict(format!(
            "the organization has {MAX_CHANNELS} channels, the most allowed"
        )));
    }
    if !store::insert_channel(&mut *tx, &row).await? {
        return Err(ApiError::Conflict(
            "this phone number id is connected already".into(),
        ));
    }
    landlord_audit::store::record(
        &mut *tx,
        AuditEntry::by(user, client, "inbox.channel_connected")
            .target("inbox_channel", &id)
            .details(serde_json::json!({ "phone_number_id": row.phone_number_id })),
    )
    .await?;
    tx.commit().await?;
    Ok(ChannelView::new(row, &state.config.public_url))
}

pub async fn find(
    state: &IdentityState,
    organization_id: &OrganizationId,
    id: &str,
) -> Result<ChannelRow, ApiError> {
    let id = InboxChannelId::parse(id).ok_or_else(channel_not_found)?;
    store::channel(state.db.pool(), organization_id, &id)
        .await?
        .ok_or_else(channel_not_found)
}

/// Asks Meta whether it still accepts the channel's number and access
/// token ("Test connection"); changes nothing.
pub async fn check(
    state: &IdentityState,
    graph: &GraphClient,
    organization_id: &OrganizationId,
    id: &str,
) -> Result<crate::graph::ChannelCheck, ApiError> {
    let row = find(state, organization_id, id).await?;
    let token = open(
        &state.payload_cipher,
        &row.id,
        "access_token",
        &row.access_token_sealed,
    )
    .map_err(ApiError::internal)?;
    Ok(crate::graph::check(graph, &state.config, &row.phone_number_id, &token).await)
}

/// Disconnects a number (its contacts, conversations and messages go
/// with it).
pub async fn disconnect(
    state: &IdentityState,
    user: &CurrentUser,
    client: &ClientInfo,
    id: &str,
) -> Result<ChannelView, ApiError> {
    let row = find(state, &user.organization_id, id).await?;
    let mut tx = state.db.begin().await?;
    if !store::delete_channel(&mut *tx, &user.organization_id, &row.id).await? {
        return Err(channel_not_found());
    }
    landlord_audit::store::record(
        &mut *tx,
        AuditEntry::by(user, client, "inbox.channel_disconnected").target("inbox_channel", &row.id),
    )
    .await?;
    tx.commit().await?;
    Ok(ChannelView::new(row, &state.config.public_url))
}
