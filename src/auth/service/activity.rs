//! The owner's activity: the security events of their account, newest first, a page at a time.
use super::{AuthError, AuthService, Session};
use crate::auth::activity::{Cursor, PageSize};
use crate::store::events::{self, EventRow};

/// One page of the owner's activity, and where the next one starts (none at the end).
#[derive(Debug, Clone)]
pub struct ActivityPage {
    pub events: Vec<ActivityEvent>,
    pub next: Option<Cursor>,
}

/// One event of the owner's activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivityEvent {
    pub row: EventRow,
    /// It happened in the session the list was asked from.
    pub current_session: bool,
}

impl AuthService {
    /// The signed-in user's events older than `after` (from the newest without it), at most
    /// `size` of them.
    pub async fn activity(
        &self,
        session: &Session,
        after: Option<Cursor>,
        size: PageSize,
    ) -> Result<ActivityPage, AuthError> {
        let size = usize::try_from(size.get()).unwrap_or(usize::MAX);
        // One more than asked says whether there is a next page.
        let asked = u64::try_from(size).unwrap_or(u64::MAX).saturating_add(1);
        let after = after.map(Cursor::event_id);
        let mut rows = events::page(&self.db, session.user_id, after, asked).await?;
        let next = if rows.len() > size {
            rows.truncate(size);
            rows.last().map(|row| Cursor::after(row.id))
        } else {
            None
        };
        let events = rows
            .into_iter()
            .map(|row| ActivityEvent {
                current_session: row.session_id.as_deref() == Some(session.id.as_str()),
                row,
            })
            .collect();
        Ok(ActivityPage { events, next })
    }
}
