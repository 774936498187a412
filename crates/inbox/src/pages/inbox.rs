//! The organization's Inbox (`/o/{organization_id}/inbox`):
//! the conversation list with its filters, the selected conversation's
//! thread and contact panel, the reply box (text inside the 24-hour
//! window, the organization's templates any time, canned responses that
//! fill the box), Assign to me / Resolve / Reopen; the live stream the
//! page's script listens to (`…/inbox/stream`, the API's event source);
//! and the channel settings (`…/inbox/channels`: connect, disconnect).
//!
//! Each action calls the same `landlord_inbox` function as its
//! `/inbox/…` route, under the same permissions: `UseInbox` (everyone)
//! for the inbox and its stream, `AssignConversations` inside `assign`
//! for someone else's conversation, `ManageInbox` (owners, admins) for
//! the channels.

use crate::graph::{ChannelCheck, CheckStatus};
use std::collections::HashMap;
use std::time::Duration;

use super::Pages;
use crate::channels::{self, ChannelView, ConnectChannelRequest, MAX_CHANNELS};
use crate::conversations::{
    self, AssignRequest, ContactView, MessageView, ReplyRequest, StatusRequest,
};
use crate::ids::InboxContactId;
use crate::library::{CannedResponseView, TemplateView};
use crate::store::{self as inbox_store, ConversationFilter, ConversationStatus};
use crate::whatsapp::TemplateMessage;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::Sse;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use landlord_console::{
    api, base, finish, member, refusal, Flash, FormErrors, Gate, Page, PageError, Visitor,
};
use landlord_core::http::client::ClientInfo;
use landlord_core::ids::UserId;
use landlord_core::{ApiError, Timestamp};
use landlord_identity::permissions;
use landlord_identity::store::{self as identity_store, Membership};
use landlord_identity::CurrentUser;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

pub(super) fn routes() -> Router<Pages> {
    Router::new()
        .route("/o/{organization_id}/inbox", get(inbox))
        .route("/o/{organization_id}/inbox/stream", get(stream))
        .route(
            "/o/{organization_id}/inbox/{conversation_id}/reply",
            axum::routing::post(reply),
        )
        .route(
            "/o/{organization_id}/inbox/{conversation_id}/assign",
            axum::routing::post(assign),
        )
        .route(
            "/o/{organization_id}/inbox/{conversation_id}/status",
            axum::routing::post(set_status),
        )
        .route(
            "/o/{organization_id}/inbox/channels",
            get(channels_list).post(connect),
        )
        .route(
            "/o/{organization_id}/inbox/channels/{channel_id}/disconnect",
            get(disconnect_page).post(disconnect),
        )
        .route(
            "/o/{organization_id}/inbox/channels/{channel_id}/check",
            axum::routing::post(check_channel),
        )
}

/// Conversations the list shows at once.
const CONVERSATIONS_PER_PAGE: u32 = 25;
/// The newest messages the thread shows.
const THREAD_MESSAGES: i64 = 50;

fn to_json<T: Serialize>(value: &T) -> Result<Value, PageError> {
    Ok(serde_json::to_value(value).map_err(ApiError::internal)?)
}

/// "12 Mar 09:30"-style text is the templates' job; this is the window in
/// words: "24 hours".
fn hours(secs: u64) -> String {
    let hours = secs.div_ceil(3600).max(1);
    format!("{hours} hour{}", if hours == 1 { "" } else { "s" })
}

// ---- the inbox page -----------------------------------------------------------------

/// The list's filters and the selected conversation (`?c=`).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(default)]
pub struct InboxQuery {
    /// open, pending, snoozed, resolved; empty for all.
    status: String,
    /// "1": assigned to me.
    mine: String,
    label: String,
    /// The selected conversation's id.
    c: String,
    cursor: String,
}

impl InboxQuery {
    /// The query string of the page with these filters (and `c`).
    fn href(&self, organization_id: &str, c: Option<&str>) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if !self.status.is_empty() {
            pairs.push(("status", &self.status));
        }
        if self.mine == "1" {
            pairs.push(("mine", "1"));
        }
        if !self.label.is_empty() {
            pairs.push(("label", &self.label));
        }
        if let Some(c) = c.filter(|c| !c.is_empty()) {
            pairs.push(("c", c));
        }
        let query = pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        if query.is_empty() {
            format!("/o/{organization_id}/inbox")
        } else {
            format!("/o/{organization_id}/inbox?{query}")
        }
    }
}

/// Percent-encodes a query value.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The reply box's values after a refused reply.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ReplyForm {
    #[serde(skip_serializing)]
    csrf: String,
    text: String,
    /// `name|language` of a template; empty for a text.
    template: String,
    /// The template's parameters, one per line.
    parameters: String,
    /// The list's filters to come back to.
    #[serde(skip_serializing)]
    back: String,
}

/// What a refused action says, and where.
struct Outcome {
    reply: ReplyForm,
    /// The reply box's errors.
    errors: FormErrors,
    /// An action's refusal (assign, status).
    action_error: Option<String>,
}

impl Default for Outcome {
    fn default() -> Self {
        Outcome {
            reply: ReplyForm::default(),
            errors: FormErrors::ok(),
            action_error: None,
        }
    }
}

/// What a finished action on a conversation says (a one-time notice).
fn done_text(done: &str) -> &'static str {
    match done {
        "sent" => "Reply queued: it goes out within moments.",
        "assigned" => "The conversation is yours.",
        "resolved" => "Conversation resolved.",
        "open" => "Conversation reopened.",
        _ => "Done.",
    }
}

/// The names people see for the organization's members.
pub(super) async fn member_names(
    state: &Pages,
    user: &CurrentUser,
) -> Result<HashMap<UserId, String>, PageError> {
    let members = identity_store::members(
        state.identity().db.pool(),
        &user.organization_id,
        None,
        1000,
    )
    .await
    .map_err(ApiError::from)?;
    Ok(members
        .into_iter()
        .map(|m| {
            let name = m.name.filter(|n| !n.trim().is_empty()).unwrap_or(m.email);
            (m.user_id, name)
        })
        .collect())
}

async fn contact_of(
    state: &Pages,
    user: &CurrentUser,
    id: &InboxContactId,
) -> Result<Option<ContactView>, PageError> {
    Ok(
        inbox_store::contact(state.inbox.db.pool(), &user.organization_id, id)
            .await
            .map_err(ApiError::from)?
            .map(ContactView::new),
    )
}

/// The inbox page: the list with `query`'s filters, the selected
/// conversation (thread, contact, reply box with `outcome`'s values).
async fn inbox_page(
    state: &Pages,
    visitor: &Visitor,
    (user, membership): &(CurrentUser, Membership),
    query: &InboxQuery,
    outcome: Outcome,
) -> Result<Page, PageError> {
    let org = user.organization_id.to_string();
    let (filters, filter_errors) = ListFilters::parse(query);
    let (rows, next_cursor) = conversation_rows(state, user, query, &filters).await?;
    // The selected conversation: another organization's is a missing page.
    let selected = match query.c.as_str() {
        "" => None,
        id => Some(
            conversations::find(&state.inbox, &user.organization_id, id)
                .await
                .map_err(|e| match e {
                    ApiError::NotFound(_) => PageError::NotFound,
                    other => api(other),
                })?,
        ),
    };
    let names = Names {
        of: member_names(state, user).await?,
        me: &user.user_id,
    };
    let mut contacts: HashMap<InboxContactId, Option<ContactView>> = HashMap::new();
    for row in rows.iter().chain(selected.iter()) {
        if !contacts.contains_key(&row.contact_id) {
            let contact = contact_of(state, user, &row.contact_id).await?;
            contacts.insert(row.contact_id.clone(), contact);
        }
    }
    let selected_id = selected.as_ref().map(|s| s.id.to_string());
    let list = Listed {
        query,
        organization_id: &org,
        selected_id: selected_id.as_deref(),
        contacts: &contacts,
        names: &names,
    };
    let views = conversations::views(&state.inbox, &user.organization_id, rows).await?;
    let list: Vec<Value> = views
        .iter()
        .map(|view| list.entry(view))
        .collect::<Result<_, PageError>>()?;

    let (mut context, _) = base(state, visitor, "Inbox", "inbox", Some(membership)).await?;
    context.insert("inbox_js_version".into(), super::script_version().into());
    context.insert("wide".into(), true.into());
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    context.insert("conversations".into(), list.into());
    context.insert(
        "next_href".into(),
        next_cursor
            .map(|c| {
                let mut href = query.href(&org, None);
                href.push(if href.contains('?') { '&' } else { '?' });
                href.push_str(&format!("cursor={}", encode(&c)));
                href
            })
            .into(),
    );
    context.insert("first_page".into(), filters.cursor.is_none().into());
    context.insert("filters".into(), to_json(query)?);
    context.insert("filter_errors".into(), filter_errors.into());
    context.insert("list_href".into(), query.href(&org, None).into());
    context.insert(
        "page_href".into(),
        query.href(&org, selected_id.as_deref()).into(),
    );
    context.insert(
        "can_manage".into(),
        permissions::allows(user.role, crate::permissions::MANAGE_INBOX).into(),
    );
    let channels = inbox_store::channels(state.inbox.db.pool(), &user.organization_id)
        .await
        .map_err(ApiError::from)?;
    context.insert("has_channels".into(), (!channels.is_empty()).into());

    let mut status_code = StatusCode::OK;
    if let Some(conversation) = selected {
        let contact = contacts.remove(&conversation.contact_id).flatten();
        let channel = channels
            .iter()
            .find(|c| c.id == conversation.channel_id)
            .map(|c| c.name.clone());
        let thread = Thread {
            conversation,
            contact,
            channel,
        };
        thread.fill(state, user, &names, &mut context).await?;
        context.insert("reply".into(), to_json(&outcome.reply)?);
        status_code = outcome.errors.into_context(&mut context);
        context.insert("action_error".into(), outcome.action_error.into());
    }
    let page = Page::render("inbox.html", context)?;
    Ok(if status_code == StatusCode::OK {
        page
    } else {
        page.status(status_code)
    })
}

/// The list's filters as the query gives them; a status that is none of
/// the four is named in the filter errors and left out.
struct ListFilters {
    status: Option<ConversationStatus>,
    label: Option<String>,
    cursor: Option<(Timestamp, crate::ids::InboxConversationId)>,
}

impl ListFilters {
    fn parse(query: &InboxQuery) -> (Self, serde_json::Map<String, Value>) {
        let mut errors = serde_json::Map::new();
        let status = match query.status.as_str() {
            "" => None,
            text => ConversationStatus::parse(text).or_else(|| {
                errors.insert(
                    "status".into(),
                    "Must be open, pending, snoozed or resolved.".into(),
                );
                None
            }),
        };
        let label = query.label.trim().to_lowercase();
        let label = (!label.is_empty() && label.chars().count() <= 32).then_some(label);
        let cursor = match query.cursor.as_str() {
            "" => None,
            text => conversations::parse_cursor(text).ok(),
        };
        (
            Self {
                status,
                label,
                cursor,
            },
            errors,
        )
    }
}

/// A page of the list's conversations, and the next page's cursor (none
/// on the last page).
async fn conversation_rows(
    state: &Pages,
    user: &CurrentUser,
    query: &InboxQuery,
    filters: &ListFilters,
) -> Result<(Vec<inbox_store::ConversationRow>, Option<String>), PageError> {
    let mut rows = conversations::list(
        &state.inbox,
        &user.organization_id,
        ConversationFilter {
            status: filters.status,
            assignee: (query.mine == "1").then_some(Some(&user.user_id)),
            label: filters.label.as_deref(),
            after: filters.cursor.as_ref().map(|(at, id)| (*at, id)),
            limit: i64::from(CONVERSATIONS_PER_PAGE) + 1,
        },
    )
    .await?;
    let more = rows.len() > CONVERSATIONS_PER_PAGE as usize;
    rows.truncate(CONVERSATIONS_PER_PAGE as usize);
    let next_cursor = more
        .then(|| rows.last().map(conversations::cursor_of))
        .flatten();
    Ok((rows, next_cursor))
}

/// How the page names a member: "you", their name, or "a former member".
struct Names<'a> {
    of: HashMap<UserId, String>,
    me: &'a UserId,
}

impl Names<'_> {
    fn name(&self, id: &Option<UserId>) -> Value {
        match id {
            None => Value::Null,
            Some(id) if id == self.me => "you".into(),
            Some(id) => self
                .of
                .get(id)
                .cloned()
                .unwrap_or_else(|| "a former member".into())
                .into(),
        }
    }
}

/// What an entry of the conversation list needs beside its conversation.
struct Listed<'a> {
    query: &'a InboxQuery,
    organization_id: &'a str,
    selected_id: Option<&'a str>,
    contacts: &'a HashMap<InboxContactId, Option<ContactView>>,
    names: &'a Names<'a>,
}

impl Listed<'_> {
    /// A conversation of the list, with its contact's name (the phone
    /// number when it has none), its assignee's, its link and whether it
    /// is the one shown.
    fn entry(&self, view: &conversations::ConversationView) -> Result<Value, PageError> {
        let contact = self.contacts.get(&view.contact_id).and_then(Option::as_ref);
        let contact_name = contact
            .map(|c| {
                if c.name.is_empty() {
                    c.phone.clone()
                } else {
                    c.name.clone()
                }
            })
            .unwrap_or_default();
        let mut value = to_json(view)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("contact_name".into(), contact_name.into());
            object.insert("assignee_name".into(), self.names.name(&view.assignee_id));
            object.insert(
                "href".into(),
                self.query
                    .href(self.organization_id, Some(view.id.as_str()))
                    .into(),
            );
            object.insert(
                "selected".into(),
                (self.selected_id == Some(view.id.as_str())).into(),
            );
        }
        Ok(value)
    }
}

/// The selected conversation, its contact and its channel's name.
struct Thread {
    conversation: inbox_store::ConversationRow,
    contact: Option<ContactView>,
    channel: Option<String>,
}

impl Thread {
    /// The thread's values: the conversation, the contact, the latest
    /// messages (newest at the bottom), whether the reply window is open,
    /// and the templates and canned responses the reply box offers.
    async fn fill(
        self,
        state: &Pages,
        user: &CurrentUser,
        names: &Names<'_>,
        context: &mut landlord_console::Context,
    ) -> Result<(), PageError> {
        let org = &user.organization_id;
        let mut messages = inbox_store::messages(
            state.inbox.db.pool(),
            org,
            &self.conversation.id,
            None,
            THREAD_MESSAGES,
        )
        .await
        .map_err(ApiError::from)?;
        messages.reverse();
        let messages: Vec<Value> = messages
            .into_iter()
            .map(|row| {
                let view = MessageView::new(row);
                let mut value = to_json(&view)?;
                if let Some(object) = value.as_object_mut() {
                    object.insert("sent_by_name".into(), names.name(&view.sent_by));
                }
                Ok(value)
            })
            .collect::<Result<_, PageError>>()?;
        let window_secs = state
            .inbox
            .config
            .section::<crate::config::InboxConfig>()
            .reply_window_secs;
        let open = conversations::window_open(
            self.contact.as_ref().and_then(|c| c.last_incoming_at),
            Duration::from_secs(window_secs),
            Timestamp::now(),
        );
        let view = conversations::views(&state.inbox, org, vec![self.conversation])
            .await?
            .remove(0);
        let mut conversation = to_json(&view)?;
        if let Some(object) = conversation.as_object_mut() {
            object.insert("assignee_name".into(), names.name(&view.assignee_id));
            object.insert(
                "mine".into(),
                (view.assignee_id.as_ref() == Some(&user.user_id)).into(),
            );
            object.insert("channel_name".into(), self.channel.into());
        }
        let templates: Vec<Value> = inbox_store::templates(state.inbox.db.pool(), org)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|t| to_json(&TemplateView::new(t)))
            .collect::<Result<_, _>>()?;
        let canned: Vec<Value> = inbox_store::canned_responses(state.inbox.db.pool(), org)
            .await
            .map_err(ApiError::from)?
            .into_iter()
            .map(|c| to_json(&CannedResponseView::new(c)))
            .collect::<Result<_, _>>()?;
        context.insert("conversation".into(), conversation);
        context.insert("contact".into(), to_json(&self.contact)?);
        context.insert("messages".into(), messages.into());
        context.insert("window_open".into(), open.into());
        context.insert("window".into(), hours(window_secs).into());
        context.insert("templates".into(), templates.into());
        context.insert("canned".into(), canned.into());
        Ok(())
    }
}

/// `GET /o/{organization_id}/inbox`: the conversations (`?status=`,
/// `?mine=1`, `?label=`, `?cursor=`) and the one selected (`?c=`).
pub async fn inbox(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    Query(query): Query<InboxQuery>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        crate::permissions::USE_INBOX,
    )
    .await?;
    inbox_page(&state, &visitor, &found, &query, Outcome::default()).await
}

/// The filters a form came from (its `back` field: the list's query
/// string), with `c` the conversation acted on.
fn back_query(back: &str, conversation_id: &str) -> InboxQuery {
    let mut query: InboxQuery = serde_urlencoded_lite(back);
    query.c = conversation_id.to_owned();
    query.cursor.clear();
    query
}

/// Reads `status`, `mine` and `label` from a query string.
fn serde_urlencoded_lite(text: &str) -> InboxQuery {
    let mut query = InboxQuery::default();
    let text = text.split_once('?').map_or(text, |(_, q)| q);
    for pair in text.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = decode(value);
        match key {
            "status" => query.status = value,
            "mine" => query.mine = value,
            "label" => query.label = value,
            _ => {}
        }
    }
    query
}

fn decode(text: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Where an action goes back to: the thread, which says what was `done`
/// once.
async fn back_to(
    state: &Pages,
    visitor: &Visitor,
    organization_id: &str,
    query: &InboxQuery,
    done: &str,
) -> Result<Page, PageError> {
    let href = query.href(organization_id, Some(&query.c));
    Page::redirect_with(state, visitor, href, Flash::notice(done_text(done))).await
}

/// `POST /o/{organization_id}/inbox/{conversation_id}/reply`: a text or
/// a template through `conversations::reply` (the 24-hour window, the
/// quota); refused, the page again with the reason next to the box.
pub async fn reply(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, conversation_id)): Path<(String, String)>,
    Form(form): Form<ReplyForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        crate::permissions::USE_INBOX,
    )
    .await?;
    let query = back_query(&form.back, &conversation_id);
    let text = form.text.trim();
    let template = match form.template.split_once('|') {
        Some((name, language)) if !name.is_empty() => Some(TemplateMessage {
            name: name.to_owned(),
            language: language.to_owned(),
            parameters: form
                .parameters
                .lines()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
        }),
        _ => None,
    };
    let request = ReplyRequest {
        text: (template.is_none() || !text.is_empty()).then(|| text.to_owned()),
        template,
    };
    match conversations::reply(
        &state.inbox,
        &state.live,
        &found.0,
        &conversation_id,
        request,
    )
    .await
    {
        Ok(_) => {
            let organization_id = found.0.organization_id.as_ref();
            back_to(&state, &visitor, organization_id, &query, "sent").await
        }
        Err(error) => {
            let errors = refusal(error)?;
            let outcome = Outcome {
                reply: form,
                errors,
                action_error: None,
            };
            inbox_page(&state, &visitor, &found, &query, outcome).await
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActionForm {
    csrf: String,
    /// For the status form: open or resolved.
    status: String,
    back: String,
}

/// `POST …/{conversation_id}/assign`: Assign to me, through
/// `conversations::assign` (taking someone else's conversation needs
/// `AssignConversations`, as in the API).
pub async fn assign(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, conversation_id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        crate::permissions::USE_INBOX,
    )
    .await?;
    let query = back_query(&form.back, &conversation_id);
    let current = conversations::find(&state.inbox, &found.0.organization_id, &conversation_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => PageError::NotFound,
            other => api(other),
        })?;
    let request = AssignRequest {
        assignee_id: Some(found.0.user_id.to_string()),
        team: current.team.clone(),
    };
    let done = conversations::assign(
        &state.inbox,
        &state.live,
        &found.0,
        &conversation_id,
        request,
    )
    .await;
    acted(&state, &visitor, &found, &query, done.map(|_| "assigned")).await
}

/// Back to the thread after an action, or the thread with its refusal.
async fn acted(
    state: &Pages,
    visitor: &Visitor,
    found: &(CurrentUser, Membership),
    query: &InboxQuery,
    done: Result<&str, ApiError>,
) -> Result<Page, PageError> {
    match done {
        Ok(done) => {
            let organization_id = found.0.organization_id.as_ref();
            back_to(state, visitor, organization_id, query, done).await
        }
        Err(error) => {
            let errors = refusal(error)?;
            let status = errors.status;
            let message = errors
                .general
                .clone()
                .or_else(|| errors.fields.values().next().cloned());
            let outcome = Outcome {
                action_error: message,
                errors: FormErrors {
                    status,
                    ..FormErrors::default()
                },
                ..Outcome::default()
            };
            inbox_page(state, visitor, found, query, outcome).await
        }
    }
}

/// `POST …/{conversation_id}/status`: Resolve or Reopen, through
/// `conversations::set_status` (reopening is refused while the contact
/// has another unresolved conversation).
pub async fn set_status(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, conversation_id)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        crate::permissions::USE_INBOX,
    )
    .await?;
    let query = back_query(&form.back, &conversation_id);
    let status = match form.status.as_str() {
        "resolved" => ConversationStatus::Resolved,
        "open" => ConversationStatus::Open,
        _ => return Err(PageError::NotFound),
    };
    let done = conversations::set_status(
        &state.inbox,
        &state.live,
        &found.0,
        &conversation_id,
        StatusRequest {
            status,
            snoozed_until: None,
        },
    )
    .await;
    let word = if status == ConversationStatus::Resolved {
        "resolved"
    } else {
        "open"
    };
    acted(&state, &visitor, &found, &query, done.map(|_| word)).await
}

// ---- the live stream ----------------------------------------------------------------

/// `GET /o/{organization_id}/inbox/stream`: the organization's inbox
/// events as server-sent events (the API's `GET /inbox/stream` source,
/// signed in by the session cookie), resumed after `Last-Event-ID`.
pub async fn stream(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let (user, _) = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        crate::permissions::USE_INBOX,
    )
    .await?;
    let asked = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| id.len() == 36 && uuid_like(id))
        .map(str::to_owned);
    // The same stream as the API's: limits, the end when access ends (this
    // cookie's session signed out or revoked, the membership removed), the
    // maximum lifetime after which the page's EventSource reconnects.
    let events = crate::routes::stream::open(&state.inbox, &state.live, &user, asked).await?;
    let response = Sse::new(events)
        .keep_alive(crate::routes::stream::keep_alive())
        .into_response();
    Ok(finish(response, StatusCode::OK))
}

fn uuid_like(text: &str) -> bool {
    text.chars().enumerate().all(|(i, c)| match i {
        8 | 13 | 18 | 23 => c == '-',
        _ => c.is_ascii_hexdigit(),
    })
}

// ---- channel settings ---------------------------------------------------------------

/// What the connect form sends (the secrets are never shown back).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct ChannelForm {
    #[serde(skip_serializing)]
    csrf: String,
    name: String,
    phone_number_id: String,
    business_account_id: String,
    #[serde(skip_serializing)]
    access_token: String,
    #[serde(skip_serializing)]
    app_secret: String,
    #[serde(skip_serializing)]
    verify_token: String,
}

async fn channels_page(
    state: &Pages,
    visitor: &Visitor,
    (user, membership): &(CurrentUser, Membership),
    form: &ChannelForm,
    errors: FormErrors,
    check: Option<(&str, ChannelCheck)>,
) -> Result<Page, PageError> {
    let public_url = &state.inbox.config.public_url;
    let channels: Vec<Value> = inbox_store::channels(state.inbox.db.pool(), &user.organization_id)
        .await
        .map_err(ApiError::from)?
        .into_iter()
        .map(|row| to_json(&ChannelView::new(row, public_url)))
        .collect::<Result<_, _>>()?;
    let (mut context, _) =
        base(state, visitor, "Inbox channels", "inbox", Some(membership)).await?;
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    let status = errors.into_context(&mut context);
    context.insert("channels".into(), channels.into());
    context.insert("form".into(), to_json(form)?);
    context.insert("max_channels".into(), MAX_CHANNELS.into());
    if let Some((channel_id, check)) = check {
        context.insert(
            "check".into(),
            json!({ "channel_id": channel_id, "working": check.status == CheckStatus::Working, "message": check.message }),
        );
    }
    let page = Page::render("inbox_channels.html", context)?;
    Ok(if status == StatusCode::OK {
        page
    } else {
        page.status(status)
    })
}

/// `GET /o/{organization_id}/inbox/channels`: the connected numbers
/// (webhook URL to give Meta, rejected signatures) and the connect form.
pub async fn channels_list(
    State(state): State<Pages>,
    visitor: Visitor,
    Path(organization_id): Path<String>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        crate::permissions::MANAGE_INBOX,
    )
    .await?;
    channels_page(
        &state,
        &visitor,
        &found,
        &ChannelForm::default(),
        FormErrors::ok(),
        None,
    )
    .await
}

/// `POST /o/{organization_id}/inbox/channels`: `channels::connect`
/// (audited); refused, the form again with the errors next to the fields.
pub async fn connect(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path(organization_id): Path<String>,
    Form(form): Form<ChannelForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        crate::permissions::MANAGE_INBOX,
    )
    .await?;
    let request = ConnectChannelRequest {
        name: form.name.clone(),
        phone_number_id: form.phone_number_id.clone(),
        business_account_id: form.business_account_id.clone(),
        access_token: form.access_token.clone(),
        app_secret: form.app_secret.clone(),
        verify_token: form.verify_token.clone(),
    };
    match channels::connect(
        state.identity(),
        &state.inbox.graph,
        &found.0,
        &client,
        request,
    )
    .await
    {
        Ok(_) => {
            let location = format!("/o/{}/inbox/channels", found.0.organization_id);
            let flash = Flash::notice(
                "Number connected. Give Meta its webhook URL below (with the verify token) to \
                 start receiving messages.",
            );
            Page::redirect_with(&state, &visitor, location, flash).await
        }
        Err(error) => {
            let errors = refusal(error)?;
            channels_page(&state, &visitor, &found, &form, errors, None).await
        }
    }
}

/// `POST …/channels/{channel_id}/check`: "Test connection" — asks Meta
/// about the number and shows the outcome next to the channel. Nothing
/// changes, so the page is answered directly.
pub async fn check_channel(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, channel_id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let found = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        crate::permissions::MANAGE_INBOX,
    )
    .await?;
    let check = channels::check(
        state.identity(),
        &state.inbox.graph,
        &found.0.organization_id,
        &channel_id,
    )
    .await
    .map_err(|e| match e {
        ApiError::NotFound(_) => PageError::NotFound,
        other => api(other),
    })?;
    channels_page(
        &state,
        &visitor,
        &found,
        &ChannelForm::default(),
        FormErrors::ok(),
        Some((&channel_id, check)),
    )
    .await
}

/// `GET …/channels/{channel_id}/disconnect`: the confirmation.
pub async fn disconnect_page(
    State(state): State<Pages>,
    visitor: Visitor,
    Path((organization_id, channel_id)): Path<(String, String)>,
) -> Result<Page, PageError> {
    let (user, membership) = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Read,
        crate::permissions::MANAGE_INBOX,
    )
    .await?;
    let row = channels::find(state.identity(), &user.organization_id, &channel_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => PageError::NotFound,
            other => api(other),
        })?;
    let (mut context, _) = base(
        &state,
        &visitor,
        "Disconnect the number?",
        "inbox",
        Some(&membership),
    )
    .await?;
    context.insert(
        "organization".into(),
        json!({ "id": membership.organization.id, "name": membership.organization.name }),
    );
    context.insert(
        "channel".into(),
        to_json(&ChannelView::new(row, &state.inbox.config.public_url))?,
    );
    Page::render("inbox_channel_confirm.html", context)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    csrf: String,
}

/// `POST …/channels/{channel_id}/disconnect`: `channels::disconnect`
/// (audited), back to the channels.
pub async fn disconnect(
    State(state): State<Pages>,
    visitor: Visitor,
    client: ClientInfo,
    Path((organization_id, channel_id)): Path<(String, String)>,
    Form(form): Form<CsrfForm>,
) -> Result<Page, PageError> {
    let (user, _) = member(
        &state,
        &visitor,
        &organization_id,
        Gate::Form(&form.csrf),
        crate::permissions::MANAGE_INBOX,
    )
    .await?;
    channels::disconnect(state.identity(), &user, &client, &channel_id)
        .await
        .map_err(|e| match e {
            ApiError::NotFound(_) => PageError::NotFound,
            other => api(other),
        })?;
    let location = format!("/o/{}/inbox/channels", user.organization_id);
    let flash =
        Flash::notice("Number disconnected, with its contacts, conversations and messages.");
    Page::redirect_with(&state, &visitor, location, flash).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_survive_a_form_round_trip() {
        let query = InboxQuery {
            status: "open".into(),
            mine: "1".into(),
            label: "vip & co".into(),
            ..InboxQuery::default()
        };
        let href = query.href("org", None);
        assert_eq!(href, "/o/org/inbox?status=open&mine=1&label=vip%20%26%20co");
        let back = back_query(&href, "c1");
        assert_eq!(back.status, "open");
        assert_eq!(back.mine, "1");
        assert_eq!(back.label, "vip & co");
        assert_eq!(back.c, "c1");
        assert_eq!(decode("a%2"), "a%2");
    }
}
