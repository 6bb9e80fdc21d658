//! The sign-in rules: register, log in (password, then a code by mail), verify the code, and
//! read a session. Works on parsed domain values; knows nothing of HTTP or SQL.
use std::sync::Arc;

use super::limits::{Checked, Limited, RateLimiter};
use super::password::{HashError, Verdict};
use super::{CodeHasher, CodePolicy, Email, LoginPassword, NewPassword, OneTimeCode};
use super::{PasswordHasher, SessionToken, TokenKeys};
use crate::mail::{CodeMessage, MailError, Mailer, Notice};
use crate::store::{self, codes, users, Db, StoreError};

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
    #[error("Invalid or expired session")]
    InvalidSession,
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

/// Everything the sign-in rules need, built once per process and shared by every request.
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
        if let Err(limited) = self.limiter.take_code_send(to.as_ref()).await? {
            // A 429 here would tell a guesser the password was right. The code sent moments
            // ago is still the live one; this answer is the same as for a send.
            limited_event(client, "code_send", limited);
            return Ok(());
        }
        let code = OneTimeCode::generate();
        let code_hash = self.codes.hash(user.id, &code);
        let expires_at = store::now() + self.code_policy.ttl;
        codes::replace(&self.db, user.id, &code_hash, expires_at).await?;

        let message = CodeMessage {
            to,
            code,
            valid_for: self.code_policy.ttl,
        };
        if let Err(err) = self.mailer.send_code(&message).await {
            // A code nobody received must not stay valid, nor count as sent.
            codes::discard(&self.db, user.id, &code_hash).await?;
            self.limiter.give_back_code_send(&user.username).await?;
            return Err(err.into());
        }
        tracing::info!(
            event = "code_sent",
            client,
            user_id = user.id,
            "sign-in code sent"
        );
        Ok(())
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
        // Only a guess at a live code counts against the username: a stranger typing codes
        // for a name with none pending costs its owner nothing.
        let stored = codes::live_hash(&self.db, user.id, self.code_policy.max_attempts)
            .await?
            .ok_or(AuthError::InvalidCode)?;
        allowed_for(
            client,
            "code_check",
            self.limiter.take_code_check(&user.username).await,
        )?;
        if !codes::record_attempt(&self.db, user.id, &stored, self.code_policy.max_attempts).await?
        {
            return Err(AuthError::InvalidCode);
        }
        if !self.codes.verify(user.id, code, &stored) {
            tracing::info!(
                event = "wrong_code",
                client,
                user_id = user.id,
                "wrong sign-in code"
            );
            self.count_wrong_code(client, &user).await?;
            return Err(AuthError::InvalidCode);
        }
        if !codes::consume(&self.db, user.id, &stored).await? {
            return Err(AuthError::InvalidCode);
        }
        users::clear_wrong_codes(&self.db, user.id).await?;
        tracing::info!(event = "signed_in", client, user_id = user.id, "signed in");
        Ok(self.tokens.issue(&user.username)?)
    }

    /// Counts a wrong code across codes; the one that reaches the lock kills the live code and
    /// tells the owner, whose password someone else must know.
    async fn count_wrong_code(
        &self,
        client: &str,
        user: &users::UserRecord,
    ) -> Result<(), AuthError> {
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
        codes::discard_all(&self.db, user.id).await?;
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

    /// The username behind a session token, if the token is valid and the user still exists.
    pub async fn session_user(&self, token: &str) -> Result<String, AuthError> {
        let username = self
            .tokens
            .verify(token)
            .map_err(|_| AuthError::InvalidSession)?;
        match users::find_by_username(&self.db, &username).await? {
            Some(user) => Ok(user.username),
            None => Err(AuthError::InvalidSession),
        }
    }

    /// Closes the database pool once the requests in flight are done.
    pub async fn close(&self) -> Result<(), StoreError> {
        store::close(&self.db).await
    }

    pub async fn database_ready(&self) -> Result<(), StoreError> {
        store::ping(&self.db).await
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
