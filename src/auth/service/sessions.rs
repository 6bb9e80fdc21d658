//! Sessions after sign-in: the session a bearer token names, and signing out of one or all.
use super::{AuthError, AuthService};
use crate::store::{sessions, users};

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

impl AuthService {
    /// The session a bearer token belongs to, while the token is valid, its session neither
    /// revoked nor expired, and its user still there.
    pub async fn session(&self, token: &str) -> Result<Session, AuthError> {
        let claims = self
            .tokens
            .verify(token)
            .await
            .map_err(|_| AuthError::InvalidSession)?;
        let live = sessions::find_live(&self.db, &claims.session_id)
            .await?
            .ok_or(AuthError::InvalidSession)?;
        let user = users::find_by_id(&self.db, live.user_id)
            .await?
            .filter(|user| user.public_id.as_deref() == Some(claims.subject.as_str()))
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
}
