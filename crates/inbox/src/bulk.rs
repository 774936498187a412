//! Bulk operations: close, assign or label many conversations — by a list
//! of ids or by the list's filter — as an `inbox.bulk` job whose progress
//! `GET /inbox/jobs/{id}` reports. The targets are fixed when asked for;
//! the job applies them a hundred at a time, each marked done with its
//! change, so a crash loses nothing and repeats nothing.

use crate::events::{InboxConversationAssignedPayload, InboxConversationResolvedPayload};
use crate::ids::{BulkOperationId, InboxConversationId};
use crate::InboxState;
use anyhow::Context;
use landlord_core::ids::UserId;
use landlord_core::{ApiError, Db, Timestamp};
use landlord_identity::auth::CurrentUser;
use landlord_jobs::{Attempt, JobHandler, NewJob};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::{self, BulkAction, BulkRow, BulkStatus, ConversationFilter, ConversationStatus};

/// Kind of the job that applies a bulk operation.
pub const BULK_JOB: &str = "inbox.bulk";

/// Most conversations one operation touches.
pub const MAX_TARGETS: i64 = 10_000;

/// Conversations applied per transaction.
const CHUNK: i64 = 100;

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct BulkFilter {
    pub status: Option<ConversationStatus>,
    /// `none` (unassigned) or a member's id.
    pub assignee: Option<String>,
    #[schema(max_length = 32)]
    pub label: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct BulkRequest {
    pub action: BulkAction,
    /// The conversations (at most 10,000); or give `filter`.
    #[schema(max_items = 10000)]
    pub conversation_ids: Option<Vec<String>>,
    /// The conversations the list's filter selects (at most 10,000).
    pub filter: Option<BulkFilter>,
    /// `assign`: a member's id, or `null` to unassign.
    pub assignee_id: Option<String>,
    /// `assign`: a team queue.
    #[schema(max_length = 64)]
    pub team: Option<String>,
    /// `label`: the labels to add.
    #[schema(max_items = 20)]
    pub labels: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
struct Params {
    assignee_id: Option<UserId>,
    team: Option<String>,
    labels: Vec<String>,
}

/// An operation and its progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkView {
    pub id: BulkOperationId,
    pub action: BulkAction,
    /// `queued`, `running` or `done`.
    pub status: BulkStatus,
    /// Conversations it applies to.
    pub total: i64,
    /// Conversations applied so far.
    pub done: i64,
    pub created_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

impl BulkView {
    pub fn new(row: BulkRow) -> Self {
        Self {
            id: row.id,
            action: row.action,
            status: row.status,
            total: row.total,
            done: row.done,
            created_at: row.created_at,
            finished_at: row.finished_at,
        }
    }
}

fn labels(request: Option<&[String]>) -> Result<Vec<String>, ApiError> {
    crate::conversations::checked_labels("labels", request.unwrap_or_default())
}

/// Fixes the targets and queues the job.
pub async fn start(
    state: &InboxState,
    user: &CurrentUser,
    request: BulkRequest,
) -> Result<BulkView, ApiError> {
    // Every field is checked whatever the action, as the document says.
    let labels = labels(request.labels.as_deref())?;
    let team = checked_team(request.team.as_deref())?;
    let assignee_id = checked_assignee(state, user, request.assignee_id.as_deref()).await?;
    if let Some(label) = request.filter.as_ref().and_then(|f| f.label.as_deref()) {
        if label.chars().count() > 32 {
            return Err(ApiError::invalid_field(
                "filter.label",
                "must be at most 32 characters",
            ));
        }
    }
    let params = Params::of(request.action, labels, team, assignee_id)?;
    let ids = listed_ids(
        request.conversation_ids.as_deref(),
        request.filter.is_some(),
    )?;
    let filter = request.filter.unwrap_or_default();
    let assignee_filter = assignee_filter(filter.assignee.as_deref())?;
    let assignee = assignee_filter.as_ref().map(Option::as_ref);
    let label = filter.label.as_deref().map(|l| l.trim().to_lowercase());
    let now = Timestamp::now();
    let mut tx = state.db.begin().await?;
    let targets = store::target_ids(
        &mut tx,
        &user.organization_id,
        ids.as_deref(),
        ConversationFilter {
            status: filter.status,
            assignee,
            label: label.as_deref().filter(|l| !l.is_empty()),
            after: None,
            limit: MAX_TARGETS,
        },
    )
    .await?;
    let row = BulkRow {
        id: BulkOperationId::generate(),
        organization_id: user.organization_id.clone(),
        action: request.action,
        params: serde_json::to_string(&params).map_err(ApiError::internal)?,
        status: if targets.is_empty() {
            BulkStatus::Done
        } else {
            BulkStatus::Queued
        },
        total: targets.len() as i64,
        done: 0,
        created_by: Some(user.user_id.clone()),
        created_at: now,
        updated_at: now,
        finished_at: targets.is_empty().then_some(now),
    };
    store::insert_bulk(&mut tx, &row, &targets).await?;
    if targets.is_empty() {
        store::bulk_finished(&mut tx, &row.id, now).await?;
    } else {
        landlord_jobs::enqueue(
            &mut *tx,
            NewJob::new(BULK_JOB, serde_json::json!({ "operation_id": row.id })),
        )
        .await?;
    }
    landlord_jobs::commit_and_wake(tx, &state.identity.jobs).await?;
    Ok(BulkView::new(row))
}

/// The team to assign to: trimmed, at most 64 characters; none if empty.
fn checked_team(team: Option<&str>) -> Result<Option<String>, ApiError> {
    match team.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) if t.chars().count() <= 64 && !t.chars().any(char::is_control) => {
            Ok(Some(t.to_string()))
        }
        Some(_) => Err(ApiError::invalid_field(
            "team",
            "must be at most 64 characters",
        )),
    }
}

/// The member to assign to, who must belong to the organization.
async fn checked_assignee(
    state: &InboxState,
    user: &CurrentUser,
    assignee_id: Option<&str>,
) -> Result<Option<UserId>, ApiError> {
    let Some(text) = assignee_id.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let not_a_member =
        || ApiError::invalid_field("assignee_id", "is not a member of the organization");
    let id = UserId::parse(text).ok_or_else(not_a_member)?;
    let role =
        landlord_identity::store::role_in(state.db.pool(), &id, &user.organization_id).await?;
    if role.is_none() {
        return Err(not_a_member());
    }
    Ok(Some(id))
}

impl Params {
    /// What `action` needs of the request's fields (labelling needs a label).
    fn of(
        action: BulkAction,
        labels: Vec<String>,
        team: Option<String>,
        assignee_id: Option<UserId>,
    ) -> Result<Self, ApiError> {
        Ok(match action {
            BulkAction::Close => Params::default(),
            BulkAction::Assign => Params {
                assignee_id,
                team,
                labels: Vec::new(),
            },
            BulkAction::Label if labels.is_empty() => {
                return Err(ApiError::invalid_field("labels", "give at least one label"))
            }
            BulkAction::Label => Params {
                labels,
                ..Params::default()
            },
        })
    }
}

/// The conversations named one by one, or `None` when a filter chooses
/// them; exactly one of the two must be given.
fn listed_ids(
    ids: Option<&[String]>,
    filtered: bool,
) -> Result<Option<Vec<InboxConversationId>>, ApiError> {
    match (ids, filtered) {
        (Some(ids), false) => {
            if ids.len() as i64 > MAX_TARGETS {
                return Err(ApiError::invalid_field(
                    "conversation_ids",
                    "at most 10,000",
                ));
            }
            let parsed: Option<Vec<InboxConversationId>> = ids
                .iter()
                .map(|id| InboxConversationId::parse(id))
                .collect();
            parsed.map(Some).ok_or_else(|| {
                ApiError::invalid_field(
                    "conversation_ids",
                    "holds an id that is not a conversation's",
                )
            })
        }
        (None, true) => Ok(None),
        _ => Err(ApiError::invalid_field(
            "conversation_ids",
            "give either conversation_ids or filter",
        )),
    }
}

/// The filter's assignee: any (`None`), unassigned (`Some(None)`) or a
/// member.
fn assignee_filter(assignee: Option<&str>) -> Result<Option<Option<UserId>>, ApiError> {
    match assignee {
        None | Some("") => Ok(None),
        Some("none") => Ok(Some(None)),
        Some(text) => UserId::parse(text).map(|id| Some(Some(id))).ok_or_else(|| {
            ApiError::invalid_field("filter.assignee", "must be none or a member's id")
        }),
    }
}

/// Works `inbox.bulk` jobs.
pub struct BulkJob {
    pub db: Db,
    pub live: crate::live::Live,
}

#[async_trait::async_trait]
impl JobHandler for BulkJob {
    async fn handle(&self, payload: &Value, _attempt: Attempt) -> anyhow::Result<()> {
        let id = payload["operation_id"]
            .as_str()
            .and_then(BulkOperationId::parse)
            .context("a bulk job's operation id")?;
        let Some(operation) = store::bulk_by_id(self.db.pool(), &id).await? else {
            return Ok(());
        };
        let params: Params = serde_json::from_str(&operation.params)?;
        loop {
            let mut tx = self.db.begin().await?;
            let chunk = store::pending_targets(&mut tx, &id, CHUNK).await?;
            let now = Timestamp::now();
            if chunk.is_empty() {
                store::bulk_finished(&mut tx, &id, now).await?;
                tx.commit().await?;
                return Ok(());
            }
            for conversation_id in &chunk {
                apply(&mut tx, &operation, &params, conversation_id, now).await?;
                store::target_done(&mut tx, &id, conversation_id, now).await?;
                crate::live::record(
                    &mut *tx,
                    &operation.organization_id,
                    "conversation.updated",
                    serde_json::json!({ "change": operation.action, "conversation_id": conversation_id }),
                )
                .await?;
            }
            tx.commit().await?;
            self.live.wake(&operation.organization_id).await;
        }
    }
}

/// One conversation's change, with its event.
async fn apply(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    operation: &BulkRow,
    params: &Params,
    conversation_id: &InboxConversationId,
    now: Timestamp,
) -> anyhow::Result<()> {
    let organization_id = &operation.organization_id;
    let Some(conversation) =
        store::conversation(&mut **tx, organization_id, conversation_id).await?
    else {
        return Ok(());
    };
    match operation.action {
        BulkAction::Close => {
            if conversation.status != ConversationStatus::Resolved {
                store::set_status(
                    tx,
                    organization_id,
                    conversation_id,
                    ConversationStatus::Resolved,
                    None,
                    now,
                )
                .await?;
                landlord_events::record(
                    &mut **tx,
                    organization_id,
                    &InboxConversationResolvedPayload {
                        organization_id: organization_id.clone(),
                        conversation_id: conversation_id.clone(),
                        resolved_by: operation.created_by.clone(),
                    },
                )
                .await?;
            }
        }
        BulkAction::Assign => {
            store::assign(
                tx,
                organization_id,
                conversation_id,
                params.assignee_id.as_ref(),
                params.team.as_deref(),
                now,
            )
            .await?;
            if let Some(by) = &operation.created_by {
                landlord_events::record(
                    &mut **tx,
                    organization_id,
                    &InboxConversationAssignedPayload {
                        organization_id: organization_id.clone(),
                        conversation_id: conversation_id.clone(),
                        assignee_id: params.assignee_id.clone(),
                        team: params.team.clone(),
                        assigned_by: by.clone(),
                    },
                )
                .await?;
            }
        }
        BulkAction::Label => {
            store::add_labels(tx, organization_id, conversation_id, &params.labels).await?;
        }
    }
    Ok(())
}

/// The organization's operation, or 404.
pub async fn find(state: &InboxState, user: &CurrentUser, id: &str) -> Result<BulkView, ApiError> {
    let not_found = || ApiError::not_found("job");
    let id = BulkOperationId::parse(id).ok_or_else(not_found)?;
    let row = store::bulk(state.db.pool(), &user.organization_id, &id)
        .await?
        .ok_or_else(not_found)?;
    Ok(BulkView::new(row))
}
