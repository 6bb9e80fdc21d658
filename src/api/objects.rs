//! Request and response bodies, named as they appear in the spec.
use poem_openapi::Object;

/// The answer of every operation: whether it worked and a message for people.
#[derive(Debug, Clone, Object)]
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

/// A username (an email address) and a password.
#[derive(Debug, Object)]
pub struct Credentials {
    /// The account's email address; compared without regard to case or surrounding spaces.
    pub username: String,
    /// The password: 8 to 128 characters when registering.
    #[oai(write_only)]
    pub password: String,
}

/// A username and the code that was emailed to it.
#[derive(Debug, Object)]
pub struct CodeSubmission {
    /// The account's email address.
    pub username: String,
    /// The 6-digit code from the email.
    pub code: String,
}

/// A signed-in session.
#[derive(Debug, Object)]
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
pub struct CurrentUser {
    /// Always `true`.
    pub success: bool,
    /// `Signed in`.
    pub message: String,
    /// The signed-in user's email address.
    pub username: String,
}
