//! The running totals in Prometheus text format (0.0.4), on a listener of their own: the
//! operator's, never the public port.
use std::net::SocketAddr;

use anyhow::Context as _;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{get, handler, EndpointExt, Response, Route, Server};

use super::TOTALS;

const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The running totals of this process, as `GET /metrics` serves them.
pub fn prometheus_text() -> String {
    let mut text = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut text, &TOTALS.registry)
        .expect("writing to a String cannot fail");
    text
}

#[handler]
fn metrics_page() -> Response {
    Response::builder()
        .content_type(CONTENT_TYPE)
        .body(prometheus_text())
}

/// The metrics listener, bound and ready to serve.
pub struct MetricsListener {
    acceptor: TcpAcceptor,
    address: SocketAddr,
}

impl MetricsListener {
    /// Binds `address` (port 0 picks a free one).
    pub async fn bind(address: SocketAddr) -> anyhow::Result<Self> {
        let acceptor = TcpListener::bind(address)
            .into_acceptor()
            .await
            .with_context(|| format!("could not listen for metrics on {address}"))?;
        let address = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .context("the metrics listener has no socket address")?;
        Ok(Self { acceptor, address })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Serves `GET /metrics` (anything else is a JSON 404) until `stop` completes.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()>,
    ) -> anyhow::Result<()> {
        let app = Route::new()
            .at("/metrics", get(metrics_page))
            .catch_all_error(crate::api::json_error);
        Server::new_with_acceptor(self.acceptor)
            .run_with_graceful_shutdown(app, stop, Some(std::time::Duration::from_secs(1)))
            .await?;
        Ok(())
    }
}
