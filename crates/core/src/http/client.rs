//! Who is calling: the client's address and user agent, for audit entries
//! and per-address limits.
//!
//! Behind proxies, `X-Forwarded-For` lists `client, proxy1, proxy2, …`:
//! each proxy appends the address it received the request from. Only the
//! entries added by *our* proxies can be believed; anything to their left
//! was written by the client. So the address is read from the right: past
//! `trusted_proxy_hops` proxies, or past every address inside
//! `trusted_proxies` (CIDRs). The leftmost value is never taken because it
//! is leftmost.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Extensions, HeaderMap};
use ipnet::IpNet;

/// How far `X-Forwarded-For` is believed; set once from configuration by
/// the application. Cheap to clone (one `Arc`).
#[derive(Debug, Clone, Default)]
pub struct TrustForwardedFor(Arc<ForwardedPolicy>);

#[derive(Debug, Default)]
struct ForwardedPolicy {
    enabled: bool,
    hops: usize,
    proxies: Vec<IpNet>,
}

impl TrustForwardedFor {
    /// Peer address only: `X-Forwarded-For` is ignored.
    pub fn disabled() -> Self {
        Self::default()
    }

    /// Believe `X-Forwarded-For` as written by `hops` proxies (counted from
    /// the right, the peer being the last of them), or, when `proxies` is
    /// not empty, by the proxies inside those networks.
    pub fn new(enabled: bool, hops: u32, proxies: Vec<IpNet>) -> Self {
        Self(Arc::new(ForwardedPolicy {
            enabled,
            hops: usize::try_from(hops.max(1)).unwrap_or(1),
            proxies,
        }))
    }

    pub fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// The client's address given the peer and the forwarded entries
    /// (in header order, left to right).
    pub fn resolve(&self, peer: Option<IpAddr>, forwarded: &[&str]) -> Option<IpAddr> {
        let policy = &self.0;
        if !policy.enabled {
            return peer;
        }
        // Invalid entries are dropped: they cannot be an address, and
        // keeping them would let a client shift the count.
        let chain: Vec<IpAddr> = forwarded
            .iter()
            .filter_map(|entry| parse_entry(entry))
            .chain(peer)
            .collect();
        if !policy.proxies.is_empty() {
            // Walk from the right past our proxies; the first address that
            // is not one of them is the client. If every address is a
            // proxy, the leftmost (furthest) one is the best we know.
            let trusted = |ip: &IpAddr| policy.proxies.iter().any(|net| net.contains(ip));
            return chain
                .iter()
                .rev()
                .find(|ip| !trusted(ip))
                .or_else(|| chain.first())
                .copied();
        }
        // The peer is the nearest proxy (hop 1); the client is the address
        // `hops` entries left of it. A shorter chain did not pass through
        // all our proxies: only the peer is known for sure.
        let len = chain.len();
        if len > policy.hops {
            chain.get(len - 1 - policy.hops).copied()
        } else {
            peer
        }
    }
}

/// One `X-Forwarded-For` entry: an address, optionally with a port
/// (`1.2.3.4:5678`, `[2001:db8::1]:443`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| match ip {
            // `::ffff:1.2.3.4` and `1.2.3.4` are one client.
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        })
}

/// Parses a `trusted_proxies` entry: a CIDR (`10.0.0.0/8`) or a single
/// address.
pub fn parse_trusted_proxy(entry: &str) -> Option<IpNet> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .ok()
        .or_else(|| entry.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The caller's address and user agent.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The address of the connection's other end (never a header).
pub fn peer_ip(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The client's address: read from `X-Forwarded-For` from the right as the
/// application's [`TrustForwardedFor`] says, the peer's address otherwise.
pub fn client_ip(headers: &HeaderMap, extensions: &Extensions) -> Option<String> {
    client_addr(headers, extensions).map(|ip| ip.to_string())
}

/// [`client_ip`] as an address, not yet written as text: for the hot
/// path, which needs the text only when it refuses a request.
pub fn client_addr(headers: &HeaderMap, extensions: &Extensions) -> Option<IpAddr> {
    let peer = peer_ip(extensions);
    let policy = extensions.get::<TrustForwardedFor>();
    let Some(policy) = policy.filter(|p| p.enabled()) else {
        return peer;
    };
    // Several headers are one list, in order.
    let values: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    policy.resolve(peer, &values)
}

/// Only the caller's address (as [`ClientInfo`] reads it), for handlers on
/// the hot path that do not record the user agent.
#[derive(Debug, Clone, Default)]
pub struct ClientAddress(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddress(client_addr(
            &parts.headers,
            &parts.extensions,
        )))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ip = client_ip(&parts.headers, &parts.extensions);
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.chars().take(512).collect());
        Ok(ClientInfo { ip, user_agent })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().filter_map(|s| parse_trusted_proxy(s)).collect()
    }

    const PEER: &str = "10.0.0.2";

    #[test]
    fn without_trust_the_peer_is_the_client() {
        let policy = TrustForwardedFor::new(false, 1, vec![]);
        assert_eq!(policy.resolve(Some(ip(PEER)), &["6.6.6.6"]), Some(ip(PEER)));
        assert_eq!(
            TrustForwardedFor::disabled().resolve(Some(ip(PEER)), &["6.6.6.6"]),
            Some(ip(PEER))
        );
    }

    #[test]
    fn one_hop_takes_the_rightmost_entry_not_the_leftmost() {
        let policy = TrustForwardedFor::new(true, 1, vec![]);
        let peer = Some(ip(PEER));
        assert_eq!(
            policy.resolve(peer, &["203.0.113.7"]),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            policy.resolve(peer, &["1.1.1.1", " 203.0.113.7 "]),
            Some(ip("203.0.113.7")),
            "a forged leftmost value is ignored"
        );
    }

    #[test]
    fn two_hops_skip_one_more_proxy() {
        let policy = TrustForwardedFor::new(true, 2, vec![]);
        let peer = Some(ip(PEER));
        assert_eq!(
            policy.resolve(peer, &["1.1.1.1", "203.0.113.7", "10.0.0.9"]),
            Some(ip("203.0.113.7"))
        );
        // Too short a chain: it did not come through both proxies.
        assert_eq!(policy.resolve(peer, &["203.0.113.7"]), peer);
        assert_eq!(policy.resolve(peer, &[]), peer);
    }

    #[test]
    fn cidrs_are_skipped_from_the_right() {
        let policy = TrustForwardedFor::new(true, 1, nets(&["10.0.0.0/8", "192.168.1.1"]));
        let peer = Some(ip(PEER));
        assert_eq!(
            policy.resolve(peer, &["1.1.1.1", "203.0.113.7", "192.168.1.1", "10.1.2.3"]),
            Some(ip("203.0.113.7"))
        );
        // A peer outside the trusted networks is the client itself.
        assert_eq!(
            policy.resolve(Some(ip("198.51.100.1")), &["1.1.1.1"]),
            Some(ip("198.51.100.1"))
        );
        // Every hop trusted: the furthest one.
        assert_eq!(policy.resolve(peer, &["10.9.9.9"]), Some(ip("10.9.9.9")));
    }

    #[test]
    fn invalid_entries_are_skipped_and_ports_and_mapped_addresses_understood() {
        let policy = TrustForwardedFor::new(true, 1, vec![]);
        let peer = Some(ip(PEER));
        assert_eq!(
            policy.resolve(peer, &["203.0.113.7", "garbage", ""]),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            policy.resolve(peer, &["203.0.113.7:5555"]),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            policy.resolve(peer, &["[2001:db8::1]:443"]),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            policy.resolve(peer, &["::ffff:203.0.113.7"]),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(policy.resolve(peer, &["not an address"]), peer);
        assert_eq!(policy.resolve(None, &["unknown"]), None);
    }

    #[test]
    fn trusted_proxy_entries_parse_as_cidrs_or_addresses() {
        assert!(parse_trusted_proxy("10.0.0.0/8").is_some());
        assert!(parse_trusted_proxy("2001:db8::/32").is_some());
        assert!(parse_trusted_proxy("127.0.0.1").is_some());
        assert!(parse_trusted_proxy("10.0.0.0/33").is_none());
        assert!(parse_trusted_proxy("proxy.internal").is_none());
    }
}
