//! `POST /request-password-reset`, `POST /reset-password`, `POST /change-password`: the way
//! back from a forgotten password, and a new one while signed in; `POST /delete-account`: the
//! way out.
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::errors::{answer, answers_failures, parse_failure};
use super::objects::{AccountDeletion, CodeSent, RateLimitedMessage};
use super::objects::{ApiMessage, PasswordChange, PasswordReset, PasswordResetRequest};
use super::session::{bearer_failure, BearerToken};
use super::spec::ApiTags;
use crate::auth::{AuthService, ChangeWithCurrent, Email, LoginPassword, ResetAttempt};
use crate::server::client::ClientAddress;

pub struct AccountApi;

const RESET_REQUEST: &str = "a string field \"username\"";
const RESET: &str = "string fields \"username\" and \"new_password\", and \"code\" or \"token\"";
const CHANGE: &str = "string fields \"current_password\" and \"new_password\"";
const DELETE: &str = "a string field \"current_password\"";

#[OpenApi(tag = "ApiTags::Account")]
impl AccountApi {
    /// Email a password reset code
    ///
    /// If an account has this username, a 6-digit reset code is emailed to it, with a link that
    /// sets a new password without the code; they replace any earlier ones and expire after a
    /// few minutes. The answer carries the `challenge` to send back with the code. It is the
    /// same whether the account exists or not, and takes as long.
    #[oai(
        path = "/request-password-reset",
        method = "post",
        operation_id = "requestPasswordReset"
    )]
    async fn request_password_reset(
        &self,
        auth: Data<&AuthService>,
        client: ClientAddress,
        body: Json<PasswordResetRequest>,
    ) -> RequestResetResponse {
        answer(async {
            let username = Email::try_from(body.0)?;
            let challenge = auth.request_password_reset(&client.0, &username).await?;
            Ok(RequestResetResponse::Ok(Json(CodeSent {
                success: true,
                message: "If the account exists, a reset code was sent".to_owned(),
                challenge: challenge.expose().to_owned(),
            })))
        })
        .await
    }

    /// Set a new password with the emailed reset code
    ///
    /// Send the code from `POST /request-password-reset` with the `challenge` that answer
    /// carried (without it the code works only from the address that asked), or instead the
    /// `token` from the email's link. Either works once, for a few minutes; the code dies after
    /// a few wrong tries, and a sign-in code never works here. The new password follows the
    /// same rules as at registration. Every session of the account ends, and sign-in by code
    /// is unlocked if wrong codes had locked it.
    #[oai(
        path = "/reset-password",
        method = "post",
        operation_id = "resetPassword"
    )]
    async fn reset_password(
        &self,
        auth: Data<&AuthService>,
        client: ClientAddress,
        body: Json<PasswordReset>,
    ) -> ResetResponse {
        answer(async {
            let reset = ResetAttempt::try_from(body.0)?;
            auth.reset_password(&client.0, &reset).await?;
            Ok(ResetResponse::Ok(Json(ApiMessage::success(
                "Password changed",
            ))))
        })
        .await
    }

    /// Change the password while signed in
    ///
    /// Needs the bearer token and the current password. The new password follows the same
    /// rules as at registration. Every other session of the account ends; this one stays.
    #[oai(
        path = "/change-password",
        method = "post",
        operation_id = "changePassword"
    )]
    async fn change_password(
        &self,
        auth: Data<&AuthService>,
        client: ClientAddress,
        token: BearerToken,
        body: Json<PasswordChange>,
    ) -> ChangeResponse {
        answer(async {
            let session = auth.session(&token.0.token).await?;
            let change = ChangeWithCurrent::try_from(body.0)?;
            auth.change_password(&client.0, &session, &change).await?;
            Ok(ChangeResponse::Ok(Json(ApiMessage::success(
                "Password changed",
            ))))
        })
        .await
    }

    /// Delete my account
    ///
    /// Needs the bearer token and the current password. The account and everything kept about
    /// it (its sessions and their tokens, pending codes, wrong-password records, the rate-limit
    /// state of its address) are deleted at once, in one transaction, and a notice is mailed to
    /// the address. Every token of the account is refused from then on. The address can
    /// register again. This cannot be undone.
    #[oai(
        path = "/delete-account",
        method = "post",
        operation_id = "deleteAccount"
    )]
    async fn delete_account(
        &self,
        auth: Data<&AuthService>,
        client: ClientAddress,
        token: BearerToken,
        body: Json<AccountDeletion>,
    ) -> DeleteAccountResponse {
        answer(async {
            let session = auth.session(&token.0.token).await?;
            let current = LoginPassword::try_from(body.0)?;
            auth.delete_account(&client.0, &session, &current).await?;
            Ok(DeleteAccountResponse::Ok(Json(ApiMessage::success(
                "Account deleted",
            ))))
        })
        .await
    }
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "request_reset_bad_request")]
pub enum RequestResetResponse {
    /// Asked: if the account exists, a code is on its way (the answer does not say).
    /// Message: `If the account exists, a reset code was sent`; `challenge` goes back with the
    /// code.
    #[oai(status = 200)]
    Ok(Json<CodeSent>),
    /// A field is missing or malformed, or the username is not an email address.
    #[oai(status = 400)]
    BadRequest(Json<ApiMessage>),
    /// The body is over 16 KiB; it was refused before the operation read it.
    /// Message: `Request body too large`.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the body-limit middleware; listed so the spec states it
    PayloadTooLarge(Json<ApiMessage>),
    /// Too many requests from this address: wait `retry_after` seconds (also sent as the
    /// `Retry-After` header).
    #[oai(status = 429)]
    TooManyRequests(Json<RateLimitedMessage>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The database cannot be reached; try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(RequestResetResponse {
    // Nothing is refused here: every request that parses gets the same 200.
    refused: InternalError,
    internal: InternalError,
    unavailable: Unavailable,
    bad_request: BadRequest,
    too_many: TooManyRequests,
});

fn request_reset_bad_request(err: poem::Error) -> RequestResetResponse {
    RequestResetResponse::BadRequest(parse_failure(&err, RESET_REQUEST))
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "reset_bad_request")]
pub enum ResetResponse {
    /// The password was changed and every session ended; sign in with the new password.
    /// Message: `Password changed`.
    #[oai(status = 200)]
    Ok(Json<ApiMessage>),
    /// A field is missing or malformed, the code is not 6 digits, or the new password breaks
    /// the policy; the message says which rule, e.g. `Password must be at least 8 characters`.
    #[oai(status = 400)]
    BadRequest(Json<ApiMessage>),
    /// The body is over 16 KiB; it was refused before the operation read it.
    /// Message: `Request body too large`.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the body-limit middleware; listed so the spec states it
    PayloadTooLarge(Json<ApiMessage>),
    /// The code is wrong, used, expired, out of tries, or not a reset code (the answer does
    /// not say which). Message: `Invalid or expired code`.
    #[oai(status = 401)]
    Unauthorized(Json<ApiMessage>),
    /// Too many requests from this address or for this username: wait `retry_after` seconds
    /// (also sent as the `Retry-After` header).
    #[oai(status = 429)]
    TooManyRequests(Json<RateLimitedMessage>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server; the password is unchanged.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The database cannot be reached, or too many requests are waiting for a password hash
    /// (`Service busy; try again shortly`); the password is unchanged and the code still
    /// works.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(ResetResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
    bad_request: BadRequest,
    too_many: TooManyRequests,
});

fn reset_bad_request(err: poem::Error) -> ResetResponse {
    ResetResponse::BadRequest(parse_failure(&err, RESET))
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "change_bad_request")]
pub enum ChangeResponse {
    /// The password was changed; every other session ended. Message: `Password changed`.
    #[oai(status = 200)]
    Ok(Json<ApiMessage>),
    /// A field is missing or malformed, or the new password breaks the policy; the message
    /// says which rule, e.g. `Password must be at least 8 characters`.
    #[oai(status = 400)]
    BadRequest(Json<ApiMessage>),
    /// The body is over 16 KiB; it was refused before the operation read it.
    /// Message: `Request body too large`.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the body-limit middleware; listed so the spec states it
    PayloadTooLarge(Json<ApiMessage>),
    /// The token is missing, invalid, expired or signed out (`Invalid or expired session`),
    /// or the current password is wrong (`Current password is incorrect`).
    #[oai(status = 401)]
    Unauthorized(Json<ApiMessage>),
    /// Too many requests from this address, or too many wrong passwords: wait `retry_after`
    /// seconds (also sent as the `Retry-After` header).
    #[oai(status = 429)]
    TooManyRequests(Json<RateLimitedMessage>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server; the password is unchanged.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The database cannot be reached, or too many requests are waiting for a password
    /// check; the password is unchanged. Try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(ChangeResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
    bad_request: BadRequest,
    too_many: TooManyRequests,
});

fn change_bad_request(err: poem::Error) -> ChangeResponse {
    match bearer_failure(&err) {
        Some(refusal) => ChangeResponse::Unauthorized(refusal),
        None => ChangeResponse::BadRequest(parse_failure(&err, CHANGE)),
    }
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "delete_bad_request")]
pub enum DeleteAccountResponse {
    /// The account and everything kept about it are gone. Message: `Account deleted`.
    #[oai(status = 200)]
    Ok(Json<ApiMessage>),
    /// `current_password` is missing or malformed.
    #[oai(status = 400)]
    BadRequest(Json<ApiMessage>),
    /// The body is over 16 KiB; it was refused before the operation read it.
    /// Message: `Request body too large`.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the body-limit middleware; listed so the spec states it
    PayloadTooLarge(Json<ApiMessage>),
    /// The token is missing, invalid, expired or signed out (`Invalid or expired session`),
    /// or the current password is wrong (`Current password is incorrect`); nothing was deleted.
    #[oai(status = 401)]
    Unauthorized(Json<ApiMessage>),
    /// Too many requests from this address, or too many wrong passwords: wait `retry_after`
    /// seconds (also sent as the `Retry-After` header).
    #[oai(status = 429)]
    TooManyRequests(Json<RateLimitedMessage>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server; nothing was deleted.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The database cannot be reached, or too many requests are waiting for a password
    /// check; nothing was deleted. Try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(DeleteAccountResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
    bad_request: BadRequest,
    too_many: TooManyRequests,
});

fn delete_bad_request(err: poem::Error) -> DeleteAccountResponse {
    match bearer_failure(&err) {
        Some(refusal) => DeleteAccountResponse::Unauthorized(refusal),
        None => DeleteAccountResponse::BadRequest(parse_failure(&err, DELETE)),
    }
}
