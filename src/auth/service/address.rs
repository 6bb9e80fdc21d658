//! A change of address: the signed-in user names a new one and gives their password, a code
//! goes to the new address, and that code back makes it the username.
use super::sign_in::{OfferedCode, Spend};
use super::{allowed, allowed_for, limited_event, AuthError, AuthService, Origin, Session};
use crate::auth::activity::EventKind;
use crate::auth::{Challenge, CodePurpose, Email, LoginPassword, OneTimeCode};
use crate::mail::{About, Notice};
use crate::store::users::{self, UsernameChange};
use crate::store::{self, codes};

/// The address a signed-in user moves to, with their current password.
#[derive(Debug)]
pub struct AddressChange {
    pub new_username: Email,
    pub current_password: LoginPassword,
}

impl AuthService {
    /// Mails a change-of-address code to the new address once the current password is right
    /// (a wrong one counts toward the same back-off as at sign-in). Only then does an address
    /// another account holds answer so. The code works only in this session, under the same
    /// rules as a sign-in code, and replaces any earlier one.
    pub async fn request_email_change(
        &self,
        client: &str,
        session: &Session,
        change: &AddressChange,
    ) -> Result<(), AuthError> {
        let AddressChange {
            new_username,
            current_password,
        } = change;
        let user = self
            .check_current_password(client, session, current_password)
            .await?;
        if new_username.as_ref() == user.username {
            return Err(AuthError::SameAddress);
        }
        if users::find_by_username(&self.db, new_username.as_ref())
            .await?
            .is_some()
        {
            return Err(AuthError::UsernameTaken);
        }
        if self.undeliverable(new_username.as_ref()).await?.is_some() {
            return Err(AuthError::UndeliverableAddress);
        }
        let purpose = CodePurpose::EmailChange;
        let origin = Origin::session(client, session);
        if let Err(limited) = self.limiter.take_code_send(purpose, new_username).await? {
            let detail = Some(purpose.send_limit());
            self.record(user.id, EventKind::Limited, origin, detail)
                .await;
            return Err(limited_event(client, purpose.send_limit(), limited));
        }
        let challenge = session_challenge(session)?;
        self.send_code(origin, &user, new_username.clone(), purpose, &challenge)
            .await
    }

    /// Spends the change-of-address code asked for in this session and makes the address it
    /// went to the username. Every other session ends, codes mailed to the old address die,
    /// and a notice goes to the old address. Answers the new username.
    pub async fn confirm_email_change(
        &self,
        client: &str,
        session: &Session,
        code: &OneTimeCode,
    ) -> Result<Email, AuthError> {
        allowed(self.limiter.hit_from_address(client).await)?;
        let purpose = CodePurpose::EmailChange;
        let checked = self
            .limiter
            .take_code_check(purpose, &session.username, client)
            .await;
        allowed_for(client, purpose.check_limit(), checked)?;
        let user = users::find_by_username(&self.db, &session.username)
            .await?
            .filter(|user| user.id == session.user_id)
            .ok_or(AuthError::InvalidSession)?;
        let max_attempts = self.code_policy.max_attempts;
        let live = codes::live(&self.db, user.id, purpose.column(), max_attempts).await?;
        let new_username = live
            .as_ref()
            .and_then(|live| live.new_username.as_deref())
            .and_then(|new| Email::parse(new).ok());
        let challenge = session_challenge(session)?;
        let offered = OfferedCode {
            code,
            challenge: Some(&challenge),
        };
        let origin = Origin::session(client, session);
        let stored = self
            .try_code(origin, &user, purpose, live, offered, Spend::Later)
            .await?;
        let new_username = new_username.ok_or_else(|| purpose.refusal())?;
        let outcome = users::change_username(
            &self.db,
            user.id,
            &stored,
            new_username.as_ref(),
            &session.id,
        )
        .await?;
        match outcome {
            UsernameChange::Changed => {}
            UsernameChange::Taken => return Err(AuthError::UsernameTaken),
            UsernameChange::CodeSpent => return Err(purpose.refusal()),
            UsernameChange::SessionEnded => return Err(AuthError::InvalidSession),
        }
        tracing::warn!(
            event = "email_changed",
            client,
            user_id = user.id,
            "address changed; other sessions ended"
        );
        self.record(user.id, EventKind::EmailChanged, origin, None)
            .await;
        if self.notices.email_changed {
            if let Ok(old) = Email::parse(&user.username) {
                let about = About::EmailChanged {
                    new: new_username.clone(),
                };
                let notice = Notice::new(old, user.language, about, store::now(), client)
                    .with_reset_page(self.reset_page());
                self.notify(user.id, &notice, "address notice").await;
            }
        }
        Ok(new_username)
    }
}

/// What binds a change-of-address code to the session that asked for it: the session's id,
/// 128 random bits the bearer's own request names, in the place a challenge takes.
fn session_challenge(session: &Session) -> Result<Challenge, AuthError> {
    Challenge::parse(&session.id).map_err(|_| AuthError::InvalidSession)
}
