//! The server around the API: the endpoint every request goes through (`build_app`), the
//! local TCP server with its timeouts and graceful shutdown (`Application`), and `run`, which
//! serves Lambda events or a local port as the environment says.
mod app;
pub mod client;
pub mod mail_events;
pub mod middleware;
pub mod slow_clients;

pub use app::build_app;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{EndpointExt, IntoEndpoint, Response, Server};

use self::slow_clients::HeadDeadline;
use crate::auth::AuthService;
use crate::config::Settings;
use crate::mail::Mailer;
use crate::metrics::MetricsListener;
use crate::startup::{build_auth_service, mailer_for};

/// How long requests in flight may take to finish once a shutdown is asked for.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// A connection that sends nothing for this long is closed (a slow or idle client must not
/// hold a connection open forever).
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Each request's head (method, path, headers) must arrive within this, however it trickles.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A local HTTP server bound to its port, ready to run.
pub struct Application {
    acceptor: HeadDeadline<TcpAcceptor>,
    app: poem::endpoint::BoxEndpoint<'static, Response>,
    auth: AuthService,
    port: u16,
    metrics: Option<MetricsListener>,
}

impl Application {
    /// Binds `BIND:PORT` (port 0 picks a free one) and builds the app.
    pub async fn build(settings: &Settings, mailer: Arc<dyn Mailer>) -> anyhow::Result<Self> {
        let auth = build_auth_service(settings, mailer).await?;
        let address = format!("{}:{}", settings.server.bind, settings.server.port);
        let acceptor = TcpListener::bind(address.clone())
            .into_acceptor()
            .await
            .with_context(|| format!("could not listen on {address}"))?;
        let port = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().map(|s| s.port()))
            .context("listener has no socket address")?;
        let metrics = match settings.metrics.listen {
            Some(address) => Some(MetricsListener::bind(address).await?),
            None => None,
        };
        Ok(Self {
            acceptor: HeadDeadline::new(acceptor, HEAD_TIMEOUT),
            app: build_app(auth.clone(), settings).boxed(),
            auth,
            port,
            metrics,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the metrics listener is bound, when `METRICS_ADDR` asks for one.
    pub fn metrics_address(&self) -> Option<std::net::SocketAddr> {
        self.metrics.as_ref().map(MetricsListener::address)
    }

    /// The service this application serves.
    pub fn auth(&self) -> &AuthService {
        &self.auth
    }

    /// Serves until SIGTERM or Ctrl-C, then stops gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes; then stops accepting, lets the requests in flight finish
    /// (for at most `SHUTDOWN_GRACE`) and closes the database pool.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        // The metrics listener stops once the public server has.
        let (stopped, stop_metrics) = tokio::sync::oneshot::channel::<()>();
        let metrics = self.metrics.map(|listener| {
            tokio::spawn(listener.run_until(async {
                let _ = stop_metrics.await;
            }))
        });
        let served = Server::new_with_acceptor(self.acceptor)
            .idle_timeout(IDLE_TIMEOUT)
            .run_with_graceful_shutdown(self.app, stop, Some(SHUTDOWN_GRACE))
            .await;
        drop(stopped);
        if let Some(metrics) = metrics {
            metrics.await??;
        }
        served?;
        self.auth.close().await?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// SIGTERM (what Lambda, systemd and container runtimes send) or Ctrl-C.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}

/// Runs the service where the environment says: Lambda events, or a local TCP server.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let mailer = mailer_for(&settings).await?;
    if let Some(events) = &settings.mail_events {
        let auth = build_auth_service(&settings, mailer).await?;
        return mail_events::run(auth, events.topic_arn.clone()).await;
    }
    if settings.on_lambda {
        let auth = build_auth_service(&settings, mailer).await?;
        let app = build_app(auth, &settings).into_endpoint();
        return poem_lambda::run(app)
            .await
            .map_err(|e| anyhow::anyhow!("Lambda runtime failed: {e}"));
    }
    let app = Application::build(&settings, mailer).await?;
    tracing::info!(
        "otp-login listening on http://{}:{} (Swagger UI at /docs)",
        settings.server.bind,
        app.port()
    );
    if let Some(address) = app.metrics_address() {
        tracing::info!("metrics at http://{address}/metrics (Prometheus text format)");
    }
    app.run_until_stopped().await?;
    Ok(())
}
