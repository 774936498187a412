//! Who an outgoing webhook may call (no SSRF): only public unicast
//! addresses, unless `webhooks.allow_private_addresses` is on.
//!
//! The check runs when an endpoint is created or its URL changed, and
//! again at every delivery: the delivery's HTTP client resolves names
//! through [`GuardedResolver`], which drops every refused address before
//! the connection is made, so a name that resolved to a public address at
//! creation and to `127.0.0.1` later (DNS rebinding) gets no connection.
//! An IP literal in the URL bypasses the resolver; [`check_literal`]
//! refuses it first.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

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

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return is_public_v4(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        ));
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local, fc00::/7.
        || (segments[0] & 0xfe00) == 0xfc00
        // Link-local, fe80::/10.
        || (segments[0] & 0xffc0) == 0xfe80
        // Site-local (deprecated), fec0::/10.
        || (segments[0] & 0xffc0) == 0xfec0
        // Documentation, 2001:db8::/32.
        || (segments[0] == 0x2001 && segments[1] == 0x0db8)
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

/// Refuses a URL whose host is a refused IP literal (the resolver never
/// sees those).
pub fn check_literal(url: &Url, allow_private: bool) -> Result<(), UrlRefusal> {
    match literal(url) {
        Some(ip) if !allow_private && !is_public(ip) => Err(UrlRefusal::PrivateAddress),
        _ => Ok(()),
    }
}

/// How long resolving a host may take when an endpoint is saved.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// The whole check of an endpoint URL when it is saved: its form, then
/// every address its host resolves to.
pub async fn check(url: &str, allow_http: bool, allow_private: bool) -> Result<Url, UrlRefusal> {
    let parsed = parse(url, allow_http)?;
    check_literal(&parsed, allow_private)?;
    if literal(&parsed).is_some() || allow_private {
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

    #[tokio::test]
    async fn private_hosts_are_refused_unless_allowed() {
        assert_eq!(
            check("https://127.0.0.1/hook", false, false).await,
            Err(UrlRefusal::PrivateAddress)
        );
        assert_eq!(
            check("https://[::1]/hook", false, false).await,
            Err(UrlRefusal::PrivateAddress)
        );
        assert_eq!(
            check("https://localhost/hook", false, false).await,
            Err(UrlRefusal::PrivateAddress)
        );
        assert!(check("http://127.0.0.1:9/hook", true, true).await.is_ok());
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
