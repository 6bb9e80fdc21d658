//! What every request passes through, whatever operation answers it: a request id and its log
//! line, the body limit, the 405 `Allow` header, CORS, panics caught, every failure as JSON,
//! and the static pages beside the API.
use std::sync::Arc;

use poem::endpoint::StaticFilesEndpoint;
use poem::error::NotFoundError;
use poem::http::HeaderValue;
use poem::http::Method;
use poem::middleware::{CatchPanic, Cors};
use poem::{Endpoint, EndpointExt, IntoResponse, Request, Response};
use tracing::Instrument;

use crate::api::spec::allowed_methods;
use crate::api::{json_error, panic_response};
use crate::config::{CorsSettings, MetricsSettings};
use crate::metrics::{self, Recorder};

/// Request bodies are two short strings; anything near this size is not a sign-in.
const MAX_BODY_BYTES: usize = 16 * 1024;
/// A body that takes longer than this to arrive is a client holding a connection, not a user.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What every request passes through, whatever answers it: a body limit, panics caught, every
/// error as JSON with the CORS headers, and a request id on the answer and every log line.
pub fn guarded(
    app: impl Endpoint + 'static,
    cors_settings: &CorsSettings,
    metrics: &MetricsSettings,
) -> impl Endpoint<Output = Response> {
    let recorder = Arc::new(Recorder::new(metrics));
    app.around(limit_body)
        .with(CatchPanic::new().with_handler(panic_response))
        // Errors become responses inside CORS, so a refusal still carries its headers…
        .catch_all_error(json_error)
        .with_if(cors_settings.enabled, cors(&cors_settings.allowed_origins))
        // …and CORS's own refusals (a foreign origin's preflight) are answered as JSON too.
        .catch_all_error(json_error)
        // Boxed here, so the type of the whole stack stays within the compiler's depth.
        .boxed()
        .around(move |next, req| with_request_id(next, req, recorder.clone()))
}

const REQUEST_ID: &str = "x-request-id";

/// The id a request is known by in the logs: a well-formed incoming `X-Request-Id` (a proxy's
/// or the client's), the Lambda invocation's id, or a new random one.
fn request_id(req: &Request) -> String {
    let incoming = req
        .header(REQUEST_ID)
        .filter(|id| {
            (1..=128).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
        })
        .map(str::to_owned);
    let lambda = || {
        req.extensions()
            .get::<poem_lambda::Context>()
            .map(|context| context.request_id.clone())
    };
    incoming.or_else(lambda).unwrap_or_else(|| {
        let bytes: [u8; 16] = rand::random();
        hex::encode(bytes)
    })
}

/// Runs the request inside a span carrying its id (so every line it logs names it), logs one
/// line when it is answered, records its figures, and returns the id as `X-Request-Id`.
async fn with_request_id<E: Endpoint>(
    next: Arc<E>,
    req: Request,
    recorder: Arc<Recorder>,
) -> poem::Result<Response> {
    let id = request_id(&req);
    let operation = metrics::operation(req.method().as_str(), req.uri().path());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        path = %req.uri().path(),
    );
    async move {
        let started = std::time::Instant::now();
        let (answer, counts) = metrics::measure(operation, async {
            next.call(req).await.map(IntoResponse::into_response)
        })
        .await;
        let elapsed = started.elapsed();
        let status = match &answer {
            Ok(response) => response.status().as_u16(),
            Err(err) => err.status().as_u16(),
        };
        recorder.answered(operation, status, elapsed, counts);
        let mut response = answer?;
        tracing::info!(status, elapsed_ms = elapsed.as_millis() as u64, "answered");
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        Ok(response)
    }
    .instrument(span)
    .await
}

/// A 405 names the methods the path does serve (RFC 9110 requires `Allow`).
pub async fn answer_405_with_allow<E: Endpoint>(
    next: Arc<E>,
    req: Request,
) -> poem::Result<Response> {
    let path = req.uri().path().to_owned();
    match next.call(req).await {
        Err(err) if err.status() == poem::http::StatusCode::METHOD_NOT_ALLOWED => {
            let mut response = json_error(err).await;
            if let Some(methods) = allowed_methods(&path) {
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
    let body = tokio::time::timeout(
        BODY_TIMEOUT,
        req.take_body().into_bytes_limit(MAX_BODY_BYTES),
    )
    .await
    .map_err(|_| poem::Error::from_status(poem::http::StatusCode::REQUEST_TIMEOUT))??;
    req.set_body(body);
    next.call(req).await.map(poem::IntoResponse::into_response)
}

fn cors(allowed_origins: &[String]) -> Cors {
    let cors = Cors::new()
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers(["content-type", "authorization", REQUEST_ID])
        // Pages on another origin must be able to read how long a 429 asks them to wait, and
        // the id to quote when they report a problem.
        .expose_headers(["retry-after", REQUEST_ID])
        .max_age(600);
    // No origin listed means any origin.
    allowed_origins
        .iter()
        .fold(cors, |cors, origin| cors.allow_origin(origin.as_str()))
}

/// What the pages' own `<meta>` policy cannot say: no framing (clickjacking), no `<base>` or
/// plugins, no content sniffing, no referrer leaving the site.
const PAGE_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

/// Serves the static pages for GET/HEAD requests no API route claimed.
pub struct WithFrontend<R> {
    routes: R,
    files: Option<StaticFilesEndpoint>,
}

impl<R> WithFrontend<R> {
    /// `routes`, with the pages of `dir` behind them when that folder exists.
    pub fn new(routes: R, dir: &std::path::Path) -> Self {
        let files = dir
            .is_dir()
            .then(|| StaticFilesEndpoint::new(dir).index_file("index.html"));
        Self { routes, files }
    }
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
                let mut page = files.call(file_req).await?;
                for (name, value) in PAGE_HEADERS {
                    page.headers_mut()
                        .insert(name, HeaderValue::from_static(value));
                }
                Ok(page)
            }
            other => other.map(poem::IntoResponse::into_response),
        }
    }
}

#[cfg(test)]
mod tests {
    use poem::test::TestClient;
    use poem::{handler, Route};

    use super::*;
    use crate::config::Settings;

    #[handler]
    fn explode() -> &'static str {
        panic!("a bug reachable from a request")
    }

    #[tokio::test]
    async fn a_panicking_request_gets_a_500_json_answer_and_the_server_goes_on() {
        let settings = Settings::from_vars(Vec::new()).unwrap();
        let app = guarded(
            Route::new().at("/explode", explode),
            &settings.cors,
            &settings.metrics,
        );
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
