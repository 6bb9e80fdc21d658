//! The two-step sign-in: register, log in with the password (which mails a code), and verify
//! the code (which opens a session); with the code steps the password reset shares.
use rand::Rng;

use super::{allowed, allowed_for, limited_event, AuthError, AuthService, PasswordFor};
use crate::auth::{CodePurpose, Email, LoginPassword, NewPassword, OneTimeCode, SessionToken};
use crate::mail::{CodeMessage, Notice};
use crate::store::users::{self, UserRecord};
use crate::store::{self, codes, sessions};

/// One session opened in this many also deletes a bounded batch of dead session rows.
const PRUNE_ONE_IN: u32 = 20;
const PRUNE_BATCH: u32 = 100;

/// An account to create.
#[derive(Debug)]
pub struct NewAccount {
    pub username: Email,
    pub password: NewPassword,
}

/// A username and the password offered for it, the first step of signing in.
#[derive(Debug)]
pub struct LoginAttempt {
    pub username: Email,
    pub password: LoginPassword,
}

/// A username and the code offered for it, the second step of signing in.
#[derive(Debug)]
pub struct CodeAttempt {
    pub username: Email,
    pub code: OneTimeCode,
}

impl AuthService {
    pub async fn register(&self, client: &str, account: &NewAccount) -> Result<(), AuthError> {
        let NewAccount { username, password } = account;
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
    pub async fn login(&self, client: &str, attempt: &LoginAttempt) -> Result<(), AuthError> {
        let LoginAttempt { username, password } = attempt;
        allowed(self.limiter.hit_from_address(client).await)?;
        let user = async { Ok(users::find_by_username(&self.db, username.as_ref()).await?) };
        let user = self
            .check_password(
                client,
                username.as_ref(),
                user,
                password,
                PasswordFor::SignIn,
            )
            .await?;
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
        let purpose = CodePurpose::SignIn;
        if let Err(limited) = self.limiter.take_code_send(purpose, to.as_ref()).await? {
            // A 429 here would tell a guesser the password was right. The code sent moments
            // ago is still the live one; this answer is the same as for a send.
            limited_event(client, purpose.send_limit(), limited);
            return Ok(());
        }
        self.send_code(client, &user, to, purpose).await
    }

    /// Mails a fresh code of this purpose to the account's address; it replaces the earlier
    /// one. The send was already taken from the limit: a failed send gives it back.
    pub(super) async fn send_code(
        &self,
        client: &str,
        user: &UserRecord,
        to: Email,
        purpose: CodePurpose,
    ) -> Result<(), AuthError> {
        let code = OneTimeCode::generate();
        let code_hash = self.codes.hash(user.id, &code);
        let expires_at = store::now() + self.code_policy.ttl;
        codes::replace(&self.db, user.id, purpose.column(), &code_hash, expires_at).await?;

        let message = CodeMessage {
            to,
            code,
            valid_for: self.code_policy.ttl,
            purpose,
        };
        if let Err(err) = self.mailer.send_code(&message).await {
            // A code nobody received must not stay valid, nor count as sent.
            codes::discard(&self.db, user.id, purpose.column(), &code_hash).await?;
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
    pub(super) async fn check_code(
        &self,
        client: &str,
        user: &UserRecord,
        purpose: CodePurpose,
        code: &OneTimeCode,
    ) -> Result<String, AuthError> {
        let (column, max_attempts) = (purpose.column(), self.code_policy.max_attempts);
        // Only a guess at a live code counts against the username: a stranger typing codes
        // for a name with none pending costs its owner nothing.
        let stored = codes::live_hash(&self.db, user.id, column, max_attempts)
            .await?
            .ok_or_else(|| purpose.refusal())?;
        allowed_for(
            client,
            purpose.check_limit(),
            self.limiter.take_code_check(purpose, &user.username).await,
        )?;
        if !codes::record_attempt(&self.db, user.id, column, &stored, max_attempts).await? {
            return Err(purpose.refusal());
        }
        if !self.codes.verify(user.id, code, &stored) {
            tracing::info!(
                event = "wrong_code",
                client,
                user_id = user.id,
                purpose = ?purpose,
                "wrong code"
            );
            if purpose.counts_wrong_codes() {
                self.count_wrong_code(client, user).await?;
            }
            return Err(purpose.refusal());
        }
        Ok(stored)
    }

    /// Spends the code, if it is the user's live one, and opens a session.
    pub async fn verify(
        &self,
        client: &str,
        attempt: &CodeAttempt,
    ) -> Result<SessionToken, AuthError> {
        let CodeAttempt { username, code } = attempt;
        allowed(self.limiter.hit_from_address(client).await)?;
        let purpose = CodePurpose::SignIn;
        let user = users::find_by_username(&self.db, username.as_ref())
            .await?
            .filter(|user| !self.code_policy.locks(user.failed_codes))
            .ok_or_else(|| purpose.refusal())?;
        let stored = self.check_code(client, &user, purpose, code).await?;
        if !codes::consume(&self.db, user.id, purpose.column(), &stored).await? {
            return Err(purpose.refusal());
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
        let purpose = CodePurpose::SignIn;
        codes::discard_all(&self.db, user.id, purpose.column()).await?;
        let to = Email::parse(&user.username).map_err(|_| purpose.refusal())?;
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
}
