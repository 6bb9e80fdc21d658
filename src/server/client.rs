//! The client address a request comes from, as the key of per-address rate limits.
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use lambda_http::request::RequestContext;
use poem::{FromRequest, Request, RequestBody};

/// How the client address is found and keyed.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddressPolicy {
    /// Whether `X-Forwarded-For` may be believed (set only behind a proxy that writes it).
    pub trust_forwarded_for: bool,
    /// IPv6 clients are keyed by this prefix: one subscriber gets a whole /64 and could
    /// otherwise walk around the limit by rotating addresses inside it.
    pub ipv6_prefix: u8,
}

impl Default for ClientAddressPolicy {
    fn default() -> Self {
        Self {
            trust_forwarded_for: false,
            ipv6_prefix: 64,
        }
    }
}

/// The client's address as a rate-limit key: on Lambda from the event (API Gateway REST and
/// HTTP APIs, Function URLs and WebSockets carry the source IP, set by AWS; an ALB appends the
/// client to `X-Forwarded-For`); behind a trusted proxy from the last `X-Forwarded-For` entry;
/// else the peer. IPv6 addresses are keyed by their prefix (`2001:db8:1:2::/64`).
#[derive(Debug, Clone)]
pub struct ClientAddress(pub String);

impl<'a> FromRequest<'a> for ClientAddress {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        let policy = req
            .data::<ClientAddressPolicy>()
            .copied()
            .unwrap_or_default();
        Ok(Self(match client_ip(req, &policy) {
            Some(ip) => key(ip, policy.ipv6_prefix),
            None => "unknown".to_owned(),
        }))
    }
}

/// The client's `Accept-Language` header, when it sends one that is text.
#[derive(Debug, Clone)]
pub struct AcceptLanguage(pub Option<String>);

impl<'a> FromRequest<'a> for AcceptLanguage {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(
            req.header(poem::http::header::ACCEPT_LANGUAGE)
                .map(str::to_owned),
        ))
    }
}

/// The client's `User-Agent` header, when it sends one that is text.
#[derive(Debug, Clone)]
pub struct UserAgent(pub Option<String>);

impl<'a> FromRequest<'a> for UserAgent {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(
            req.header(poem::http::header::USER_AGENT)
                .map(str::to_owned),
        ))
    }
}

fn client_ip(req: &Request, policy: &ClientAddressPolicy) -> Option<IpAddr> {
    if let Some(context) = req.extensions().get::<RequestContext>() {
        let source_ip = match context {
            RequestContext::ApiGatewayV1(c) => c.identity.source_ip.as_deref(),
            RequestContext::ApiGatewayV2(c) => c.http.source_ip.as_deref(),
            RequestContext::WebSocket(c) => c.identity.source_ip.as_deref(),
            // The load balancer appends the address it saw to whatever the client sent.
            RequestContext::Alb(_) => return last_forwarded(req),
        };
        return source_ip.and_then(parse_entry);
    }
    if policy.trust_forwarded_for {
        if let Some(ip) = last_forwarded(req) {
            return Some(ip);
        }
    }
    req.remote_addr().as_socket_addr().map(SocketAddr::ip)
}

/// Exactly the last `X-Forwarded-For` entry, across every header line: the one the trusted
/// proxy wrote. Anything before it is the client's to forge, so an unreadable last entry means
/// no answer here, never an earlier entry.
fn last_forwarded(req: &Request) -> Option<IpAddr> {
    let last = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .next_back()?
        .to_str()
        .ok()?
        .rsplit(',')
        .next()?;
    parse_entry(last)
}

/// `203.0.113.7`, `203.0.113.7:4711`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            let inner = entry.strip_prefix('[')?.strip_suffix(']')?;
            inner.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
        })
}

/// The rate-limit key of an address: IPv4 as it is, IPv6 as its network of `prefix` bits.
fn key(ip: IpAddr, prefix: u8) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = prefix.min(128);
                let mask = u128::MAX.checked_shl(u32::from(128 - prefix)).unwrap_or(0);
                let network = Ipv6Addr::from(u128::from(v6) & mask);
                format!("{network}/{prefix}")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_form_a_proxy_writes_parses() {
        for (entry, expected) in [
            ("203.0.113.7", "203.0.113.7"),
            (" 203.0.113.7:4711 ", "203.0.113.7"),
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("[2001:db8::1]:4711", "2001:db8::1"),
        ] {
            assert_eq!(parse_entry(entry), Some(ip(expected)), "{entry}");
        }
        for junk in ["", "unknown", "203.0.113", "[2001:db8::1", "_hidden"] {
            assert_eq!(parse_entry(junk), None, "{junk}");
        }
    }

    fn forwarded(lines: &[&str]) -> Request {
        let mut builder = Request::builder();
        for line in lines {
            builder = builder.header("x-forwarded-for", *line);
        }
        builder.finish()
    }

    #[test]
    fn only_the_last_entry_counts_and_a_bad_one_is_not_skipped() {
        let req = forwarded(&["198.51.100.1, 203.0.113.2:4711"]);
        assert_eq!(last_forwarded(&req), Some(ip("203.0.113.2")));
        let req = forwarded(&["198.51.100.1", "203.0.113.2"]);
        assert_eq!(last_forwarded(&req), Some(ip("203.0.113.2")));
        // The client's own entry must never stand in for an unreadable proxy entry.
        let req = forwarded(&["198.51.100.1, not-an-address"]);
        assert_eq!(last_forwarded(&req), None);
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_prefix() {
        let a = key(ip("2001:db8:1:2:aaaa::1"), 64);
        let b = key(ip("2001:db8:1:2:bbbb::2"), 64);
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b);
        assert_ne!(a, key(ip("2001:db8:1:3::1"), 64));
        assert_eq!(key(ip("2001:db8::1"), 128), "2001:db8::1/128");
        assert_eq!(key(ip("2001:db8:1:2::1"), 48), "2001:db8:1::/48");
        assert_eq!(key(ip("::ffff:203.0.113.9"), 64), "203.0.113.9");
        assert_eq!(key(ip("203.0.113.9"), 64), "203.0.113.9");
    }
}
