//! Conversations and their messages as people use them: lists with
//! filters and cursor pages, a thread, replies (free-form inside the
//! 24-hour window, templates always), assignment, status, labels.

use std::collections::HashMap;
use std::time::Duration;

use crate::events::{InboxConversationAssignedPayload, InboxConversationResolvedPayload};
use crate::ids::{InboxChannelId, InboxContactId, InboxConversationId, InboxMessageId};
use crate::InboxState;
use landlord_core::ids::{OrganizationId, UserId};
use landlord_core::{ApiError, Timestamp};
use landlord_identity::auth::CurrentUser;
use landlord_identity::permissions;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::InboxConfig;
use crate::outbound;
use crate::store::{
    self, ContactRow, ConversationFilter, ConversationRow, ConversationStatus, Direction,
    MessageKind, MessageRow, MessageStatus,
};
use crate::whatsapp::TemplateMessage;

pub fn conversation_not_found() -> ApiError {
    ApiError::not_found("conversation")
}

/// Most labels on one conversation.
pub const MAX_LABELS: usize = 20;

// ---- views -------------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub id: InboxContactId,
    pub channel_id: InboxChannelId,
    /// The WhatsApp id (the number, digits only).
    pub wa_id: String,
    pub name: String,
    pub phone: String,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub labels: Vec<String>,
    /// The last incoming message: free-form replies are allowed for 24 h after it.
    pub last_incoming_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl ContactView {
    pub fn new(row: ContactRow) -> Self {
        Self {
            attributes: serde_json::from_str(&row.attributes).unwrap_or_default(),
            labels: serde_json::from_str(&row.labels).unwrap_or_default(),
            id: row.id,
            channel_id: row.channel_id,
            wa_id: row.wa_id,
            name: row.name,
            phone: row.phone,
            last_incoming_at: row.last_incoming_at,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationView {
    pub id: InboxConversationId,
    /// The organization's display number (#1, #2, …).
    pub number: i64,
    pub channel_id: InboxChannelId,
    pub contact_id: InboxContactId,
    pub status: ConversationStatus,
    pub snoozed_until: Option<Timestamp>,
    pub assignee_id: Option<UserId>,
    pub team: Option<String>,
    pub labels: Vec<String>,
    pub last_activity_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

impl ConversationView {
    pub fn new(row: ConversationRow, labels: Vec<String>) -> Self {
        // A snooze that ended shows (and filters) as open until the next
        // change writes it so.
        let woke = row.status == ConversationStatus::Snoozed
            && row
                .snoozed_until
                .is_some_and(|until| until <= Timestamp::now());
        Self {
            id: row.id,
            number: row.number,
            channel_id: row.channel_id,
            contact_id: row.contact_id,
            status: if woke {
                ConversationStatus::Open
            } else {
                row.status
            },
            snoozed_until: if woke { None } else { row.snoozed_until },
            assignee_id: row.assignee_id,
            team: row.team,
            labels,
            last_activity_at: row.last_activity_at,
            resolved_at: row.resolved_at,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub id: InboxMessageId,
    pub conversation_id: InboxConversationId,
    pub direction: Direction,
    pub kind: MessageKind,
    pub body: String,
    pub template: Option<TemplateMessage>,
    /// The provider's media reference (id, MIME type) of a media message.
    #[schema(value_type = Option<Object>)]
    pub media: Option<serde_json::Value>,
    /// The provider's id (`wamid.…`) once known.
    pub provider_message_id: Option<String>,
    pub status: MessageStatus,
    pub error: Option<String>,
    pub sent_by: Option<UserId>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl MessageView {
    pub fn new(row: MessageRow) -> Self {
        Self {
            template: row
                .template
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok()),
            media: row
                .media
                .as_deref()
                .and_then(|m| serde_json::from_str(m).ok()),
            id: row.id,
            conversation_id: row.conversation_id,
            direction: row.direction,
            kind: row.kind,
            body: row.body,
            provider_message_id: row.provider_message_id,
            status: row.status,
            error: row.error,
            sent_by: row.sent_by,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

// ---- contacts ----------------------------------------------------------------------

/// Most custom attributes on one contact.
pub const MAX_ATTRIBUTES: usize = 50;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct UpdateContactRequest {
    #[schema(max_length = 100)]
    pub name: Option<String>,
    /// Custom attributes, replacing the contact's: at most 50, keys of 1 to
    /// 64 characters, values of at most 500.
    #[schema(value_type = Option<HashMap<String, String>>)]
    pub attributes: Option<HashMap<String, String>>,
    /// The contact's labels, replacing them (at most 20; letters, digits, `-`, `_`).
    #[schema(max_items = 20)]
    pub labels: Option<Vec<String>>,
}

/// Normalized labels: lowercased, deduplicated, each 1 to 32 letters,
/// digits, `-` or `_`, at most 20.
pub fn checked_labels(field: &str, given: &[String]) -> Result<Vec<String>, ApiError> {
    if given.len() > MAX_LABELS {
        return Err(ApiError::invalid_field(field, "at most 20 labels"));
    }
    let mut labels = Vec::new();
    for label in given {
        let label = label.trim().to_lowercase();
        let ok = (1..=32).contains(&label.chars().count())
            && label
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(ApiError::invalid_field(
                field,
                "each label is 1 to 32 letters, digits, - or _",
            ));
        }
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    if labels.len() > MAX_LABELS {
        return Err(ApiError::invalid_field(field, "at most 20 labels"));
    }
    Ok(labels)
}

/// Changes a contact's name, custom attributes or labels.
pub async fn update_contact(
    state: &InboxState,
    user: &CurrentUser,
    id: &str,
    request: UpdateContactRequest,
) -> Result<ContactView, ApiError> {
    let not_found = || ApiError::not_found("contact");
    let id = InboxContactId::parse(id).ok_or_else(not_found)?;
    let current = store::contact(state.db.pool(), &user.organization_id, &id)
        .await?
        .ok_or_else(not_found)?;
    let name = match request.name.as_deref().map(str::trim) {
        None => current.name.clone(),
        Some(n) if n.chars().count() <= 100 && !n.chars().any(char::is_control) => n.to_string(),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "name",
                "must be at most 100 characters, without control characters",
            ))
        }
    };
    let attributes = match &request.attributes {
        None => current.attributes.clone(),
        Some(map) => {
            if map.len() > MAX_ATTRIBUTES {
                return Err(ApiError::invalid_field(
                    "attributes",
                    "at most 50 attributes",
                ));
            }
            let ok = map
                .iter()
                .all(|(k, v)| (1..=64).contains(&k.chars().count()) && v.chars().count() <= 500);
            if !ok {
                return Err(ApiError::invalid_field(
                    "attributes",
                    "keys are 1 to 64 characters, values at most 500",
                ));
            }
            serde_json::to_string(map).map_err(ApiError::internal)?
        }
    };
    let labels = match &request.labels {
        None => current.labels.clone(),
        Some(given) => {
            serde_json::to_string(&checked_labels("labels", given)?).map_err(ApiError::internal)?
        }
    };
    store::update_contact(
        state.db.pool(),
        &user.organization_id,
        &id,
        &name,
        &attributes,
        &labels,
    )
    .await?;
    let row = store::contact(state.db.pool(), &user.organization_id, &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(ContactView::new(row))
}

// ---- reading -----------------------------------------------------------------------

/// The organization's conversation, or 404.
pub async fn find(
    state: &InboxState,
    organization_id: &OrganizationId,
    id: &str,
) -> Result<ConversationRow, ApiError> {
    let id = InboxConversationId::parse(id).ok_or_else(conversation_not_found)?;
    store::conversation(state.db.pool(), organization_id, &id)
        .await?
        .ok_or_else(conversation_not_found)
}

/// Views of `rows`, with their labels in one query.
pub async fn views(
    state: &InboxState,
    organization_id: &OrganizationId,
    rows: Vec<ConversationRow>,
) -> Result<Vec<ConversationView>, ApiError> {
    let ids: Vec<InboxConversationId> = rows.iter().map(|r| r.id.clone()).collect();
    let mut labels: HashMap<InboxConversationId, Vec<String>> = HashMap::new();
    for (id, label) in store::labels_of(state.db.pool(), organization_id, &ids).await? {
        labels.entry(id).or_default().push(label);
    }
    Ok(rows
        .into_iter()
        .map(|r| {
            let l = labels.remove(&r.id).unwrap_or_default();
            ConversationView::new(r, l)
        })
        .collect())
}

/// A list cursor: `{last activity ms}_{id}` of the page's last conversation.
pub fn cursor_of(row: &ConversationRow) -> String {
    format!("{}_{}", row.last_activity_at.millis(), row.id)
}

/// Reads a cursor of [`cursor_of`].
pub fn parse_cursor(text: &str) -> Result<(Timestamp, InboxConversationId), ApiError> {
    let bad = || ApiError::invalid_field("cursor", "is not a cursor from this list");
    let (at, id) = text.split_once('_').ok_or_else(bad)?;
    let at = at.parse::<i64>().map_err(|_| bad())?;
    let id = InboxConversationId::parse(id).ok_or_else(bad)?;
    Ok((Timestamp::from_millis(at), id))
}

/// A page of conversations with `filter`, by last activity.
pub async fn list(
    state: &InboxState,
    organization_id: &OrganizationId,
    filter: ConversationFilter<'_>,
) -> Result<Vec<ConversationRow>, ApiError> {
    Ok(store::conversations(state.db.pool(), organization_id, filter).await?)
}

// ---- changing ----------------------------------------------------------------------

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignRequest {
    /// A member of the organization; `null` unassigns.
    pub assignee_id: Option<String>,
    /// A team queue ("billing"); `null` for none.
    #[schema(max_length = 64)]
    pub team: Option<String>,
}

/// Assigns the conversation. Everyone with the inbox may take a
/// conversation (assign it to themselves) or let it go; assigning someone
/// else needs `assign_conversations`.
pub async fn assign(
    state: &InboxState,
    live: &crate::live::Live,
    user: &CurrentUser,
    id: &str,
    request: AssignRequest,
) -> Result<ConversationView, ApiError> {
    let conversation = find(state, &user.organization_id, id).await?;
    let assignee = match request.assignee_id.as_deref() {
        None | Some("") => None,
        Some(text) => {
            let assignee = UserId::parse(text).ok_or_else(|| {
                ApiError::invalid_field("assignee_id", "is not a member of the organization")
            })?;
            let member = landlord_identity::store::role_in(
                state.db.pool(),
                &assignee,
                &user.organization_id,
            )
            .await?;
            if member.is_none() {
                return Err(ApiError::invalid_field(
                    "assignee_id",
                    "is not a member of the organization",
                ));
            }
            Some(assignee)
        }
    };
    let others = assignee.as_ref().is_some_and(|a| *a != user.user_id)
        || conversation
            .assignee_id
            .as_ref()
            .is_some_and(|a| *a != user.user_id);
    if others {
        permissions::require(user, crate::permissions::ASSIGN_CONVERSATIONS)?;
    }
    let team = match request.team.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(team) if team.chars().count() <= 64 && !team.chars().any(char::is_control) => {
            Some(team.to_string())
        }
        Some(_) => {
            return Err(ApiError::invalid_field(
                "team",
                "must be at most 64 characters",
            ))
        }
    };
    let mut tx = state.db.begin().await?;
    store::assign(
        &mut tx,
        &user.organization_id,
        &conversation.id,
        assignee.as_ref(),
        team.as_deref(),
        Timestamp::now(),
    )
    .await?;
    landlord_events::record(
        &mut *tx,
        &user.organization_id,
        &InboxConversationAssignedPayload {
            organization_id: user.organization_id.clone(),
            conversation_id: conversation.id.clone(),
            assignee_id: assignee,
            team,
            assigned_by: user.user_id.clone(),
        },
    )
    .await?;
    changed(tx, live, user, &conversation.id, "assigned").await
}

/// Ends a change of a conversation: its stream event, the commit, the
/// wake-up, and the conversation as it is now.
async fn changed(
    mut tx: sqlx::Transaction<'static, sqlx::Any>,
    live: &crate::live::Live,
    user: &CurrentUser,
    id: &InboxConversationId,
    what: &str,
) -> Result<ConversationView, ApiError> {
    let row = store::conversation(&mut *tx, &user.organization_id, id)
        .await?
        .ok_or_else(conversation_not_found)?;
    let labels = store::labels_of(&mut *tx, &user.organization_id, std::slice::from_ref(id))
        .await?
        .into_iter()
        .map(|(_, l)| l)
        .collect();
    let view = ConversationView::new(row, labels);
    crate::live::record(
        &mut *tx,
        &user.organization_id,
        "conversation.updated",
        serde_json::json!({ "change": what, "conversation": view }),
    )
    .await?;
    tx.commit().await?;
    live.wake(&user.organization_id).await;
    Ok(view)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusRequest {
    pub status: ConversationStatus,
    /// With `snoozed`: until when (RFC 3339, in the future).
    #[schema(format = DateTime)]
    pub snoozed_until: Option<String>,
}

/// Changes the conversation's status. Reopening a resolved conversation
/// is refused (409) when the contact has another one unresolved.
pub async fn set_status(
    state: &InboxState,
    live: &crate::live::Live,
    user: &CurrentUser,
    id: &str,
    request: StatusRequest,
) -> Result<ConversationView, ApiError> {
    let conversation = find(state, &user.organization_id, id).await?;
    let now = Timestamp::now();
    let snoozed_until = match (request.status, request.snoozed_until.as_deref()) {
        (ConversationStatus::Snoozed, Some(text)) => {
            let until = Timestamp::parse_rfc3339(text).ok_or_else(|| {
                ApiError::invalid_field("snoozed_until", "is not an RFC 3339 time")
            })?;
            if until <= now {
                return Err(ApiError::invalid_field(
                    "snoozed_until",
                    "must be in the future",
                ));
            }
            Some(until)
        }
        (ConversationStatus::Snoozed, None) => {
            return Err(ApiError::invalid_field(
                "snoozed_until",
                "is required to snooze",
            ))
        }
        (_, Some(_)) => {
            return Err(ApiError::invalid_field(
                "snoozed_until",
                "is only for status snoozed",
            ))
        }
        (_, None) => None,
    };
    let mut tx = state.db.begin().await?;
    let outcome = store::set_status(
        &mut tx,
        &user.organization_id,
        &conversation.id,
        request.status,
        snoozed_until,
        now,
    )
    .await;
    match outcome {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(ApiError::Conflict(
                "the contact has another unresolved conversation on this channel".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    if request.status == ConversationStatus::Resolved
        && conversation.status != ConversationStatus::Resolved
    {
        landlord_events::record(
            &mut *tx,
            &user.organization_id,
            &InboxConversationResolvedPayload {
                organization_id: user.organization_id.clone(),
                conversation_id: conversation.id.clone(),
                resolved_by: Some(user.user_id.clone()),
            },
        )
        .await?;
    }
    changed(tx, live, user, &conversation.id, "status").await
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LabelsRequest {
    /// The conversation's labels (replacing them): 1 to 32 characters
    /// each, letters, digits, `-` and `_`.
    #[schema(max_items = 20)]
    pub labels: Vec<String>,
}

pub async fn set_labels(
    state: &InboxState,
    live: &crate::live::Live,
    user: &CurrentUser,
    id: &str,
    request: LabelsRequest,
) -> Result<ConversationView, ApiError> {
    let conversation = find(state, &user.organization_id, id).await?;
    let labels = checked_labels("labels", &request.labels)?;
    let mut tx = state.db.begin().await?;
    store::set_labels(&mut tx, &user.organization_id, &conversation.id, &labels).await?;
    changed(tx, live, user, &conversation.id, "labels").await
}

// ---- replying ----------------------------------------------------------------------

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReplyRequest {
    /// A free-form text: only within 24 hours of the contact's last
    /// incoming message.
    #[schema(min_length = 1, max_length = 4096)]
    pub text: Option<String>,
    /// An approved template: any time.
    pub template: Option<TemplateMessage>,
}

/// Whether the contact's reply window is open at `now`.
pub fn window_open(last_incoming: Option<Timestamp>, window: Duration, now: Timestamp) -> bool {
    last_incoming
        .is_some_and(|at| now.since(at) < window && at <= now.plus(Duration::from_secs(300)))
}

/// Queues a reply (text or template) to the conversation's contact.
pub async fn reply(
    state: &InboxState,
    live: &crate::live::Live,
    user: &CurrentUser,
    id: &str,
    request: ReplyRequest,
) -> Result<MessageView, ApiError> {
    let conversation = find(state, &user.organization_id, id).await?;
    let contact = store::contact(
        state.db.pool(),
        &user.organization_id,
        &conversation.contact_id,
    )
    .await?
    .ok_or_else(conversation_not_found)?;
    let now = Timestamp::now();
    let outgoing = match (request.text, request.template) {
        (Some(text), None) => {
            let text = text.trim().to_string();
            if text.is_empty() || text.chars().count() > 4096 {
                return Err(ApiError::invalid_field(
                    "text",
                    "must be 1 to 4096 characters",
                ));
            }
            let window =
                Duration::from_secs(state.config.section::<InboxConfig>().reply_window_secs);
            if !window_open(contact.last_incoming_at, window, now) {
                return Err(ApiError::invalid_field(
                    "text",
                    "the 24-hour customer service window is closed (the contact wrote last more than 24 hours ago, or never): send an approved template instead",
                ));
            }
            outbound::Outgoing::Text(text)
        }
        (None, Some(template)) => {
            let known = store::template_named(
                state.db.pool(),
                &user.organization_id,
                &template.name,
                &template.language,
            )
            .await?
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "template",
                    "is not an approved template of the organization (name and language)",
                )
            })?;
            if known.parameters != template.parameters.len() as i64 {
                return Err(ApiError::invalid_field(
                    "template",
                    format!("takes {} parameters", known.parameters),
                ));
            }
            outbound::Outgoing::Template(template, known.body)
        }
        _ => {
            return Err(ApiError::invalid_field(
                "text",
                "give either text or template, not both nor neither",
            ))
        }
    };
    outbound::queue(state, live, user, &conversation, outgoing).await
}
