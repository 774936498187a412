//! Usage metering.
//!
//! Handlers of API-key requests hand a [`UsageRecord`] to the
//! [`UsageRecorder`] — a channel send, no I/O on the request path. A
//! background task adds what arrived to per-hour counters (organization,
//! key, route, status class, hour: `usage_hourly`) with an additive upsert,
//! so several instances may count the same hour, and — when the raw log is
//! on — inserts one `usage_records` row per request in the same
//! transaction. It also moves each key's `last_used_at` once per batch.
//!
//! Flushes start every `usage_flush_interval_ms` on a fixed clock (not an
//! interval after the previous flush ended), and at once whenever
//! [`FLUSH_RECORDS`] records are waiting, so a record answered at `t` is
//! committed by the end of the first flush started after `t`: a `kill -9`
//! loses at most one interval of answered usage (plus the flush in
//! progress) while the database keeps up. The channel is bounded
//! ([`QUEUE_RECORDS`]): when the database falls behind, a metered request
//! waits for room before it is answered, so answered-but-unwritten usage
//! never exceeds the queue, the batch being gathered and the flush in
//! progress, whatever the database's speed. A failed write is retried with
//! the same records; nothing is dropped. On shutdown, after the HTTP server
//! has drained, everything still pending is written.

pub mod daily;
pub mod period;
pub mod routes;
pub mod store;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use landlord_core::ids::{ApiKeyId, OrganizationId};
use landlord_core::{Db, Timestamp};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection};
use tokio::sync::{mpsc, Notify};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use store::HOUR_MS;

/// Rows per multi-row INSERT or upsert: 500 × 6 parameters stays far below
/// both databases' parameter limits (SQLite's statements take anonymous
/// placeholders, see `landlord_core::db::values_placeholders`).
const BATCH_ROWS: usize = 500;

/// Records per transaction: their counters are a few rows, their raw rows
/// a few statements.
const RECORDS_PER_TRANSACTION: usize = 5_000;

/// Queued records that start a flush before the interval's tick, so a
/// burst does not wait for the clock.
pub const FLUSH_RECORDS: usize = 10_000;

/// Records the queue holds before metered requests wait for the writer
/// (back-pressure). With the batch in flight (at most [`FLUSH_RECORDS`]),
/// it bounds the answered usage a `kill -9` can lose however slow the
/// database is.
pub const QUEUE_RECORDS: usize = 20_000;

/// Who a metered request is counted for. Shared (`Arc`): a cached API
/// key holds its own, so a metered request copies no id.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UsageCaller {
    pub organization_id: OrganizationId,
    pub api_key_id: ApiKeyId,
}

impl UsageCaller {
    pub fn new(organization_id: OrganizationId, api_key_id: ApiKeyId) -> Arc<Self> {
        Arc::new(Self {
            organization_id,
            api_key_id,
        })
    }
}

/// One metered request.
#[derive(Debug, Clone)]
pub struct UsageRecord {
    pub caller: Arc<UsageCaller>,
    /// Route template, e.g. `/api/v1/messages/{id}` (shared: one
    /// allocation per route for the process, see
    /// [`UsageRecorder::endpoint`]).
    pub endpoint: Arc<str>,
    pub method: Cow<'static, str>,
    pub status: u16,
    pub at: Timestamp,
    /// The published app a gateway request went to; `None` for everything
    /// else (API keys, modules), so their records carry no extra string.
    pub app_id: Option<Arc<str>>,
}

/// Requests to add to one row of `usage_hourly`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub organization_id: OrganizationId,
    pub api_key_id: ApiKeyId,
    /// `METHOD /template`.
    pub route: String,
    /// 2 for 2xx, 4 for 4xx …
    pub status_class: i64,
    /// The hour's start, or the organization's latest cut in that hour at
    /// or before the requests.
    pub bucket: Timestamp,
    pub requests: i64,
    /// The published app (gateway requests); `None`: stored as `''`.
    pub app_id: Option<Arc<str>>,
}

/// Where a request made at `at` is counted: its hour's start, or the
/// latest of `cuts` (the organization's) inside that hour at or before it.
pub fn bucket_of(at: Timestamp, cuts: &[Timestamp]) -> Timestamp {
    let hour = at.millis() - at.millis().rem_euclid(HOUR_MS);
    cuts.iter()
        .map(|cut| cut.millis())
        .filter(|&cut| cut >= hour && cut <= at.millis())
        .max()
        .map_or(Timestamp::from_millis(hour), Timestamp::from_millis)
}

/// The counters of `records`, each cut at its organization's `cuts`.
///
/// In two passes, because this runs for every metered request: first the
/// records are grouped by the shared values they point at (a key's cached
/// caller and a route's interned name are one `Arc` each, so a pointer is
/// hashed instead of their text), then the few groups are merged by value
/// (records of one key may still hold two copies, e.g. across a cache
/// refresh), so each counter row appears once in the upsert.
pub fn aggregate(
    records: &[UsageRecord],
    cuts: &HashMap<OrganizationId, Vec<Timestamp>>,
) -> Vec<Counter> {
    // Pass one: by the addresses of the shared caller, route and app.
    type Shared<'a> = (usize, usize, &'a str, i64, Timestamp, Option<usize>);
    let mut groups: foldhash::HashMap<Shared<'_>, (&UsageRecord, i64)> =
        foldhash::HashMap::default();
    for record in records {
        let org_cuts = if cuts.is_empty() {
            &[][..]
        } else {
            cuts.get(&record.caller.organization_id)
                .map_or(&[][..], Vec::as_slice)
        };
        let shared = (
            Arc::as_ptr(&record.caller) as usize,
            Arc::as_ptr(&record.endpoint) as *const u8 as usize,
            record.method.as_ref(),
            i64::from(record.status / 100),
            bucket_of(record.at, org_cuts),
            record
                .app_id
                .as_ref()
                .map(|app| Arc::as_ptr(app) as *const u8 as usize),
        );
        groups.entry(shared).or_insert((record, 0)).1 += 1;
    }
    // Pass two: by value. Borrowed from the records: a counter's route
    // text is written once, not once per record.
    type Row<'a> = (
        &'a OrganizationId,
        &'a ApiKeyId,
        &'a str,
        &'a str,
        i64,
        Timestamp,
        Option<&'a Arc<str>>,
    );
    let mut counts: foldhash::HashMap<Row<'_>, i64> = foldhash::HashMap::default();
    for ((_, _, method, status_class, bucket, _), (record, requests)) in groups {
        let row = (
            &record.caller.organization_id,
            &record.caller.api_key_id,
            method,
            &*record.endpoint,
            status_class,
            bucket,
            record.app_id.as_ref(),
        );
        *counts.entry(row).or_insert(0) += requests;
    }
    counts
        .into_iter()
        .map(
            |(
                (organization_id, api_key_id, method, endpoint, status_class, bucket, app_id),
                requests,
            )| {
                Counter {
                    organization_id: organization_id.clone(),
                    api_key_id: api_key_id.clone(),
                    route: format!("{method} {endpoint}"),
                    status_class,
                    bucket,
                    requests,
                    app_id: app_id.cloned(),
                }
            },
        )
        .collect()
}

/// What the writer tells the keys feature with each batch: when each key
/// was last used (keys owns `api_keys`; metering cannot depend on keys,
/// which depends on metering, so keys hands this in).
#[async_trait::async_trait]
pub trait KeysUsed: Send + Sync + 'static {
    /// Runs in the batch's transaction.
    async fn used(
        &self,
        conn: &mut AnyConnection,
        last_used: &[(ApiKeyId, Timestamp)],
    ) -> Result<(), sqlx::Error>;
}

/// Sends records to the writer. Cheap to clone.
#[derive(Clone)]
pub struct UsageRecorder {
    sender: mpsc::Sender<UsageRecord>,
    /// Wakes the writer before its tick once [`FLUSH_RECORDS`] are queued.
    /// The writer never waits on the queue itself: that would wake it (a
    /// task switch, often a thread wake-up) for every request.
    backlog: Arc<Notify>,
    /// The route templates seen so far, each allocated once.
    endpoints: Arc<RwLock<HashMap<Box<str>, Arc<str>>>>,
}

/// Route templates remembered at most: API routes are far fewer; past it
/// an endpoint is simply allocated per record.
const ENDPOINTS_REMEMBERED: usize = 1_000;

impl UsageRecorder {
    /// The shared name of the route template `template` (a matched route's
    /// path, e.g. `/api/v1/messages/{id}`): allocated the first time only,
    /// so a metered request copies no string for its route.
    pub fn endpoint(&self, template: &str) -> Arc<str> {
        let known = self.endpoints.read().unwrap_or_else(|e| e.into_inner());
        if let Some(endpoint) = known.get(template) {
            return endpoint.clone();
        }
        drop(known);
        let endpoint: Arc<str> = Arc::from(template);
        let mut known = self.endpoints.write().unwrap_or_else(|e| e.into_inner());
        if known.len() < ENDPOINTS_REMEMBERED {
            known.insert(Box::from(template), endpoint.clone());
        }
        endpoint
    }

    /// Queues one record: at once while the queue has room; when it is
    /// full (the database is behind) it waits for the writer, holding the
    /// request's answer back. Usage is delayed, never dropped, and the
    /// unwritten backlog stays bounded.
    pub async fn record(&self, record: UsageRecord) {
        let queued = match self.sender.try_send(record) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(record)) => {
                self.backlog.notify_one();
                self.sender.send(record).await.map_err(drop)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
        };
        if queued.is_err() {
            tracing::error!("usage writer has stopped: a usage record was not queued");
        } else if self.sender.max_capacity() - self.sender.capacity() >= FLUSH_RECORDS {
            self.backlog.notify_one();
        }
    }
}

/// `method`'s name for a usage record: the standard methods without an
/// allocation.
pub fn method_name(method: &axum::http::Method) -> Cow<'static, str> {
    use axum::http::Method;
    let name = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => return Cow::Owned(method.as_str().to_owned()),
    };
    Cow::Borrowed(name)
}

/// The background writer.
pub struct UsageWriter {
    db: Db,
    receiver: mpsc::Receiver<UsageRecord>,
    backlog: Arc<Notify>,
    interval: Duration,
    raw_log: bool,
    keys_used: Arc<dyn KeysUsed>,
    /// The connection the writer keeps between flushes: its statement
    /// cache holds the batch statements, prepared once. (The pool hands
    /// its idle connections out in turn, so a flush on whichever was next
    /// prepared them again on each of them: on SQLite, parsing a
    /// statement of thousands of placeholders.) Dropped after a failed
    /// write; the next flush takes another.
    conn: Option<PoolConnection<Any>>,
}

/// A recorder and the writer that drains it every `interval`, writing the
/// raw log too when `raw_log`, and telling `keys_used` when keys were last
/// used.
pub fn channel(
    db: Db,
    interval: Duration,
    raw_log: bool,
    keys_used: impl KeysUsed,
) -> (UsageRecorder, UsageWriter) {
    let (recorder, receiver) = queue(QUEUE_RECORDS);
    let backlog = recorder.backlog.clone();
    (
        recorder,
        UsageWriter {
            db,
            receiver,
            backlog,
            interval,
            raw_log,
            keys_used: Arc::new(keys_used),
            conn: None,
        },
    )
}

/// A recorder and the receiving end of its queue of `capacity` records.
fn queue(capacity: usize) -> (UsageRecorder, mpsc::Receiver<UsageRecord>) {
    let (sender, receiver) = mpsc::channel(capacity);
    let backlog = Arc::new(Notify::new());
    let endpoints = Arc::default();
    (
        UsageRecorder {
            sender,
            backlog,
            endpoints,
        },
        receiver,
    )
}

impl UsageWriter {
    /// Writes batches until `stop` is cancelled, then writes what is left.
    pub async fn run(mut self, stop: CancellationToken) {
        let mut pending: Vec<UsageRecord> = Vec::new();
        // A fixed clock: a slow flush does not push the next one back.
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            let stopping = tokio::select! {
                biased;
                _ = stop.cancelled() => true,
                _ = tick.tick() => false,
                _ = self.backlog.notified() => false,
            };
            self.take_queued(&mut pending, stopping);
            self.flush(&mut pending, stopping).await;
            if stopping {
                break;
            }
        }
        tracing::info!("usage writer stopped with every record written");
    }

    /// Moves queued records into `pending`: up to [`FLUSH_RECORDS`] held
    /// there (a failed write keeps its records, and the queue then fills
    /// and pushes back instead of `pending` growing), or all when stopping.
    fn take_queued(&mut self, pending: &mut Vec<UsageRecord>, stopping: bool) {
        while stopping || pending.len() < FLUSH_RECORDS {
            match self.receiver.try_recv() {
                Ok(record) => pending.push(record),
                Err(_) => break,
            }
        }
    }

    /// Writes `pending`; on failure keeps the records and retries (until
    /// written, or once more only when stopping).
    async fn flush(&mut self, pending: &mut Vec<UsageRecord>, stopping: bool) {
        let mut attempt = 0u32;
        while !pending.is_empty() {
            let take = pending.len().min(RECORDS_PER_TRANSACTION);
            let started = std::time::Instant::now();
            let written = self.write(&pending[..take]).await;
            if started.elapsed() > self.interval {
                tracing::warn!(
                    records = take,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "writing usage took longer than the flush interval: a crash may lose more"
                );
            }
            match written {
                Ok(()) => {
                    pending.drain(..take);
                    attempt = 0;
                }
                Err(error) => {
                    attempt += 1;
                    tracing::warn!(%error, records = pending.len(), attempt, "cannot write usage; will retry");
                    if stopping && attempt >= 20 {
                        tracing::error!(
                            records = pending.len(),
                            "giving up writing usage at shutdown"
                        );
                        return;
                    }
                    if !stopping {
                        return; // next tick retries, with new records appended
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }
}

impl UsageWriter {
    /// Writes `records` on the writer's own connection (taken from the
    /// pool the first time, and again after a failure).
    async fn write(&mut self, records: &[UsageRecord]) -> Result<(), sqlx::Error> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(self.db.pool().acquire().await?),
        };
        let written = write_batch_on(
            &self.db,
            conn,
            records,
            self.raw_log,
            self.keys_used.as_ref(),
        )
        .await;
        if written.is_err() {
            // The connection may be what failed: not kept.
            self.conn = None;
        }
        written
    }
}

/// Adds one batch to the counters, inserts its raw rows when `raw_log`,
/// and moves each key's `last_used_at`, in one transaction on a
/// connection of the pool.
pub async fn write_batch(
    db: &Db,
    records: &[UsageRecord],
    raw_log: bool,
    keys_used: &dyn KeysUsed,
) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let mut conn = db.pool().acquire().await?;
    write_batch_on(db, &mut conn, records, raw_log, keys_used).await
}

/// [`write_batch`] on `conn`.
async fn write_batch_on(
    db: &Db,
    conn: &mut AnyConnection,
    records: &[UsageRecord],
    raw_log: bool,
    keys_used: &dyn KeysUsed,
) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    // By the cached caller's address first (no id hashed per record),
    // then by key.
    let mut latest: foldhash::HashMap<usize, (&ApiKeyId, Timestamp)> = foldhash::HashMap::default();
    for record in records {
        let entry = latest
            .entry(Arc::as_ptr(&record.caller) as usize)
            .or_insert((&record.caller.api_key_id, record.at));
        entry.1 = entry.1.max(record.at);
    }
    let mut last_used: HashMap<&ApiKeyId, Timestamp> = HashMap::new();
    for (key, at) in latest.into_values() {
        let entry = last_used.entry(key).or_insert(at);
        *entry = (*entry).max(at);
    }
    let last_used: Vec<(ApiKeyId, Timestamp)> = last_used
        .into_iter()
        .map(|(key, at)| (key.clone(), at))
        .collect();
    let mut tx = db.begin_on(conn).await?;
    // Writes first: on SQLite the transaction then holds the write lock
    // while it reads the cuts, so no plan change slips in between.
    keys_used.used(&mut tx, &last_used).await?;
    if raw_log {
        for chunk in statement_chunks(records) {
            store::insert_batch(&mut tx, chunk).await?;
        }
        for chunk in statement_chunks(&per_minute(records)) {
            store::add_to_minutes(&mut tx, chunk).await?;
        }
    }
    let cuts = cuts_of(&mut tx, records).await?;
    for chunk in statement_chunks(&aggregate(records, &cuts)) {
        store::add_to_counters(&mut tx, chunk).await?;
    }
    tx.commit().await
}

/// `records` counted per minute and status class.
fn per_minute(records: &[UsageRecord]) -> Vec<store::MinuteCount> {
    let mut counts: foldhash::HashMap<(i64, i64), i64> = foldhash::HashMap::default();
    for record in records {
        let at = record.at.millis();
        let minute = at - at.rem_euclid(store::MINUTE_MS);
        *counts
            .entry((minute, i64::from(record.status / 100)))
            .or_insert(0) += 1;
    }
    let mut counts: Vec<store::MinuteCount> = counts
        .into_iter()
        .map(|((minute, status_class), requests)| store::MinuteCount {
            minute: Timestamp::from_millis(minute),
            status_class,
            requests,
        })
        .collect();
    // A fixed order: two instances upserting the same minutes take their
    // rows' locks in the same order (no deadlock on PostgreSQL).
    counts.sort_by_key(|count| (count.minute, count.status_class));
    counts
}

/// `rows` cut for multi-row statements: [`BATCH_ROWS`] at a time, then the
/// rest in powers of two (256, 128 … 1). A batch's size depends on the
/// traffic, and a statement's text on its row count: with these sizes the
/// writer only ever runs ten texts per statement, which stay prepared in
/// the connection's statement cache, instead of preparing a new text of a
/// few thousand placeholders (milliseconds of parsing) for most flushes.
fn statement_chunks<T>(rows: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = if rest.len() >= BATCH_ROWS {
            BATCH_ROWS
        } else {
            // The largest power of two not above what is left.
            1 << rest.len().ilog2()
        };
        let (chunk, after) = rest.split_at(size);
        rest = after;
        Some(chunk)
    })
}

/// The cuts inside the hours `records` fall in, per organization.
async fn cuts_of(
    conn: &mut AnyConnection,
    records: &[UsageRecord],
) -> Result<HashMap<OrganizationId, Vec<Timestamp>>, sqlx::Error> {
    let earliest = records.iter().map(|r| r.at.millis()).min().unwrap_or(0);
    let latest = records.iter().map(|r| r.at.millis()).max().unwrap_or(0);
    let from = Timestamp::from_millis(earliest - earliest.rem_euclid(HOUR_MS));
    let mut cuts: HashMap<OrganizationId, Vec<Timestamp>> = HashMap::new();
    for (organization_id, at) in
        store::cuts_between(conn, from, Timestamp::from_millis(latest)).await?
    {
        cuts.entry(organization_id).or_default().push(at);
    }
    Ok(cuts)
}

/// Metered requests of an organization since `since` (an hour boundary).
pub async fn count_since(
    db: &Db,
    organization_id: &OrganizationId,
    since: Timestamp,
) -> Result<i64, sqlx::Error> {
    store::count_since(db.pool(), organization_id, since).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_10: i64 = 1_793_527_200_000; // 2026-11-01T10:00:00Z

    fn record(org: &OrganizationId, key: &ApiKeyId, status: u16, at: i64) -> UsageRecord {
        UsageRecord {
            caller: UsageCaller::new(org.clone(), key.clone()),
            endpoint: "/api/v1/messages/{id}".into(),
            method: "GET".into(),
            status,
            at: Timestamp::from_millis(at),
            app_id: None,
        }
    }

    #[test]
    fn statements_take_full_batches_then_powers_of_two() {
        let sizes = |n: usize| {
            statement_chunks(&vec![0u8; n])
                .map(<[u8]>::len)
                .collect::<Vec<_>>()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), vec![1]);
        assert_eq!(sizes(BATCH_ROWS), vec![BATCH_ROWS]);
        assert_eq!(sizes(1_203), vec![BATCH_ROWS, BATCH_ROWS, 128, 64, 8, 2, 1]);
        // Every row once, in order, and never more than ten sizes.
        let rows: Vec<usize> = (0..4_999).collect();
        let again: Vec<usize> = statement_chunks(&rows).flatten().copied().collect();
        assert_eq!(again, rows);
        let mut seen: Vec<usize> = (1..2_000).flat_map(sizes).collect();
        seen.sort_unstable();
        seen.dedup();
        assert!(seen.len() <= 10, "{seen:?}");
    }

    #[test]
    fn a_request_is_counted_in_its_hour_or_after_the_latest_cut_before_it() {
        let cut = Timestamp::from_millis(HOUR_10 + 37 * 60_000);
        let cuts = [cut, Timestamp::from_millis(HOUR_10 - 1)];
        let bucket = |at| bucket_of(Timestamp::from_millis(at), &cuts).millis();
        assert_eq!(bucket(HOUR_10), HOUR_10);
        assert_eq!(bucket(cut.millis() - 1), HOUR_10);
        assert_eq!(bucket(cut.millis()), cut.millis());
        assert_eq!(bucket(HOUR_10 + HOUR_MS - 1), cut.millis());
        assert_eq!(bucket(HOUR_10 + HOUR_MS), HOUR_10 + HOUR_MS);
        assert_eq!(
            bucket(HOUR_10 - 1),
            HOUR_10 - 1,
            "a cut at the request's instant"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_queue_holds_the_request_until_the_writer_takes_records() {
        let (recorder, mut receiver) = queue(3);
        let (org, key) = (OrganizationId::generate(), ApiKeyId::generate());
        for n in 0..3 {
            recorder.record(record(&org, &key, 200, HOUR_10 + n)).await;
        }
        let waiting = recorder.record(record(&org, &key, 200, HOUR_10 + 3));
        tokio::pin!(waiting);
        assert!(
            tokio::time::timeout(Duration::from_secs(60), &mut waiting)
                .await
                .is_err(),
            "a fourth record waits while the queue is full"
        );
        let first = receiver.recv().await.map(|r| r.at.millis());
        assert_eq!(first, Some(HOUR_10));
        waiting.await;
        let mut rest = Vec::new();
        receiver.recv_many(&mut rest, 10).await;
        let times: Vec<i64> = rest.iter().map(|r| r.at.millis() - HOUR_10).collect();
        assert_eq!(times, vec![1, 2, 3], "nothing dropped, in order");
    }

    #[test]
    fn a_batch_becomes_one_counter_per_row() {
        let org = OrganizationId::generate();
        let key = ApiKeyId::generate();
        let cut = Timestamp::from_millis(HOUR_10 + 30 * 60_000);
        let records = vec![
            record(&org, &key, 200, HOUR_10 + 1),
            record(&org, &key, 201, HOUR_10 + 2),
            record(&org, &key, 404, HOUR_10 + 3),
            record(&org, &key, 200, cut.millis() + 5),
        ];
        let cuts = HashMap::from([(org.clone(), vec![cut])]);
        let mut counters = aggregate(&records, &cuts);
        counters.sort_by_key(|c| (c.bucket, c.status_class));
        let rows: Vec<(i64, i64, i64)> = counters
            .iter()
            .map(|c| (c.bucket.millis(), c.status_class, c.requests))
            .collect();
        assert_eq!(
            rows,
            vec![(HOUR_10, 2, 2), (HOUR_10, 4, 1), (cut.millis(), 2, 1)]
        );
        assert!(counters
            .iter()
            .all(|c| c.route == "GET /api/v1/messages/{id}"));
    }

    #[test]
    fn records_sharing_a_caller_or_holding_copies_of_it_make_one_counter() {
        let org = OrganizationId::generate();
        let key = ApiKeyId::generate();
        let other_key = ApiKeyId::generate();
        let shared = record(&org, &key, 200, HOUR_10 + 1);
        let mut records = vec![shared.clone(); 3];
        // Copies of the same caller and route in other allocations.
        records.push(record(&org, &key, 200, HOUR_10 + 2));
        records.push(record(&org, &key, 200, HOUR_10 + 3));
        // Same caller and route, another method, class or app.
        let mut posted = shared.clone();
        posted.method = "POST".into();
        records.push(posted);
        records.push(record(&org, &key, 503, HOUR_10 + 4));
        let mut via_app = shared.clone();
        via_app.app_id = Some("app_1".into());
        records.push(via_app);
        records.push(record(&org, &other_key, 200, HOUR_10 + 5));

        let counters = aggregate(&records, &HashMap::new());
        let mut rows: Vec<(&str, &str, i64, Option<&str>, i64)> = counters
            .iter()
            .map(|c| {
                let which = if c.api_key_id == key { "key" } else { "other" };
                (
                    which,
                    c.route.as_str(),
                    c.status_class,
                    c.app_id.as_deref(),
                    c.requests,
                )
            })
            .collect();
        rows.sort();
        let mut expected = vec![
            ("key", "GET /api/v1/messages/{id}", 2, None, 5),
            ("key", "GET /api/v1/messages/{id}", 2, Some("app_1"), 1),
            ("key", "GET /api/v1/messages/{id}", 5, None, 1),
            ("key", "POST /api/v1/messages/{id}", 2, None, 1),
            ("other", "GET /api/v1/messages/{id}", 2, None, 1),
        ];
        expected.sort();
        assert_eq!(rows, expected);
        assert_eq!(
            counters.iter().map(|c| c.requests).sum::<i64>(),
            records.len() as i64
        );
    }
}
