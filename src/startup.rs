//! Wiring the app from settings: the database, the keys, the mailer and the HTTP app.
//! `build_app` is the one endpoint served by the local server, by Lambda, and by the tests;
//! `api::openapi_service` feeds the spec export.
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use migration::{MigrationStatus, Migrator, MigratorTrait};
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::{Endpoint, EndpointExt, IntoEndpoint, Response, Server};

use crate::api::middleware::{self, WithFrontend};
use crate::api::slow_clients::HeadDeadline;
use crate::api::{openapi_service, ClientAddressPolicy};
use crate::auth::{AuthService, CodeHasher, PasswordHasher, RateLimiter, TokenKeys};
use crate::config::{DatabaseSettings, MailerChoice, Settings};
use crate::mail::{DevMailer, Mailer, SesMailer};
use crate::secrets::ServerKeys;
use crate::store::{self, Db};

/// Opens the pool the settings describe, applying migrations when they ask for it.
async fn connect(database: &DatabaseSettings, lazy: bool) -> anyhow::Result<Db> {
    let db = store::connect(&database.url, database.max_connections, lazy)
        .await
        .context("could not connect to the database")?;
    if database.run_migrations {
        Migrator::up(&db, None)
            .await
            .context("could not apply database migrations")?;
    }
    Ok(db)
}

/// What `otp-login migrate` does to the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrate {
    Up { steps: Option<u32> },
    Down { steps: u32 },
    Status,
    Fresh,
}

/// Runs `what` against the configured database, whatever `RUN_MIGRATIONS` says, and answers
/// every migration's name and whether it is applied.
pub async fn migrate(settings: &Settings, what: Migrate) -> anyhow::Result<Vec<(String, bool)>> {
    let db = store::connect(&settings.database.url, 1, false)
        .await
        .context("could not connect to the database")?;
    match what {
        Migrate::Up { steps } => Migrator::up(&db, steps).await,
        Migrate::Down { steps } => Migrator::down(&db, Some(steps)).await,
        Migrate::Fresh => Migrator::fresh(&db).await,
        Migrate::Status => Ok(()),
    }
    .context("migration failed")?;
    let status = Migrator::get_migration_with_status(&db)
        .await
        .context("could not read the applied migrations")?
        .iter()
        .map(|m| {
            let applied = matches!(m.status(), MigrationStatus::Applied);
            (m.name().to_owned(), applied)
        })
        .collect();
    db.close().await.context("could not close the database")?;
    Ok(status)
}

/// Connects to the database (applying migrations when configured) and assembles the sign-in
/// service. Called once per process; every request shares the result.
pub async fn build_auth_service(
    settings: &Settings,
    mailer: Arc<dyn Mailer>,
) -> anyhow::Result<AuthService> {
    let keys = ServerKeys::resolve(&settings.keys).await?;
    let db = connect(&settings.database, settings.on_lambda).await?;
    Ok(AuthService::new(
        db.clone(),
        PasswordHasher::default(),
        CodeHasher::new(keys.otp_bytes()),
        settings.codes,
        TokenKeys::new(keys.jwt_bytes(), settings.token_ttl),
        mailer,
        RateLimiter::new(db, settings.limits.clone()),
    ))
}

/// The mailer the settings ask for; the SES client is built here, once per process.
pub async fn mailer_for(settings: &Settings) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(match &settings.mail {
        MailerChoice::Development => {
            tracing::warn!(
                "development mailer: sign-in codes are written to this log, not emailed"
            );
            Arc::new(DevMailer::default())
        }
        // On Lambda the client waits for the first message: the function's role and region
        // are certain there, and a cold start need not load them (nor the TLS roots).
        MailerChoice::Ses(ses) if settings.on_lambda => Arc::new(SesMailer::on_first_send(ses)),
        MailerChoice::Ses(ses) => {
            let aws = crate::aws::shared_config().await;
            anyhow::ensure!(
                aws.region().is_some(),
                "AWS_REGION is required to send with SES"
            );
            tracing::info!(region = ?aws.region(), "sending sign-in codes with SES");
            Arc::new(SesMailer::new(aws, ses))
        }
    })
}

/// The whole HTTP app: operations, docs, spec, static pages, and the middleware that makes
/// every failure a JSON answer carrying the CORS headers.
pub fn build_app(auth: AuthService, settings: &Settings) -> impl Endpoint<Output = Response> {
    let routes = openapi_service()
        .into_endpoint()
        .around(crate::api::spec::serve_documents)
        .boxed();
    let app = WithFrontend::new(routes, &settings.server.frontend_dir)
        .around(middleware::answer_405_with_allow)
        .data(auth)
        .data(ClientAddressPolicy {
            trust_forwarded_for: settings.server.trust_forwarded_for,
            ipv6_prefix: settings.server.ipv6_prefix,
        });
    middleware::guarded(app, &settings.cors)
}

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
        Ok(Self {
            acceptor: HeadDeadline::new(acceptor, HEAD_TIMEOUT),
            app: build_app(auth.clone(), settings).boxed(),
            auth,
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or Ctrl-C, then stops gracefully.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes; then stops accepting, lets the requests in flight finish
    /// (for at most `SHUTDOWN_GRACE`) and closes the database pool.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> anyhow::Result<()> {
        Server::new_with_acceptor(self.acceptor)
            .idle_timeout(IDLE_TIMEOUT)
            .run_with_graceful_shutdown(self.app, stop, Some(SHUTDOWN_GRACE))
            .await?;
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
    app.run_until_stopped().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use poem::test::TestClient;
    use poem::{handler, Route};

    use super::*;
    use crate::api::middleware::guarded;

    #[handler]
    fn explode() -> &'static str {
        panic!("a bug reachable from a request")
    }

    #[tokio::test]
    async fn a_panicking_request_gets_a_500_json_answer_and_the_server_goes_on() {
        let settings = Settings::from_vars(Vec::new()).unwrap();
        let app = guarded(Route::new().at("/explode", explode), &settings.cors);
        let client = TestClient::new(app);
        for _ in 0..2 {
            let response = client.get("/explode").send().await;
            response.assert_status(poem::http::StatusCode::INTERNAL_SERVER_ERROR);
            response
                .assert_json(serde_json::json!({"success": false, "message": "Internal error"}))
                .await;
        }
        let missing = client.get("/nowhere").send().await;
        missing.assert_status(poem::http::StatusCode::NOT_FOUND);
    }
}
