//! The account rules: the service every operation calls, its one error type, and the steps the
//! flows share. Each flow has a file of its own: `sign_in` (register, log in, verify the code),
//! `sessions` (the session behind a token, sign-out) and `password` (reset by mailed code,
//! change while signed in). Works on parsed domain values; knows nothing of HTTP or SQL.
mod account;
mod activity;
mod address;
mod mail_events;
mod password;
mod sessions;
mod sign_in;

use std::sync::Arc;

use super::activity::EventKind;
use super::keys::KeySet;
use super::limits::{Checked, CheckedBy, Limited, RateLimiter};
use super::password::{HashError, Verdict};
use super::{CodeHasher, CodePolicy, LoginPassword, PasswordHasher, TokenKeys, TokenPolicy};
use crate::mail::{MailError, Mailer, Notice};
use crate::store::events::{self, NewEvent};
use crate::store::users::{self, Claimed, UserRecord};
use crate::store::{self, Db, StoreError};

pub use activity::{ActivityEvent, ActivityPage};
pub use address::AddressChange;
pub use password::{ChangeWithCurrent, ResetAttempt, ResetProof, RESET_REQUEST_FLOOR};
pub use sessions::{Session, SessionGrant, SessionView, SignOutScope};
pub use sign_in::{CodeAttempt, LoginAttempt, NewAccount};

/// Every way a sign-in step can fail. The message is what the user reads; causes stay in the
/// source chain for the log.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("Username already exists")]
    UsernameTaken,
    #[error("Invalid username or password")]
    InvalidCredentials,
    #[error("Invalid or expired OTP")]
    InvalidCode,
    #[error("Invalid or expired code")]
    InvalidResetCode,
    #[error("Invalid or expired session")]
    InvalidSession,
    /// A session id that names none of the signed-in user's sessions.
    #[error("Session not found")]
    UnknownSession,
    /// The signed-in user's current password was wrong.
    #[error("Current password is incorrect")]
    WrongCurrentPassword,
    /// A change-of-address code that is wrong, used, expired or out of tries.
    #[error("Invalid or expired code")]
    InvalidAddressCode,
    /// A change of address to the address the account has.
    #[error("New address is the current address")]
    SameAddress,
    /// Mail to the account's address cannot be delivered (the mail service reported a
    /// permanent bounce or a complaint): told after a right password, instead of a code that
    /// would never arrive.
    #[error(
        "Mail to your address cannot be delivered (it was refused on {}); once your mailbox \
         accepts mail again, ask the service's operator to clear it",
        .0.format("%Y-%m-%d")
    )]
    Undeliverable(chrono::DateTime<chrono::Utc>),
    /// The address a change of address names cannot receive mail.
    #[error("Mail to that address cannot be delivered; choose another")]
    UndeliverableAddress,
    #[error("Too many attempts; try again in {} seconds", .0.retry_after_secs())]
    RateLimited(Limited),
    /// The mail service refused the message or could not be reached.
    #[error("Could not send the code; try again later")]
    MailFailed(#[source] MailError),
    /// The mail service asked us to slow down: a passing condition, like an outage.
    #[error("Could not send the code; try again later")]
    MailThrottled(#[source] MailError),
    #[error("Service temporarily unavailable")]
    Unavailable(#[source] StoreError),
    /// Too many requests are already waiting for a password check.
    #[error("Service busy; try again shortly")]
    Busy,
    #[error("Internal error")]
    Unexpected(#[from] anyhow::Error),
}

impl From<StoreError> for AuthError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Unavailable(_) => Self::Unavailable(err),
            StoreError::Other(_) => Self::Unexpected(anyhow::Error::new(err)),
        }
    }
}

impl From<HashError> for AuthError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy => Self::Busy,
            HashError::Failed(err) => Self::Unexpected(err),
        }
    }
}

impl From<MailError> for AuthError {
    fn from(err: MailError) -> Self {
        match err {
            MailError::Throttled { .. } => Self::MailThrottled(err),
            _ => Self::MailFailed(err),
        }
    }
}

/// Everything the account rules need, built once per process and shared by every request.
#[derive(Clone)]
pub struct AuthService {
    db: Db,
    passwords: PasswordHasher,
    codes: CodeHasher,
    code_policy: CodePolicy,
    tokens: TokenKeys,
    mailer: Arc<dyn Mailer>,
    limiter: RateLimiter,
    /// Where the pages are served, for the link in reset mails; none, no link.
    pages_url: Option<String>,
    /// How long a new registration may stay unproven before it is removed; none, forever.
    unproven_lapse: Option<chrono::Duration>,
    /// Which notices are mailed to owners.
    notices: Notices,
    /// How long the owner's activity is kept.
    activity_retention: chrono::Duration,
}

/// The notices mailed to an account's owner, each on or off. Each says when, from which
/// address, and what to do if it was not them; none holds a code, token or password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Notices {
    /// The password was changed or reset.
    pub password_changed: bool,
    /// The address was changed (mailed to the old one).
    pub email_changed: bool,
    /// A sign-in from an address the account never signed in from before.
    pub new_sign_in_address: bool,
    /// Sign-in by code locked after too many wrong codes.
    pub code_sign_in_locked: bool,
}

impl Notices {
    pub const ALL: Self = Self {
        password_changed: true,
        email_changed: true,
        new_sign_in_address: true,
        code_sign_in_locked: true,
    };
    pub const NONE: Self = Self {
        password_changed: false,
        email_changed: false,
        new_sign_in_address: false,
        code_sign_in_locked: false,
    };
}

/// How many days the owner's activity is kept unless `with_activity_retention` says.
pub const ACTIVITY_RETENTION_DAYS: u32 = 90;

/// Where an event of the owner's activity came from: the client address, the short user
/// agent when the flow has it, and the session a signed-in request ran in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Origin<'a> {
    client: &'a str,
    device: Option<&'a str>,
    session: Option<&'a str>,
}

impl<'a> Origin<'a> {
    pub(super) fn client(client: &'a str) -> Self {
        Self {
            client,
            device: None,
            session: None,
        }
    }

    pub(super) fn device(self, device: Option<&'a str>) -> Self {
        Self { device, ..self }
    }

    pub(super) fn session(client: &'a str, session: &'a Session) -> Self {
        Self {
            client,
            device: None,
            session: Some(&session.id),
        }
    }
}

/// One event recorded in this many also prunes a bounded batch past the retention time.
const PRUNE_EVENTS_ONE_IN: u32 = 100;
const PRUNE_EVENTS_BATCH: u32 = 500;

impl AuthService {
    pub fn new(
        db: Db,
        passwords: PasswordHasher,
        codes: CodeHasher,
        code_policy: CodePolicy,
        tokens: TokenKeys,
        mailer: Arc<dyn Mailer>,
        limiter: RateLimiter,
    ) -> Self {
        Self {
            db,
            passwords,
            codes,
            code_policy,
            tokens,
            mailer,
            limiter,
            pages_url: None,
            unproven_lapse: None,
            notices: Notices::NONE,
            activity_retention: chrono::Duration::days(ACTIVITY_RETENTION_DAYS.into()),
        }
    }

    /// Which notices owners are mailed.
    pub fn with_notices(mut self, notices: Notices) -> Self {
        self.notices = notices;
        self
    }

    /// The owner's activity is kept this long, then pruned.
    pub fn with_activity_retention(mut self, keep: std::time::Duration) -> Self {
        if let Ok(keep) = chrono::Duration::from_std(keep) {
            self.activity_retention = keep;
        }
        self
    }

    /// Records an event in the owner's activity, before the answer. One record in
    /// `PRUNE_EVENTS_ONE_IN` first prunes a bounded batch of events past the retention time.
    /// The flow's outcome stands whether or not its row can be written: a refusal stays the
    /// refusal and a change stays made, and a row that could not be written is logged as
    /// `activity_not_recorded` (the security log line holds the same facts).
    async fn record(
        &self,
        user_id: i32,
        kind: EventKind,
        origin: Origin<'_>,
        detail: Option<&str>,
    ) {
        if rand::random_range(0..PRUNE_EVENTS_ONE_IN) == 0 {
            if let Err(err) = self.prune_activity().await {
                tracing::warn!(error = %err, "could not prune the activity");
            }
        }
        let event = NewEvent {
            user_id,
            kind: kind.as_str(),
            client_address: Some(origin.client),
            user_agent: origin.device,
            session_id: origin.session,
            detail,
        };
        if let Err(err) = events::record(&self.db, event).await {
            tracing::error!(
                event = "activity_not_recorded",
                kind = kind.as_str(),
                user_id,
                error = %err,
                "could not record the event in the owner's activity"
            );
        }
    }

    /// Deletes a bounded batch of events older than the retention time. Answers how many.
    pub async fn prune_activity(&self) -> Result<u64, AuthError> {
        let before = store::now() - self.activity_retention;
        Ok(events::prune(&self.db, before, PRUNE_EVENTS_BATCH).await?)
    }

    /// The link to the reset page for a notice, if the pages' address is known.
    fn reset_page(&self) -> Option<String> {
        self.pages_url
            .as_ref()
            .map(|url| format!("{url}reset.html"))
    }

    /// New registrations that no code proves within `lapse` are removed.
    pub fn with_unproven_lapse(mut self, lapse: Option<std::time::Duration>) -> Self {
        self.unproven_lapse = lapse.and_then(|lapse| chrono::Duration::from_std(lapse).ok());
        self
    }

    /// Reset mails link to `reset.html` under `pages_url` (which ends in `/`).
    pub fn with_reset_links(mut self, pages_url: Option<String>) -> Self {
        self.pages_url = pages_url;
        self
    }

    /// Mails `notice` to the owner, before the answer. A notice that cannot be mailed changes
    /// nothing: the flow stands, and the log says `mail_failed` for the alarm.
    async fn notify(&self, user_id: i32, notice: &Notice, what: &str) {
        match self.undeliverable(notice.to.as_ref()).await {
            Ok(None) => {}
            Ok(Some(_)) => {
                tracing::info!(
                    event = "mail_suppressed",
                    user_id,
                    "the {what} was not sent: the address cannot receive mail"
                );
                return;
            }
            Err(err) => {
                tracing::error!(event = "mail_failed", error = %err, user_id, "could not mail the {what}");
                return;
            }
        }
        if let Err(err) = self.mailer.send_notice(notice).await {
            tracing::error!(
                event = "mail_failed",
                error = %err,
                user_id,
                "could not mail the {what}"
            );
        }
    }

    /// Closes the database pool once the requests in flight are done.
    pub async fn close(&self) -> Result<(), StoreError> {
        store::close(&self.db).await
    }

    /// The key set as this instance holds it (read again when stale).
    pub async fn key_set(&self) -> anyhow::Result<Arc<KeySet>> {
        self.tokens.ring().current().await
    }

    /// What every access token says of its issuer, audiences and lifetime.
    pub fn token_policy(&self) -> &TokenPolicy {
        self.tokens.policy()
    }

    /// The pool every operation runs on (a clone shares it): for tools that read the
    /// database's own view of this instance, such as its statement counters.
    pub fn database(&self) -> &store::Db {
        &self.db
    }

    pub async fn database_ready(&self) -> Result<(), StoreError> {
        store::ping(&self.db).await
    }

    /// The one password check, for every flow that takes a password: it takes the request
    /// from the client's per-address limit too. The try is reserved
    /// against the back-off of (`username`, `client`) before the hash is checked, so that
    /// parallel guesses cannot all slip past it; a right password gives it back. `username` is
    /// the name asked for, known or not, so a limit reveals nothing; `claimed` is what the
    /// store holds for it.
    async fn check_password(
        &self,
        origin: Origin<'_>,
        username: &str,
        claimed: Claimed,
        password: &LoginPassword,
        asked: PasswordFor,
    ) -> Result<UserRecord, AuthError> {
        let client = origin.client;
        let Claimed {
            user,
            known_address,
            ..
        } = claimed;
        let reserved = match self
            .limiter
            .reserve_password_try(username, client, known_address)
            .await?
        {
            Ok(reserved) => reserved,
            Err((CheckedBy::Address, limited)) => return Err(AuthError::RateLimited(limited)),
            Err((CheckedBy::Username, limited)) => {
                if let Some(user) = &user {
                    let detail = Some("password");
                    self.record(user.id, EventKind::Limited, origin, detail)
                        .await;
                }
                return Err(limited_event(client, "password", limited));
            }
        };
        let stored = user.as_ref().map(|u| u.stored_password.as_str());
        let verdict = self.passwords.verify(password, stored).await?;
        let user = match (user, verdict) {
            (Some(user), Verdict::Match) => user,
            (Some(user), Verdict::MatchNeedsRehash) => {
                if asked == PasswordFor::SignIn {
                    let hash = self.passwords.rehash(password).await?;
                    users::update_password(&self.db, user.id, &hash).await?;
                    tracing::info!(user_id = user.id, "legacy plain-text password re-hashed");
                }
                user
            }
            (user, _) => {
                // The owner sees every wrong password for their account, and where it came
                // from; a name nobody holds has no one to tell.
                if let Some(user) = &user {
                    self.record(user.id, EventKind::WrongPassword, origin, None)
                        .await;
                }
                return Err(asked.wrong(client, user.as_ref()));
            }
        };
        // A right password for a disabled account is refused as a wrong one, and its try
        // stays counted.
        if disabled(client, &user) {
            return Err(asked.refusal());
        }
        self.limiter.password_succeeded(reserved).await?;
        Ok(user)
    }
}

/// Which password a flow asks for, which decides how a wrong one is answered and logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PasswordFor {
    /// The password to sign in with: a legacy plain-text match is hashed now, since it stays.
    SignIn,
    /// The signed-in user's current password, about to be replaced: a plain-text match needs
    /// no hash of its own.
    Change,
}

impl PasswordFor {
    /// How the flow refuses a password.
    fn refusal(self) -> AuthError {
        match self {
            Self::SignIn => AuthError::InvalidCredentials,
            Self::Change => AuthError::WrongCurrentPassword,
        }
    }

    /// Logs a wrong password as a security event and answers the flow's refusal.
    fn wrong(self, client: &str, user: Option<&UserRecord>) -> AuthError {
        match self {
            // Whether the account exists stays out of the log line, as out of the answer.
            Self::SignIn => {
                tracing::info!(event = "wrong_password", client, "wrong password");
                self.refusal()
            }
            Self::Change => {
                let user_id = user.map(|user| user.id);
                tracing::info!(
                    event = "wrong_password",
                    client,
                    user_id,
                    "wrong current password"
                );
                self.refusal()
            }
        }
    }
}

/// Whether the operator disabled the account, logged as a security event when so: every
/// flow answers a disabled account as it would a wrong password, code or token.
fn disabled(client: &str, user: &UserRecord) -> bool {
    if user.disabled {
        tracing::info!(
            event = "disabled_refused",
            client,
            user_id = user.id,
            "account disabled"
        );
    }
    user.disabled
}

/// A per-address verdict as the service's error.
fn allowed(checked: Checked) -> Result<(), AuthError> {
    checked?.map_err(AuthError::RateLimited)
}

/// A per-username verdict as the service's error, logged as a security event.
fn allowed_for(client: &str, limit: &'static str, checked: Checked) -> Result<(), AuthError> {
    checked?.map_err(|limited| limited_event(client, limit, limited))
}

fn limited_event(client: &str, limit: &'static str, limited: Limited) -> AuthError {
    tracing::info!(
        event = "limited",
        client,
        limit,
        retry_after = limited.retry_after_secs(),
        "rate limited"
    );
    AuthError::RateLimited(limited)
}
