//! What the mail service reports of mail that cannot arrive: each address it names is kept
//! as undeliverable, so that no more mail goes there and its owner is told at sign-in.
use super::{AuthError, AuthService};
use crate::mail::events::MailEvents;
use crate::store::suppressions::{self, Suppression};

impl AuthService {
    /// Records the undeliverable addresses of one delivery of mail events. Answers how many.
    pub async fn take_mail_events(&self, events: &MailEvents) -> Result<usize, AuthError> {
        if events.refused > 0 {
            tracing::warn!(
                event = "mail_event_refused",
                refused = events.refused,
                "mail events from another topic or in another shape were refused"
            );
        }
        for reported in &events.undeliverable {
            let suppression = Suppression {
                address: reported.address.clone(),
                kind: reported.kind.as_str().to_owned(),
                reason: reported.reason.clone(),
                since: reported.at,
            };
            suppressions::mark(&self.db, &suppression).await?;
            tracing::warn!(
                event = "mail_undeliverable",
                kind = reported.kind.as_str(),
                "mail cannot reach an address; none goes there until it is cleared"
            );
        }
        Ok(events.undeliverable.len())
    }

    /// Why mail cannot reach `address`, if it cannot: no mail goes there.
    pub(super) async fn undeliverable(
        &self,
        address: &str,
    ) -> Result<Option<Suppression>, AuthError> {
        Ok(suppressions::find(&self.db, address).await?)
    }
}
