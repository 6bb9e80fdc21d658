//! Accounts as their operator sees them: one account's whole state, a filtered page of them, and
//! the actions `otp-login users` takes (disable, enable, unlock, erase), and the clean-up of
//! unproven registrations. Each action is one transaction, so a failed one leaves the account
//! as it was.
use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, FromQueryResult,
    QueryFilter, QuerySelect, Statement, TransactionTrait, Value,
};

use super::{now, StoreError};
use crate::entity::users;

/// One account with what its operator asks about it.
#[derive(Debug, Clone, FromQueryResult)]
pub struct AccountRow {
    pub id: i32,
    pub username: String,
    pub public_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub last_sign_in_from: Option<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    /// Wrong codes in a row, across codes.
    pub failed_codes: i32,
    /// Sessions neither revoked nor expired.
    pub live_sessions: i64,
}

/// A wrong-password back-off still running for one client address.
#[derive(Debug, Clone, FromQueryResult)]
pub struct BackOff {
    pub address: String,
    pub failures: i32,
    pub open_at_ms: i64,
}

/// Which accounts a listing shows; every filter set must hold.
#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    /// Only accounts locked out: sign-in by code locked (this many wrong codes in a row), or a
    /// wrong-password back-off running.
    pub locked: Option<Locked>,
    pub disabled: bool,
    /// Only accounts whose mailbox no code has proven.
    pub unverified: bool,
}

/// What makes an account locked out, as of `now_ms`.
#[derive(Debug, Clone, Copy)]
pub struct Locked {
    pub wrong_codes: u32,
    pub now_ms: i64,
}

const ACCOUNT_COLUMNS: &str = "u.id, u.username, u.public_id, u.created_at, u.email_verified_at, \
     u.last_sign_in_at, u.last_sign_in_from, u.disabled_at, u.failed_codes, \
     (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.revoked_at IS NULL \
      AND s.expires_at > ?) AS live_sessions";

/// The account named exactly `username`.
pub async fn find(
    db: &DatabaseConnection,
    username: &str,
) -> Result<Option<AccountRow>, StoreError> {
    let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users u WHERE u.username = ?");
    let rows = AccountRow::find_by_statement(statement(db, &sql, [now().into(), username.into()]))
        .all(db)
        .await?;
    // As `users::find_by_username`: the bytes must match, whatever the collation.
    Ok(rows.into_iter().find(|row| row.username == username))
}

/// At most `limit` accounts matching `filter`, by id, after the id `after`.
pub async fn list(
    db: &DatabaseConnection,
    filter: &AccountFilter,
    after: i32,
    limit: u32,
) -> Result<Vec<AccountRow>, StoreError> {
    let mut sql = format!("SELECT {ACCOUNT_COLUMNS} FROM users u WHERE u.id > ?");
    let mut values: Vec<Value> = vec![now().into(), after.into()];
    if let Some(locked) = filter.locked {
        sql.push_str(
            " AND (u.failed_codes >= ? OR EXISTS (SELECT 1 FROM password_attempts p \
             WHERE p.username = u.username AND p.open_at_ms > ?))",
        );
        values.extend([locked.wrong_codes.into(), locked.now_ms.into()]);
    }
    if filter.disabled {
        sql.push_str(" AND u.disabled_at IS NOT NULL");
    }
    if filter.unverified {
        sql.push_str(" AND u.email_verified_at IS NULL");
    }
    sql.push_str(" ORDER BY u.id LIMIT ?");
    values.push(limit.into());
    Ok(AccountRow::find_by_statement(statement(db, &sql, values))
        .all(db)
        .await?)
}

/// The wrong-password back-offs of `username` still running at `now_ms`, by address.
pub async fn back_offs(
    db: &DatabaseConnection,
    username: &str,
    now_ms: i64,
) -> Result<Vec<BackOff>, StoreError> {
    Ok(BackOff::find_by_statement(statement(
        db,
        "SELECT address, failures, open_at_ms FROM password_attempts \
         WHERE username = ? AND open_at_ms > ? ORDER BY address",
        [username.into(), now_ms.into()],
    ))
    .all(db)
    .await?)
}

/// Disables the account: it keeps its data, and every session, refresh token and pending code
/// ends with it. Answers whether it was enabled until now.
pub async fn disable(db: &DatabaseConnection, id: i32) -> Result<bool, StoreError> {
    let txn = db.begin().await?;
    let at = now();
    let changed = txn
        .execute(statement(
            &txn,
            "UPDATE users SET disabled_at = ? WHERE id = ? AND disabled_at IS NULL",
            [at.into(), id.into()],
        ))
        .await?
        .rows_affected()
        == 1;
    end_sessions_and_codes(&txn, id, at).await?;
    txn.commit().await?;
    Ok(changed)
}

/// Enables a disabled account. Answers whether it was disabled until now.
pub async fn enable(db: &DatabaseConnection, id: i32) -> Result<bool, StoreError> {
    Ok(db
        .execute(statement(
            db,
            "UPDATE users SET disabled_at = NULL WHERE id = ? AND disabled_at IS NOT NULL",
            [id.into()],
        ))
        .await?
        .rows_affected()
        == 1)
}

/// Ends every live session of the account (its refresh tokens die with them). Answers how many.
pub async fn sign_out(db: &DatabaseConnection, id: i32) -> Result<u64, StoreError> {
    Ok(db
        .execute(statement(db, REVOKE_SESSIONS, [now().into(), id.into()]))
        .await?
        .rows_affected())
}

const REVOKE_SESSIONS: &str =
    "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL";

async fn end_sessions_and_codes<C: ConnectionTrait>(
    db: &C,
    id: i32,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    db.execute(statement(db, REVOKE_SESSIONS, [at.into(), id.into()]))
        .await?;
    db.execute(statement(
        db,
        "DELETE FROM one_time_codes WHERE user_id = ?",
        [id.into()],
    ))
    .await?;
    Ok(())
}

/// What an unlock cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unlocked {
    /// Wrong codes in a row the account had.
    pub wrong_codes: u32,
    /// Client addresses whose wrong-password back-off was running.
    pub back_offs: u64,
}

/// Clears the run of wrong codes (which locks sign-in by code), every wrong-password back-off
/// of the account, and the cap on its wrong passwords (the rate-limit rows of the account whose
/// bucket starts with `cap_prefix`), in one transaction.
pub async fn unlock(
    db: &DatabaseConnection,
    id: i32,
    username: &str,
    cap_prefix: &str,
    now_ms: i64,
) -> Result<Unlocked, StoreError> {
    let txn = db.begin().await?;
    let wrong_codes: Option<i32> = txn
        .query_one(statement(
            &txn,
            "SELECT failed_codes FROM users WHERE id = ?",
            [id.into()],
        ))
        .await?
        .map(|row| row.try_get_by_index(0))
        .transpose()?;
    txn.execute(statement(
        &txn,
        "UPDATE users SET failed_codes = 0 WHERE id = ?",
        [id.into()],
    ))
    .await?;
    let back_offs = txn
        .execute(statement(
            &txn,
            "UPDATE password_attempts SET failures = 0, open_at_ms = 0, updated_ms = ? \
             WHERE username = ? AND (failures > 0 OR open_at_ms > ?)",
            [now_ms.into(), username.into(), now_ms.into()],
        ))
        .await?
        .rows_affected();
    let cap_len = u32::try_from(cap_prefix.len()).unwrap_or(u32::MAX);
    txn.execute(statement(
        &txn,
        "DELETE FROM rate_limits WHERE subject = ? AND SUBSTR(bucket, 1, ?) = ?",
        [username.into(), cap_len.into(), cap_prefix.into()],
    ))
    .await?;
    txn.commit().await?;
    Ok(Unlocked {
        wrong_codes: u32::try_from(wrong_codes.unwrap_or(0)).unwrap_or(0),
        back_offs,
    })
}

/// Deletes the account and everything keyed to it: its codes, sessions and their refresh
/// tokens, its wrong-password records, and the rate-limit rows keyed by its address, in one
/// transaction. Answers whether the account was there.
pub async fn erase(db: &DatabaseConnection, id: i32, username: &str) -> Result<bool, StoreError> {
    erase_if(db, id, username, None).await
}

/// Removes, in bounded batches, the accounts whose `lapses_at` has passed while no code proved
/// their address, each erased as `erase` does. Answers how many went.
pub async fn prune_unproven(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
    batch: u64,
) -> Result<u64, StoreError> {
    let due = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .column(users::Column::Username)
        .filter(users::Column::LapsesAt.lte(now))
        .filter(users::Column::EmailVerifiedAt.is_null())
        .limit(batch)
        .into_tuple::<(i32, String)>()
        .all(db)
        .await?;
    let mut removed = 0;
    for (id, username) in due {
        // Proven (or erased) since the read: the condition is checked again as it is deleted.
        if erase_if(db, id, &username, Some(now)).await? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// `erase`, and with `lapsed_by` only while the account is still unproven and due by then:
/// otherwise nothing changes.
async fn erase_if(
    db: &DatabaseConnection,
    id: i32,
    username: &str,
    lapsed_by: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let txn = db.begin().await?;
    // Children first, so the erase does not lean on foreign keys being enforced.
    txn.execute(statement(
        &txn,
        "DELETE FROM refresh_tokens WHERE session_id IN \
         (SELECT id FROM sessions WHERE user_id = ?)",
        [id.into()],
    ))
    .await?;
    for table in ["sessions", "one_time_codes", "account_events"] {
        let sql = format!("DELETE FROM {table} WHERE user_id = ?");
        txn.execute(statement(&txn, &sql, [id.into()])).await?;
    }
    txn.execute(statement(
        &txn,
        "DELETE FROM password_attempts WHERE username = ?",
        [username.into()],
    ))
    .await?;
    // Rows keyed by the address alone, or by the address and a client address (`name@host
    // 198.51.100.7`): a space is in neither, so the prefix is exact.
    let prefix = format!("{username} ");
    let prefix_len = u32::try_from(prefix.chars().count()).unwrap_or(u32::MAX);
    txn.execute(statement(
        &txn,
        "DELETE FROM rate_limits WHERE subject = ? OR SUBSTR(subject, 1, ?) = ?",
        [username.into(), prefix_len.into(), prefix.into()],
    ))
    .await?;
    let user = match lapsed_by {
        None => statement(&txn, "DELETE FROM users WHERE id = ?", [id.into()]),
        Some(by) => statement(
            &txn,
            "DELETE FROM users WHERE id = ? AND email_verified_at IS NULL AND lapses_at <= ?",
            [id.into(), by.into()],
        ),
    };
    let erased = txn.execute(user).await?.rows_affected() == 1;
    if !erased {
        // Nothing of an account that stays (or is gone already) is deleted.
        txn.rollback().await?;
        return Ok(false);
    }
    txn.commit().await?;
    Ok(true)
}

fn statement<C: ConnectionTrait>(
    db: &C,
    sql: &str,
    values: impl IntoIterator<Item = Value>,
) -> Statement {
    let backend: DbBackend = db.get_database_backend();
    Statement::from_sql_and_values(backend, sql, values)
}
