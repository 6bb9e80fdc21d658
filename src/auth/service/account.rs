//! The owner's own account: deleting it, with everything keyed to it.
use super::{AuthError, AuthService, Session};
use crate::auth::{Email, LoginPassword};
use crate::mail::{About, Notice};
use crate::store::{self, accounts};

impl AuthService {
    /// Deletes the signed-in user's account after checking its current password (a wrong one
    /// counts toward the same back-off as at sign-in): the user row and everything keyed to it
    /// (codes, sessions and their refresh tokens, wrong-password records, the rate-limit rows
    /// keyed by the address) go in one transaction, then a goodbye notice goes to the address,
    /// before the answer. The address can register again.
    pub async fn delete_account(
        &self,
        client: &str,
        session: &Session,
        current: &LoginPassword,
    ) -> Result<(), AuthError> {
        let user = self
            .check_current_password(client, session, current)
            .await?;
        // Someone else (the operator, a second tab) may have deleted it since the check.
        if !accounts::erase(&self.db, user.id, &user.username).await? {
            return Err(AuthError::InvalidSession);
        }
        tracing::warn!(
            event = "account_deleted",
            by = "owner",
            client,
            user_id = user.id,
            "account deleted by its owner"
        );
        // The account is gone either way, mailed goodbye or not.
        if let Ok(to) = Email::parse(&user.username) {
            let about = About::AccountDeleted;
            let notice = Notice::new(to, user.language, about, store::now(), client);
            self.notify(user.id, &notice, "goodbye notice").await;
        }
        Ok(())
    }
}
