//! Request and response bodies, named as they appear in the spec.
use chrono::{DateTime, SubsecRound, Utc};
use poem_openapi::types::{Example, MaybeUndefined};
use poem_openapi::{Enum, Object};

use super::fields::{ChallengeText, CodeText, NewPasswordText, ResetTokenText};
use super::fields::{RefreshTokenText, SignInPasswordText, UsernameText};
use crate::auth::{ActivityEvent, ActivityPage, Language, SessionGrant, SessionView};

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

// The fields below carry no doc comment on purpose: a described `$ref` is written as an `allOf`
// wrapper, which generated SDKs turn into needless types. Each named schema describes itself.
// Not `write_only` on passwords either: poem-openapi builds the schema example by serialising
// it, which would drop a write-only password from the example Swagger UI's "Try it out" uses.

/// The username and password of a new account. Other fields are refused.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct Registration {
    pub username: UsernameText,
    pub password: NewPasswordText,
}

/// A username and its password, to sign in. Other fields are refused.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct Credentials {
    pub username: UsernameText,
    pub password: SignInPasswordText,
}

/// A username, the code that was emailed to it, and the challenge the `/login` answer carried.
/// Other fields are refused.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct CodeSubmission {
    pub username: UsernameText,
    pub code: CodeText,
    // Left out: the code works only from the address that asked for it; `null` is refused.
    pub challenge: MaybeUndefined<ChallengeText>,
}

/// The account whose password is forgotten. Other fields are refused.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct PasswordResetRequest {
    pub username: UsernameText,
}

/// The new password, with either the code from the password reset email (and the challenge
/// the `/request-password-reset` answer carried) or the `token` from the email's link. Other
/// fields are refused.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct PasswordReset {
    pub username: UsernameText,
    pub code: MaybeUndefined<CodeText>,
    pub challenge: MaybeUndefined<ChallengeText>,
    pub token: MaybeUndefined<ResetTokenText>,
    pub new_password: NewPasswordText,
}

/// The signed-in user's current password and the new one. Other fields are refused.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: SignInPasswordText,
    pub new_password: NewPasswordText,
}

/// The signed-in user's current password, to delete the account. Other fields are refused.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct AccountDeletion {
    pub current_password: SignInPasswordText,
}

/// The address the signed-in user moves to (`new_username`, by the same rules as at
/// registration), with their current password. Other fields are refused.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct EmailChangeRequest {
    pub new_username: UsernameText,
    pub current_password: SignInPasswordText,
}

/// The code mailed to the new address. Other fields are refused.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct EmailChangeConfirmation {
    pub code: CodeText,
}

/// The address the account has now.
#[derive(Debug, Object)]
#[oai(example)]
pub struct EmailChanged {
    /// Always `true`.
    pub success: bool,
    /// `Email address changed`.
    pub message: String,
    /// The new username.
    pub username: String,
}

/// A page of the signed-in user's activity.
#[derive(Debug, Object)]
#[oai(example)]
pub struct ActivityList {
    /// Always `true`.
    pub success: bool,
    /// `Activity`.
    pub message: String,
    /// The newest first.
    pub events: Vec<ActivityEntry>,
    /// Give it as `cursor` for the next, older page; absent on the last page.
    #[oai(skip_serializing_if_is_none)]
    pub next_cursor: Option<String>,
}

/// One security event of the account.
#[derive(Debug, Object)]
#[oai(example)]
pub struct ActivityEntry {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened: `registered`, `code_sent`, `wrong_password`, `wrong_code`, `limited`,
    /// `signed_in`, `signed_out`, `password_reset`, `password_changed`, `locked` (sign-in by
    /// code, after too many wrong codes), `refresh_token_reused`, `email_change_requested`,
    /// `email_changed`, `disabled`, `enabled` or `unlocked` (the last three by the operator).
    /// Show a kind not listed here plainly: later versions may add kinds.
    pub event: String,
    /// More about it: a code's purpose (`sign_in`, `password_reset`, `email_change`), the
    /// limit that held a request back, which sessions a sign-out ended (`current`, `one`,
    /// `all`), how a password was reset (`code`, `link`), or `operator`.
    #[oai(skip_serializing_if_is_none)]
    pub detail: Option<String>,
    /// The client address it came from: an IPv4 address, or an IPv6 network (`/64`); absent
    /// for what the operator did.
    #[oai(skip_serializing_if_is_none)]
    pub client_address: Option<String>,
    /// The browser or program it came from, in short (`Firefox 120 on Linux`), when known.
    #[oai(skip_serializing_if_is_none)]
    pub user_agent: Option<String>,
    /// The session it happened in (as `GET /sessions` names them), or the session a sign-in
    /// opened.
    #[oai(skip_serializing_if_is_none)]
    pub session_id: Option<String>,
    /// It happened in (or opened) the session of the token that asked.
    pub current_session: bool,
}

impl From<ActivityPage> for ActivityList {
    fn from(page: ActivityPage) -> Self {
        Self {
            success: true,
            message: "Activity".to_owned(),
            events: page.events.into_iter().map(ActivityEntry::from).collect(),
            next_cursor: page.next.map(|cursor| cursor.to_string()),
        }
    }
}

impl From<ActivityEvent> for ActivityEntry {
    fn from(event: ActivityEvent) -> Self {
        let row = event.row;
        Self {
            at: row.at.trunc_subsecs(0),
            event: row.kind,
            detail: row.detail,
            client_address: row.client_address,
            user_agent: row.user_agent,
            session_id: row.session_id,
            current_session: event.current_session,
        }
    }
}

/// Which sessions to end: `current` (this token's, the default) or `all` of the user's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum SignOutScope {
    Current,
    All,
}

/// What to sign out of; the body may be left out. Other fields are refused.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct SignOut {
    // Left out means `current`; `null` is refused, as the schema says.
    pub scope: MaybeUndefined<SignOutScope>,
}

/// A code is on its way, if the request deserved one; the challenge goes back with the code.
#[derive(Debug, Object)]
#[oai(example)]
pub struct CodeSent {
    /// Always `true`.
    pub success: bool,
    /// What happened, in words a person can read.
    pub message: String,
    /// Send it back with the code (`/verify` or `/reset-password`): the code works only with
    /// it, or from this client's address. Every answer carries one, whether a mail went out
    /// or not, so it tells nothing.
    pub challenge: String,
}

/// A signed-in session.
#[derive(Debug, Object)]
#[oai(example)]
pub struct SessionGranted {
    /// Always `true`.
    pub success: bool,
    /// `Login successful`.
    pub message: String,
    /// An RS256 JWT, verifiable with the keys at `/.well-known/jwks.json`. Send as
    /// `Authorization: Bearer <token>`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires (at most `TOKEN_TTL_SECONDS`, 15 minutes by default):
    /// renew it before then with `POST /refresh`.
    pub expires_in: u64,
    /// Opaque; send it to `POST /refresh` for a new access token and the next refresh token.
    /// It works once. Keep it as secret as a password.
    pub refresh_token: String,
    /// Seconds the refresh token stays usable if unused.
    pub refresh_expires_in: u64,
}

impl SessionGranted {
    pub fn new(message: &str, grant: SessionGrant) -> Self {
        Self {
            success: true,
            message: message.to_owned(),
            token: grant.access.token,
            token_type: "Bearer".to_owned(),
            expires_in: grant.access.expires_in.as_secs(),
            refresh_token: grant.refresh.expose().to_owned(),
            refresh_expires_in: grant.refresh_expires_in.as_secs(),
        }
    }
}

/// The refresh token to spend. Other fields are refused.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: RefreshTokenText,
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
    /// The user's stable id: the `sub` of their tokens, kept when the address changes.
    pub user_id: String,
    /// When the account was made.
    pub created_at: DateTime<Utc>,
    /// When a code sent to the address first proved the mailbox (a sign-in code or a password
    /// reset); absent until then.
    #[oai(skip_serializing_if_is_none)]
    pub email_verified_at: Option<DateTime<Utc>>,
    /// The last sign-in by code; absent before the first (and for accounts from before the
    /// service recorded it, until their next).
    #[oai(skip_serializing_if_is_none)]
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// The client address of the last sign-in: an IPv4 address, or an IPv6 network (`/64`);
    /// absent with `last_sign_in_at`.
    #[oai(skip_serializing_if_is_none)]
    pub last_sign_in_from: Option<String>,
    pub language: MailLanguage,
}

/// The language of the account's mail: `en`, `de`, `es` or `fr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum MailLanguage {
    En,
    De,
    Es,
    Fr,
}

impl From<Language> for MailLanguage {
    fn from(language: Language) -> Self {
        match language {
            Language::En => Self::En,
            Language::De => Self::De,
            Language::Es => Self::Es,
            Language::Fr => Self::Fr,
        }
    }
}

impl From<MailLanguage> for Language {
    fn from(language: MailLanguage) -> Self {
        match language {
            MailLanguage::En => Self::En,
            MailLanguage::De => Self::De,
            MailLanguage::Es => Self::Es,
            MailLanguage::Fr => Self::Fr,
        }
    }
}

/// The language the account's mail is to be written in. Other fields are refused.
#[derive(Debug, Object)]
#[oai(example, deny_unknown_fields)]
pub struct LanguageChoice {
    pub language: MailLanguage,
}

impl Example for LanguageChoice {
    fn example() -> Self {
        Self {
            language: MailLanguage::De,
        }
    }
}

/// The signed-in user's live sessions.
#[derive(Debug, Object)]
#[oai(example)]
pub struct SessionList {
    /// Always `true`.
    pub success: bool,
    /// `Sessions`.
    pub message: String,
    /// The most recently used first.
    pub sessions: Vec<SessionEntry>,
}

/// One live session of the account.
#[derive(Debug, Object)]
#[oai(example)]
pub struct SessionEntry {
    /// The session's id: give it to `DELETE /sessions/{id}` to end it.
    pub id: String,
    /// When it was opened (the sign-in).
    pub created_at: DateTime<Utc>,
    /// When it was last used, to the minute.
    pub last_seen_at: DateTime<Utc>,
    /// The client address it was opened from: an IPv4 address, or an IPv6 network (`/64`);
    /// absent for sessions opened before the service recorded it.
    #[oai(skip_serializing_if_is_none)]
    pub client_address: Option<String>,
    /// The browser or program it was opened with, in short (`Firefox 120 on Linux`); absent
    /// when it sent no `User-Agent`.
    #[oai(skip_serializing_if_is_none)]
    pub user_agent: Option<String>,
    /// This is the session of the token that asked.
    pub current: bool,
}

impl From<SessionView> for SessionEntry {
    fn from(view: SessionView) -> Self {
        let row = view.row;
        Self {
            id: row.id,
            created_at: row.created_at.trunc_subsecs(0),
            last_seen_at: row.last_seen_at.trunc_subsecs(0),
            client_address: row.client_address,
            user_agent: row.user_agent,
            current: view.current,
        }
    }
}

// The examples Swagger UI and generated SDK docs show. An error answer is the likelier thing a
// reader looks up, so `ApiMessage` shows one; each response's description names its message.
impl Example for ApiMessage {
    fn example() -> Self {
        Self::failure("Invalid username or password")
    }
}

impl Example for Registration {
    fn example() -> Self {
        Self {
            username: UsernameText("user@example.com".to_owned()),
            password: NewPasswordText("newpass123".to_owned()),
        }
    }
}

impl Example for Credentials {
    fn example() -> Self {
        Self {
            username: UsernameText("user@example.com".to_owned()),
            password: SignInPasswordText("newpass123".to_owned()),
        }
    }
}

/// What the examples show as a challenge.
const EXAMPLE_CHALLENGE: &str = "6f1c3a9e0b7d4c2e8a5f1b3d7e9c0a42";

impl Example for CodeSubmission {
    fn example() -> Self {
        Self {
            username: UsernameText("user@example.com".to_owned()),
            code: CodeText("123456".to_owned()),
            // Left out, so that Swagger UI's "Try it out" works from the browser that logged
            // in; `challenge` is in the schema.
            challenge: MaybeUndefined::Undefined,
        }
    }
}

impl Example for CodeSent {
    fn example() -> Self {
        Self {
            success: true,
            message: "OTP sent to email".to_owned(),
            challenge: EXAMPLE_CHALLENGE.to_owned(),
        }
    }
}

impl Example for PasswordResetRequest {
    fn example() -> Self {
        Self {
            username: UsernameText("user@example.com".to_owned()),
        }
    }
}

impl Example for PasswordReset {
    fn example() -> Self {
        Self {
            username: UsernameText("user@example.com".to_owned()),
            code: MaybeUndefined::Value(CodeText("123456".to_owned())),
            challenge: MaybeUndefined::Undefined,
            token: MaybeUndefined::Undefined,
            new_password: NewPasswordText("another pass 456".to_owned()),
        }
    }
}

impl Example for PasswordChange {
    fn example() -> Self {
        Self {
            current_password: SignInPasswordText("newpass123".to_owned()),
            new_password: NewPasswordText("another pass 456".to_owned()),
        }
    }
}

impl Example for SignOut {
    fn example() -> Self {
        Self {
            scope: MaybeUndefined::Value(SignOutScope::All),
        }
    }
}

impl Example for SessionGranted {
    fn example() -> Self {
        Self {
            success: true,
            message: "Login successful".to_owned(),
            token: "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6IjVmMGM4YzNlOWExYjRkN2U4ZjJhNmIxYzBkOWU4ZjdhIn0.eyJzdWIiOiI4YjNmMWUyYTljNGQ1ZTZmN2E4YjljMGQxZTJmM2E0YiJ9.c2lnbmF0dXJl".to_owned(),
            token_type: "Bearer".to_owned(),
            expires_in: 900,
            refresh_token: "9f86d081884c7d659a2feaa0c55ad015".to_owned(),
            refresh_expires_in: 2_592_000,
        }
    }
}

impl Example for RefreshRequest {
    fn example() -> Self {
        Self {
            refresh_token: RefreshTokenText("9f86d081884c7d659a2feaa0c55ad015".to_owned()),
        }
    }
}

impl Example for CurrentUser {
    fn example() -> Self {
        Self {
            success: true,
            message: "Signed in".to_owned(),
            username: "user@example.com".to_owned(),
            user_id: "3f2a9c1e7b6d4e0f8a5b2c9d1e7f3a6b".to_owned(),
            created_at: example_time("2026-11-02T09:14:03Z"),
            email_verified_at: Some(example_time("2026-11-02T09:15:40Z")),
            last_sign_in_at: Some(example_time("2026-12-01T18:22:07Z")),
            last_sign_in_from: Some("198.51.100.7".to_owned()),
            language: MailLanguage::En,
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

fn example_time(text: &str) -> DateTime<Utc> {
    text.parse().expect("an example time is RFC 3339")
}

impl Example for SessionList {
    fn example() -> Self {
        Self {
            success: true,
            message: "Sessions".to_owned(),
            sessions: vec![
                SessionEntry::example(),
                SessionEntry {
                    id: "7d793037a0760186574b0282f2f435e7".to_owned(),
                    created_at: example_time("2026-11-28T08:03:51Z"),
                    last_seen_at: example_time("2026-11-30T21:12:00Z"),
                    client_address: Some("2001:db8:7:7::/64".to_owned()),
                    user_agent: Some("Safari 17 on iOS".to_owned()),
                    current: false,
                },
            ],
        }
    }
}

impl Example for SessionEntry {
    fn example() -> Self {
        Self {
            id: "5d41402abc4b2a76b9719d911017c592".to_owned(),
            created_at: example_time("2026-12-01T18:22:07Z"),
            last_seen_at: example_time("2026-12-01T19:40:00Z"),
            client_address: Some("198.51.100.7".to_owned()),
            user_agent: Some("Firefox 120 on Linux".to_owned()),
            current: true,
        }
    }
}

impl Example for AccountDeletion {
    fn example() -> Self {
        Self {
            current_password: SignInPasswordText("newpass123".to_owned()),
        }
    }
}

impl Example for EmailChangeRequest {
    fn example() -> Self {
        Self {
            new_username: UsernameText("new.address@example.org".to_owned()),
            current_password: SignInPasswordText("newpass123".to_owned()),
        }
    }
}

impl Example for EmailChangeConfirmation {
    fn example() -> Self {
        Self {
            code: CodeText("123456".to_owned()),
        }
    }
}

impl Example for EmailChanged {
    fn example() -> Self {
        Self {
            success: true,
            message: "Email address changed".to_owned(),
            username: "new.address@example.org".to_owned(),
        }
    }
}

impl Example for ActivityList {
    fn example() -> Self {
        Self {
            success: true,
            message: "Activity".to_owned(),
            events: vec![
                ActivityEntry::example(),
                ActivityEntry {
                    at: example_time("2026-12-01T18:21:30Z"),
                    event: "code_sent".to_owned(),
                    detail: Some("sign_in".to_owned()),
                    client_address: Some("198.51.100.7".to_owned()),
                    user_agent: Some("Firefox 120 on Linux".to_owned()),
                    session_id: None,
                    current_session: false,
                },
                ActivityEntry {
                    at: example_time("2026-11-30T03:12:44Z"),
                    event: "wrong_password".to_owned(),
                    detail: None,
                    client_address: Some("203.0.113.66".to_owned()),
                    user_agent: Some("curl 8.5".to_owned()),
                    session_id: None,
                    current_session: false,
                },
            ],
            next_cursor: Some("1841".to_owned()),
        }
    }
}

impl Example for ActivityEntry {
    fn example() -> Self {
        Self {
            at: example_time("2026-12-01T18:22:07Z"),
            event: "signed_in".to_owned(),
            detail: None,
            client_address: Some("198.51.100.7".to_owned()),
            user_agent: Some("Firefox 120 on Linux".to_owned()),
            session_id: Some("5d41402abc4b2a76b9719d911017c592".to_owned()),
            current_session: true,
        }
    }
}
