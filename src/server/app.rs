//! The one HTTP endpoint: the operations and the spec's documents, the static pages behind
//! them, and the middleware every request passes through. `build_app` is what the local server,
//! Lambda and the tests serve; `api::openapi_service` feeds the spec export.
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response};

use super::client::ClientAddressPolicy;
use super::middleware::{self, WithFrontend};
use crate::api::openapi_service;
use crate::api::spec::serve_documents;
use crate::auth::AuthService;
use crate::config::Settings;

/// The whole HTTP app: operations, docs, spec, static pages, and the middleware that makes
/// every failure a JSON answer carrying the CORS headers.
pub fn build_app(auth: AuthService, settings: &Settings) -> impl Endpoint<Output = Response> {
    let routes = openapi_service()
        .into_endpoint()
        .around(serve_documents)
        .boxed();
    let app = WithFrontend::new(routes, &settings.server.frontend_dir)
        .around(middleware::answer_405_with_allow)
        .data(auth)
        .data(ClientAddressPolicy {
            trust_forwarded_for: settings.server.trust_forwarded_for,
            ipv6_prefix: settings.server.ipv6_prefix,
        });
    middleware::guarded(app, &settings.cors, &settings.metrics)
}
