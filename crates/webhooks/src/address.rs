//! Who an outgoing webhook may call (no SSRF): only public unicast
//! addresses, unless `webhooks.allow_private_addresses` is on.
//!
//! The check runs when an endpoint is created or its URL changed, and
//! again at every delivery: the delivery's HTTP client resolves names
//! through [`GuardedResolver`], which drops every refused address before
//! the connection is made, so a name that resolved to a public address at
//! creation and to `127.0.0.1` later (DNS rebinding) gets no connection.
//! An IP literal in the URL bypasses the resolver; [`check_target`]
//! refuses it first, with a port [`port_allowed`] refuses.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use crate::config::WebhooksConfig;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// Whether `ip` is a public unicast address: not loopback, private
/// (RFC 1918, IPv6 unique-local), link-local (cloud metadata's
/// 169.254.169.254 among them), shared (100.64/10), documentation,
/// benchmarking, multicast, broadcast, unspecified or reserved — and for
/// IPv6 not a mapped or translated IPv4 address of one of those.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), RFC 6598.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, RFC 6890 (192.0.0.0/24).
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking, RFC 2544 (198.18.0.0/15).
        || (a == 198 && (b == 18 || b == 19))
        // Reserved, 240.0.0.0/4.
        || a >= 240)
}

/// The IPv4 address in the last 32 bits of `ip`.
fn low_v4(ip: Ipv6Addr) -> Ipv4Addr {
    let [.., a, b, c, d] = ip.octets();
    Ipv4Addr::new(a, b, c, d)
}

/// IPv6 ranges that carry an IPv4 address which the packet ends up at
/// (mapped, translated, tunnelled): such an address is judged by that
/// IPv4 address, so `[2002:7f00:1::]` is 127.0.0.1 and refused. Returns
/// the IPv4 addresses to judge (all must be public), `None` when `ip` is
/// in none of these ranges.
fn embedded_v4(ip: Ipv6Addr) -> Option<Vec<Ipv4Addr>> {
    let segments = ip.segments();
    let octets = ip.octets();
    // IPv4-mapped, ::ffff:0:0/96.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(vec![v4]);
    }
    // SIIT's IPv4-translated addresses, ::ffff:0:0:0/96 (RFC 7915).
    if segments[..6] == [0, 0, 0, 0, 0xffff, 0] {
        return Some(vec![low_v4(ip)]);
    }
    // NAT64's well-known prefix, 64:ff9b::/96 (RFC 6052).
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return Some(vec![low_v4(ip)]);
    }
    // 6to4, 2002::/16 (RFC 3056): the relay's IPv4 in bits 16..48.
    if segments[0] == 0x2002 {
        return Some(vec![Ipv4Addr::new(
            octets[2], octets[3], octets[4], octets[5],
        )]);
    }
    // Teredo, 2001::/32 (RFC 4380): the server's IPv4 in bits 32..64 and
    // the client's, inverted bit by bit, in the last 32 bits. Both are
    // reached: both must be public.
    if segments[0] == 0x2001 && segments[1] == 0 {
        let server = Ipv4Addr::new(octets[4], octets[5], octets[6], octets[7]);
        let client = Ipv4Addr::from(!u32::from(low_v4(ip)));
        return Some(vec![server, client]);
    }
    None
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4s) = embedded_v4(ip) {
        return v4s.into_iter().all(is_public_v4);
    }
    let segments = ip.segments();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Local-use NAT64, 64:ff9b:1::/48 (RFC 8215), and the rest of
        // 64:ff9b::/32 beside the well-known /96 judged above: translated
        // by a network's own gateway, with the IPv4 address where only
        // that network knows, so it may reach anything behind it.
        || segments[..2] == [0x64, 0xff9b]
        // Discard-only, 100::/64 (RFC 6666).
        || segments[..4] == [0x100, 0, 0, 0]
        // IETF protocol assignments, 2001::/23 (Teredo is judged above):
        // benchmarking 2001:2::/48, ORCHID and the like.
        || (segments[0] == 0x2001 && segments[1] < 0x200)
        // Unique local, fc00::/7.
        || (segments[0] & 0xfe00) == 0xfc00
        // Link-local, fe80::/10.
        || (segments[0] & 0xffc0) == 0xfe80
        // Site-local (deprecated), fec0::/10.
        || (segments[0] & 0xffc0) == 0xfec0
        // Documentation, 2001:db8::/32 and 3fff::/20 (RFC 9637).
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
        || (segments[0] == 0x3fff && segments[1] < 0x1000)
        // IPv4-compatible (deprecated), ::/96.
        || segments[..6] == [0, 0, 0, 0, 0, 0])
}

/// Why an endpoint URL is refused (the message of a 422 on `url`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefusal {
    #[error("is not an absolute URL")]
    Malformed,
    #[error("must use https")]
    NotHttps,
    #[error("must use http or https")]
    Scheme,
    #[error("must not contain a user name or password")]
    Credentials,
    #[error("must not contain a fragment")]
    Fragment,
    #[error("must name a host")]
    NoHost,
    #[error("its host cannot be resolved")]
    Unresolvable,
    #[error("resolves to a private, loopback, link-local or reserved address, which webhooks may not call")]
    PrivateAddress,
    #[error("must use port 443, 80 or one from 1024 up (ports below 1024 are other services'; webhooks.allowed_ports widens this)")]
    Port,
}

/// The URL's form: scheme, no credentials or fragment, a host. Pure: no
/// resolution.
pub fn parse(url: &str, allow_http: bool) -> Result<Url, UrlRefusal> {
    let parsed = Url::parse(url).map_err(|_| UrlRefusal::Malformed)?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err(UrlRefusal::NotHttps),
        _ => return Err(UrlRefusal::Scheme),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(UrlRefusal::Credentials);
    }
    if parsed.fragment().is_some() {
        return Err(UrlRefusal::Fragment);
    }
    match parsed.host_str() {
        None | Some("") => Err(UrlRefusal::NoHost),
        Some(_) => Ok(parsed),
    }
}

/// The IP address written in the URL, when its host is one.
fn literal(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

/// Whether an endpoint may use `port`: 443 and 80, every port from 1024
/// up, and the ports below 1024 that `webhooks.allowed_ports` names. The
/// other ports below 1024 are the well-known services' (SSH, SMTP, DNS…),
/// which a webhook has no business talking to. Private addresses allowed
/// (development, tests) lift this too.
pub fn port_allowed(port: u16, config: &WebhooksConfig) -> bool {
    config.allow_private_addresses
        || port == 443
        || port == 80
        || port >= 1024
        || config.allowed_ports.contains(&port)
}

/// What can be judged without resolving the host, at creation and again
/// at each delivery: the port, and the host when it is an IP literal
/// (the resolver never sees those).
pub fn check_target(url: &Url, config: &WebhooksConfig) -> Result<(), UrlRefusal> {
    let port = url.port_or_known_default().unwrap_or(443);
    if !port_allowed(port, config) {
        return Err(UrlRefusal::Port);
    }
    match literal(url) {
        Some(ip) if !config.allow_private_addresses && !is_public(ip) => {
            Err(UrlRefusal::PrivateAddress)
        }
        _ => Ok(()),
    }
}

/// How long resolving a host may take when an endpoint is saved.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The whole check of an endpoint URL when it is saved: its form, its
/// port, then every address its host resolves to.
pub async fn check(url: &str, config: &WebhooksConfig) -> Result<Url, UrlRefusal> {
    let parsed = parse(url, config.allow_http)?;
    check_target(&parsed, config)?;
    if literal(&parsed).is_some() || config.allow_private_addresses {
        return Ok(parsed);
    }
    let host = parsed.host_str().unwrap_or_default().to_string();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addresses: Vec<SocketAddr> =
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(addresses)) => addresses.collect(),
            _ => return Err(UrlRefusal::Unresolvable),
        };
    if addresses.is_empty() {
        return Err(UrlRefusal::Unresolvable);
    }
    if addresses.iter().any(|a| !is_public(a.ip())) {
        return Err(UrlRefusal::PrivateAddress);
    }
    Ok(parsed)
}

/// The delivery client's resolver: the system's, keeping only the
/// addresses [`is_public`] accepts (all of them when private addresses
/// are allowed). A name left with none fails to connect.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let kept: Vec<SocketAddr> = resolved
                .filter(|address| allow_private || is_public(address.ip()))
                .collect();
            if kept.is_empty() {
                return Err(format!(
                    "{host} resolves to no address webhooks may call (private, loopback or reserved)"
                )
                .into());
            }
            let addrs: Addrs = Box::new(kept.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn only_public_unicast_addresses_pass() {
        for refused in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "2001:db8::1",
        ] {
            assert!(!is_public(ip(refused)), "{refused} must be refused");
        }
        for accepted in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public(ip(accepted)), "{accepted} must pass");
        }
    }

    #[test]
    fn urls_need_https_a_host_and_no_credentials() {
        assert!(parse("https://hooks.example.com/x", false).is_ok());
        assert_eq!(
            parse("http://hooks.example.com/x", false),
            Err(UrlRefusal::NotHttps)
        );
        assert!(parse("http://hooks.example.com/x", true).is_ok());
        assert_eq!(parse("ftp://example.com", true), Err(UrlRefusal::Scheme));
        assert_eq!(
            parse("https://user:pw@example.com", false),
            Err(UrlRefusal::Credentials)
        );
        assert_eq!(
            parse("https://example.com/#x", false),
            Err(UrlRefusal::Fragment)
        );
        assert_eq!(parse("not a url", false), Err(UrlRefusal::Malformed));
    }

    fn config(allow_http: bool, allow_private: bool) -> WebhooksConfig {
        WebhooksConfig {
            allow_http,
            allow_private_addresses: allow_private,
            ..WebhooksConfig::default()
        }
    }

    #[tokio::test]
    async fn private_hosts_are_refused_unless_allowed() {
        let strict = config(false, false);
        assert_eq!(
            check("https://127.0.0.1/hook", &strict).await,
            Err(UrlRefusal::PrivateAddress)
        );
        assert_eq!(
            check("https://[::1]/hook", &strict).await,
            Err(UrlRefusal::PrivateAddress)
        );
        assert_eq!(
            check("https://localhost/hook", &strict).await,
            Err(UrlRefusal::PrivateAddress)
        );
        assert_eq!(
            check("https://[2002:7f00:1::]/hook", &strict).await,
            Err(UrlRefusal::PrivateAddress)
        );
        assert!(check("http://127.0.0.1:9/hook", &config(true, true))
            .await
            .is_ok());
    }

    #[test]
    fn ports_below_1024_other_than_80_and_443_are_refused() {
        let strict = config(true, false);
        let target = |url: &str| check_target(&parse(url, true).unwrap(), &strict);
        for allowed in [
            "https://8.8.8.8/",
            "https://8.8.8.8:443/",
            "http://8.8.8.8/",
            "https://8.8.8.8:80/",
            "https://8.8.8.8:1024/",
            "https://8.8.8.8:8443/",
            "https://8.8.8.8:65535/",
        ] {
            assert_eq!(target(allowed), Ok(()), "{allowed} must pass");
        }
        for refused in [
            "https://1.1.1.1:22/",
            "https://8.8.8.8:25/",
            "https://8.8.8.8:1/",
            "https://8.8.8.8:1023/",
            "https://hooks.example.com:53/",
        ] {
            assert_eq!(
                target(refused),
                Err(UrlRefusal::Port),
                "{refused} must be refused"
            );
        }
        let widened = WebhooksConfig {
            allowed_ports: vec![22],
            ..strict.clone()
        };
        assert_eq!(
            check_target(&parse("https://1.1.1.1:22/", false).unwrap(), &widened),
            Ok(())
        );
    }

    #[test]
    fn six_to_four_is_judged_by_its_ipv4() {
        // 2002:AABB:CCDD::/48 is the 6to4 prefix of AA.BB.CC.DD.
        for refused in [
            "2002:7f00:1::",
            "2002:7f00:0001::1",
            "2002:a00:1::",
            "2002:c0a8:101::1",
            "2002:a9fe:a9fe::",
            "2002::",
        ] {
            assert!(!is_public(ip(refused)), "{refused} must be refused");
        }
        assert!(is_public(ip("2002:808:808::1")));
    }

    #[test]
    fn teredo_is_judged_by_its_server_and_client() {
        // 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC, the client inverted.
        // Server 8.8.8.8, client 127.0.0.1 (!0x7f000001 = 0x80fffffe).
        assert!(!is_public(ip("2001:0:808:808::80ff:fffe")));
        // Server 127.0.0.1, client 8.8.8.8 (!0x08080808 = 0xf7f7f7f7).
        assert!(!is_public(ip("2001:0:7f00:1::f7f7:f7f7")));
        // Server 10.0.0.1, client 8.8.8.8.
        assert!(!is_public(ip("2001:0:a00:1::f7f7:f7f7")));
        // Client 169.254.169.254 (!0xa9fea9fe = 0x56015601).
        assert!(!is_public(ip("2001:0:808:808::5601:5601")));
        // Both public: server 8.8.8.8, client 1.1.1.1 (!0x01010101).
        assert!(is_public(ip("2001:0:808:808::fefe:fefe")));
    }

    #[test]
    fn nat64_and_siit_are_judged_or_refused() {
        for refused in [
            // Well-known NAT64 prefix with a private IPv4.
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            // Local-use NAT64: refused whatever it carries.
            "64:ff9b:1::808:808",
            "64:ff9b:1:7f00:1::",
            "64:ff9b:1:ffff::1",
            // SIIT's IPv4-translated form.
            "::ffff:0:7f00:1",
            "::ffff:0:a00:1",
            "::ffff:0:a9fe:a9fe",
            // IPv4-compatible.
            "::7f00:1",
            "::808:808",
        ] {
            assert!(!is_public(ip(refused)), "{refused} must be refused");
        }
        for accepted in ["64:ff9b::808:808", "::ffff:0:808:808", "::ffff:8.8.8.8"] {
            assert!(is_public(ip(accepted)), "{accepted} must pass");
        }
    }

    #[test]
    fn other_special_ipv6_ranges_are_refused() {
        for refused in ["100::1", "2001:2::1", "2001:20::1", "3fff::1", "fec0::1"] {
            assert!(!is_public(ip(refused)), "{refused} must be refused");
        }
        assert!(is_public(ip("2001:4860:4860::8888")));
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses() {
        let guarded = GuardedResolver {
            allow_private: false,
        };
        let name: Name = "localhost".parse().unwrap();
        assert!(guarded.resolve(name).await.is_err());
        let open = GuardedResolver {
            allow_private: true,
        };
        let name: Name = "localhost".parse().unwrap();
        let addresses: Vec<SocketAddr> = open.resolve(name).await.unwrap().collect();
        assert!(addresses.iter().all(|a| a.ip().is_loopback()));
        assert!(!addresses.is_empty());
    }
}
