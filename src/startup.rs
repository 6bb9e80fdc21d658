//! Building the app from settings. `build_app` is the one endpoint served by the local server,
//! by Lambda, and by the tests; `openapi_service` (in `api`) feeds the spec export.
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use poem::endpoint::StaticFilesEndpoint;
use poem::error::NotFoundError;
use poem::http::Method;
use poem::listener::{Acceptor, Listener, TcpAcceptor, TcpListener};
use poem::middleware::{CatchPanic, Cors, Tracing};
use poem::{Endpoint, EndpointExt, IntoEndpoint, Request, Response, Route, Server};

use crate::api::{json_error, openapi_service, panic_response, ForwardedForPolicy};
use crate::auth::{AuthService, CodeHasher, PasswordHasher, RateLimiter, TokenKeys};
use crate::config::{MailerChoice, Settings};
use crate::mail::{DevMailer, Mailer, SesMailer};
use crate::secrets::ServerKeys;
use crate::store;

/// Request bodies are two short strings; anything near this size is not a sign-in.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// Connects to the database (applying migrations when configured) and assembles the sign-in
/// service. Called once per process; every request shares the result.
pub async fn build_auth_service(
    settings: &Settings,
    mailer: Arc<dyn Mailer>,
) -> anyhow::Result<AuthService> {
    let keys = ServerKeys::resolve(settings).await?;
    let url = settings.database_url()?;
    let db = store::connect(&url, settings.db_max_connections(), settings.on_lambda())
        .await
        .context("could not connect to the database")?;
    if settings.run_migrations() {
        Migrator::up(&db, None)
            .await
            .context("could not apply database migrations")?;
    }
    Ok(AuthService {
        limiter: RateLimiter::new(db.clone(), settings.rate_limits()?),
        db,
        passwords: PasswordHasher::default(),
        codes: CodeHasher::new(keys.otp_bytes()),
        tokens: TokenKeys::new(keys.jwt_bytes(), settings.token_ttl()),
        mailer,
        code_ttl: settings.otp_ttl(),
        max_attempts: settings.otp_max_attempts,
    })
}

/// The mailer the settings ask for; the SES client is built here, once per process.
pub async fn mailer_for(settings: &Settings) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(match settings.mailer()? {
        MailerChoice::Development => {
            tracing::warn!(
                "development mailer: sign-in codes are written to this log, not emailed"
            );
            Arc::new(DevMailer::default())
        }
        MailerChoice::Ses { sender } => {
            let aws = crate::aws::shared_config().await;
            anyhow::ensure!(
                aws.region().is_some(),
                "AWS_REGION is required to send with SES"
            );
            tracing::info!(region = ?aws.region(), "sending sign-in codes with SES");
            Arc::new(SesMailer::new(
                aws,
                sender,
                settings.ses_configuration_set.clone(),
                settings.ses_timeout(),
            ))
        }
    })
}

/// The whole HTTP app: operations, docs, spec, static pages, and the middleware that makes
/// every failure a JSON answer carrying the CORS headers.
pub fn build_app(auth: AuthService, settings: &Settings) -> impl Endpoint<Output = Response> {
    let api = openapi_service();
    let allowed = Arc::new(allowed_methods(&api.spec()));
    let routes = Route::new()
        .nest("/docs", crate::api::spec::swagger_ui())
        .at("/openapi.json", crate::api::spec::json_endpoint())
        .at("/openapi.yaml", crate::api::spec::yaml_endpoint())
        .nest("/", api);
    let frontend = PathBuf::from(&settings.frontend_dir);
    let files = frontend
        .is_dir()
        .then(|| StaticFilesEndpoint::new(frontend).index_file("index.html"));

    let app = WithFrontend { routes, files }
        .around(move |next, req| answer_405_with_allow(next, req, allowed.clone()))
        .data(auth)
        .data(ForwardedForPolicy {
            trusted: settings.trust_forwarded_for,
        });
    guarded(app, settings)
}

/// What every request passes through, whatever answers it: a body limit, panics caught, every
/// error as JSON with the CORS headers, and a request log line.
pub fn guarded(
    app: impl Endpoint + 'static,
    settings: &Settings,
) -> impl Endpoint<Output = Response> {
    app.around(limit_body)
        .with(CatchPanic::new().with_handler(panic_response))
        .catch_all_error(json_error)
        .with_if(settings.cors_enabled, cors(&settings.cors_allowed_origins))
        .catch_all_error(json_error)
        .with(Tracing)
}

/// The methods each path of the spec serves, as an `Allow` header value.
fn allowed_methods(spec_json: &str) -> HashMap<String, String> {
    let spec: serde_json::Value = serde_json::from_str(spec_json).unwrap_or_default();
    let paths = spec["paths"].as_object().cloned().unwrap_or_default();
    paths
        .into_iter()
        .map(|(path, operations)| {
            let mut methods: Vec<String> = operations
                .as_object()
                .map(|ops| ops.keys().map(|m| m.to_uppercase()).collect())
                .unwrap_or_default();
            methods.sort();
            (path, methods.join(", "))
        })
        .collect()
}

/// A 405 names the methods the path does serve (RFC 9110 requires `Allow`).
async fn answer_405_with_allow<E: Endpoint>(
    next: Arc<E>,
    req: Request,
    allowed: Arc<HashMap<String, String>>,
) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    match next.call(req).await {
        Err(err) if err.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED => {
            let mut response = json_error(err).await;
            if let Some(methods) = allowed.get(&path) {
                if let Ok(value) = methods.parse() {
                    response
                        .headers_mut()
                        .insert(poem::http::header::ALLOW, value);
                }
            }
            Ok(response)
        }
        other => other.map(poem::IntoResponse::into_response),
    }
}

/// Refuses bodies over `MAX_BODY_BYTES` with 413, whether or not they declare a length
/// (poem's `SizeLimit` would refuse every request without `Content-Length`, GETs included).
async fn limit_body<E: Endpoint>(next: Arc<E>, mut req: Request) -> poem::Result<Response> {
    let declared = req
        .header(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        return Err(poem::error::ReadBodyError::PayloadTooLarge.into());
    }
    let body = req.take_body().into_bytes_limit(MAX_BODY_BYTES).await?;
    req.set_body(body);
    next.call(req).await.map(poem::IntoResponse::into_response)
}

fn cors(allowed_origins: &str) -> Cors {
    let cors = Cors::new()
        .allow_methods([Method::GET, Method::POST, Method::OPTIONS])
        .allow_headers(["content-type", "authorization"])
        // Pages on another origin must be able to read how long a 429 asks them to wait.
        .expose_headers(["retry-after"])
        .max_age(600);
    allowed_origins
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty() && *o != "*")
        .fold(cors, Cors::allow_origin)
}

/// Serves the static pages for GET/HEAD requests no API route claimed.
struct WithFrontend<R> {
    routes: R,
    files: Option<StaticFilesEndpoint>,
}

impl<R: Endpoint> Endpoint for WithFrontend<R> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let Some(files) = &self.files else {
            return self
                .routes
                .call(req)
                .await
                .map(poem::IntoResponse::into_response);
        };
        let method = req.method().clone();
        let uri = req.uri().clone();
        let headers = req.headers().clone();
        match self.routes.call(req).await {
            Err(err)
                if err.is::<NotFoundError>() && matches!(method, Method::GET | Method::HEAD) =>
            {
                let mut file_req = Request::builder().method(method).uri(uri).finish();
                *file_req.headers_mut() = headers;
                files.call(file_req).await
            }
            other => other.map(poem::IntoResponse::into_response),
        }
    }
}

/// A local HTTP server bound to its port, ready to run.
pub struct Application {
    acceptor: TcpAcceptor,
    app: poem::endpoint::BoxEndpoint<'static, Response>,
    port: u16,
}

impl Application {
    /// Binds `BIND:PORT` (port 0 picks a free one) and builds the app.
    pub async fn build(settings: &Settings, mailer: Arc<dyn Mailer>) -> anyhow::Result<Self> {
        let auth = build_auth_service(settings, mailer).await?;
        let address = format!("{}:{}", settings.bind, settings.port);
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
            acceptor,
            app: build_app(auth, settings).boxed(),
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        Server::new_with_acceptor(self.acceptor).run(self.app).await
    }
}

/// Runs the service where the environment says: Lambda events, or a local TCP server.
pub async fn run(settings: Settings) -> anyhow::Result<()> {
    let mailer = mailer_for(&settings).await?;
    if settings.on_lambda() {
        let auth = build_auth_service(&settings, mailer).await?;
        let app = build_app(auth, &settings).into_endpoint();
        return poem_lambda::run(app)
            .await
            .map_err(|e| anyhow::anyhow!("Lambda runtime failed: {e}"));
    }
    let app = Application::build(&settings, mailer).await?;
    tracing::info!(
        "otp-login listening on http://{}:{} (Swagger UI at /docs)",
        settings.bind,
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

    #[handler]
    fn explode() -> &'static str {
        panic!("a bug reachable from a request")
    }

    #[tokio::test]
    async fn a_panicking_request_gets_a_500_json_answer_and_the_server_goes_on() {
        let settings = Settings::from_vars(Vec::new()).unwrap();
        let app = guarded(Route::new().at("/explode", explode), &settings);
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
