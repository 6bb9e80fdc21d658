//! Rate-limit state: one row per (limit, key), each check decided by one conditional statement.
//!
//! `rate_limits` keeps a GCRA "theoretical arrival time" (`tat_ms`) per limit and key: a request
//! is allowed when pushing the TAT one emission interval further keeps it within the window
//! of now. `password_attempts` keeps consecutive wrong passwords per (username, address) and the
//! moment the next try may start. Both are written by conditional `UPDATE`s whose `WHERE` is the
//! rule, so racing requests cannot both pass a full bucket; a row that does not exist yet is
//! seeded with `INSERT IGNORE` (a rate-limit row already holding the request that seeded it).
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, Statement, Value};

use super::{bounded_delete, StoreError};

/// GCRA parameters of one limit, in milliseconds.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Time one request "costs": the window divided by the number it allows.
    pub interval_ms: i64,
    pub window_ms: i64,
}

fn statement(db: &DatabaseConnection, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(db.get_database_backend(), sql, values)
}

fn greatest(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => "MAX",
        _ => "GREATEST",
    }
}

fn insert_ignore(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => "INSERT OR IGNORE",
        _ => "INSERT IGNORE",
    }
}

/// The `ms` column of the row `sql` selects, if there is one.
async fn read_ms(
    db: &DatabaseConnection,
    sql: &str,
    values: Vec<Value>,
) -> Result<Option<i64>, StoreError> {
    Ok(db
        .query_one(statement(db, sql, values))
        .await?
        .map(|row| row.try_get("", "ms"))
        .transpose()?)
}

/// Runs `update`; when it touched nothing because the row is missing, seeds the row and runs it
/// once more. The answer is whether the update applied.
async fn update_or_seed(
    db: &DatabaseConnection,
    update: Statement,
    seed: Statement,
) -> Result<bool, StoreError> {
    if db.execute(update.clone()).await?.rows_affected() == 1 {
        return Ok(true);
    }
    if db.execute(seed).await?.rows_affected() == 0 {
        // The row was there: the update's condition said no. Ask once more in case a racing
        // request seeded it between our two statements.
        return Ok(db.execute(update).await?.rows_affected() == 1);
    }
    Ok(db.execute(update).await?.rows_affected() == 1)
}

/// Takes one request's worth from the bucket if it has room. `Ok(None)` when allowed;
/// `Ok(Some(ms))` when refused, with how long until one request fits.
pub async fn take(
    db: &DatabaseConnection,
    bucket: &str,
    key: &str,
    rate: Rate,
    now_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let next = format!("{}(tat_ms, ?) + ?", greatest(db));
    let update = statement(
        db,
        &format!(
            "UPDATE rate_limits SET tat_ms = {next} \
             WHERE bucket = ? AND subject = ? AND {next} <= ?"
        ),
        vec![
            now_ms.into(),
            rate.interval_ms.into(),
            bucket.into(),
            key.into(),
            now_ms.into(),
            rate.interval_ms.into(),
            (now_ms + rate.window_ms).into(),
        ],
    );
    if db.execute(update.clone()).await?.rows_affected() == 1 {
        return Ok(None);
    }
    // No row yet, or a full bucket. A new row is seeded as the first request leaves it: one
    // statement decides a new key, and the seeded arrival time lies ahead of now, so the
    // clean-up (which takes rows whose time has passed) cannot remove it under a racing request.
    let seed = statement(
        db,
        &format!(
            "{} INTO rate_limits (bucket, subject, tat_ms) VALUES (?, ?, ?)",
            insert_ignore(db)
        ),
        vec![
            bucket.into(),
            key.into(),
            (now_ms + rate.interval_ms).into(),
        ],
    );
    if db.execute(seed).await?.rows_affected() == 1 {
        return Ok(None);
    }
    // The row was there: the bucket is full, unless a racing request seeded it between our two
    // statements. Ask once more.
    if db.execute(update).await?.rows_affected() == 1 {
        return Ok(None);
    }
    let tat = read_ms(
        db,
        "SELECT tat_ms AS ms FROM rate_limits WHERE bucket = ? AND subject = ?",
        vec![bucket.into(), key.into()],
    )
    .await?;
    let tat = tat.unwrap_or(now_ms);
    Ok(Some(
        (tat + rate.interval_ms - rate.window_ms - now_ms).max(0),
    ))
}

/// Gives back what `take` took, for a request that did not go ahead after all.
pub async fn give_back(
    db: &DatabaseConnection,
    bucket: &str,
    key: &str,
    rate: Rate,
) -> Result<(), StoreError> {
    db.execute(statement(
        db,
        "UPDATE rate_limits SET tat_ms = tat_ms - ? WHERE bucket = ? AND subject = ?",
        vec![rate.interval_ms.into(), bucket.into(), key.into()],
    ))
    .await?;
    Ok(())
}

/// When the next try may start after this one fails, as SQL over the column `failures` (the
/// count before this try): `2^(n - after)` seconds after the `n`-th consecutive failure from
/// the `after`-th on, capped; before that, at once (0, not "now": requests racing with
/// clocks a millisecond apart must not refuse each other). A shift, because SQLite has no
/// power function.
fn open_at_sql(db: &DatabaseConnection, after: u32, cap_ms: i64) -> String {
    if after == 0 {
        return "0".to_owned();
    }
    let least = match db.get_database_backend() {
        DatabaseBackend::Sqlite => "MIN",
        _ => "LEAST",
    };
    // 2^20 s is far past any cap worth setting; stopping there keeps the shift in range.
    format!(
        "(CASE WHEN failures + 1 < {after} THEN 0 \
         WHEN failures + 1 - {after} >= 20 THEN ? + {cap_ms} \
         ELSE ? + {least}((1 << (failures + 1 - {after})) * 1000, {cap_ms}) END)"
    )
}

/// Reserves one password try for (username, address) if its back-off has run out: counts it
/// as a failure and starts the back-off the failure would earn, before the hash is checked,
/// so parallel tries cannot all slip through. `Ok(None)` when reserved; `Ok(Some(ms))` to wait.
pub async fn reserve_password_try(
    db: &DatabaseConnection,
    username: &str,
    address: &str,
    backoff_after: u32,
    backoff_cap_ms: i64,
    now_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let open_at = open_at_sql(db, backoff_after, backoff_cap_ms);
    let mut values: Vec<Value> = match backoff_after {
        0 => vec![],
        _ => vec![now_ms.into(), now_ms.into()],
    };
    values.extend([
        now_ms.into(),
        username.into(),
        address.into(),
        now_ms.into(),
    ]);
    // MySQL assigns left to right, each assignment seeing the ones before: open_at first.
    let update = statement(
        db,
        &format!(
            "UPDATE password_attempts SET open_at_ms = {open_at}, \
             failures = failures + 1, updated_ms = ? \
             WHERE username = ? AND address = ? AND open_at_ms <= ?"
        ),
        values,
    );
    let seed = statement(
        db,
        &format!(
            "{} INTO password_attempts (username, address, failures, open_at_ms, updated_ms) \
             VALUES (?, ?, 0, 0, ?)",
            insert_ignore(db)
        ),
        vec![username.into(), address.into(), now_ms.into()],
    );
    if update_or_seed(db, update, seed).await? {
        return Ok(None);
    }
    let open_at = read_ms(
        db,
        "SELECT open_at_ms AS ms FROM password_attempts WHERE username = ? AND address = ?",
        vec![username.into(), address.into()],
    )
    .await?;
    Ok(Some((open_at.unwrap_or(now_ms) - now_ms).max(0)))
}

/// A right password from `address`: the failures are forgiven and the address is remembered as
/// one the user signs in from.
pub async fn password_succeeded(
    db: &DatabaseConnection,
    username: &str,
    address: &str,
    now_ms: i64,
) -> Result<(), StoreError> {
    db.execute(statement(
        db,
        "UPDATE password_attempts SET failures = 0, open_at_ms = 0, signed_in_ms = ?, \
         updated_ms = ? WHERE username = ? AND address = ?",
        vec![
            now_ms.into(),
            now_ms.into(),
            username.into(),
            address.into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Whether the user has signed in from `address` before.
pub async fn known_address(
    db: &DatabaseConnection,
    username: &str,
    address: &str,
) -> Result<bool, StoreError> {
    Ok(db
        .query_one(statement(
            db,
            "SELECT 1 AS known FROM password_attempts \
             WHERE username = ? AND address = ? AND signed_in_ms IS NOT NULL",
            vec![username.into(), address.into()],
        ))
        .await?
        .is_some())
}

/// When password records may go: those of addresses that never signed in once idle since
/// `strangers_before_ms`, the others once idle since `known_before_ms`.
#[derive(Debug, Clone, Copy)]
pub struct Staleness {
    pub strangers_before_ms: i64,
    pub known_before_ms: i64,
}

/// Deletes at most `batch` rows of each table that no limit needs any more: buckets that are
/// full again, and idle password records out of back-off. Bounded, so no request pays for a
/// large delete; returns how many rows went.
pub async fn prune(
    db: &DatabaseConnection,
    now_ms: i64,
    stale: Staleness,
    batch: u32,
) -> Result<u64, StoreError> {
    let bounded = |table: &str, condition: &str| bounded_delete(db, table, condition, batch);
    let buckets = db
        .execute(statement(
            db,
            &bounded("rate_limits", "tat_ms < ?"),
            vec![now_ms.into()],
        ))
        .await?
        .rows_affected();
    let attempts = db
        .execute(statement(
            db,
            &bounded(
                "password_attempts",
                "open_at_ms < ? AND (updated_ms < ? \
                 OR (signed_in_ms IS NULL AND updated_ms < ?))",
            ),
            vec![
                now_ms.into(),
                stale.known_before_ms.into(),
                stale.strangers_before_ms.into(),
            ],
        ))
        .await?
        .rows_affected();
    Ok(buckets + attempts)
}
