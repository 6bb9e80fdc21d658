//! `GET /me/activity`: the security events of the signed-in user's account, newest first, a
//! page at a time.
use poem::web::Data;
use poem_openapi::error::ParseParamError;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::errors::{answer, answers_failures, rejected};
use super::objects::{ActivityList, ApiMessage};
use super::session::{bearer_failure, BearerToken};
use super::spec::ApiTags;
use crate::auth::activity::{Cursor, CursorError, PageSize, PageSizeError};
use crate::auth::AuthService;

pub struct ActivityApi;

#[OpenApi(tag = "ApiTags::Session")]
impl ActivityApi {
    /// List my account's activity
    ///
    /// The security events of the bearer token's account, the newest first: sign-ins, codes
    /// sent, wrong passwords and codes (a stranger's too, with their address), limits that
    /// held a request back, sign-outs, password and address changes, and what the operator
    /// did. Each says when, from which client address and user agent, and in which session.
    /// Events are kept for a set time (90 days by default). Pages hold `limit` events (20
    /// unless asked, at most 100); give an answer's `next_cursor` as `cursor` for the next,
    /// older page.
    #[oai(path = "/me/activity", method = "get", operation_id = "listActivity")]
    async fn activity(
        &self,
        auth: Data<&AuthService>,
        token: BearerToken,
        /// How many events the page holds: 1 to 100, 20 when left out.
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// Where the page starts: the `next_cursor` of the page before; the newest events when
        /// left out.
        #[oai(validator(pattern = r"^[1-9][0-9]{0,17}$"))]
        cursor: Query<Option<String>>,
    ) -> ActivityResponse {
        answer(async {
            let session = auth.session(&token.0.token).await?;
            let size = PageSize::parse(limit.0).map_err(|err| rejected(&err))?;
            let after = cursor
                .0
                .as_deref()
                .map(Cursor::parse)
                .transpose()
                .map_err(|err| rejected(&err))?;
            let page = auth.activity(&session, after, size).await?;
            Ok(ActivityResponse::Ok(Json(ActivityList::from(page))))
        })
        .await
    }
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "activity_bad_request")]
pub enum ActivityResponse {
    /// A page of the account's events. Message: `Activity`.
    #[oai(status = 200)]
    Ok(Json<ActivityList>),
    /// `limit` is not a whole number from 1 to 100 (`Limit must be between 1 and 100`), or
    /// `cursor` is not one an answer gave (`Invalid cursor`).
    #[oai(status = 400)]
    BadRequest(Json<ApiMessage>),
    /// The token is missing, malformed, expired, signed out, or was not issued by this
    /// service. Message: `Invalid or expired session`.
    #[oai(status = 401)]
    Unauthorized(Json<ApiMessage>),
    /// Something failed on the server.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The database cannot be reached; try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(ActivityResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
    bad_request: BadRequest,
});

/// A missing bearer token is the 401 a bad one gets; a `limit` or `cursor` outside its schema
/// is the 400 the domain's rule gives.
fn activity_bad_request(err: poem::Error) -> ActivityResponse {
    if let Some(body) = bearer_failure(&err) {
        return ActivityResponse::Unauthorized(body);
    }
    tracing::debug!(error = %err, "unparseable activity query");
    let body = match err.downcast_ref::<ParseParamError>() {
        Some(param) if param.name == "cursor" => rejected(&CursorError),
        _ => rejected(&PageSizeError),
    };
    ActivityResponse::BadRequest(body)
}
