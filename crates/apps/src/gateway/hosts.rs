//! Which host is which app: the request's host, normalised (lower case,
//! port and trailing dot gone), is the platform's own, `{slug}.{apps
//! domain}`, a verified custom domain, or no one's.

use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::Request;
use futures::StreamExt;
use landlord_core::ids::OrganizationId;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::ids::AppId;
use crate::store::{self, AppStatus};
use crate::AppsState;

/// What a host routes to.
pub enum Destination {
    /// The console and the API.
    Platform,
    /// A published (or suspended) app.
    App(Arc<AppRoute>),
    /// Under the apps domain, but no published app has that name: 404.
    NoSuchApp,
    /// Neither the platform's host nor an app's: 421.
    Misdirected,
    /// The database could not be asked: 503.
    Unavailable,
}

/// What the gateway needs of an app to serve its host, kept in memory.
#[derive(Debug, Clone)]
pub struct AppRoute {
    pub app_id: AppId,
    pub slug: String,
    pub name: String,
    pub status: AppStatus,
    /// The publishing organization, and its plan's name.
    pub organization_id: OrganizationId,
    pub organization_plan: String,
    /// `None`: the app has not said where its server is (502).
    pub upstream: Option<Url>,
    /// The gateway's signing secrets, opened.
    pub signing: super::signature::SigningSecrets,
}

/// The host-to-app lookups.
pub struct Hosts {
    /// The platform's own host (`public_url`'s), normalised.
    platform_host: String,
    /// `.{apps domain}`, with the leading dot.
    apps_suffix: String,
}

/// Why a host routes nowhere, remembered so that asking again costs no
/// query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Miss {
    /// Under the apps domain, no published app of that name: 404.
    NoSuchApp,
    /// A custom domain no app holds verified: 421.
    Misdirected,
}

/// The in-memory routing cache every instance keeps, shared by the gateway
/// (which reads it) and the registry (which empties it after a change).
///
/// Keys are an app's slug for `{slug}.{apps domain}` and the whole host for
/// a custom domain; the two never collide, since a slug has no dot and a
/// custom domain always has one. Found apps and misses live in two
/// separately bounded caches, so a flood of unknown names cannot push real
/// apps out.
pub struct RoutingCache {
    found: moka::sync::Cache<String, Arc<AppRoute>>,
    missing: moka::sync::Cache<String, Miss>,
    /// Moves on every clear: a lookup that started before a clear does not
    /// leave its (possibly stale) answer behind.
    epoch: AtomicU64,
    /// Set when `redis_url` is configured: changes are published to every
    /// instance.
    redis: OnceLock<redis::Client>,
    publisher: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
    /// Tells this instance's own messages from the others'.
    instance: String,
}

/// The Redis channel routing changes are published on.
pub const CHANNEL: &str = "landlord:apps:routing";

/// How long an entry may live without a change being heard: a backstop for
/// what no routing change announces (an organization's plan).
const ENTRY_TTL: Duration = Duration::from_secs(300);

impl RoutingCache {
    /// A cache of `found` apps and `missing` names at most.
    pub fn new(found: u64, missing: u64) -> Self {
        Self {
            found: moka::sync::Cache::builder()
                .max_capacity(found)
                .time_to_live(ENTRY_TTL)
                .build(),
            missing: moka::sync::Cache::builder()
                .max_capacity(missing)
                .time_to_live(ENTRY_TTL)
                .build(),
            epoch: AtomicU64::new(0),
            redis: OnceLock::new(),
            publisher: tokio::sync::Mutex::new(None),
            instance: uuid::Uuid::new_v4().simple().to_string(),
        }
    }

    /// Publishes routing changes on `client` from now on (once).
    pub fn use_redis(&self, client: redis::Client) {
        let _ = self.redis.set(client);
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
        self.found.invalidate_all();
        self.missing.invalidate_all();
    }

    fn get(&self, key: &str) -> Option<Result<Arc<AppRoute>, Miss>> {
        if let Some(route) = self.found.get(key) {
            return Some(Ok(route));
        }
        self.missing.get(key).map(Err)
    }

    /// Keeps `answer` for `key`, unless the cache was cleared since
    /// `epoch` (the lookup may have read what was just changed).
    fn keep(&self, key: &str, epoch: u64, answer: &Result<Arc<AppRoute>, Miss>) {
        if self.epoch.load(Ordering::SeqCst) != epoch {
            return;
        }
        match answer {
            Ok(route) => self.found.insert(key.to_owned(), route.clone()),
            Err(miss) => self.missing.insert(key.to_owned(), *miss),
        }
        // A clear between the check and the insert: undo.
        if self.epoch.load(Ordering::SeqCst) != epoch {
            self.found.invalidate(key);
            self.missing.invalidate(key);
        }
    }

    /// Tells the other instances (through Redis, when configured).
    async fn publish(&self) {
        let Some(client) = self.redis.get() else {
            return;
        };
        let mut publisher = self.publisher.lock().await;
        if publisher.is_none() {
            match client.get_multiplexed_async_connection().await {
                Ok(connection) => *publisher = Some(connection),
                Err(error) => {
                    tracing::warn!(%error, "routing: cannot reach Redis to tell other instances");
                    return;
                }
            }
        }
        if let Some(connection) = publisher.as_mut() {
            let mut command = redis::cmd("PUBLISH");
            command.arg(CHANNEL).arg(&self.instance);
            let publish = command.query_async(connection);
            let sent: Result<i64, _> =
                landlord_core::telemetry::traced_call("redis", "PUBLISH", publish, Result::is_err)
                    .await;
            if let Err(error) = sent {
                tracing::warn!(%error, "routing: publishing on Redis failed");
                *publisher = None;
            }
        }
    }
}

/// The request's host: the `Host` header (HTTP/1.1) or the URI's
/// authority (HTTP/2), lower case, without port or trailing dot.
pub fn host_of(request: &Request) -> Option<String> {
    let raw = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().host())?;
    let host = normalise(raw);
    (!host.is_empty()).then_some(host)
}

/// `Notes.Apps.Localhost:8080.` → `notes.apps.localhost`; `[::1]:80` →
/// `::1`.
pub fn normalise(raw: &str) -> String {
    let raw = raw.trim();
    let host = if let Some(rest) = raw.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else if raw.matches(':').count() == 1 {
        raw.split(':').next().unwrap_or_default()
    } else {
        raw
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// Whether `host` could be a domain name at all (letters, digits, `-`
/// and dots, at most 253 characters): anything else is no one's, without
/// a query.
fn is_domain_name(host: &str) -> bool {
    host.len() <= 253
        && host
            .split('.')
            .all(|label| (1..=63).contains(&label.len()) && label.bytes().all(is_label_byte))
}

fn is_label_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
}

/// Where a normalised host points before any lookup.
#[derive(Debug, PartialEq, Eq)]
enum Shape<'a> {
    Platform,
    /// `{slug}.{apps domain}` with a slug of the right shape.
    Slug(&'a str),
    /// Under the apps domain, but no slug could be there (404, no query).
    NotASlug,
    /// Maybe a verified custom domain.
    Custom(&'a str),
    /// No one's (421, no query).
    Nowhere,
}

impl Hosts {
    pub fn new(apps: &AppsState, redis: Option<redis::Client>) -> anyhow::Result<Self> {
        let platform_host = Url::parse(&apps.config.public_url)
            .ok()
            .and_then(|url| url.host_str().map(normalise))
            .unwrap_or_default();
        if let Some(client) = redis {
            apps.routing.use_redis(client);
        }
        Ok(Self::with(platform_host, &apps.settings().domain))
    }

    fn with(platform_host: String, apps_domain: &str) -> Self {
        Self {
            platform_host: platform_host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .into(),
            apps_suffix: format!(".{apps_domain}"),
        }
    }

    /// Whether `host` is the platform's: `public_url`'s host, `localhost`
    /// or an IP literal (so local use never breaks).
    fn is_platform(&self, host: &str) -> bool {
        host == self.platform_host || host == "localhost" || host.parse::<IpAddr>().is_ok()
    }

    fn shape<'h>(&self, host: &'h str) -> Shape<'h> {
        if self.is_platform(host) {
            return Shape::Platform;
        }
        if let Some(slug) = host.strip_suffix(&self.apps_suffix) {
            return if crate::slug::check_shape(slug).is_ok() {
                Shape::Slug(slug)
            } else {
                Shape::NotASlug
            };
        }
        if host == &self.apps_suffix[1..] {
            return Shape::NotASlug;
        }
        // A custom domain has a dot; a bare name (`intranet`) is no one's.
        if host.contains('.') && is_domain_name(host) {
            Shape::Custom(host)
        } else {
            Shape::Nowhere
        }
    }

    /// Whether a request for `host` (see [`host_of`]) is the platform's,
    /// decided without a lookup: no host, `public_url`'s, `localhost` or
    /// an IP literal.
    pub fn is_platform_request(&self, host: Option<&str>) -> bool {
        host.is_none_or(|host| self.shape(host) == Shape::Platform)
    }

    /// Where a request for `host` (see [`host_of`]) goes. A cached answer
    /// costs no query.
    pub async fn destination(&self, apps: &AppsState, host: Option<String>) -> Destination {
        let Some(host) = host else {
            return Destination::Platform;
        };
        let key = match self.shape(&host) {
            Shape::Platform => return Destination::Platform,
            Shape::NotASlug => return Destination::NoSuchApp,
            Shape::Nowhere => return Destination::Misdirected,
            Shape::Slug(key) | Shape::Custom(key) => key,
        };
        let answer = match apps.routing.get(key) {
            Some(answer) => answer,
            None => {
                let epoch = apps.routing.epoch.load(Ordering::SeqCst);
                let looked_up = if key.contains('.') {
                    lookup(apps, Key::Domain(key)).await
                } else {
                    lookup(apps, Key::Slug(key)).await
                };
                match looked_up {
                    Ok(answer) => {
                        apps.routing.keep(key, epoch, &answer);
                        answer
                    }
                    Err(error) => {
                        tracing::error!(%error, "an app's host could not be looked up");
                        return Destination::Unavailable;
                    }
                }
            }
        };
        match answer {
            Ok(route) => Destination::App(route),
            Err(Miss::NoSuchApp) => Destination::NoSuchApp,
            Err(Miss::Misdirected) => Destination::Misdirected,
        }
    }

    /// Hears routing changes until `stop`: other instances' through Redis
    /// (when configured) and, always, the routing version polled every
    /// `apps.routing_poll_ms` — either empties this instance's cache.
    pub async fn watch(&self, apps: &AppsState, stop: CancellationToken) {
        tokio::join!(listen(apps, stop.clone()), poll(apps, stop));
    }
}

enum Key<'a> {
    Slug(&'a str),
    Domain(&'a str),
}

/// The published or suspended app `key` names, or why there is none.
async fn lookup(
    apps: &AppsState,
    key: Key<'_>,
) -> Result<Result<Arc<AppRoute>, Miss>, sqlx::Error> {
    let (app, miss) = match key {
        Key::Slug(slug) => (
            store::gateway::app_by_slug(apps.db.pool(), slug).await?,
            Miss::NoSuchApp,
        ),
        Key::Domain(domain) => (
            store::gateway::app_by_verified_domain(apps.db.pool(), domain).await?,
            Miss::Misdirected,
        ),
    };
    let Some(app) = app else {
        return Ok(Err(miss));
    };
    if !matches!(app.status, AppStatus::Published | AppStatus::Suspended) {
        // A custom domain of an app not (yet) published is still the
        // app's, so it is a 404 rather than a stranger's host.
        return Ok(Err(Miss::NoSuchApp));
    }
    let plan = landlord_identity::store::organization_by_id(apps.db.pool(), &app.organization_id)
        .await?
        .map(|organization| organization.plan)
        .unwrap_or_default();
    let signing = super::signature::route_secrets(apps, &app.id).await?;
    Ok(Ok(Arc::new(AppRoute {
        signing,
        upstream: app.upstream_url.as_deref().and_then(|u| Url::parse(u).ok()),
        app_id: app.id,
        slug: app.slug,
        name: app.name,
        status: app.status,
        organization_id: app.organization_id,
        organization_plan: plan,
    })))
}

/// With Redis: empties the cache on every other instance's message,
/// reconnecting after a failure, until `stop`.
async fn listen(apps: &AppsState, stop: CancellationToken) {
    let Some(client) = apps.routing.redis.get().cloned() else {
        return;
    };
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => {
                if let Err(error) = pubsub.subscribe(CHANNEL).await {
                    tracing::warn!(%error, "routing: cannot subscribe on Redis");
                } else {
                    // Changes made while not subscribed are missed: start
                    // afresh.
                    apps.routing.clear();
                    let mut messages = pubsub.on_message();
                    loop {
                        tokio::select! {
                            _ = stop.cancelled() => return,
                            message = messages.next() => match message {
                                Some(message) => {
                                    let from: String = message.get_payload().unwrap_or_default();
                                    if from != apps.routing.instance {
                                        apps.routing.clear();
                                    }
                                }
                                None => break,
                            },
                        }
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "routing: cannot reach Redis"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Every `apps.routing_poll_ms`: empties the cache when the routing
/// version moved since the last look, until `stop`.
async fn poll(apps: &AppsState, stop: CancellationToken) {
    let every = Duration::from_millis(apps.settings().routing_poll_ms.max(10));
    let mut seen: Option<i64> = None;
    loop {
        match store::gateway::routing_version(apps.db.pool()).await {
            Ok(version) => {
                if seen.is_some_and(|seen| seen != version) {
                    apps.routing.clear();
                }
                seen = Some(version);
            }
            Err(error) => tracing::warn!(%error, "routing: the routing version could not be read"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// Tells every instance that what some host routes to changed (an app's
/// slug, name, status or upstream; a custom domain's state). Called after
/// the change's transaction committed: moves the routing version (which
/// the other instances poll), empties this instance's cache and, with
/// Redis, tells the others at once.
pub async fn routing_changed(state: &AppsState) {
    if let Err(error) = store::gateway::bump_routing_version(state.db.pool()).await {
        tracing::warn!(%error, "the routing version could not be moved");
    }
    state.routing.clear();
    state.routing.publish().await;
}

#[cfg(test)]
mod tests {
    use super::{is_domain_name, normalise, Hosts, Miss, RoutingCache, Shape};
    use std::sync::atomic::Ordering;

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(
            normalise("Notes.Apps.Localhost:8080"),
            "notes.apps.localhost"
        );
        assert_eq!(normalise("notes.apps.localhost."), "notes.apps.localhost");
        assert_eq!(
            normalise("NOTES.APPS.LOCALHOST.:443"),
            "notes.apps.localhost"
        );
        assert_eq!(
            normalise("  notes.apps.localhost  "),
            "notes.apps.localhost"
        );
        assert_eq!(normalise("[::1]:8080"), "::1");
        assert_eq!(normalise("[::1]"), "::1");
        assert_eq!(normalise("::1"), "::1");
        assert_eq!(normalise("127.0.0.1:80"), "127.0.0.1");
        assert_eq!(normalise(""), "");
    }

    fn hosts() -> Hosts {
        Hosts::with("landlord.example.com".into(), "apps.example.com")
    }

    #[test]
    fn the_platform_s_hosts_are_its_own_loopback_names_and_ip_literals() {
        let hosts = hosts();
        for host in [
            "landlord.example.com",
            "localhost",
            "127.0.0.1",
            "10.1.2.3",
            "::1",
            "2001:db8::1",
        ] {
            assert_eq!(hosts.shape(host), Shape::Platform, "{host}");
        }
        // A bracketed IPv6 public URL is compared without its brackets.
        let v6 = Hosts::with("[2001:db8::2]".into(), "apps.localhost");
        assert_eq!(v6.shape("2001:db8::2"), Shape::Platform);
    }

    #[test]
    fn an_app_s_host_is_its_slug_under_the_apps_domain() {
        let hosts = hosts();
        assert_eq!(hosts.shape("notes.apps.example.com"), Shape::Slug("notes"));
        assert_eq!(
            hosts.shape("my-app-2.apps.example.com"),
            Shape::Slug("my-app-2")
        );
        // Not a slug's shape, deeper names, the apps domain itself: 404
        // without a query.
        for host in [
            "a.apps.example.com",
            "a.b.apps.example.com",
            "-x-.apps.example.com",
            "xn--bcher-kva.apps.example.com",
            "apps.example.com",
        ] {
            assert_eq!(hosts.shape(host), Shape::NotASlug, "{host}");
        }
    }

    #[test]
    fn other_names_may_be_custom_domains_and_junk_is_no_one_s() {
        let hosts = hosts();
        assert_eq!(
            hosts.shape("evil.example.com"),
            Shape::Custom("evil.example.com")
        );
        assert_eq!(
            hosts.shape("docs.customer.io"),
            Shape::Custom("docs.customer.io")
        );
        // The platform's host with a prefix is someone else's.
        assert_eq!(
            hosts.shape("x.landlord.example.com"),
            Shape::Custom("x.landlord.example.com")
        );
        for host in ["intranet", "a..b", "exa mple.com", "a/b.com", "ünï.com"] {
            assert_eq!(hosts.shape(host), Shape::Nowhere, "{host}");
        }
        assert!(!is_domain_name(&format!("{}.com", "a".repeat(64))));
        assert!(is_domain_name(&format!("{}.com", "a".repeat(63))));
    }

    #[test]
    fn a_lookup_that_started_before_a_clear_leaves_nothing_behind() {
        let cache = RoutingCache::new(10, 10);
        let epoch = cache.epoch.load(Ordering::SeqCst);
        cache.keep("notes", epoch, &Err(Miss::NoSuchApp));
        assert_eq!(
            cache.get("notes").map(|a| a.err()),
            Some(Some(Miss::NoSuchApp))
        );

        // A change lands while the next lookup is at the database.
        let epoch = cache.epoch.load(Ordering::SeqCst);
        cache.clear();
        assert!(cache.get("notes").is_none());
        cache.keep("docs.example.com", epoch, &Err(Miss::Misdirected));
        assert!(cache.get("docs.example.com").is_none());
    }
}
