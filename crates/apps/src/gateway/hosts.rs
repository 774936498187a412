//! Which host is which app: the request's host, normalised (lower case,
//! port and trailing dot gone), is the platform's own, `{slug}.{apps
//! domain}`, a verified custom domain, or no one's.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::Request;
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

/// The request's host: the `Host` header (HTTP/1.1) or the URI's
/// authority (HTTP/2), lower case, without port or trailing dot.
pub fn host_of(request: &Request) -> Option<String> {
    let raw = request
        .headers()
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().host())?;
    Some(normalise(raw))
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

impl Hosts {
    pub fn new(apps: &AppsState, _redis: Option<redis::Client>) -> anyhow::Result<Self> {
        let platform_host = Url::parse(&apps.config.public_url)
            .ok()
            .and_then(|url| url.host_str().map(normalise))
            .unwrap_or_default();
        Ok(Self {
            platform_host,
            apps_suffix: format!(".{}", apps.settings().domain),
        })
    }

    /// Whether `host` is the platform's: `public_url`'s host, `localhost`
    /// or an IP literal (so local use never breaks).
    fn is_platform(&self, host: &str) -> bool {
        host == self.platform_host || host == "localhost" || host.parse::<IpAddr>().is_ok()
    }

    /// Where a request for `host` (see [`host_of`]) goes.
    pub async fn destination(&self, apps: &AppsState, host: Option<String>) -> Destination {
        let Some(host) = host else {
            return Destination::Platform;
        };
        if self.is_platform(&host) {
            return Destination::Platform;
        }
        let Some(slug) = host.strip_suffix(&self.apps_suffix) else {
            return Destination::Misdirected;
        };
        if slug.contains('.') {
            return Destination::NoSuchApp;
        }
        match self.lookup_slug(apps, slug).await {
            Ok(Some(route)) => Destination::App(route),
            Ok(None) => Destination::NoSuchApp,
            Err(error) => {
                tracing::error!(%error, "an app's host could not be looked up");
                Destination::Unavailable
            }
        }
    }

    /// The published or suspended app with `slug`.
    async fn lookup_slug(
        &self,
        apps: &AppsState,
        slug: &str,
    ) -> Result<Option<Arc<AppRoute>>, sqlx::Error> {
        let Some(app) = store::gateway::app_by_slug(apps.db.pool(), slug).await? else {
            return Ok(None);
        };
        if !matches!(app.status, AppStatus::Published | AppStatus::Suspended) {
            return Ok(None);
        }
        let plan =
            landlord_identity::store::organization_by_id(apps.db.pool(), &app.organization_id)
                .await?
                .map(|organization| organization.plan)
                .unwrap_or_default();
        let signing = super::signature::route_secrets(apps, &app.id).await?;
        Ok(Some(Arc::new(AppRoute {
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

    /// Hears routing changes until `stop` (other instances' too).
    pub async fn watch(&self, _apps: &AppsState, stop: CancellationToken) {
        stop.cancelled().await;
    }
}

/// Tells every instance that what some host routes to changed (an app's
/// slug, status, upstream or gateway secret; a custom domain's state).
/// Called after the change's transaction committed.
pub async fn routing_changed(state: &AppsState) {
    if let Err(error) = store::gateway::bump_routing_version(state.db.pool()).await {
        tracing::warn!(%error, "the routing version could not be moved");
    }
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(
            normalise("Notes.Apps.Localhost:8080"),
            "notes.apps.localhost"
        );
        assert_eq!(normalise("notes.apps.localhost."), "notes.apps.localhost");
        assert_eq!(normalise("[::1]:8080"), "::1");
        assert_eq!(normalise("127.0.0.1:80"), "127.0.0.1");
    }
}
