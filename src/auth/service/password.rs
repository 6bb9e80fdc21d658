//! The password: a reset by mailed code for whoever forgot it, and a change for the signed-in
//! user who knows the current one.
use std::time::Duration;

use super::{allowed, limited_event, AuthError, AuthService, PasswordFor, Session};
use crate::auth::{CodePurpose, Email, LoginPassword, NewPassword, OneTimeCode};
use crate::store::users;

/// A password-reset request answers no sooner than this after it began, whether or not the
/// account exists, so that its timing does not tell (mailing a code through SES usually takes
/// well under this).
pub const RESET_REQUEST_FLOOR: Duration = Duration::from_millis(300);

/// A new password for an account, with the reset code mailed to it.
#[derive(Debug)]
pub struct ResetWithCode {
    pub username: Email,
    pub code: OneTimeCode,
    pub new_password: NewPassword,
}

/// A new password for the signed-in user, with the current one.
#[derive(Debug)]
pub struct ChangeWithCurrent {
    pub current: LoginPassword,
    pub new_password: NewPassword,
}

impl AuthService {
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
            limited_event(client, purpose.send_limit(), limited);
            return Ok(());
        }
        let Some(user) = users::find_by_username(&self.db, username.as_ref()).await? else {
            tracing::info!(event = "reset_unknown_user", client, "no such account");
            return Ok(());
        };
        let to = Email::parse(&user.username).map_err(|_| purpose.refusal())?;
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
        reset: &ResetWithCode,
    ) -> Result<(), AuthError> {
        let ResetWithCode {
            username,
            code,
            new_password,
        } = reset;
        allowed(self.limiter.hit_from_address(client).await)?;
        let purpose = CodePurpose::PasswordReset;
        let user = users::find_by_username(&self.db, username.as_ref())
            .await?
            .ok_or_else(|| purpose.refusal())?;
        let stored = self.check_code(client, &user, purpose, code).await?;
        // Hashed before the code is spent, so a busy hasher leaves the code usable.
        let hash = self.passwords.hash(new_password).await?;
        if !users::reset_password(&self.db, user.id, &stored, &hash).await? {
            return Err(purpose.refusal());
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
        change: &ChangeWithCurrent,
    ) -> Result<(), AuthError> {
        let ChangeWithCurrent {
            current,
            new_password,
        } = change;
        allowed(self.limiter.hit_from_address(client).await)?;
        let user = async {
            let user = users::find_by_id(&self.db, session.user_id).await?;
            user.ok_or(AuthError::InvalidSession).map(Some)
        };
        let user = self
            .check_password(
                client,
                &session.username,
                user,
                current,
                PasswordFor::Change,
            )
            .await?;
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
}
