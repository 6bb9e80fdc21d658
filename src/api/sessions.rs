//! `GET /sessions`: the signed-in user's live sessions, where and when each was opened and
//! last used; `DELETE /sessions/{id}`: end one of them.
use poem::web::Data;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::errors::{answer, answers_failures};
use super::objects::{ApiMessage, SessionEntry, SessionList};
use super::session::{no_bearer_token, BearerToken};
use super::spec::ApiTags;
use crate::auth::AuthService;
use crate::server::client::ClientAddress;

pub struct SessionsApi;

#[OpenApi(tag = "ApiTags::Session")]
impl SessionsApi {
    /// List my sessions
    ///
    /// Every live session of the bearer token's account, the most recently used first (at
    /// most 100): when it was opened and last used, the client address and a short user agent
    /// it was opened with, and which one is this token's (`current`). Use an `id` with
    /// `DELETE /sessions/{id}` to end that session.
    #[oai(path = "/sessions", method = "get", operation_id = "listSessions")]
    async fn list(&self, auth: Data<&AuthService>, token: BearerToken) -> SessionsResponse {
        answer(async {
            let session = auth.session(&token.0.token).await?;
            let sessions = auth.list_sessions(&session).await?;
            Ok(SessionsResponse::Ok(Json(SessionList {
                success: true,
                message: "Sessions".to_owned(),
                sessions: sessions.into_iter().map(SessionEntry::from).collect(),
            })))
        })
        .await
    }

    /// End one of my sessions
    ///
    /// Ends the session `id` of the bearer token's account at once: its access token and its
    /// refresh token are refused from then on, on whatever device holds them. Ending this
    /// token's own session signs it out. An id that is not a live session of this account
    /// answers 404, whoever's it is.
    #[oai(path = "/sessions/:id", method = "delete", operation_id = "endSession")]
    async fn end(
        &self,
        auth: Data<&AuthService>,
        client: ClientAddress,
        token: BearerToken,
        /// A session's `id`, as `GET /sessions` lists it.
        id: Path<String>,
    ) -> EndSessionResponse {
        answer(async {
            let session = auth.session(&token.0.token).await?;
            auth.end_session(&client.0, &session, &id.0).await?;
            Ok(EndSessionResponse::Ok(Json(ApiMessage::success(
                "Signed out",
            ))))
        })
        .await
    }
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "sessions_bad_request")]
pub enum SessionsResponse {
    /// The account's live sessions. Message: `Sessions`.
    #[oai(status = 200)]
    Ok(Json<SessionList>),
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

answers_failures!(SessionsResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
});

/// The only request part `/sessions` parses is the `Authorization` header.
fn sessions_bad_request(err: poem::Error) -> SessionsResponse {
    SessionsResponse::Unauthorized(no_bearer_token(&err))
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "end_session_bad_request")]
pub enum EndSessionResponse {
    /// The session ended. Message: `Signed out`.
    #[oai(status = 200)]
    Ok(Json<ApiMessage>),
    /// The token is missing, malformed, expired, signed out, or was not issued by this
    /// service. Message: `Invalid or expired session`.
    #[oai(status = 401)]
    Unauthorized(Json<ApiMessage>),
    /// No live session of this account has that id (it ended already, or is another
    /// account's). Message: `Session not found`.
    #[oai(status = 404)]
    NotFound(Json<ApiMessage>),
    /// Something failed on the server; the session is unchanged.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The database cannot be reached; the session is unchanged. Try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(EndSessionResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
    not_found: NotFound,
});

/// The only request part parsed before the session is the `Authorization` header.
fn end_session_bad_request(err: poem::Error) -> EndSessionResponse {
    EndSessionResponse::Unauthorized(no_bearer_token(&err))
}
