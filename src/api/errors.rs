//! Turning anything that is not a successful operation into `{"success":false,"message":…}`:
//! request-parsing failures, unknown routes, domain errors and panics. Each domain error has
//! its status here and nowhere else.
use std::future::Future;

use poem::error::NotFoundError;
use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::error::{ContentTypeError, ParseRequestPayloadError};
use poem_openapi::payload::Json;

use super::objects::{ApiMessage, RateLimitedMessage};
use crate::auth::{AuthError, Limited};

/// The answer for a request body the operation could not parse. `expected` describes the body
/// in words; the parser's own text (JSON positions, schema names) is logged, not shown.
pub(crate) fn parse_failure(err: &poem::Error, expected: &str) -> Json<ApiMessage> {
    tracing::debug!(error = %err, "unparseable request");
    let message = if err.is::<ContentTypeError>() {
        "Content-Type must be application/json".to_owned()
    } else if err.is::<ParseRequestPayloadError>() {
        format!("Request body must be a JSON object with {expected}")
    } else {
        "Invalid request".to_owned()
    };
    Json(ApiMessage::failure(message))
}

/// Why an operation did not do what was asked: its request did not parse into the command
/// (the 400 body, naming the broken rule), or the domain refused or failed.
pub(crate) enum Failure {
    BadRequest(Json<ApiMessage>),
    Auth(AuthError),
}

impl From<Json<ApiMessage>> for Failure {
    fn from(body: Json<ApiMessage>) -> Self {
        Self::BadRequest(body)
    }
}

impl From<AuthError> for Failure {
    fn from(err: AuthError) -> Self {
        Self::Auth(err)
    }
}

/// Runs an operation written as parse → call → answer, each step ending in `?`, and answers a
/// failure with the operation's own status for it.
pub(crate) async fn answer<R: FailureResponse>(
    operation: impl Future<Output = Result<R, Failure>>,
) -> R {
    match operation.await {
        Ok(answer) => answer,
        Err(Failure::BadRequest(body)) => R::bad_request(body),
        Err(Failure::Auth(err)) => failure(err),
    }
}

/// The statuses an operation answers a failure with: its response enum names the variant for
/// each (`answers_failures!`). Without a 400, a 429 or a 502 of its own, such a failure is
/// that operation's 500.
pub(crate) trait FailureResponse: Sized {
    /// The operation's own refusal (401, 409…), carrying the domain's message.
    fn refused(body: Json<ApiMessage>) -> Self;
    fn internal(body: Json<ApiMessage>) -> Self;
    fn unavailable(body: Json<ApiMessage>) -> Self;
    fn bad_request(_body: Json<ApiMessage>) -> Self {
        tracing::error!("an operation that has no 400 refused its request as malformed");
        Self::internal(Json(ApiMessage::failure("Internal error")))
    }
    fn too_many(_body: Json<RateLimitedMessage>, _retry_after: u64) -> Self {
        tracing::error!("a rate limit refused an operation that has no 429");
        Self::internal(Json(ApiMessage::failure("Internal error")))
    }
    fn bad_gateway(body: Json<ApiMessage>) -> Self {
        Self::internal(body)
    }
    fn not_found(_body: Json<ApiMessage>) -> Self {
        tracing::error!("an operation that has no 404 refused an unknown resource");
        Self::internal(Json(ApiMessage::failure("Internal error")))
    }
    /// A name another account holds: the operation's refusal unless it has a 409 beside it.
    fn conflict(body: Json<ApiMessage>) -> Self {
        Self::refused(body)
    }
    /// Mail cannot reach the address the operation would mail.
    fn unprocessable(_body: Json<ApiMessage>) -> Self {
        tracing::error!("an operation that has no 422 met an undeliverable address");
        Self::internal(Json(ApiMessage::failure("Internal error")))
    }
}

/// The one mapping from domain errors to answers.
fn failure<R: FailureResponse>(err: AuthError) -> R {
    match err {
        AuthError::UsernameTaken => R::conflict(rejected(&err)),
        AuthError::InvalidCredentials
        | AuthError::InvalidCode
        | AuthError::InvalidResetCode
        | AuthError::InvalidAddressCode
        | AuthError::InvalidSession
        | AuthError::WrongCurrentPassword => R::refused(rejected(&err)),
        AuthError::SameAddress => R::bad_request(rejected(&err)),
        AuthError::Undeliverable(_) | AuthError::UndeliverableAddress => {
            R::unprocessable(rejected(&err))
        }
        AuthError::UnknownSession => R::not_found(rejected(&err)),
        AuthError::RateLimited(limited) => {
            let (body, retry_after) = too_many(&limited);
            R::too_many(body, retry_after)
        }
        AuthError::Unavailable(_) | AuthError::MailThrottled(_) => {
            R::unavailable(server_failure(&err))
        }
        AuthError::Busy => {
            tracing::warn!("password hashing queue full: answering 503");
            R::unavailable(rejected(&err))
        }
        AuthError::MailFailed(_) => R::bad_gateway(server_failure(&err)),
        AuthError::Unexpected(_) => R::internal(server_failure(&err)),
    }
}

/// Implements `FailureResponse` for a response enum by naming its variants.
macro_rules! answers_failures {
    ($response:ident {
        refused: $refused:ident,
        internal: $internal:ident,
        unavailable: $unavailable:ident
        $(, bad_request: $bad_request:ident)?
        $(, too_many: $too_many:ident)?
        $(, bad_gateway: $bad_gateway:ident)?
        $(, not_found: $not_found:ident)?
        $(, conflict: $conflict:ident)?
        $(, unprocessable: $unprocessable:ident)? $(,)?
    }) => {
        impl $crate::api::errors::FailureResponse for $response {
            fn refused(body: Json<ApiMessage>) -> Self {
                Self::$refused(body)
            }
            fn internal(body: Json<ApiMessage>) -> Self {
                Self::$internal(body)
            }
            fn unavailable(body: Json<ApiMessage>) -> Self {
                Self::$unavailable(body)
            }
            $(fn bad_request(body: Json<ApiMessage>) -> Self {
                Self::$bad_request(body)
            })?
            $(fn too_many(body: Json<RateLimitedMessage>, retry_after: u64) -> Self {
                Self::$too_many(body, retry_after)
            })?
            $(fn bad_gateway(body: Json<ApiMessage>) -> Self {
                Self::$bad_gateway(body)
            })?
            $(fn not_found(body: Json<ApiMessage>) -> Self {
                Self::$not_found(body)
            })?
            $(fn conflict(body: Json<ApiMessage>) -> Self {
                Self::$conflict(body)
            })?
            $(fn unprocessable(body: Json<ApiMessage>) -> Self {
                Self::$unprocessable(body)
            })?
        }
    };
}
pub(crate) use answers_failures;

/// Logs what went wrong on our side (with its cause chain) and gives the user a plain message.
/// The `event` names the kind of failure, for the metric filters of deploy/template.yaml.
fn server_failure(err: &AuthError) -> Json<ApiMessage> {
    let event = match err {
        AuthError::MailFailed(_) => "mail_failed",
        AuthError::MailThrottled(_) => "mail_throttled",
        AuthError::Unavailable(_) => "database_unavailable",
        _ => "internal_error",
    };
    tracing::error!(event, error = %cause_chain(err), "request failed");
    Json(ApiMessage::failure(err.to_string()))
}

/// The 429 body and `Retry-After` seconds for a rate-limit refusal.
fn too_many(limited: &Limited) -> (Json<RateLimitedMessage>, u64) {
    let seconds = limited.retry_after_secs();
    let body = RateLimitedMessage {
        success: false,
        message: AuthError::RateLimited(*limited).to_string(),
        retry_after: seconds,
    };
    (Json(body), seconds)
}

/// A failure the user caused; its message is written for them.
pub(crate) fn rejected(err: &impl std::fmt::Display) -> Json<ApiMessage> {
    Json(ApiMessage::failure(err.to_string()))
}

fn cause_chain(err: &AuthError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    crate::redact::credentials(&text)
}

/// The JSON answer for an error no operation handled: unknown routes, wrong methods,
/// oversized bodies, CORS refusals.
pub async fn json_error(err: poem::Error) -> Response {
    let status = err.status();
    let message = if err.is::<NotFoundError>() || status == StatusCode::NOT_FOUND {
        "Route not found".to_owned()
    } else if status == StatusCode::PAYLOAD_TOO_LARGE {
        "Request body too large".to_owned()
    } else if status.is_server_error() {
        tracing::error!(error = %err, "unhandled error");
        "Internal error".to_owned()
    } else {
        status
            .canonical_reason()
            .unwrap_or("Bad request")
            .to_owned()
    };
    Json(ApiMessage::failure(message))
        .with_status(status)
        .into_response()
}

/// The answer when a request handler panicked: logged, and a JSON 500 instead of a dropped
/// connection.
pub fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("request handler panicked");
    Json(ApiMessage::failure("Internal error"))
        .with_status(StatusCode::INTERNAL_SERVER_ERROR)
        .into_response()
}
