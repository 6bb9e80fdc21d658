//! `GET /me`: who the bearer token belongs to.
use poem::web::Data;
use poem_openapi::auth::Bearer;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, SecurityScheme};

use super::errors::{answers_failures, failure, rejected};
use super::objects::{ApiMessage, CurrentUser};
use super::ApiTags;
use crate::auth::{AuthError, AuthService};

/// The token from `POST /verify`, sent as `Authorization: Bearer <token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct BearerToken(Bearer);

pub struct SessionApi;

#[OpenApi(tag = "ApiTags::Session")]
impl SessionApi {
    /// Who is signed in
    ///
    /// Answers with the username the bearer token was issued to, while the token is valid.
    /// The token is the one `POST /verify` returned; in Swagger UI give it to *Authorize*.
    #[oai(path = "/me", method = "get", operation_id = "getCurrentUser")]
    async fn me(&self, auth: Data<&AuthService>, token: BearerToken) -> MeResponse {
        match auth.session_user(&token.0.token).await {
            Ok(username) => MeResponse::Ok(Json(CurrentUser {
                success: true,
                message: "Signed in".to_owned(),
                username,
            })),
            Err(err) => failure(err),
        }
    }
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "me_bad_request")]
pub enum MeResponse {
    /// The token is valid.
    #[oai(status = 200)]
    Ok(Json<CurrentUser>),
    /// The token is missing, malformed, expired or was not issued by this service.
    /// Message: `Invalid or expired session`.
    #[oai(status = 401)]
    Unauthorized(Json<ApiMessage>),
    /// Something failed on the server.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The database cannot be reached; try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(MeResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
});

/// The only request part `/me` parses is the `Authorization` header: missing or malformed
/// is the same 401 as a bad token.
fn me_bad_request(err: poem::Error) -> MeResponse {
    tracing::debug!(error = %err, "no usable bearer token");
    MeResponse::Unauthorized(rejected(&AuthError::InvalidSession))
}
