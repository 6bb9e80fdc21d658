//! `POST /register`, `POST /login`, `POST /verify`: the two-step sign-in.
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::errors::{answer, answers_failures, parse_failure};
use super::objects::{ApiMessage, CodeSent, CodeSubmission, Credentials, RateLimitedMessage};
use super::objects::{Registration, SessionGranted};
use super::spec::ApiTags;
use crate::auth::{AuthService, CodeAttempt, Language, LoginAttempt, NewAccount};
use crate::server::client::{AcceptLanguage, ClientAddress, UserAgent};

pub struct SignInApi;

const CREDENTIALS: &str = "string fields \"username\" and \"password\"";
const CODE_SUBMISSION: &str = "string fields \"username\" and \"code\"";

#[OpenApi(tag = "ApiTags::Auth")]
impl SignInApi {
    /// Create an account
    ///
    /// The username must be an email address (it is where sign-in codes go); it is trimmed and
    /// compared without regard to case. The password must be 8 to 128 characters. The account's
    /// mail is written in the language `Accept-Language` prefers most among English, German,
    /// Spanish and French (English otherwise); `PUT /me/language` changes it.
    #[oai(path = "/register", method = "post", operation_id = "register")]
    async fn register(
        &self,
        auth: Data<&AuthService>,
        client: ClientAddress,
        accept_language: AcceptLanguage,
        body: Json<Registration>,
    ) -> RegisterResponse {
        answer(async {
            let language = Language::from_accept_language(accept_language.0.as_deref());
            let account = NewAccount::try_from((body.0, language))?;
            auth.register(&client.0, &account).await?;
            let created = ApiMessage::success("User created successfully");
            Ok(RegisterResponse::Created(Json(created)))
        })
        .await
    }

    /// Check the password and email a sign-in code
    ///
    /// On success a 6-digit code is emailed to the username; it replaces any earlier code and
    /// expires after a few minutes. The answer carries the `challenge` to send back with the
    /// code to `/verify`. A wrong password and an unknown username get the same answer.
    #[oai(path = "/login", method = "post", operation_id = "login")]
    async fn login(
        &self,
        auth: Data<&AuthService>,
        client: ClientAddress,
        user_agent: UserAgent,
        body: Json<Credentials>,
    ) -> LoginResponse {
        answer(async {
            let attempt = LoginAttempt::try_from(body.0)?;
            let challenge = auth
                .login(&client.0, user_agent.0.as_deref(), &attempt)
                .await?;
            Ok(LoginResponse::CodeSent(Json(CodeSent {
                success: true,
                message: "OTP sent to email".to_owned(),
                challenge: challenge.expose().to_owned(),
            })))
        })
        .await
    }

    /// Check the emailed code and start a session
    ///
    /// Send the `challenge` from the `/login` answer with the code: without it the code works
    /// only from the address that logged in. A code works once, for a few minutes, and dies
    /// after a few wrong tries. Every failure gets the same answer. On success the response
    /// carries a short-lived bearer token for `GET /me` and the refresh token that renews it
    /// (`POST /refresh`).
    #[oai(path = "/verify", method = "post", operation_id = "verify")]
    async fn verify(
        &self,
        auth: Data<&AuthService>,
        client: ClientAddress,
        user_agent: UserAgent,
        body: Json<CodeSubmission>,
    ) -> VerifyResponse {
        answer(async {
            let attempt = CodeAttempt::try_from(body.0)?;
            let session = auth
                .verify(&client.0, user_agent.0.as_deref(), &attempt)
                .await?;
            Ok(VerifyResponse::SignedIn(Json(SessionGranted::new(
                "Login successful",
                session,
            ))))
        })
        .await
    }
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "register_bad_request")]
pub enum RegisterResponse {
    /// The account was created; sign in next. Message: `User created successfully`.
    #[oai(status = 201)]
    Created(Json<ApiMessage>),
    /// A field is missing or malformed, the username is not an email address, or the password
    /// breaks the policy; the message says which rule, e.g.
    /// `Password must be at least 8 characters`.
    #[oai(status = 400)]
    BadRequest(Json<ApiMessage>),
    /// The body is over 16 KiB; it was refused before the operation read it.
    /// Message: `Request body too large`.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the body-limit middleware; listed so the spec states it
    PayloadTooLarge(Json<ApiMessage>),
    /// An account with this username already exists. Message: `Username already exists`.
    #[oai(status = 409)]
    Conflict(Json<ApiMessage>),
    /// Too many requests from this address or for this username: wait `retry_after` seconds
    /// (also sent as the `Retry-After` header).
    #[oai(status = 429)]
    TooManyRequests(Json<RateLimitedMessage>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server; nothing was stored. Message: `Internal error`.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The database cannot be reached, or too many requests are waiting for a password hash
    /// (`Service busy; try again shortly`); nothing was stored. Try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(RegisterResponse {
    refused: Conflict,
    internal: InternalError,
    unavailable: Unavailable,
    bad_request: BadRequest,
    too_many: TooManyRequests,
});

fn register_bad_request(err: poem::Error) -> RegisterResponse {
    RegisterResponse::BadRequest(parse_failure(&err, CREDENTIALS))
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "login_bad_request")]
pub enum LoginResponse {
    /// The password was right and a code is on its way to the username.
    /// Message: `OTP sent to email`; `challenge` goes back with the code.
    #[oai(status = 200)]
    CodeSent(Json<CodeSent>),
    /// A field is missing or malformed, or the username is not an email address, e.g.
    /// `Username must be a valid email address`.
    #[oai(status = 400)]
    BadRequest(Json<ApiMessage>),
    /// The body is over 16 KiB; it was refused before the operation read it.
    /// Message: `Request body too large`.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the body-limit middleware; listed so the spec states it
    PayloadTooLarge(Json<ApiMessage>),
    /// Wrong username or password (the answer does not say which).
    /// Message: `Invalid username or password`.
    #[oai(status = 401)]
    Unauthorized(Json<ApiMessage>),
    /// Too many requests from this address or for this username: wait `retry_after` seconds
    /// (also sent as the `Retry-After` header).
    /// The password was right, but mail to the account's address cannot be delivered (the
    /// mail service reported a permanent bounce or a complaint), so no code was sent; the
    /// message says since when and what to do.
    #[oai(status = 422)]
    Unprocessable(Json<ApiMessage>),
    #[oai(status = 429)]
    TooManyRequests(Json<RateLimitedMessage>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The code could not be handed to the mail service; no code is valid. Try again later.
    /// Message: `Could not send the code; try again later`.
    #[oai(status = 502)]
    BadGateway(Json<ApiMessage>),
    /// The database cannot be reached, the mail service is throttling, or too many requests
    /// are waiting for a password check; no code is valid. Try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(LoginResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
    bad_request: BadRequest,
    too_many: TooManyRequests,
    bad_gateway: BadGateway,
    unprocessable: Unprocessable,
});

fn login_bad_request(err: poem::Error) -> LoginResponse {
    LoginResponse::BadRequest(parse_failure(&err, CREDENTIALS))
}

#[derive(ApiResponse)]
#[oai(bad_request_handler = "verify_bad_request")]
pub enum VerifyResponse {
    /// The code was right: the user is signed in. Message: `Login successful`.
    #[oai(status = 200)]
    SignedIn(Json<SessionGranted>),
    /// A field is missing or malformed, or the code is not 6 digits
    /// (`Code must be 6 digits`).
    #[oai(status = 400)]
    BadRequest(Json<ApiMessage>),
    /// The body is over 16 KiB; it was refused before the operation read it.
    /// Message: `Request body too large`.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the body-limit middleware; listed so the spec states it
    PayloadTooLarge(Json<ApiMessage>),
    /// The code is wrong, used, expired, or out of tries (the answer does not say which).
    /// Message: `Invalid or expired OTP`.
    #[oai(status = 401)]
    Unauthorized(Json<ApiMessage>),
    /// Too many requests from this address or for this username: wait `retry_after` seconds
    /// (also sent as the `Retry-After` header).
    #[oai(status = 429)]
    TooManyRequests(Json<RateLimitedMessage>, #[oai(header = "Retry-After")] u64),
    /// Something failed on the server.
    #[oai(status = 500)]
    InternalError(Json<ApiMessage>),
    /// The database cannot be reached; try again shortly.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

answers_failures!(VerifyResponse {
    refused: Unauthorized,
    internal: InternalError,
    unavailable: Unavailable,
    bad_request: BadRequest,
    too_many: TooManyRequests,
});

fn verify_bad_request(err: poem::Error) -> VerifyResponse {
    VerifyResponse::BadRequest(parse_failure(&err, CODE_SUBMISSION))
}
