//! Request and response bodies, named as they appear in the spec.
use poem_openapi::types::Example;
use poem_openapi::Object;

/// The answer of every operation: whether it worked and a message for people. Every error
/// answer has this shape.
#[derive(Debug, Clone, Object)]
#[oai(example)]
pub struct ApiMessage {
    /// `true` when the operation did what was asked.
    pub success: bool,
    /// What happened, in words a person can read.
    pub message: String,
}

impl ApiMessage {
    pub fn success(message: impl Into<String>) -> Self {
        Self {
            success: true,
            message: message.into(),
        }
    }

    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            success: false,
            message: message.into(),
        }
    }
}

/// A username (an email address) and a password. Other fields are refused.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct Credentials {
    /// The account's email address; compared without regard to case or surrounding spaces.
    pub username: String,
    /// The password: 8 to 128 characters when registering.
    // Not `write_only`: this object is only ever a request body, and poem-openapi builds the
    // schema example by serialising it, which would drop a write-only password from the example
    // that Swagger UI's "Try it out" starts from.
    pub password: String,
}

/// A username and the code that was emailed to it.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct CodeSubmission {
    /// The account's email address.
    pub username: String,
    /// The 6-digit code from the email.
    pub code: String,
}

/// A signed-in session.
#[derive(Debug, Object)]
#[oai(example)]
pub struct SessionGranted {
    /// Always `true`.
    pub success: bool,
    /// `Login successful`.
    pub message: String,
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// Who is signed in.
#[derive(Debug, Object)]
#[oai(example)]
pub struct CurrentUser {
    /// Always `true`.
    pub success: bool,
    /// `Signed in`.
    pub message: String,
    /// The signed-in user's email address.
    pub username: String,
}

// The examples Swagger UI and generated SDK docs show. An error answer is the likelier thing a
// reader looks up, so `ApiMessage` shows one; each response's description names its message.
impl Example for ApiMessage {
    fn example() -> Self {
        Self::failure("Invalid username or password")
    }
}

impl Example for Credentials {
    fn example() -> Self {
        Self {
            username: "user@example.com".to_owned(),
            password: "newpass123".to_owned(),
        }
    }
}

impl Example for CodeSubmission {
    fn example() -> Self {
        Self {
            username: "user@example.com".to_owned(),
            code: "123456".to_owned(),
        }
    }
}

impl Example for SessionGranted {
    fn example() -> Self {
        Self {
            success: true,
            message: "Login successful".to_owned(),
            token: "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl".to_owned(),
            token_type: "Bearer".to_owned(),
            expires_in: 3600,
        }
    }
}

impl Example for CurrentUser {
    fn example() -> Self {
        Self {
            success: true,
            message: "Signed in".to_owned(),
            username: "user@example.com".to_owned(),
        }
    }
}

/// A refusal by a rate limit.
#[derive(Debug, Object)]
#[oai(example)]
pub struct RateLimitedMessage {
    /// Always `false`.
    pub success: bool,
    /// What to do, in words: `Too many attempts; try again in 42 seconds`.
    pub message: String,
    /// Seconds to wait before trying again (also the `Retry-After` header).
    pub retry_after: u64,
}

impl Example for RateLimitedMessage {
    fn example() -> Self {
        Self {
            success: false,
            message: "Too many attempts; try again in 42 seconds".to_owned(),
            retry_after: 42,
        }
    }
}
