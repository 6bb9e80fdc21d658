//! The account rules: register, log in (password, then a code by mail), verify the code,
//! sessions and sign-out, password reset by mailed code, and password change. Works on parsed
//! domain values; knows nothing of HTTP or SQL.
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;

use super::limits::{Checked, Limited, RateLimiter};
use super::password::{HashError, Verdict};
use super::{CodeHasher, CodePolicy, CodePurpose, Email, LoginPassword, NewPassword, OneTimeCode};
use super::{PasswordHasher, SessionToken, TokenKeys};
use crate::mail::{CodeMessage, MailError, Mailer, Notice};
use crate::store::codes::Purpose;
use crate::store::users::UserRecord;
use crate::store::{self, codes, sessions, users, Db, StoreError};

/// A password-reset request answers no sooner than this after it began, whether or not the
/// account exists, so that its timing does not tell (mailing a code through SES usually takes
/// well under this).
pub const RESET_REQUEST_FLOOR: Duration = Duration::from_millis(300);
/// One session opened in this many also deletes a bounded batch of dead session rows.
const PRUNE_ONE_IN: u32 = 20;
const PRUNE_BATCH: u32 = 100;

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
    /// The signed-in user's current password was wrong.
    #[error("Current password is incorrect")]
    WrongCurrentPassword,
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

/// The signed-in session a valid bearer token belongs to.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: i32,
    pub username: String,
    pub id: String,
}

/// Which sessions a sign-out ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignOutScope {
    Current,
    All,
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
}

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
        }
    }

    pub async fn register(
        &self,
        client: &str,
        username: &Email,
        password: &NewPassword,
    ) -> Result<(), AuthError> {
        allowed(self.limiter.hit_from_address(client).await)?;
        // A cheap look first spares an argon2 hash for the common duplicate; the unique
        // constraint still decides races.
        if users::find_by_username(&self.db, username.as_ref())
            .await?
            .is_some()
        {
            return Err(AuthError::UsernameTaken);
        }
        let hash = self.passwords.hash(password).await?;
        match users::insert(&self.db, username.as_ref(), &hash).await {
            Ok(id) => {
                tracing::info!(
                    event = "registered",
                    client,
                    user_id = id,
                    "user registered"
                );
                Ok(())
            }
            Err(users::InsertUserError::UsernameTaken) => Err(AuthError::UsernameTaken),
            Err(users::InsertUserError::Store(err)) => Err(err.into()),
        }
    }

    /// Checks the password and mails a fresh code, which replaces any earlier one.
    pub async fn login(
        &self,
        client: &str,
        username: &Email,
        password: &LoginPassword,
    ) -> Result<(), AuthError> {
        allowed(self.limiter.hit_from_address(client).await)?;
        // Keyed by the name asked for, known or not, so a limit reveals nothing; reserved
        // before the hash so that parallel guesses cannot all slip past the back-off.
        let reserved = self
            .limiter
            .reserve_password_try(username.as_ref(), client)
            .await?
            .map_err(|limited| limited_event(client, "password", limited))?;
        let user = users::find_by_username(&self.db, username.as_ref()).await?;
        let stored = user.as_ref().map(|u| u.stored_password.as_str());
        let verdict = self.passwords.verify(password, stored).await?;
        let user = match (user, verdict) {
            (Some(user), Verdict::Match) => user,
            (Some(user), Verdict::MatchNeedsRehash) => {
                let hash = self.passwords.rehash(password).await?;
                users::update_password(&self.db, user.id, &hash).await?;
                tracing::info!(user_id = user.id, "legacy plain-text password re-hashed");
                user
            }
            _ => {
                tracing::info!(event = "wrong_password", client, "wrong password");
                return Err(AuthError::InvalidCredentials);
            }
        };
        self.limiter.password_succeeded(reserved).await?;
        // The code goes to the address on the account, never to the string the request typed.
        let to = Email::parse(&user.username).map_err(|_| AuthError::InvalidCredentials)?;
        if self.code_policy.locks(user.failed_codes) {
            // Locked after too many wrong codes; the owner was told by mail how to unlock.
            // Answering as for a send tells a guesser nothing more.
            tracing::info!(
                event = "code_sign_in_locked",
                client,
                user_id = user.id,
                "no code sent"
            );
            return Ok(());
        }
        if let Err(limited) = self
            .limiter
            .take_code_send(CodePurpose::SignIn, to.as_ref())
            .await?
        {
            // A 429 here would tell a guesser the password was right. The code sent moments
            // ago is still the live one; this answer is the same as for a send.
            limited_event(client, "code_send", limited);
            return Ok(());
        }
        self.send_code(client, &user, to, CodePurpose::SignIn).await
    }

    /// Mails a fresh code of this purpose to the account's address; it replaces the earlier
    /// one. The send was already taken from the limit: a failed send gives it back.
    async fn send_code(
        &self,
        client: &str,
        user: &UserRecord,
        to: Email,
        purpose: CodePurpose,
    ) -> Result<(), AuthError> {
        let code = OneTimeCode::generate();
        let code_hash = self.codes.hash(user.id, &code);
        let expires_at = store::now() + self.code_policy.ttl;
        codes::replace(&self.db, user.id, column(purpose), &code_hash, expires_at).await?;

        let message = CodeMessage {
            to,
            code,
            valid_for: self.code_policy.ttl,
            purpose,
        };
        if let Err(err) = self.mailer.send_code(&message).await {
            // A code nobody received must not stay valid, nor count as sent.
            codes::discard(&self.db, user.id, column(purpose), &code_hash).await?;
            self.limiter
                .give_back_code_send(purpose, &user.username)
                .await?;
            return Err(err.into());
        }
        tracing::info!(
            event = "code_sent",
            client,
            user_id = user.id,
            purpose = ?purpose,
            "code sent"
        );
        Ok(())
    }

    /// Counts a try at the user's live code of this purpose and checks it. Answers the stored
    /// hash for the caller to spend; every failure is the purpose's one refusal.
    async fn check_code(
        &self,
        client: &str,
        user: &UserRecord,
        purpose: CodePurpose,
        code: &OneTimeCode,
    ) -> Result<String, AuthError> {
        let invalid = || invalid_code(purpose);
        let max_attempts = self.code_policy.max_attempts;
        // Only a guess at a live code counts against the username: a stranger typing codes
        // for a name with none pending costs its owner nothing.
        let stored = codes::live_hash(&self.db, user.id, column(purpose), max_attempts)
            .await?
            .ok_or_else(invalid)?;
        let limit = match purpose {
            CodePurpose::SignIn => "code_check",
            CodePurpose::PasswordReset => "reset_code_check",
        };
        allowed_for(
            client,
            limit,
            self.limiter.take_code_check(purpose, &user.username).await,
        )?;
        if !codes::record_attempt(&self.db, user.id, column(purpose), &stored, max_attempts).await?
        {
            return Err(invalid());
        }
        if !self.codes.verify(user.id, code, &stored) {
            tracing::info!(
                event = "wrong_code",
                client,
                user_id = user.id,
                purpose = ?purpose,
                "wrong code"
            );
            if purpose == CodePurpose::SignIn {
                self.count_wrong_code(client, user).await?;
            }
            return Err(invalid());
        }
        Ok(stored)
    }

    /// Spends the code, if it is the user's live one, and opens a session.
    pub async fn verify(
        &self,
        client: &str,
        username: &Email,
        code: &OneTimeCode,
    ) -> Result<SessionToken, AuthError> {
        allowed(self.limiter.hit_from_address(client).await)?;
        let user = users::find_by_username(&self.db, username.as_ref())
            .await?
            .filter(|user| !self.code_policy.locks(user.failed_codes))
            .ok_or(AuthError::InvalidCode)?;
        let stored = self
            .check_code(client, &user, CodePurpose::SignIn, code)
            .await?;
        if !codes::consume(&self.db, user.id, Purpose::SignIn, &stored).await? {
            return Err(AuthError::InvalidCode);
        }
        users::clear_wrong_codes(&self.db, user.id).await?;
        let session = self.open_session(&user).await?;
        tracing::info!(event = "signed_in", client, user_id = user.id, "signed in");
        Ok(session)
    }

    /// A session row for the user and the token that names it.
    async fn open_session(&self, user: &UserRecord) -> Result<SessionToken, AuthError> {
        if rand::random_range(0..PRUNE_ONE_IN) == 0 {
            sessions::prune(&self.db, PRUNE_BATCH).await?;
        }
        let id = hex::encode(rand::rng().random::<[u8; 16]>());
        let expires_at = store::now() + self.tokens.ttl();
        sessions::open(&self.db, &id, user.id, expires_at).await?;
        Ok(self.tokens.issue(&user.username, &id)?)
    }

    /// Mails a password-reset code if the account exists. The answer is the same, and comes
    /// no sooner than `RESET_REQUEST_FLOOR`, whether it exists or not; only the per-address
    /// limit and an outage of our own database answer otherwise.
    pub async fn request_password_reset(
        &self,
        client: &str,
        username: &Email,
    ) -> Result<(), AuthError> {
        let answer_at = tokio::time::Instant::now() + RESET_REQUEST_FLOOR;
        let result = self.send_reset_code(client, username).await;
        if tokio::time::Instant::now() > answer_at {
            tracing::warn!("password-reset request outlasted its floor: timing may tell");
        }
        tokio::time::sleep_until(answer_at).await;
        result
    }

    async fn send_reset_code(&self, client: &str, username: &Email) -> Result<(), AuthError> {
        allowed(self.limiter.hit_from_address(client).await)?;
        // Keyed by the name asked for, known or not, and never a 429: the answer must not
        // tell whether a code went out.
        let purpose = CodePurpose::PasswordReset;
        if let Err(limited) = self
            .limiter
            .take_code_send(purpose, username.as_ref())
            .await?
        {
            limited_event(client, "reset_code_send", limited);
            return Ok(());
        }
        let Some(user) = users::find_by_username(&self.db, username.as_ref()).await? else {
            tracing::info!(event = "reset_unknown_user", client, "no such account");
            return Ok(());
        };
        let to = Email::parse(&user.username).map_err(|_| AuthError::InvalidResetCode)?;
        match self.send_code(client, &user, to, purpose).await {
            // A failed send answers like a sent one (a 502 would say the account exists);
            // the log has it, and the user can ask again.
            Err(AuthError::MailFailed(err) | AuthError::MailThrottled(err)) => {
                tracing::error!(error = %err, user_id = user.id, "could not mail the reset code");
                Ok(())
            }
            other => other,
        }
    }

    /// Spends a live reset code and sets the new password. The new password unlocks sign-in
    /// by code and ends every session; a racing reset with the same code gets the refusal.
    pub async fn reset_password(
        &self,
        client: &str,
        username: &Email,
        code: &OneTimeCode,
        new_password: &NewPassword,
    ) -> Result<(), AuthError> {
        allowed(self.limiter.hit_from_address(client).await)?;
        let user = users::find_by_username(&self.db, username.as_ref())
            .await?
            .ok_or(AuthError::InvalidResetCode)?;
        let stored = self
            .check_code(client, &user, CodePurpose::PasswordReset, code)
            .await?;
        // Hashed before the code is spent, so a busy hasher leaves the code usable.
        let hash = self.passwords.hash(new_password).await?;
        if !users::reset_password(&self.db, user.id, &stored, &hash).await? {
            return Err(AuthError::InvalidResetCode);
        }
        tracing::info!(
            event = "password_reset",
            client,
            user_id = user.id,
            "password reset; every session ended"
        );
        Ok(())
    }

    /// Changes the signed-in user's password after checking the current one (a wrong one
    /// counts toward the same back-off as at sign-in). Every other session ends.
    pub async fn change_password(
        &self,
        client: &str,
        session: &Session,
        current: &LoginPassword,
        new_password: &NewPassword,
    ) -> Result<(), AuthError> {
        allowed(self.limiter.hit_from_address(client).await)?;
        let reserved = self
            .limiter
            .reserve_password_try(&session.username, client)
            .await?
            .map_err(|limited| limited_event(client, "password", limited))?;
        let user = users::find_by_id(&self.db, session.user_id)
            .await?
            .ok_or(AuthError::InvalidSession)?;
        let verdict = self
            .passwords
            .verify(current, Some(&user.stored_password))
            .await?;
        if verdict == Verdict::Mismatch {
            tracing::info!(
                event = "wrong_password",
                client,
                user_id = user.id,
                "wrong current password"
            );
            return Err(AuthError::WrongCurrentPassword);
        }
        self.limiter.password_succeeded(reserved).await?;
        let hash = self.passwords.hash(new_password).await?;
        users::change_password(&self.db, user.id, &hash, &session.id).await?;
        tracing::info!(
            event = "password_changed",
            client,
            user_id = user.id,
            "password changed; other sessions ended"
        );
        Ok(())
    }

    /// Counts a wrong code across codes; the one that reaches the lock kills the live code and
    /// tells the owner, whose password someone else must know.
    async fn count_wrong_code(&self, client: &str, user: &UserRecord) -> Result<(), AuthError> {
        let lock = self.code_policy.lock_after;
        if !users::record_wrong_code(&self.db, user.id, lock).await? {
            return Ok(());
        }
        tracing::warn!(
            event = "code_sign_in_locked",
            client,
            user_id = user.id,
            "locked after {lock} wrong codes"
        );
        codes::discard_all(&self.db, user.id, Purpose::SignIn).await?;
        let to = Email::parse(&user.username).map_err(|_| AuthError::InvalidCode)?;
        if let Err(err) = self
            .mailer
            .send_notice(&Notice::code_sign_in_locked(to, lock))
            .await
        {
            // The lock holds either way; the owner learns of it at the next sign-in attempt.
            tracing::error!(error = %err, user_id = user.id, "could not mail the lock notice");
        }
        Ok(())
    }

    /// The session a bearer token belongs to, while the token is valid, its session neither
    /// revoked nor expired, and its user still there.
    pub async fn session(&self, token: &str) -> Result<Session, AuthError> {
        let claims = self
            .tokens
            .verify(token)
            .map_err(|_| AuthError::InvalidSession)?;
        let live = sessions::find_live(&self.db, &claims.session_id)
            .await?
            .ok_or(AuthError::InvalidSession)?;
        let user = users::find_by_id(&self.db, live.user_id)
            .await?
            .filter(|user| user.username == claims.username)
            .ok_or(AuthError::InvalidSession)?;
        sessions::seen(&self.db, &live).await?;
        Ok(Session {
            user_id: user.id,
            username: user.username,
            id: live.id,
        })
    }

    /// Ends this session, or every session of its user. Answers how many ended.
    pub async fn sign_out(
        &self,
        client: &str,
        session: &Session,
        scope: SignOutScope,
    ) -> Result<u64, AuthError> {
        let ended = match scope {
            SignOutScope::Current => {
                u64::from(sessions::revoke(&self.db, session.user_id, &session.id).await?)
            }
            SignOutScope::All => sessions::revoke_all(&self.db, session.user_id, None).await?,
        };
        tracing::info!(
            event = "signed_out",
            client,
            user_id = session.user_id,
            scope = ?scope,
            ended,
            "signed out"
        );
        Ok(ended)
    }

    /// Closes the database pool once the requests in flight are done.
    pub async fn close(&self) -> Result<(), StoreError> {
        store::close(&self.db).await
    }

    pub async fn database_ready(&self) -> Result<(), StoreError> {
        store::ping(&self.db).await
    }
}

/// The column value for a code's purpose.
fn column(purpose: CodePurpose) -> Purpose {
    match purpose {
        CodePurpose::SignIn => Purpose::SignIn,
        CodePurpose::PasswordReset => Purpose::PasswordReset,
    }
}

/// The one refusal for every failure of a code of this purpose.
fn invalid_code(purpose: CodePurpose) -> AuthError {
    match purpose {
        CodePurpose::SignIn => AuthError::InvalidCode,
        CodePurpose::PasswordReset => AuthError::InvalidResetCode,
    }
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
