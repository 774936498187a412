//! The TXT lookups that prove a custom domain: `apps.dns_resolver`
//! (`host:port`, UDP) when set, the system's resolver otherwise. Nothing
//! is cached (each check asks afresh) and timeouts are short; a lookup
//! that fails is a failed check with its reason, never a panic.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

/// How long one query waits for its answer.
const TIMEOUT: Duration = Duration::from_secs(2);

/// The name a domain's challenge is published at.
pub fn record_name(domain: &str) -> String {
    format!("_landlord-challenge.{domain}")
}

/// What a TXT lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxtAnswer {
    /// The record's texts (each TXT record's strings joined).
    Found(Vec<String>),
    /// The name does not exist, or has no TXT record.
    Missing,
    /// The lookup itself failed (timeout, refused, …), with the reason.
    Failed(String),
}

/// The TXT records at `name`, asked of `resolver` (`host:port`; empty:
/// the system's resolver).
pub async fn lookup_txt(resolver: &str, name: &str) -> TxtAnswer {
    let resolver = match build(resolver) {
        Ok(resolver) => resolver,
        Err(reason) => return TxtAnswer::Failed(reason),
    };
    // A fully qualified name: no search domain is tried.
    let fqdn = format!("{}.", name.trim_end_matches('.'));
    match resolver.txt_lookup(fqdn).await {
        Ok(lookup) => {
            let texts: Vec<String> = lookup
                .answers()
                .iter()
                .filter_map(|record| match &record.data {
                    RData::TXT(txt) => Some(
                        txt.txt_data
                            .iter()
                            .map(|part| String::from_utf8_lossy(part).into_owned())
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect();
            if texts.is_empty() {
                TxtAnswer::Missing
            } else {
                TxtAnswer::Found(texts)
            }
        }
        Err(error) if error.is_no_records_found() || error.is_nx_domain() => TxtAnswer::Missing,
        Err(error) => TxtAnswer::Failed(reason(&error)),
    }
}

fn reason(error: &NetError) -> String {
    let text = error.to_string();
    if text.contains("timed out") || text.contains("timeout") {
        "the DNS lookup timed out".to_owned()
    } else {
        format!("the DNS lookup failed: {text}")
    }
}

fn options() -> ResolverOpts {
    let mut options = ResolverOpts::default();
    options.timeout = TIMEOUT;
    options.attempts = 1;
    options.cache_size = 0;
    options.use_hosts_file = ResolveHosts::Never;
    options.ndots = 0;
    options
}

fn build(resolver: &str) -> Result<TokioResolver, String> {
    let builder = if resolver.is_empty() {
        Resolver::builder_tokio()
            .map_err(|error| format!("the system's DNS resolver could not be read: {error}"))?
    } else {
        let address: SocketAddr = resolver
            .parse()
            .map_err(|_| format!("apps.dns_resolver is not an address and port: {resolver}"))?;
        let mut udp = ConnectionConfig::udp();
        udp.port = address.port();
        let server = NameServerConfig::new(address.ip(), true, vec![udp]);
        Resolver::builder_with_config(
            ResolverConfig::from_name_servers(vec![server]),
            TokioRuntimeProvider::default(),
        )
    };
    builder
        .with_options(options())
        .build()
        .map_err(|error| format!("the DNS resolver could not be made: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_lookup_that_cannot_be_made_is_a_failed_check_with_its_reason() {
        let answer = lookup_txt("not an address", "_landlord-challenge.example.com").await;
        assert!(
            matches!(&answer, TxtAnswer::Failed(reason) if reason.contains("apps.dns_resolver")),
            "{answer:?}"
        );
        // Nothing answers on the discard port: a failure, never a panic.
        let started = std::time::Instant::now();
        let answer = lookup_txt("127.0.0.1:9", "_landlord-challenge.example.com").await;
        assert!(matches!(answer, TxtAnswer::Failed(_)), "{answer:?}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn the_record_is_named_after_the_domain() {
        assert_eq!(
            record_name("shop.example.com"),
            "_landlord-challenge.shop.example.com"
        );
    }
}
