//! `GET /me`: who the bearer token belongs to; `POST /refresh`: renew the access token with the
//! refresh token; `POST /logout`: end the session, or all of them.
use poem::web::Data;
use poem_openapi::auth::Bearer;
use poem_openapi::error::AuthorizationError;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, SecurityScheme};

use super::errors::{answer, answers_failures, parse_failure, rejected};
use super::objects::{ApiMessage, CurrentUser, RateLimitedMessage, RefreshRequest};
use super::objects::{LanguageChoice, SessionGranted, SignOut};
use super::optional_body::OptionalJson;
use super::spec::ApiTags;
use crate::auth::{self, AuthError, AuthService, RefreshToken};
use crate::server::client::ClientAddress;

const SIGN_OUT: &str = "an optional field \"scope\", \"current\" or \"all\"";
const REFRESH: &str = "a string field \"refresh_token\"";

/// The token from `POST /verify`, sent as `Authorization: Bearer <token>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT")]
pub struct BearerToken(pub Bearer);

pub struct SessionApi;

#[OpenApi(tag = "ApiTags::Session")]
impl SessionApi {
    /// Who is signed in
    ///
    /// Answers with the account the bearer token was issued to, while the token is valid: the
    /// address, the stable user id, when the account was made and its address proven, and the
    /// last sign-in with its client address. The token is the one `POST /verify` returned; in
    /// Swagger UI give it to *Authorize*.
    #[oai(path = "/me", method = "get", operation_id = "getCurrentUser")]
    async fn me(&self, auth: Data<&AuthService>, token: BearerToken) -> MeResponse {
        answer(async {
            let session = auth.session(&token.0.token).await?;
            let profile = session.profile;
            Ok(MeResponse::Ok(Json(CurrentUser {
                success: true,
                message: "Signed in".to_owned(),
                username: session.username,
                user_id: profile.user_id,
                created_at: profile.created_at,
                email_verified_at: profile.email_verified_at,
                last_sign_in_at: profile.last_sign_in_at,
                last_sign_in_from: profile.last_sign_in_from,
                language: profile.language.into(),
            })))
        })
        .await
    }

    /// Choose the language of my mail
    ///
    /// Every mail the account is sent from now on (codes and notices) is written in this
    /// language: `en`, `de`, `es` or `fr`. At registration it is the one `Accept-Language`
    /// prefers most among them (English otherwise).
    #[oai(path = "/me/language", method = "put", operation_id = "setLanguage")]
    async fn set_language(
        &self,
        auth: Data<&AuthService>,
        token: BearerToken,
        body: Json<LanguageChoice>,
    ) -> LanguageResponse {
        answer(async {
            let session = auth.session(&token.0.token).await?;
            auth.set_language(&session, body.0.language.into()).await?;
            Ok(LanguageResponse::Ok(Json(ApiMessage::success(
                "Language changed",
            ))))
        })
        .await
    }

    /// Renew the access token
    ///
    /// Spends the refresh token from the last `/verify` or `/refresh` answer and answers a new
    /// access token with the next refresh token; the one sent is spent. Call it before
    /// `expires_in` runs out. A refresh token works once: sent again, it ends the session
    /// (someone else holds a copy), except within a few seconds of its refresh, so two tabs
    /// refreshing at once both go on. It lapses unused after `refresh_expires_in` seconds, and
    /// with its session: sign-out, a password reset or change, or the session's maximum age.
    #[oai(path = "/refresh", method = "post", operation_id = "refresh")]
    async fn refresh(
        &self,
        auth: Data<&AuthService>,
        client: ClientAddress,
        body: Json<RefreshRequest>,
    ) -> RefreshResponse {
        answer(async {
            let presented = RefreshToken::try_from(body.0)?;
            let grant = auth.refresh(&client.0, &presented).await?;
            Ok(RefreshResponse::Refreshed(Json(SessionGranted::new(
                "Token refreshed",
                grant,
            ))))
        })
        .await
    }

    /// Sign out
    ///
    /// Ends the session of the bearer token at once: the token is refused from then on. With
    /// `{"scope": "all"}` every session of the account ends, on every device. The body may be
    /// left out.
    #[oai(path = "/logout", method = "post", operation_id = "logout")]
    async fn logout(
        &self,
        auth: Data<&AuthService>,
        client: ClientAddress,
        token: BearerToken,
        body: OptionalJson<SignOut>,
    ) -> LogoutResponse {
        answer(async {
            let session = auth.session(&token.0.token).await?;
            let scope = auth::SignOutScope::try_from(body.0)
                .map_err(|malformed| parse_failure(&malformed.into(), SIGN_OUT))?;
            auth.sign_out(&client.0, &session, scope).await?;
            Ok(LogoutResponse::Ok(Json(ApiMessage::success(match scope {
                auth::SignOutScope::Current => "Signed out",
                auth::SignOutScope::All => "Signed out everywhere",
            }))))
        })
        .await
    }
}

/// The 401 for a request whose bearer token is missing or not a bearer token, if that is what
/// failed: the same answer as for a bad token.
pub(crate) fn bearer_failure(err: &poem::Error) -> Option<Json<ApiMessage>> {
    err.is::<AuthorizationError>().then(|| no_bearer_token(err))
}

/// A missing or malformed `Authorization` header is the same 401 as a bad token.
pub(super) fn no_bearer_token(err: &poem::Error) -> Json<ApiMessage> {
    tracing::debug!(error = %err, "no usable bearer token");
    rejected(&AuthError::InvalidSession)
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "me_bad_request")]
pub enum MeResponse {
    /// The token is valid.
    #[oai(status = 200)]
    Ok(Json<CurrentUser>),
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

answers_failures!(MeResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
});

/// The only request part `/me` parses is the `Authorization` header: missing or malformed
/// is the same 401 as a bad token.
fn me_bad_request(err: poem::Error) -> MeResponse {
    MeResponse::Unauthorized(no_bearer_token(&err))
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "refresh_bad_request")]
pub enum RefreshResponse {
    /// A new access token and the next refresh token. Message: `Token refreshed`.
    #[oai(status = 200)]
    Refreshed(Json<SessionGranted>),
    /// The body is not JSON, or `refresh_token` is missing or not 32 hexadecimal characters.
    #[oai(status = 400)]
    BadRequest(Json<ApiMessage>),
    /// The body is over 16 KiB; it was refused before the operation read it.
    /// Message: `Request body too large`.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the body-limit middleware; listed so the spec states it
    PayloadTooLarge(Json<ApiMessage>),
    /// The refresh token is unknown, spent, unused too long, or its session ended: sign in
    /// again. Message: `Invalid or expired session`.
    #[oai(status = 401)]
    Unauthorized(Json<ApiMessage>),
    /// Too many requests from this address: wait `retry_after` seconds (also sent as the
    /// `Retry-After` header).
    #[oai(status = 429)]
    TooManyRequests(Json<RateLimitedMessage>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server; the refresh token is unchanged.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The database cannot be reached; the refresh token is unchanged. Try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(RefreshResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
    bad_request: BadRequest,
    too_many: TooManyRequests,
});

fn refresh_bad_request(err: poem::Error) -> RefreshResponse {
    RefreshResponse::BadRequest(parse_failure(&err, REFRESH))
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "logout_bad_request")]
pub enum LogoutResponse {
    /// The session ended (`Signed out`), or every session of the account
    /// (`Signed out everywhere`).
    #[oai(status = 200)]
    Ok(Json<ApiMessage>),
    /// The body is not JSON, or `scope` is not `current` or `all`.
    #[oai(status = 400)]
    BadRequest(Json<ApiMessage>),
    /// The body is over 16 KiB; it was refused before the operation read it.
    /// Message: `Request body too large`.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the body-limit middleware; listed so the spec states it
    PayloadTooLarge(Json<ApiMessage>),
    /// The token is missing, malformed, expired or already signed out.
    /// Message: `Invalid or expired session`.
    #[oai(status = 401)]
    Unauthorized(Json<ApiMessage>),
    /// Something failed on the server.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The database cannot be reached; the session is unchanged. Try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(LogoutResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
    bad_request: BadRequest,
});

fn logout_bad_request(err: poem::Error) -> LogoutResponse {
    match bearer_failure(&err) {
        Some(refusal) => LogoutResponse::Unauthorized(refusal),
        None => LogoutResponse::BadRequest(parse_failure(&err, SIGN_OUT)),
    }
}

const LANGUAGE: &str = "a field \"language\": \"en\", \"de\", \"es\" or \"fr\"";

#[derive(ApiResponse)]
#[oai(bad_request_handler = "language_bad_request")]
pub enum LanguageResponse {
    /// The account's mail is written in that language from now on.
    /// Message: `Language changed`.
    #[oai(status = 200)]
    Ok(Json<ApiMessage>),
    /// The body is not JSON, or `language` is not one of `en`, `de`, `es`, `fr`.
    #[oai(status = 400)]
    BadRequest(Json<ApiMessage>),
    /// The body is over 16 KiB; it was refused before the operation read it.
    /// Message: `Request body too large`.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the body-limit middleware; listed so the spec states it
    PayloadTooLarge(Json<ApiMessage>),
    /// The token is missing, malformed, expired or signed out.
    /// Message: `Invalid or expired session`.
    #[oai(status = 401)]
    Unauthorized(Json<ApiMessage>),
    /// Something failed on the server; the language is unchanged.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The database cannot be reached; the language is unchanged. Try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(LanguageResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
    bad_request: BadRequest,
});

fn language_bad_request(err: poem::Error) -> LanguageResponse {
    match bearer_failure(&err) {
        Some(refusal) => LanguageResponse::Unauthorized(refusal),
        None => LanguageResponse::BadRequest(parse_failure(&err, LANGUAGE)),
    }
}
