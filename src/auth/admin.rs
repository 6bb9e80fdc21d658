//! What the operator may do to an account (`otp-login users …`): look, list, disable and
//! enable, sign out everywhere, unlock, delete. Every action is logged as a security event with
//! `by = "operator"`, and recorded in the owner's activity; nothing here mails the user.
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::activity::EventKind;
use super::limits::password_cap_prefix;
use super::{CodePolicy, Email};
use crate::store::accounts::{self, AccountFilter, AccountRow, Locked, Unlocked};
use crate::store::events::{self, NewEvent};
use crate::store::suppressions;
use crate::store::{Db, StoreError};

/// Why an operator's action did nothing.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no account is named {0}")]
    NoSuchAccount(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One account as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct AccountView {
    pub id: i32,
    pub username: String,
    pub public_id: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When a code first proved the mailbox; none while unproven.
    pub email_verified_at: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub last_sign_in_from: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub wrong_codes: u32,
    /// Sign-in by code is locked by wrong codes until a reset or an unlock.
    pub code_sign_in_locked: bool,
    pub live_sessions: u64,
    /// The wrong-password back-offs running now (listings leave them out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_offs: Option<Vec<BackOffView>>,
    /// Why mail cannot reach the address, if the mail service said so (listings leave it out).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_undeliverable: Option<UndeliverableView>,
}

/// What the mail service reported of the address: a bounce or a complaint, and when.
#[derive(Debug, Clone, Serialize)]
pub struct UndeliverableView {
    pub kind: String,
    pub reason: Option<String>,
    pub since: DateTime<Utc>,
}

/// A wrong-password back-off still running for one client address.
#[derive(Debug, Clone, Serialize)]
pub struct BackOffView {
    pub address: String,
    pub failures: u32,
    pub until: DateTime<Utc>,
}

/// Which accounts a listing shows; every filter set must hold.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListFilter {
    /// Sign-in by code locked, or a wrong-password back-off running.
    pub locked: bool,
    pub disabled: bool,
    /// No code has proven the mailbox.
    pub unverified: bool,
}

/// The operator's actions, over the service's database.
#[derive(Clone)]
pub struct AccountAdmin {
    db: Db,
    codes: CodePolicy,
}

/// An address as typed, in the form usernames are stored; a stored name the parser would
/// refuse (a row written by hand) is looked up as typed.
fn stored_key(typed: &str) -> String {
    Email::parse(typed).map_or_else(|_| typed.to_owned(), |email| email.as_ref().to_owned())
}

impl AccountAdmin {
    pub fn new(db: Db, codes: CodePolicy) -> Self {
        Self { db, codes }
    }

    /// The account named `username` (as typed at sign-in: case and Unicode forms of the
    /// address are normalised the same way), with its running back-offs.
    pub async fn show(&self, username: &str) -> Result<AccountView, AdminError> {
        let row = self.find(username).await?;
        let now_ms = Utc::now().timestamp_millis();
        let back_offs = accounts::back_offs(&self.db, &row.username, now_ms)
            .await?
            .into_iter()
            .map(|back_off| BackOffView {
                address: back_off.address,
                failures: u32::try_from(back_off.failures).unwrap_or(0),
                until: DateTime::from_timestamp_millis(back_off.open_at_ms).unwrap_or_default(),
            })
            .collect();
        let undeliverable = suppressions::find(&self.db, &row.username).await?;
        let mut view = self.view(row);
        view.back_offs = Some(back_offs);
        view.mail_undeliverable = undeliverable.map(|found| UndeliverableView {
            kind: found.kind,
            reason: found.reason,
            since: found.since,
        });
        Ok(view)
    }

    /// At most `limit` accounts matching `filter`, by id, after the id `after` (0: from the
    /// first).
    pub async fn list(
        &self,
        filter: ListFilter,
        after: i32,
        limit: u32,
    ) -> Result<Vec<AccountView>, AdminError> {
        let filter = AccountFilter {
            locked: filter.locked.then(|| Locked {
                wrong_codes: self.codes.lock_after,
                now_ms: Utc::now().timestamp_millis(),
            }),
            disabled: filter.disabled,
            unverified: filter.unverified,
        };
        let rows = accounts::list(&self.db, &filter, after, limit).await?;
        Ok(rows.into_iter().map(|row| self.view(row)).collect())
    }

    /// Disables the account and ends its sessions and codes. Answers whether it was enabled.
    pub async fn disable(&self, username: &str) -> Result<bool, AdminError> {
        let row = self.find(username).await?;
        let changed = accounts::disable(&self.db, row.id).await?;
        if changed {
            self.record(row.id, EventKind::Disabled).await?;
        }
        tracing::warn!(
            event = "account_disabled",
            by = "operator",
            user_id = row.id,
            changed,
            "account disabled; its sessions and codes ended"
        );
        Ok(changed)
    }

    /// Enables a disabled account. Answers whether it was disabled.
    pub async fn enable(&self, username: &str) -> Result<bool, AdminError> {
        let row = self.find(username).await?;
        let changed = accounts::enable(&self.db, row.id).await?;
        if changed {
            self.record(row.id, EventKind::Enabled).await?;
        }
        tracing::warn!(
            event = "account_enabled",
            by = "operator",
            user_id = row.id,
            changed,
            "account enabled"
        );
        Ok(changed)
    }

    /// Ends every session of the account, and with them its refresh tokens. Answers how many.
    pub async fn sign_out(&self, username: &str) -> Result<u64, AdminError> {
        let row = self.find(username).await?;
        let ended = accounts::sign_out(&self.db, row.id).await?;
        self.record(row.id, EventKind::SignedOut).await?;
        tracing::warn!(
            event = "signed_out",
            by = "operator",
            user_id = row.id,
            scope = "All",
            ended,
            "every session ended"
        );
        Ok(ended)
    }

    /// Lets a locked-out owner back in: clears the run of wrong codes, the wrong-password
    /// back-offs and the cap on wrong passwords.
    pub async fn unlock(&self, username: &str) -> Result<Unlocked, AdminError> {
        let row = self.find(username).await?;
        let now_ms = Utc::now().timestamp_millis();
        let unlocked = accounts::unlock(
            &self.db,
            row.id,
            &row.username,
            &password_cap_prefix(),
            now_ms,
        )
        .await?;
        self.record(row.id, EventKind::Unlocked).await?;
        tracing::warn!(
            event = "account_unlocked",
            by = "operator",
            user_id = row.id,
            wrong_codes = unlocked.wrong_codes,
            back_offs = unlocked.back_offs,
            "sign-in unlocked"
        );
        Ok(unlocked)
    }

    /// Lets mail reach the address again after a bounce or a complaint (the mailbox works
    /// again). Answers whether it was undeliverable; an address no account holds may be
    /// cleared too.
    pub async fn clear_mail(&self, address: &str) -> Result<bool, AdminError> {
        let cleared = suppressions::clear(&self.db, &stored_key(address.trim())).await?;
        tracing::warn!(
            event = "mail_cleared",
            by = "operator",
            cleared,
            "mail may reach the address again"
        );
        Ok(cleared)
    }

    /// Deletes the account and everything keyed to it; the address can register again.
    pub async fn delete(&self, username: &str) -> Result<(), AdminError> {
        let row = self.find(username).await?;
        if !accounts::erase(&self.db, row.id, &row.username).await? {
            return Err(AdminError::NoSuchAccount(username.to_owned()));
        }
        tracing::warn!(
            event = "account_deleted",
            by = "operator",
            user_id = row.id,
            "account and everything keyed to it deleted"
        );
        Ok(())
    }

    /// Records what the operator did in the owner's activity: from no client address.
    async fn record(&self, user_id: i32, kind: EventKind) -> Result<(), StoreError> {
        let event = NewEvent {
            user_id,
            kind: kind.as_str(),
            client_address: None,
            user_agent: None,
            session_id: None,
            detail: Some("operator"),
        };
        events::record(&self.db, event).await
    }

    async fn find(&self, username: &str) -> Result<AccountRow, AdminError> {
        accounts::find(&self.db, &stored_key(username))
            .await?
            .ok_or_else(|| AdminError::NoSuchAccount(username.to_owned()))
    }

    fn view(&self, row: AccountRow) -> AccountView {
        let wrong_codes = u32::try_from(row.failed_codes).unwrap_or(0);
        AccountView {
            id: row.id,
            username: row.username,
            public_id: row.public_id,
            created_at: row.created_at,
            email_verified_at: row.email_verified_at,
            last_sign_in_at: row.last_sign_in_at,
            last_sign_in_from: row.last_sign_in_from,
            disabled_at: row.disabled_at,
            wrong_codes,
            code_sign_in_locked: self.codes.locks(wrong_codes),
            live_sessions: u64::try_from(row.live_sessions).unwrap_or(0),
            back_offs: None,
            mail_undeliverable: None,
        }
    }
}
