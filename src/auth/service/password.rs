//! The password: a reset by mailed code for whoever forgot it, and a change for the signed-in
//! user who knows the current one.
use std::time::Duration;

use super::{
    allowed, allowed_for, disabled, limited_event, AuthError, AuthService, Origin, PasswordFor,
    Session,
};
use crate::auth::activity::EventKind;
use crate::auth::{Challenge, CodePurpose, Email, LoginPassword, NewPassword, OneTimeCode};
use crate::auth::{Language, ResetToken};
use crate::mail::{About, CodeMessage, Notice};
use crate::store::users::{self, PasswordChange, UserRecord};
use crate::store::{self, codes};

/// A password-reset request answers no sooner than this after it began, whether or not the
/// account exists. Past it, the timing is still alike: an unknown account's request sends a
/// decoy through the same mail service.
pub const RESET_REQUEST_FLOOR: Duration = Duration::from_millis(300);

/// A new password for an account, with what proves the mailbox.
#[derive(Debug)]
pub struct ResetAttempt {
    pub username: Email,
    pub proof: ResetProof,
    pub new_password: NewPassword,
}

/// What a reset mail gave its reader.
#[derive(Debug)]
pub enum ResetProof {
    /// The code, with the challenge the request for it answered (none from the address that
    /// asked, as the old contract did).
    Code {
        code: OneTimeCode,
        challenge: Option<Challenge>,
    },
    /// The secret of the mail's link: enough on its own.
    Link(ResetToken),
}

/// A new password for the signed-in user, with the current one.
#[derive(Debug)]
pub struct ChangeWithCurrent {
    pub current: LoginPassword,
    pub new_password: NewPassword,
}

impl AuthService {
    /// Mails a password-reset code if the account exists. The answer is the same (a challenge
    /// for the code), and comes no sooner than `RESET_REQUEST_FLOOR`, whether it exists or
    /// not; only the per-address limit and an outage of our own database answer otherwise.
    pub async fn request_password_reset(
        &self,
        client: &str,
        username: &Email,
    ) -> Result<Challenge, AuthError> {
        let answer_at = tokio::time::Instant::now() + RESET_REQUEST_FLOOR;
        let challenge = Challenge::generate();
        let result = self.send_reset_code(client, username, &challenge).await;
        tokio::time::sleep_until(answer_at).await;
        result.map(|()| challenge)
    }

    async fn send_reset_code(
        &self,
        client: &str,
        username: &Email,
        challenge: &Challenge,
    ) -> Result<(), AuthError> {
        allowed(self.limiter.hit_from_address(client).await)?;
        // Keyed by the name asked for, known or not, and never a 429: the answer must not
        // tell whether a code went out.
        let purpose = CodePurpose::PasswordReset;
        if let Err(limited) = self.limiter.take_code_send(purpose, username).await? {
            limited_event(client, purpose.send_limit(), limited);
            return Ok(());
        }
        let found = users::find_by_username(&self.db, username.as_ref()).await?;
        // A disabled account is mailed what an unknown name is.
        let Some(user) = found.filter(|user| !disabled(client, user)) else {
            tracing::info!(event = "reset_unknown_user", client, "no such account");
            self.send_decoy(username, purpose).await;
            return Ok(());
        };
        if self.undeliverable(&user.username).await?.is_some() {
            // Answered as a sent one; the decoy keeps the timing.
            tracing::info!(
                event = "mail_suppressed",
                client,
                user_id = user.id,
                "no reset code sent: the address cannot receive mail"
            );
            self.send_decoy(username, purpose).await;
            return Ok(());
        }
        let to = Email::parse(&user.username).map_err(|_| purpose.refusal())?;
        let origin = Origin::client(client);
        match self.send_code(origin, &user, to, purpose, challenge).await {
            // A failed send answers like a sent one (a 502 would say the account exists);
            // the log has it, and the user can ask again.
            Err(AuthError::MailFailed(err) | AuthError::MailThrottled(err)) => {
                tracing::error!(
                    event = "mail_failed",
                    error = %err,
                    user_id = user.id,
                    "could not mail the reset code"
                );
                Ok(())
            }
            other => other,
        }
    }

    /// The work of a reset mail for an account that does not exist, through the same mail
    /// service and as long, delivered to nobody: before the answer, since on Lambda nothing
    /// runs after it.
    async fn send_decoy(&self, to: &Email, purpose: CodePurpose) {
        let message = CodeMessage {
            link: self.reset_link(to, &ResetToken::generate()),
            to: to.clone(),
            code: OneTimeCode::generate(),
            valid_for: self.code_policy.ttl,
            purpose,
            language: Language::default(),
        };
        if let Err(err) = self.mailer.send_decoy(&message).await {
            tracing::warn!(error = %err, "could not send the decoy of a reset mail");
        }
    }

    /// Spends a live reset code (or the secret of its mail's link) and sets the new password.
    /// The new password unlocks sign-in by code and ends every session; a racing reset with
    /// the same code gets the refusal.
    pub async fn reset_password(
        &self,
        client: &str,
        reset: &ResetAttempt,
    ) -> Result<(), AuthError> {
        let ResetAttempt {
            username,
            proof,
            new_password,
        } = reset;
        allowed(self.limiter.hit_from_address(client).await)?;
        let purpose = CodePurpose::PasswordReset;
        if let ResetProof::Code { .. } = proof {
            // Counted for the name asked for before anything is looked up, known or not: a
            // limit that held only for real accounts would say which exist.
            let checked = self
                .limiter
                .take_code_check(purpose, username.as_ref(), client)
                .await;
            allowed_for(client, purpose.check_limit(), checked)?;
        }
        let user = users::find_by_username(&self.db, username.as_ref())
            .await?
            .filter(|user| !disabled(client, user))
            .ok_or_else(|| purpose.refusal())?;
        let stored = match proof {
            ResetProof::Code { code, challenge } => {
                let origin = Origin::client(client);
                self.check_code(origin, &user, purpose, code, challenge.as_ref())
                    .await?
            }
            ResetProof::Link(token) => self.check_link(&user, token).await?,
        };
        // Hashed before the code is spent, so a busy hasher leaves the code usable.
        let hash = self.passwords.hash(new_password).await?;
        if !users::reset_password(&self.db, user.id, &stored, &hash).await? {
            return Err(purpose.refusal());
        }
        let by = match proof {
            ResetProof::Code { .. } => "code",
            ResetProof::Link(_) => "link",
        };
        tracing::info!(
            event = "password_reset",
            client,
            user_id = user.id,
            by,
            "password reset; every session ended"
        );
        self.record(
            user.id,
            EventKind::PasswordReset,
            Origin::client(client),
            Some(by),
        )
        .await;
        self.notify_password_changed(&user, true, client).await;
        Ok(())
    }

    /// Mails the owner that their password changed, when notices are on, before the answer.
    async fn notify_password_changed(&self, user: &UserRecord, reset: bool, client: &str) {
        if !self.notices.password_changed {
            return;
        }
        let Ok(to) = Email::parse(&user.username) else {
            return;
        };
        let about = if reset {
            About::PasswordReset
        } else {
            About::PasswordChanged
        };
        let notice = Notice::new(to, user.language, about, store::now(), client)
            .with_reset_page(self.reset_page());
        self.notify(user.id, &notice, "password notice").await;
    }

    /// The live reset code whose mail's link carries `token`, whatever tries its code had:
    /// 128 bits need no limit.
    async fn check_link(&self, user: &UserRecord, token: &ResetToken) -> Result<String, AuthError> {
        let purpose = CodePurpose::PasswordReset;
        codes::unspent(&self.db, user.id, purpose.column())
            .await?
            .filter(|live| live.link_hash.as_deref().is_some_and(|h| token.matches(h)))
            .map(|live| live.code_hash)
            .ok_or_else(|| purpose.refusal())
    }

    /// The signed-in user, once their current password is checked: under the per-address
    /// limit, and a wrong one counts toward the same back-off as at sign-in.
    pub(super) async fn check_current_password(
        &self,
        client: &str,
        session: &Session,
        current: &LoginPassword,
    ) -> Result<UserRecord, AuthError> {
        // The per-address limit is taken with the password try.
        let claimed = users::find_claimed(&self.db, &session.username, client).await?;
        if claimed.user.as_ref().map(|user| user.id) != Some(session.user_id) {
            return Err(AuthError::InvalidSession);
        }
        self.check_password(
            Origin::session(client, session),
            &session.username,
            claimed,
            current,
            PasswordFor::Change,
        )
        .await
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
        let user = self
            .check_current_password(client, session, current)
            .await?;
        let hash = self.passwords.hash(new_password).await?;
        // The hash took a while: the session may have ended, or the password been reset,
        // since the check. The change lands only if neither happened.
        let checked = &user.stored_password;
        let refused = match users::change_password(&self.db, user.id, checked, &hash, &session.id)
            .await?
        {
            PasswordChange::Changed => None,
            PasswordChange::SessionEnded => Some((AuthError::InvalidSession, "the session ended")),
            PasswordChange::PasswordMoved => {
                Some((AuthError::WrongCurrentPassword, "the password changed"))
            }
        };
        if let Some((refusal, why)) = refused {
            tracing::info!(
                event = "password_change_refused",
                client,
                user_id = user.id,
                "{why} while the new password was hashed"
            );
            return Err(refusal);
        }
        tracing::info!(
            event = "password_changed",
            client,
            user_id = user.id,
            "password changed; other sessions ended"
        );
        let origin = Origin::session(client, session);
        self.record(user.id, EventKind::PasswordChanged, origin, None)
            .await;
        self.notify_password_changed(&user, false, client).await;
        Ok(())
    }
}
