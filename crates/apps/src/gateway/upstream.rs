//! Where an app's upstream may be: the outgoing webhooks' address rules
//! (no private, loopback, link-local or reserved address, no well-known
//! service port) unless `apps.allow_private_upstreams` is on. Checked when
//! the address is saved, and again at every connection (the gateway's
//! client resolves names through the webhooks' guarded resolver).

use landlord_webhooks::address::{self, UrlRefusal};
use landlord_webhooks::config::WebhooksConfig;
use url::Url;

use crate::config::AppsConfig;

/// The webhooks' rules, set as the apps' settings say: http allowed (the
/// gateway speaks TLS to visitors; an upstream behind it often does not).
pub fn rules(settings: &AppsConfig) -> WebhooksConfig {
    WebhooksConfig {
        allow_http: true,
        allow_private_addresses: settings.allow_private_upstreams,
        ..WebhooksConfig::default()
    }
}

/// Why an upstream address is refused, in the words of a 422 on
/// `upstream_url`.
pub fn refusal_message(refusal: &UrlRefusal) -> String {
    match refusal {
        UrlRefusal::NotHttps | UrlRefusal::Scheme => "must use http or https".into(),
        UrlRefusal::PrivateAddress => "resolves to a private, loopback, link-local or reserved \
             address (apps.allow_private_upstreams allows it)"
            .into(),
        UrlRefusal::Port => "must use port 443, 80 or one from 1024 up".into(),
        other => other.to_string(),
    }
}

/// The whole check of an upstream address when it is saved: its form
/// (absolute http or https, no credentials, no fragment, at most 2000
/// characters), its port, and every address its host resolves to.
pub async fn check(url: &str, settings: &AppsConfig) -> Result<Url, String> {
    if url.len() > 2000 {
        return Err("must be at most 2000 characters".into());
    }
    let parsed = address::check(url, &rules(settings))
        .await
        .map_err(|refusal| refusal_message(&refusal))?;
    if parsed.query().is_some() {
        return Err("must not have a query string".into());
    }
    Ok(parsed)
}
