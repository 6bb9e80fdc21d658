//! `POST /change-email` and `POST /confirm-email-change`: moving the signed-in account to a
//! new address, proven by a code mailed there.
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::errors::{answer, answers_failures, parse_failure};
use super::objects::RateLimitedMessage;
use super::objects::{ApiMessage, EmailChangeConfirmation, EmailChangeRequest, EmailChanged};
use super::session::{bearer_failure, BearerToken};
use super::spec::ApiTags;
use crate::auth::{AddressChange, AuthService, OneTimeCode};
use crate::server::client::ClientAddress;

pub struct AddressApi;

const CHANGE: &str = "string fields \"new_username\" and \"current_password\"";
const CONFIRM: &str = "a string field \"code\"";

#[OpenApi(tag = "ApiTags::Account")]
impl AddressApi {
    /// Ask to change my address
    ///
    /// Needs the bearer token and the current password (a wrong one counts toward the same
    /// back-off as at sign-in). The new address follows the same rules as at registration. A
    /// 6-digit code is emailed to the new address; send it to `POST /confirm-email-change`
    /// from this same session. It works once, for a few minutes, dies after a few wrong tries,
    /// and replaces any earlier one. An address another account holds answers 409, and only
    /// once the password is right.
    #[oai(path = "/change-email", method = "post", operation_id = "changeEmail")]
    async fn change_email(
        &self,
        auth: Data<&AuthService>,
        client: ClientAddress,
        token: BearerToken,
        body: Json<EmailChangeRequest>,
    ) -> ChangeEmailResponse {
        answer(async {
            let session = auth.session(&token.0.token).await?;
            let change = AddressChange::try_from(body.0)?;
            auth.request_email_change(&client.0, &session, &change)
                .await?;
            Ok(ChangeEmailResponse::Ok(Json(ApiMessage::success(
                "Code sent to the new address",
            ))))
        })
        .await
    }

    /// Confirm my new address with the emailed code
    ///
    /// Needs the bearer token of the session that asked and the code mailed to the new
    /// address. The new address becomes the username (sign-in codes go there from now on),
    /// every other session of the account ends, and a notice goes to the old address. The
    /// user id stays; access tokens issued before carry the old address until they are renewed.
    #[oai(
        path = "/confirm-email-change",
        method = "post",
        operation_id = "confirmEmailChange"
    )]
    async fn confirm_email_change(
        &self,
        auth: Data<&AuthService>,
        client: ClientAddress,
        token: BearerToken,
        body: Json<EmailChangeConfirmation>,
    ) -> ConfirmEmailResponse {
        answer(async {
            let session = auth.session(&token.0.token).await?;
            let code = OneTimeCode::try_from(body.0)?;
            let changed = auth
                .confirm_email_change(&client.0, &session, &code)
                .await?;
            Ok(ConfirmEmailResponse::Ok(Json(EmailChanged {
                success: true,
                message: "Email address changed".to_owned(),
                username: changed.as_ref().to_owned(),
            })))
        })
        .await
    }
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "change_email_bad_request")]
pub enum ChangeEmailResponse {
    /// The code went to the new address. Message: `Code sent to the new address`.
    #[oai(status = 200)]
    Ok(Json<ApiMessage>),
    /// A field is missing or malformed, the new address is not an email address, or it is the
    /// current one (`New address is the current address`).
    #[oai(status = 400)]
    BadRequest(Json<ApiMessage>),
    /// The token is missing, malformed, expired, signed out, or was not issued by this service
    /// (`Invalid or expired session`), or the current password is wrong (`Current password is
    /// incorrect`).
    #[oai(status = 401)]
    Unauthorized(Json<ApiMessage>),
    /// The body is over 16 KiB; it was refused before the operation read it.
    /// Message: `Request body too large`.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the body-limit middleware; listed so the spec states it
    PayloadTooLarge(Json<ApiMessage>),
    /// Another account has the new address. Message: `Username already exists`.
    #[oai(status = 409)]
    Conflict(Json<ApiMessage>),
    /// Too many requests from this address, too many wrong passwords, or too many codes to the
    /// new address: wait `retry_after` seconds (also the `Retry-After` header).
    /// Mail to the new address cannot be delivered (the mail service reported a bounce or a
    /// complaint); nothing was sent. Message: `Mail to that address cannot be delivered;
    /// choose another`.
    #[oai(status = 422)]
    Unprocessable(Json<ApiMessage>),
    #[oai(status = 429)]
    TooManyRequests(Json<RateLimitedMessage>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server; nothing changed.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The mail service refused or could not take the code; nothing changed. Try again later.
    #[oai(status = 502)]
    BadGateway(Json<ApiMessage>),
    /// The database cannot be reached, or too many requests are waiting for a password check;
    /// nothing changed. Try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(ChangeEmailResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
    bad_request: BadRequest,
    too_many: TooManyRequests,
    bad_gateway: BadGateway,
    conflict: Conflict,
    unprocessable: Unprocessable,
});

fn change_email_bad_request(err: poem::Error) -> ChangeEmailResponse {
    match bearer_failure(&err) {
        Some(body) => ChangeEmailResponse::Unauthorized(body),
        None => ChangeEmailResponse::BadRequest(parse_failure(&err, CHANGE)),
    }
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "confirm_email_bad_request")]
pub enum ConfirmEmailResponse {
    /// The address is changed. Message: `Email address changed`.
    #[oai(status = 200)]
    Ok(Json<EmailChanged>),
    /// A field is missing or malformed, e.g. `Code must be 6 digits`.
    #[oai(status = 400)]
    BadRequest(Json<ApiMessage>),
    /// The token is missing, malformed, expired, signed out, or was not issued by this service
    /// (`Invalid or expired session`), or the code is wrong, used, expired, out of tries or
    /// asked for in another session (`Invalid or expired code`).
    #[oai(status = 401)]
    Unauthorized(Json<ApiMessage>),
    /// Another account took the new address since the code was sent; nothing changed.
    /// Message: `Username already exists`.
    #[oai(status = 409)]
    Conflict(Json<ApiMessage>),
    /// The body is over 16 KiB; it was refused before the operation read it.
    /// Message: `Request body too large`.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the body-limit middleware; listed so the spec states it
    PayloadTooLarge(Json<ApiMessage>),
    /// Too many requests from this address, or too many codes checked for this account: wait
    /// `retry_after` seconds (also the `Retry-After` header).
    #[oai(status = 429)]
    TooManyRequests(Json<RateLimitedMessage>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server; nothing changed.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The database cannot be reached; nothing changed. Try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(ConfirmEmailResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
    bad_request: BadRequest,
    too_many: TooManyRequests,
    conflict: Conflict,
});

fn confirm_email_bad_request(err: poem::Error) -> ConfirmEmailResponse {
    match bearer_failure(&err) {
        Some(body) => ConfirmEmailResponse::Unauthorized(body),
        None => ConfirmEmailResponse::BadRequest(parse_failure(&err, CONFIRM)),
    }
}
