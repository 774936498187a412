//! `/inbox/contacts`, `/inbox/conversations…`: the inbox as agents use it.

use crate::ids::{InboxContactId, InboxMessageId};
use crate::permissions::needs;
use crate::InboxState;
use axum::extract::{Extension, Path, State};
use landlord_core::error::ErrorEnvelope;
use landlord_core::http::{ApiSuccess, Envelope, Json, Meta, PageQuery, Query};
use landlord_core::ids::UserId;
use landlord_core::ApiError;
use landlord_identity::permissions::Authorized;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::conversations::{
    self, AssignRequest, ContactView, ConversationView, LabelsRequest, MessageView, ReplyRequest,
    StatusRequest,
};
use crate::store::{self, ConversationFilter, ConversationStatus};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContactsQuery {
    /// Part of the name or phone number (letter case ignored).
    #[param(max_length = 100)]
    pub q: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    #[param(
        pattern = r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

/// Search the organization's contacts, newest first.
#[utoipa::path(
    get, path = "/api/v1/inbox/contacts", tag = "Inbox",
    security(("bearer" = [])),
    params(ContactsQuery),
    responses(
        (status = 200, description = "Contacts; `meta.next_cursor` when more follow", body = Envelope<Vec<ContactView>>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
    )
)]
pub async fn contacts(
    State(state): State<InboxState>,
    user: Authorized<needs::UseInbox>,
    Query(query): Query<ContactsQuery>,
) -> Result<ApiSuccess<Vec<ContactView>>, ApiError> {
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .page()?;
    let q = query.q.unwrap_or_default();
    if q.chars().count() > 100 {
        return Err(ApiError::invalid_field(
            "q",
            "must be at most 100 characters",
        ));
    }
    let before = page.cursor.as_deref().map(InboxContactId::from_trusted);
    let rows = store::contacts(
        state.db.pool(),
        &user.organization_id,
        q.trim(),
        before.as_ref(),
        page.fetch(),
    )
    .await?;
    Ok(page.respond(rows, |r| r.id.to_string(), ContactView::new))
}

/// One contact.
#[utoipa::path(
    get, path = "/api/v1/inbox/contacts/{id}", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The contact's id")),
    responses(
        (status = 200, description = "The contact", body = Envelope<ContactView>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 404, description = "No such contact in this organization", body = ErrorEnvelope),
    )
)]
pub async fn contact(
    State(state): State<InboxState>,
    user: Authorized<needs::UseInbox>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<ContactView>, ApiError> {
    let not_found = || ApiError::not_found("contact");
    let id = InboxContactId::parse(&id).ok_or_else(not_found)?;
    let row = store::contact(state.db.pool(), &user.organization_id, &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(ApiSuccess::ok(ContactView::new(row)))
}

/// Change a contact's name, custom attributes or labels.
#[utoipa::path(
    patch, path = "/api/v1/inbox/contacts/{id}", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The contact's id")),
    request_body = conversations::UpdateContactRequest,
    responses(
        (status = 200, description = "The contact as changed", body = Envelope<ContactView>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 404, description = "No such contact in this organization", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid (`details.fields` names it)", body = ErrorEnvelope),
    )
)]
pub async fn update_contact(
    State(state): State<InboxState>,
    user: Authorized<needs::UseInbox>,
    Path(id): Path<String>,
    Json(body): Json<conversations::UpdateContactRequest>,
) -> Result<ApiSuccess<ContactView>, ApiError> {
    Ok(ApiSuccess::ok(
        conversations::update_contact(&state, &user, &id, body).await?,
    ))
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationsQuery {
    /// Only this status.
    #[param(value_type = Option<ConversationStatus>)]
    pub status: Option<String>,
    /// `me` (assigned to me), `none` (unassigned) or a member's id.
    #[param(
        pattern = r"^(me|none|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub assignee: Option<String>,
    /// Only conversations with this label.
    #[param(max_length = 32)]
    pub label: Option<String>,
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `meta.next_cursor` of the previous page.
    #[param(
        pattern = r"^([0-9]{1,16}_[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})?$"
    )]
    pub cursor: Option<String>,
}

/// The organization's conversations by last activity, newest first.
#[utoipa::path(
    get, path = "/api/v1/inbox/conversations", tag = "Inbox",
    security(("bearer" = [])),
    params(ConversationsQuery),
    responses(
        (status = 200, description = "Conversations; `meta.next_cursor` when more follow", body = Envelope<Vec<ConversationView>>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 422, description = "A filter is invalid (`details.fields` names it)", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<InboxState>,
    user: Authorized<needs::UseInbox>,
    Query(query): Query<ConversationsQuery>,
) -> Result<ApiSuccess<Vec<ConversationView>>, ApiError> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 100",
        ));
    }
    let status = match query.status.as_deref() {
        None | Some("") => None,
        Some(text) => Some(ConversationStatus::parse(text).ok_or_else(|| {
            ApiError::invalid_field("status", "must be open, pending, snoozed or resolved")
        })?),
    };
    let member;
    let assignee = match query.assignee.as_deref() {
        None | Some("") => None,
        Some("me") => Some(Some(&user.user_id)),
        Some("none") => Some(None),
        Some(text) => {
            member = UserId::parse(text).ok_or_else(|| {
                ApiError::invalid_field("assignee", "must be me, none or a member's id")
            })?;
            Some(Some(&member))
        }
    };
    let label = query
        .label
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty());
    if label.is_some_and(|l| l.chars().count() > 32) {
        return Err(ApiError::invalid_field(
            "label",
            "must be at most 32 characters",
        ));
    }
    let label = label.map(str::to_lowercase);
    let cursor = match query.cursor.as_deref() {
        None | Some("") => None,
        Some(text) => Some(conversations::parse_cursor(text)?),
    };
    let mut rows = conversations::list(
        &state,
        &user.organization_id,
        ConversationFilter {
            status,
            assignee,
            label: label.as_deref(),
            after: cursor.as_ref().map(|(at, id)| (*at, id)),
            limit: i64::from(limit) + 1,
        },
    )
    .await?;
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let meta = Meta {
        next_cursor: if more {
            rows.last().map(conversations::cursor_of)
        } else {
            None
        },
    };
    let views = conversations::views(&state, &user.organization_id, rows).await?;
    Ok(ApiSuccess::ok(views).with_meta(meta))
}

/// One conversation.
#[utoipa::path(
    get, path = "/api/v1/inbox/conversations/{id}", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    responses(
        (status = 200, description = "The conversation", body = Envelope<ConversationView>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this organization", body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<InboxState>,
    user: Authorized<needs::UseInbox>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<ConversationView>, ApiError> {
    let row = conversations::find(&state, &user.organization_id, &id).await?;
    Ok(ApiSuccess::ok(
        conversations::views(&state, &user.organization_id, vec![row])
            .await?
            .remove(0),
    ))
}

/// The conversation's messages, newest first.
#[utoipa::path(
    get, path = "/api/v1/inbox/conversations/{id}/messages", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id"), PageQuery),
    responses(
        (status = 200, description = "Messages; `meta.next_cursor` when more follow", body = Envelope<Vec<MessageView>>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this organization", body = ErrorEnvelope),
    )
)]
pub async fn messages(
    State(state): State<InboxState>,
    user: Authorized<needs::UseInbox>,
    Path(id): Path<String>,
    Query(query): Query<PageQuery>,
) -> Result<ApiSuccess<Vec<MessageView>>, ApiError> {
    let page = query.page()?;
    let conversation = conversations::find(&state, &user.organization_id, &id).await?;
    let before = page.cursor.as_deref().map(InboxMessageId::from_trusted);
    let rows = store::messages(
        state.db.pool(),
        &user.organization_id,
        &conversation.id,
        before.as_ref(),
        page.fetch(),
    )
    .await?;
    Ok(page.respond(rows, |r| r.id.to_string(), MessageView::new))
}

/// Reply: a text inside the 24-hour window, or an approved template any
/// time. Metered against the plan's quota; sent by a job (the answer's
/// status is `queued`).
#[utoipa::path(
    post, path = "/api/v1/inbox/conversations/{id}/messages", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    request_body = ReplyRequest,
    responses(
        (status = 202, description = "Queued", body = Envelope<MessageView>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this organization", body = ErrorEnvelope),
        (status = 422, description = "Outside the 24-hour window a text is refused (send a template); an unknown template or wrong parameter count", body = ErrorEnvelope),
        (status = 429, description = "QUOTA_EXCEEDED: the plan's monthly quota is used up (hard-capped plans)", body = ErrorEnvelope),
    )
)]
pub async fn reply(
    State(state): State<InboxState>,
    Extension(live): Extension<crate::live::Live>,
    user: Authorized<needs::UseInbox>,
    Path(id): Path<String>,
    Json(body): Json<ReplyRequest>,
) -> Result<ApiSuccess<MessageView>, ApiError> {
    Ok(ApiSuccess::accepted(
        conversations::reply(&state, &live, &user, &id, body).await?,
    ))
}

/// Assign the conversation (to oneself with `use_inbox`; to anyone with
/// `assign_conversations`) and its team queue.
#[utoipa::path(
    post, path = "/api/v1/inbox/conversations/{id}/assign", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    request_body = AssignRequest,
    responses(
        (status = 200, description = "Assigned", body = Envelope<ConversationView>),
        (status = 403, description = "Missing permission use_inbox, or assign_conversations to assign someone else", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this organization", body = ErrorEnvelope),
        (status = 422, description = "The assignee is not a member", body = ErrorEnvelope),
    )
)]
pub async fn assign(
    State(state): State<InboxState>,
    Extension(live): Extension<crate::live::Live>,
    user: Authorized<needs::UseInbox>,
    Path(id): Path<String>,
    Json(body): Json<AssignRequest>,
) -> Result<ApiSuccess<ConversationView>, ApiError> {
    Ok(ApiSuccess::ok(
        conversations::assign(&state, &live, &user, &id, body).await?,
    ))
}

/// Change the conversation's status: open, pending, snoozed (until a
/// time), resolved.
#[utoipa::path(
    post, path = "/api/v1/inbox/conversations/{id}/status", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    request_body = StatusRequest,
    responses(
        (status = 200, description = "Changed", body = Envelope<ConversationView>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this organization", body = ErrorEnvelope),
        (status = 409, description = "Reopening: the contact has another unresolved conversation", body = ErrorEnvelope),
        (status = 422, description = "`snoozed_until` missing, in the past, or given without snoozed", body = ErrorEnvelope),
    )
)]
pub async fn set_status(
    State(state): State<InboxState>,
    Extension(live): Extension<crate::live::Live>,
    user: Authorized<needs::UseInbox>,
    Path(id): Path<String>,
    Json(body): Json<StatusRequest>,
) -> Result<ApiSuccess<ConversationView>, ApiError> {
    Ok(ApiSuccess::ok(
        conversations::set_status(&state, &live, &user, &id, body).await?,
    ))
}

/// Replace the conversation's labels.
#[utoipa::path(
    put, path = "/api/v1/inbox/conversations/{id}/labels", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The conversation's id")),
    request_body = LabelsRequest,
    responses(
        (status = 200, description = "Labelled", body = Envelope<ConversationView>),
        (status = 403, description = "Missing permission use_inbox", body = ErrorEnvelope),
        (status = 404, description = "No such conversation in this organization", body = ErrorEnvelope),
        (status = 422, description = "A label is invalid, or more than 20", body = ErrorEnvelope),
    )
)]
pub async fn set_labels(
    State(state): State<InboxState>,
    Extension(live): Extension<crate::live::Live>,
    user: Authorized<needs::UseInbox>,
    Path(id): Path<String>,
    Json(body): Json<LabelsRequest>,
) -> Result<ApiSuccess<ConversationView>, ApiError> {
    Ok(ApiSuccess::ok(
        conversations::set_labels(&state, &live, &user, &id, body).await?,
    ))
}

/// Close, assign or label many conversations (by ids or by filter, at
/// most 10,000) as a job; its progress is at `GET /inbox/jobs/{id}`.
#[utoipa::path(
    post, path = "/api/v1/inbox/conversations/bulk", tag = "Inbox",
    security(("bearer" = [])),
    request_body = crate::bulk::BulkRequest,
    responses(
        (status = 202, description = "Queued (or done at once when nothing matched)", body = Envelope<crate::bulk::BulkView>),
        (status = 403, description = "Missing permission assign_conversations", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid: neither or both of ids and filter, an unknown assignee, bad labels", body = ErrorEnvelope),
    )
)]
pub async fn bulk(
    State(state): State<InboxState>,
    user: Authorized<needs::AssignConversations>,
    Json(body): Json<crate::bulk::BulkRequest>,
) -> Result<ApiSuccess<crate::bulk::BulkView>, ApiError> {
    Ok(ApiSuccess::accepted(
        crate::bulk::start(&state, &user, body).await?,
    ))
}

/// A bulk operation's progress.
#[utoipa::path(
    get, path = "/api/v1/inbox/jobs/{id}", tag = "Inbox",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The operation's id")),
    responses(
        (status = 200, description = "Its progress", body = Envelope<crate::bulk::BulkView>),
        (status = 403, description = "Missing permission assign_conversations", body = ErrorEnvelope),
        (status = 404, description = "No such job in this organization", body = ErrorEnvelope),
    )
)]
pub async fn job(
    State(state): State<InboxState>,
    user: Authorized<needs::AssignConversations>,
    Path(id): Path<String>,
) -> Result<ApiSuccess<crate::bulk::BulkView>, ApiError> {
    Ok(ApiSuccess::ok(crate::bulk::find(&state, &user, &id).await?))
}
