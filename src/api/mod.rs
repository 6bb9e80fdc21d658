//! The HTTP layer: poem-openapi operations, their request and response objects, and the JSON
//! shape of every error. Domain errors are mapped to statuses here and nowhere else.
mod account;
mod auth;
mod client;
mod errors;
mod fields;
mod health;
pub mod middleware;
mod objects;
mod optional_body;
mod parse;
mod session;
pub mod slow_clients;
pub mod spec;

use poem_openapi::{ContactObject, LicenseObject, OpenApiService, ServerObject, Tags};

pub use client::ClientAddressPolicy;
pub use errors::{json_error, panic_response};
pub use objects::ApiMessage;
pub use spec::{spec, spec_json, spec_yaml};

/// The operations otp-login serves.
pub type Api = (
    auth::AuthApi,
    session::SessionApi,
    account::AccountApi,
    health::HealthApi,
);

#[derive(Tags)]
enum ApiTags {
    /// Two-step sign-in: register, log in with a password, verify the emailed code.
    Auth,
    /// The signed-in session: who it is, and signing out.
    Session,
    /// The password: reset by emailed code, or change while signed in.
    Account,
    /// Service status.
    Operations,
}

const DESCRIPTION: &str = "Two-step sign-in by email one-time code.\n\n\
1. `POST /register` creates an account: the username is an email address, the password 8 to \
128 characters.\n\
2. `POST /login` checks the password and emails a 6-digit code. The code works once, for a few \
minutes, and dies after a few wrong tries (5 minutes and 5 tries by default); a new login \
replaces it.\n\
3. `POST /verify` checks the code and returns a session token (a signed JWT), its \
`token_type` (`Bearer`) and its lifetime in seconds (`expires_in`).\n\
4. `GET /me` with `Authorization: Bearer <token>` names the signed-in user; `POST /logout` \
ends the session (`{\"scope\": \"all\"}`: every session of the account), and the token is \
refused from then on.\n\n\
**Passwords.** `POST /request-password-reset` emails a 6-digit reset code (the answer is the \
same whether the account exists or not); `POST /reset-password` sets a new password with it and \
ends every session. A sign-in code never resets a password and a reset code never signs in. \
`POST /change-password` (bearer) sets a new one after checking the current one and ends every \
other session.\n\n\
**Answers.** Every answer, errors included, is JSON with `success` (a boolean) and `message` \
(words for people): the `ApiMessage` schema, which `/verify` and `/me` extend on success. \
Each operation lists every status it can return. Any request can also get 404 (unknown path), \
405 (wrong method) or 413 (body over 16 KiB), in the same shape.\n\n\
**Trying it.** In Swagger UI use *Try it out* on each operation in turn. With the development \
mailer the code is written to the server log instead of being emailed. Give the `token` from \
`/verify` to *Authorize* (without the `Bearer ` prefix) to call `/me`, `/logout` and \
`/change-password`.\n\n\
**Versions.** `info.version` is the service's package version. A change that can break a \
client (a removed path, operation, response field or status, a changed type, a new required \
request field, a request value the previous version allowed and this one refuses) comes only \
with a new major version (a new minor version while it is 0.x).";

/// The API with its OpenAPI description, as poem-openapi writes it; `spec` completes the document
/// that is served and exported.
pub fn openapi_service() -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (
            auth::AuthApi,
            session::SessionApi,
            account::AccountApi,
            health::HealthApi,
        ),
        "otp-login",
        env!("CARGO_PKG_VERSION"),
    )
    .description(DESCRIPTION)
    .contact(ContactObject::new().name("otp-login maintainers"))
    .license(LicenseObject::new("MIT").url("https://opensource.org/licenses/MIT"))
    // Relative on purpose: Swagger UI's "Try it out" then calls whichever host served the page,
    // locally or behind a Lambda Function URL.
    .server(ServerObject::new("/").description("The host serving this document"))
}
