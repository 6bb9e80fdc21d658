//! The HTTP layer: poem-openapi operations, their request and response objects, and the JSON
//! shape of every error. Domain errors are mapped to statuses here and nowhere else.
mod auth;
mod errors;
mod health;
mod objects;
mod session;

use poem_openapi::{OpenApiService, Tags};

pub use errors::{json_error, panic_response};
pub use objects::ApiMessage;

/// The operations otp-login serves.
pub type Api = (auth::AuthApi, session::SessionApi, health::HealthApi);

#[derive(Tags)]
enum ApiTags {
    /// Two-step sign-in: register, log in with a password, verify the emailed code.
    Auth,
    /// The signed-in session.
    Session,
    /// Service status.
    Operations,
}

const DESCRIPTION: &str = "Two-step sign-in by email one-time code.\n\n\
1. `POST /register` creates an account whose username is an email address.\n\
2. `POST /login` checks the password and emails a 6-digit code.\n\
3. `POST /verify` checks the code and returns a bearer token.\n\
4. `GET /me` with `Authorization: Bearer <token>` names the signed-in user.\n\n\
Every answer is JSON with `success` and `message`.";

/// The API with its OpenAPI description; served by the app and exported by `otp-login openapi`.
pub fn openapi_service() -> OpenApiService<Api, ()> {
    OpenApiService::new(
        (auth::AuthApi, session::SessionApi, health::HealthApi),
        "otp-login",
        env!("CARGO_PKG_VERSION"),
    )
    .description(DESCRIPTION)
    .server("/")
}

/// The spec as committed in `openapi.yaml`.
pub fn spec_yaml() -> String {
    openapi_service().spec_yaml()
}
