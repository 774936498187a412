//! Realtime: what happens in an organization's inbox (new messages,
//! status changes, assignments, presence) as a stream of server-sent
//! events per signed-in person.
//!
//! Each change writes a row of `inbox_stream_events` in its own
//! transaction ([`record`]); the rows are the truth, and a client that
//! reconnects with its last event id is given what it missed.
//!
//! **One reader per organization and instance.** The streams of an
//! organization open on this instance share one [`Hub`]: one task that
//! reads the organization's new rows — when [`Live::wake`] says something
//! was committed (here, or on another instance through Redis pub/sub on
//! [`CHANNEL`]), or every `inbox.stream_poll_ms` anyway, so a lost
//! wake-up only delays — and hands them to its streams in memory (a tokio
//! broadcast). A wake-up costs one database read per organization and
//! instance, whatever the number of streams; a stream reads the database
//! itself only to catch up after `Last-Event-ID` (or after falling behind
//! the broadcast's buffer).
//!
//! **Access is checked while streaming.** The hub checks its streams'
//! sessions and memberships in one statement every
//! `inbox.stream_access_check_ms`, and at once when identity says someone's
//! access ended (a sign-out, a revoked session, a removal: on this
//! instance directly, on the others through Redis on [`ACCESS_CHANNEL`]);
//! a stream whose session or membership is over ends at once. Every stream
//! also ends after `inbox.stream_max_lifetime_secs`, and the client
//! reconnects with `Last-Event-ID`.
//!
//! **Streams are bounded.** At most `inbox.max_streams_per_user` per person
//! and `inbox.max_streams_per_organization` per organization are open on
//! an instance; beyond, opening answers 429.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::config::InboxConfig;
use futures::StreamExt;
use landlord_core::ids::{OrganizationId, SessionId, UserId};
use landlord_core::{ApiError, Db, Timestamp};
use sqlx::{Any, Executor};
use tokio::sync::{broadcast, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::store::{self, StreamEventRow};

/// The Redis channel instances wake each other on (the payload: the
/// organization whose events were committed).
pub const CHANNEL: &str = "landlord:inbox:stream";

/// The Redis channel instances tell each other whose access ended on (the
/// payload: the user id, or `*` for everyone's).
pub const ACCESS_CHANNEL: &str = "landlord:inbox:access";

/// Events a stream may fall behind its hub by before it reads the rows
/// itself again.
const FAN_OUT_BUFFER: usize = 256;

/// Rows read at once (by a hub, or by a stream catching up).
pub(crate) const PAGE: i64 = 100;

/// `Retry-After` of a refusal for too many open streams: the time a client
/// should give another of its streams to close.
const FULL_RETRY_AFTER_SECS: u64 = 10;

/// Writes a stream event of `kind` with `payload` for the organization,
/// through `executor` (the change's transaction).
pub async fn record<'c, E: Executor<'c, Database = Any>>(
    executor: E,
    organization_id: &OrganizationId,
    kind: &str,
    payload: serde_json::Value,
) -> Result<(), sqlx::Error> {
    store::insert_stream_event(
        executor,
        &StreamEventRow {
            id: uuid::Uuid::now_v7().to_string(),
            organization_id: organization_id.clone(),
            kind: kind.to_string(),
            payload: payload.to_string(),
            created_at: Timestamp::now(),
        },
    )
    .await
}

/// The stream settings of `[inbox]`.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// `stream_poll_ms`.
    pub poll: Duration,
    /// `stream_max_lifetime_secs`.
    pub max_lifetime: Duration,
    /// `stream_access_check_ms`.
    pub access_check: Duration,
    /// `max_streams_per_user`.
    pub per_user: u32,
    /// `max_streams_per_organization`.
    pub per_organization: u32,
    /// `stream_opens_per_minute`.
    pub opens_per_minute: u32,
}

impl StreamSettings {
    pub fn from_config(config: &InboxConfig) -> Self {
        Self {
            poll: Duration::from_millis(config.stream_poll_ms),
            max_lifetime: Duration::from_secs(config.stream_max_lifetime_secs),
            access_check: Duration::from_millis(config.stream_access_check_ms),
            per_user: config.max_streams_per_user,
            per_organization: config.max_streams_per_organization,
            opens_per_minute: config.stream_opens_per_minute,
        }
    }
}

/// This instance's streams: their hubs, the wake-ups, Redis when
/// configured.
#[derive(Clone)]
pub struct Live(Arc<LiveInner>);

pub struct LiveInner {
    db: Db,
    redis: Option<redis::Client>,
    publisher: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// Cancelled when the server shuts down: streams end, so the graceful
    /// shutdown does not wait for them.
    pub stopping: CancellationToken,
    pub settings: StreamSettings,
    registry: Mutex<Registry>,
}

impl std::ops::Deref for Live {
    type Target = LiveInner;
    fn deref(&self) -> &LiveInner {
        &self.0
    }
}

/// The open streams of this instance, by organization.
#[derive(Default)]
struct Registry {
    hubs: HashMap<OrganizationId, HubEntry>,
    per_user: HashMap<UserId, u32>,
    next_id: u64,
}

struct HubEntry {
    hub: Arc<Hub>,
    streams: HashMap<u64, Watcher>,
}

/// Whose access keeps a stream open.
struct Watcher {
    user_id: UserId,
    session_id: SessionId,
    end: CancellationToken,
}

/// One organization's reader on this instance (see the module's comment).
struct Hub {
    organization_id: OrganizationId,
    events: broadcast::Sender<Arc<StreamEventRow>>,
    /// New rows were committed: read.
    woken: Notify,
    /// Someone's access ended: check the streams' access now.
    recheck: Notify,
    /// The last stream left: the task ends.
    closed: CancellationToken,
}

/// An open stream's place in its organization's hub: the events, and the
/// token cancelled when the stream must end (access over, shutdown).
/// Dropping it frees the place.
pub struct Subscription {
    live: Live,
    organization_id: OrganizationId,
    user_id: UserId,
    id: u64,
    pub events: broadcast::Receiver<Arc<StreamEventRow>>,
    pub end: CancellationToken,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.live
            .leave(&self.organization_id, &self.user_id, self.id);
    }
}

impl Live {
    pub fn new(db: Db, redis: Option<redis::Client>, settings: StreamSettings) -> Self {
        Self(Arc::new(LiveInner {
            db,
            redis,
            publisher: tokio::sync::Mutex::new(None),
            stopping: CancellationToken::new(),
            settings,
            registry: Mutex::new(Registry::default()),
        }))
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // A panic while holding the lock leaves plain maps behind: go on.
        self.registry
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A place among the organization's streams for `user_id`'s session
    /// `session_id`: 429 when the person or the organization already holds
    /// its most. Subscribe before reading where the stream starts, so that
    /// nothing committed in between is missed.
    pub async fn subscribe(
        &self,
        organization_id: &OrganizationId,
        user_id: &UserId,
        session_id: &SessionId,
    ) -> Result<Subscription, ApiError> {
        if let Some(joined) = self.join(organization_id, user_id, session_id, None)? {
            return Ok(joined);
        }
        // The organization's first stream here: its hub starts after the
        // newest row, read before the stream reads its own start.
        let cursor = store::last_stream_event(self.db.pool(), organization_id).await?;
        match self.join(organization_id, user_id, session_id, Some(cursor))? {
            Some(joined) => Ok(joined),
            None => Err(ApiError::Internal(anyhow::anyhow!(
                "inbox stream: a new hub was not created"
            ))),
        }
    }

    /// Joins the organization's hub, creating it from `cursor` when given;
    /// `None` when there is no hub and no cursor to start one.
    fn join(
        &self,
        organization_id: &OrganizationId,
        user_id: &UserId,
        session_id: &SessionId,
        cursor: Option<String>,
    ) -> Result<Option<Subscription>, ApiError> {
        let settings = &self.settings;
        let mut registry = self.registry();
        let mine = registry.per_user.get(user_id).copied().unwrap_or(0);
        if mine >= settings.per_user {
            return Err(full(format!(
                "you have {mine} inbox streams open; at most {} at once: close one",
                settings.per_user
            )));
        }
        let theirs = registry
            .hubs
            .get(organization_id)
            .map_or(0, |entry| entry.streams.len() as u32);
        if theirs >= settings.per_organization {
            return Err(full(format!(
                "this organization has {theirs} inbox streams open; at most {} at once",
                settings.per_organization
            )));
        }
        if !registry.hubs.contains_key(organization_id) {
            let Some(cursor) = cursor else {
                return Ok(None);
            };
            let hub = Arc::new(Hub {
                organization_id: organization_id.clone(),
                events: broadcast::channel(FAN_OUT_BUFFER).0,
                woken: Notify::new(),
                recheck: Notify::new(),
                closed: self.stopping.child_token(),
            });
            tokio::spawn(run_hub(self.clone(), hub.clone(), cursor));
            registry.hubs.insert(
                organization_id.clone(),
                HubEntry {
                    hub,
                    streams: HashMap::new(),
                },
            );
        }
        registry.next_id += 1;
        let id = registry.next_id;
        *registry.per_user.entry(user_id.clone()).or_insert(0) += 1;
        let Some(entry) = registry.hubs.get_mut(organization_id) else {
            return Ok(None);
        };
        let end = entry.hub.closed.child_token();
        let events = entry.hub.events.subscribe();
        entry.streams.insert(
            id,
            Watcher {
                user_id: user_id.clone(),
                session_id: session_id.clone(),
                end: end.clone(),
            },
        );
        Ok(Some(Subscription {
            live: self.clone(),
            organization_id: organization_id.clone(),
            user_id: user_id.clone(),
            id,
            events,
            end,
        }))
    }

    /// A stream closed: its place is free; the hub ends with its last.
    fn leave(&self, organization_id: &OrganizationId, user_id: &UserId, id: u64) {
        let mut registry = self.registry();
        if let Some(count) = registry.per_user.get_mut(user_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                registry.per_user.remove(user_id);
            }
        }
        let empty = match registry.hubs.get_mut(organization_id) {
            Some(entry) => {
                entry.streams.remove(&id);
                entry.streams.is_empty()
            }
            None => false,
        };
        if empty {
            if let Some(entry) = registry.hubs.remove(organization_id) {
                entry.hub.closed.cancel();
            }
        }
    }

    /// Wakes the organization's streams here and, through Redis, on every
    /// instance. Call after the commit of what [`record`] wrote.
    pub async fn wake(&self, organization_id: &OrganizationId) {
        self.wake_here(Some(organization_id));
        self.publish(CHANNEL, organization_id.as_str()).await;
    }

    /// Wakes this instance's hub of the organization (every hub: `None`).
    fn wake_here(&self, organization_id: Option<&OrganizationId>) {
        let registry = self.registry();
        match organization_id {
            Some(id) => {
                if let Some(entry) = registry.hubs.get(id) {
                    entry.hub.woken.notify_one();
                }
            }
            None => registry
                .hubs
                .values()
                .for_each(|entry| entry.hub.woken.notify_one()),
        }
    }

    /// Makes the hubs holding a stream of `user_id` (every hub: `None`)
    /// check their streams' access now.
    fn recheck_here(&self, user_id: Option<&UserId>) {
        let registry = self.registry();
        for entry in registry.hubs.values() {
            let concerned = match user_id {
                Some(user_id) => entry.streams.values().any(|w| &w.user_id == user_id),
                None => true,
            };
            if concerned {
                entry.hub.recheck.notify_one();
            }
        }
    }

    async fn publish(&self, channel: &str, payload: &str) {
        let Some(client) = &self.redis else {
            return;
        };
        let mut publisher = self.publisher.lock().await;
        if publisher.is_none() {
            match client.get_multiplexed_async_connection().await {
                Ok(connection) => *publisher = Some(connection),
                Err(error) => {
                    tracing::warn!(%error, "inbox stream: cannot reach Redis to tell other instances");
                    return;
                }
            }
        }
        if let Some(connection) = publisher.as_mut() {
            let mut command = redis::cmd("PUBLISH");
            command.arg(channel).arg(payload);
            let publish = command.query_async(connection);
            let sent: Result<i64, _> =
                landlord_core::telemetry::traced_call("redis", "PUBLISH", publish, Result::is_err)
                    .await;
            if let Err(error) = sent {
                tracing::warn!(%error, "inbox stream: publishing on Redis failed");
                *publisher = None;
            }
        }
    }

    /// Listens to identity's access endings (`endings`: a sign-out, a
    /// revoked session, a removal on this instance) until `stopping`: the
    /// hubs concerned here check at once, and the others instances' hear
    /// it through Redis.
    pub async fn watch_access(self, mut endings: broadcast::Receiver<UserId>) {
        loop {
            let ended = tokio::select! {
                _ = self.stopping.cancelled() => return,
                ended = endings.recv() => ended,
            };
            match ended {
                Ok(user_id) => {
                    self.recheck_here(Some(&user_id));
                    self.publish(ACCESS_CHANNEL, user_id.as_str()).await;
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    self.recheck_here(None);
                    self.publish(ACCESS_CHANNEL, "*").await;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    }

    /// With Redis: listens on [`CHANNEL`] and [`ACCESS_CHANNEL`] and wakes
    /// this instance's hubs concerned, reconnecting after a failure, until
    /// `stopping`.
    pub async fn listen(self) {
        let Some(client) = self.redis.clone() else {
            return;
        };
        loop {
            match client.get_async_pubsub().await {
                Ok(mut pubsub) => {
                    if let Err(error) = pubsub.subscribe(&[CHANNEL, ACCESS_CHANNEL]).await {
                        tracing::warn!(%error, "inbox stream: cannot subscribe on Redis");
                    } else {
                        let mut messages = pubsub.on_message();
                        loop {
                            tokio::select! {
                                _ = self.stopping.cancelled() => return,
                                message = messages.next() => match message {
                                    Some(message) => self.heard(&message),
                                    None => break,
                                },
                            }
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "inbox stream: cannot reach Redis"),
            }
            tokio::select! {
                _ = self.stopping.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// A message of another instance (or this one's own, heard back).
    fn heard(&self, message: &redis::Msg) {
        let payload: String = message.get_payload().unwrap_or_default();
        let named = (payload.len() == 36).then_some(payload.as_str());
        if message.get_channel_name() == ACCESS_CHANNEL {
            self.recheck_here(named.map(UserId::from_trusted).as_ref());
        } else {
            self.wake_here(named.map(OrganizationId::from_trusted).as_ref());
        }
    }
}

fn full(message: String) -> ApiError {
    ApiError::RateLimited {
        message,
        retry_after_secs: FULL_RETRY_AFTER_SECS,
    }
}

/// The hub's task: reads the organization's new rows when woken (or every
/// poll interval) and broadcasts them; checks its streams' access every
/// `access_check` and when asked; ends with its last stream or shutdown.
async fn run_hub(live: Live, hub: Arc<Hub>, mut cursor: String) {
    let settings = live.settings.clone();
    let mut next_check = Instant::now() + settings.access_check;
    let mut read = true;
    let mut next_poll = Instant::now();
    loop {
        if read {
            cursor = read_new(&live, &hub, cursor).await;
            next_poll = Instant::now() + settings.poll;
        }
        read = false;
        tokio::select! {
            _ = hub.closed.cancelled() => return,
            _ = hub.woken.notified() => read = true,
            _ = tokio::time::sleep_until(next_poll) => read = true,
            _ = hub.recheck.notified() => {
                check_access(&live, &hub).await;
                next_check = Instant::now() + settings.access_check;
            }
            _ = tokio::time::sleep_until(next_check) => {
                check_access(&live, &hub).await;
                next_check = Instant::now() + settings.access_check;
            }
        }
    }
}

/// Broadcasts the rows after `cursor`; answers the new cursor.
async fn read_new(live: &Live, hub: &Hub, mut cursor: String) -> String {
    loop {
        match store::stream_events_after(live.db.pool(), &hub.organization_id, &cursor, PAGE).await
        {
            Ok(rows) => {
                let more = rows.len() as i64 == PAGE;
                for row in rows {
                    cursor.clone_from(&row.id);
                    // No receiver (every stream just left) is fine.
                    let _ = hub.events.send(Arc::new(row));
                }
                if !more {
                    return cursor;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "inbox stream: reading events failed");
                return cursor;
            }
        }
    }
}

/// Ends the hub's streams whose session is over or whose person is no
/// longer a member: one statement for all of them.
async fn check_access(live: &Live, hub: &Hub) {
    let watched: Vec<(SessionId, CancellationToken)> = {
        let registry = live.registry();
        match registry.hubs.get(&hub.organization_id) {
            Some(entry) => entry
                .streams
                .values()
                .filter(|w| !w.end.is_cancelled())
                .map(|w| (w.session_id.clone(), w.end.clone()))
                .collect(),
            None => return,
        }
    };
    if watched.is_empty() {
        return;
    }
    let families: Vec<SessionId> = watched
        .iter()
        .map(|(session, _)| session.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let found = async {
        let mut conn = live.db.pool().acquire().await?;
        landlord_identity::store::live_families_in(&mut conn, &hub.organization_id, &families).await
    }
    .await;
    let live_families: HashSet<SessionId> = match found {
        Ok(found) => found.into_iter().collect(),
        Err(error) => {
            // Checked again at the next interval; a database that cannot
            // answer cannot open new streams either.
            tracing::warn!(%error, "inbox stream: checking the streams' access failed");
            return;
        }
    };
    for (session, end) in watched {
        if !live_families.contains(&session) {
            end.cancel();
        }
    }
}
