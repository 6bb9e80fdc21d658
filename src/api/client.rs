//! The client address a request comes from, for per-address rate limits.
use std::net::IpAddr;

use poem::{FromRequest, Request, RequestBody};

/// Whether `X-Forwarded-For` may be believed (set only behind a proxy that writes it).
#[derive(Debug, Clone, Copy)]
pub struct ForwardedForPolicy {
    pub trusted: bool,
}

/// The client's address: on Lambda from the event's request context (set by AWS, not the
/// client); behind a trusted proxy from the last `X-Forwarded-For` entry; else the peer.
#[derive(Debug, Clone)]
pub struct ClientAddress(pub String);

impl<'a> FromRequest<'a> for ClientAddress {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> poem::Result<Self> {
        Ok(Self(client_address(req)))
    }
}

fn client_address(req: &Request) -> String {
    if let Some(source_ip) = lambda_source_ip(req) {
        return source_ip;
    }
    let trusted = req
        .data::<ForwardedForPolicy>()
        .is_some_and(|policy| policy.trusted);
    if trusted {
        let last_hop = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
            .next_back();
        if let Some(ip) = last_hop {
            return ip.to_string();
        }
    }
    match req.remote_addr().as_socket_addr() {
        Some(peer) => peer.ip().to_string(),
        None => "unknown".to_owned(),
    }
}

fn lambda_source_ip(req: &Request) -> Option<String> {
    match req
        .extensions()
        .get::<lambda_http::request::RequestContext>()?
    {
        lambda_http::request::RequestContext::ApiGatewayV2(context) => {
            context.http.source_ip.clone()
        }
        _ => None,
    }
}
