//! Rate-limit state: one row per (limit, key), each check decided by one upsert.
//!
//! `rate_limits` keeps a GCRA "theoretical arrival time" (`tat_ms`) per limit and key: a request
//! is allowed when pushing the TAT one emission interval further keeps it within the window
//! of now. `password_attempts` keeps consecutive wrong passwords per (username, address) and the
//! moment the next try may start. Each check is one `INSERT … ON DUPLICATE KEY UPDATE` (MySQL)
//! or `INSERT … ON CONFLICT DO UPDATE … WHERE` (SQLite) whose condition is the rule, so racing
//! requests cannot both pass a full bucket, and a new key costs no more than a known one.
//!
//! A refusal needs the time until the next request fits. MySQL's upsert reports it through
//! `LAST_INSERT_ID(column)`, which the statement's own answer carries; SQLite's returns the row
//! only when the request was taken, and a refusal reads the row once more.
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, RuntimeErr};
use sea_orm::{Statement, Value};

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

/// Takes one request's worth from the bucket if it has room. `Ok(None)` when allowed;
/// `Ok(Some(ms))` when refused, with how long until one request fits.
///
/// One upsert decides. A new key is inserted holding the request that made it, its arrival
/// time ahead of now, so the clean-up (which takes rows whose time has passed) cannot remove
/// it under a racing request. A known key moves its arrival time on only if that keeps it
/// within the window of now.
pub async fn take(
    db: &DatabaseConnection,
    bucket: &str,
    key: &str,
    rate: Rate,
    now_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let retry_after = |tat: i64| (tat + rate.interval_ms - rate.window_ms - now_ms).max(0);
    let (bucket, key) = (Value::from(bucket), Value::from(key));
    let seeded = now_ms + rate.interval_ms;
    let limit = now_ms + rate.window_ms;
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            let sql = "INSERT INTO rate_limits (bucket, subject, tat_ms) VALUES (?, ?, ?) \
                       ON CONFLICT (bucket, subject) DO UPDATE SET tat_ms = MAX(tat_ms, ?) + ? \
                       WHERE MAX(tat_ms, ?) + ? <= ? RETURNING tat_ms";
            let values = vec![
                bucket.clone(),
                key.clone(),
                seeded.into(),
                now_ms.into(),
                rate.interval_ms.into(),
                now_ms.into(),
                rate.interval_ms.into(),
                limit.into(),
            ];
            if db.query_one(statement(db, sql, values)).await?.is_some() {
                return Ok(None);
            }
            let sql = "SELECT tat_ms AS ms FROM rate_limits WHERE bucket = ? AND subject = ?";
            let tat = read_ms(db, sql, vec![bucket, key]).await?;
            Ok(Some(retry_after(tat.unwrap_or(now_ms))))
        }
        _ => {
            let sql = "INSERT INTO rate_limits (bucket, subject, tat_ms) VALUES (?, ?, ?) \
                       ON DUPLICATE KEY UPDATE tat_ms = IF(GREATEST(tat_ms, ?) + ? <= ?, \
                       GREATEST(tat_ms, ?) + ?, LAST_INSERT_ID(tat_ms))";
            let values = vec![
                bucket,
                key,
                seeded.into(),
                now_ms.into(),
                rate.interval_ms.into(),
                limit.into(),
                now_ms.into(),
                rate.interval_ms.into(),
            ];
            let refused_at = upsert(db, statement(db, sql, values)).await?;
            Ok(refused_at_ms(refused_at).map(retry_after))
        }
    }
}

/// One request to take from one limit: its row (`bucket`, `key`) and its rate.
#[derive(Debug, Clone, Copy)]
pub struct Take<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub rate: Rate,
}

/// The most rows one statement of `take_each` decides: each refused row leaves one bit in a
/// 64-bit `LAST_INSERT_ID`, which must stay positive and not be mistaken for a wait.
pub const MOST_ROWS_AT_ONCE: usize = 62;

/// Takes one request from each row that has room, each decided as `take` decides it. Answers,
/// row by row, `None` where it was taken and `Some(ms)` where it was refused, with the wait.
/// On MySQL one upsert decides every row (a refused row leaves its bit in `LAST_INSERT_ID`,
/// which the first row's value clears); a refusal reads the refused rows once more for the
/// wait. On SQLite, or with a row twice, the rows go one by one.
pub async fn take_each(
    db: &DatabaseConnection,
    takes: &[Take<'_>],
    now_ms: i64,
) -> Result<Vec<Option<i64>>, StoreError> {
    let distinct = takes.iter().enumerate().all(|(i, a)| {
        takes[..i]
            .iter()
            .all(|b| (b.bucket, b.key) != (a.bucket, a.key))
    });
    let one_by_one = takes.len() < 2
        || takes.len() > MOST_ROWS_AT_ONCE
        || !distinct
        || db.get_database_backend() == DatabaseBackend::Sqlite;
    if one_by_one {
        let mut answers = Vec::with_capacity(takes.len());
        for t in takes {
            answers.push(take(db, t.bucket, t.key, t.rate, now_ms).await?);
        }
        return Ok(answers);
    }
    // A CASE over the rows, one value each.
    let case = |values: &mut Vec<Value>, value: &dyn Fn(usize, &Take) -> Value| {
        let mut sql = String::from("(CASE");
        for (i, t) in takes.iter().enumerate() {
            sql.push_str(" WHEN bucket = ? AND subject = ? THEN ?");
            values.extend([Value::from(t.bucket), Value::from(t.key), value(i, t)]);
        }
        sql.push_str(" END)");
        sql
    };
    let mut values: Vec<Value> = vec![];
    let rows = takes
        .iter()
        .enumerate()
        .map(|(i, t)| {
            values.extend([
                t.bucket.into(),
                t.key.into(),
                (now_ms + t.rate.interval_ms).into(),
            ]);
            if i == 0 {
                "(?, ?, ? + 0 * LAST_INSERT_ID(0))"
            } else {
                "(?, ?, ?)"
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    values.push(now_ms.into());
    let interval = case(&mut values, &|_, t| t.rate.interval_ms.into());
    values.push(now_ms.into());
    let window = case(&mut values, &|_, t| t.rate.window_ms.into());
    values.push(now_ms.into());
    let interval_again = case(&mut values, &|_, t| t.rate.interval_ms.into());
    let bit = case(&mut values, &|i, _| (1_i64 << i).into());
    let sql = format!(
        "INSERT INTO rate_limits (bucket, subject, tat_ms) VALUES {rows} \
         ON DUPLICATE KEY UPDATE tat_ms = IF(GREATEST(tat_ms, ?) + {interval} <= ? + {window}, \
         GREATEST(tat_ms, ?) + {interval_again}, \
         tat_ms + 0 * LAST_INSERT_ID(LAST_INSERT_ID() | {bit}))"
    );
    let refused = upsert(db, statement(db, &sql, values)).await?;
    let mut answers = vec![None; takes.len()];
    for (i, t) in takes.iter().enumerate() {
        if refused & (1 << i) != 0 {
            let sql = "SELECT tat_ms AS ms FROM rate_limits WHERE bucket = ? AND subject = ?";
            let tat = read_ms(db, sql, vec![t.bucket.into(), t.key.into()]).await?;
            let tat = tat.unwrap_or(now_ms);
            answers[i] = Some((tat + t.rate.interval_ms - t.rate.window_ms - now_ms).max(0));
        }
    }
    Ok(answers)
}

/// How many times a MySQL upsert is tried before its deadlock is an error.
const UPSERT_TRIES: usize = 3;

/// Runs one write of limit rows (an upsert, or a give-back) and answers its `LAST_INSERT_ID()`.
/// Racing writes of one key can deadlock in InnoDB (an upsert holds a shared lock on the
/// duplicate it found and waits for an exclusive one); the one InnoDB picks is rolled back
/// whole, so running it again is safe.
async fn upsert(db: &DatabaseConnection, upsert: Statement) -> Result<u64, StoreError> {
    let mut tries = 1;
    loop {
        match db.execute(upsert.clone()).await {
            Err(err) if tries < UPSERT_TRIES && is_deadlock(&err) => tries += 1,
            done => return Ok(done?.last_insert_id()),
        }
    }
}

/// MySQL's "Deadlock found when trying to get lock" (error 1213, SQLSTATE 40001).
fn is_deadlock(err: &DbErr) -> bool {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(sea_orm::SqlxError::Database(err))) => {
            err.code().as_deref() == Some("40001")
        }
        _ => false,
    }
}

/// What a MySQL upsert that refused reported through `LAST_INSERT_ID(column)`. The statement's
/// own answer carries it, and the tables have no auto-increment column, so a statement that
/// did not call it (an insert, or a condition that held) reports 0.
fn refused_at_ms(last_insert_id: u64) -> Option<i64> {
    (last_insert_id != 0).then(|| i64::try_from(last_insert_id).unwrap_or(i64::MAX))
}

/// Gives back what `take` took, for a request that did not go ahead after all.
pub async fn give_back(
    db: &DatabaseConnection,
    bucket: &str,
    key: &str,
    rate: Rate,
) -> Result<(), StoreError> {
    // Racing the upserts of its row, it can deadlock as they do.
    upsert(
        db,
        statement(
            db,
            "UPDATE rate_limits SET tat_ms = tat_ms - ? WHERE bucket = ? AND subject = ?",
            vec![rate.interval_ms.into(), bucket.into(), key.into()],
        ),
    )
    .await?;
    Ok(())
}

/// When the next try may start after this one fails, as SQL over `before`, the count of
/// consecutive failures before this try, with the values it binds: `2^(n - after)` seconds
/// after the `n`-th consecutive failure from the `after`-th on, capped; before that, at once
/// (0, not "now": requests racing with clocks a millisecond apart must not refuse each other).
/// A shift, because SQLite has no power function.
fn open_at_sql(
    db: &DatabaseConnection,
    before: &str,
    after: u32,
    cap_ms: i64,
    now_ms: i64,
) -> (String, Vec<Value>) {
    if after == 0 {
        return ("0".to_owned(), vec![]);
    }
    let least = match db.get_database_backend() {
        DatabaseBackend::Sqlite => "MIN",
        _ => "LEAST",
    };
    // 2^20 s is far past any cap worth setting; stopping there keeps the shift in range.
    let sql = format!(
        "(CASE WHEN {before} + 1 < {after} THEN 0 \
         WHEN {before} + 1 - {after} >= 20 THEN ? + {cap_ms} \
         ELSE ? + {least}((1 << ({before} + 1 - {after})) * 1000, {cap_ms}) END)"
    );
    (sql, vec![now_ms.into(), now_ms.into()])
}

/// Reserves one password try for (username, address) if its back-off has run out: counts it
/// as a failure and starts the back-off the failure would earn, before the hash is checked,
/// so parallel tries cannot all slip through. `Ok(None)` when reserved; `Ok(Some(ms))` to wait.
/// A new pair is inserted as its first try leaves it.
pub async fn reserve_password_try(
    db: &DatabaseConnection,
    username: &str,
    address: &str,
    backoff_after: u32,
    backoff_cap_ms: i64,
    now_ms: i64,
) -> Result<Option<i64>, StoreError> {
    let open_at = |before| open_at_sql(db, before, backoff_after, backoff_cap_ms, now_ms);
    let (first_open_at, mut values) = open_at("0");
    values.splice(0..0, [username.into(), address.into()]);
    values.push(now_ms.into());
    let insert = format!(
        "INSERT INTO password_attempts (username, address, failures, open_at_ms, updated_ms) \
         VALUES (?, ?, 1, {first_open_at}, ?)"
    );
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => {
            // Every assignment sees the row as it was.
            let (next_open_at, next_values) = open_at("failures");
            values.extend(next_values);
            values.extend([now_ms.into(), now_ms.into()]);
            let sql = format!(
                "{insert} ON CONFLICT (username, address) DO UPDATE SET \
                 open_at_ms = {next_open_at}, failures = failures + 1, updated_ms = ? \
                 WHERE open_at_ms <= ? RETURNING 1 AS taken"
            );
            if db.query_one(statement(db, &sql, values)).await?.is_some() {
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
        _ => {
            // MySQL assigns left to right, each assignment seeing the ones before it:
            // `open_at_ms` goes last, so every condition reads the old one, and the back-off
            // reads the failures before this try as `failures - 1`.
            let (next_open_at, next_values) = open_at("(failures - 1)");
            values.extend([now_ms.into(), now_ms.into(), now_ms.into(), now_ms.into()]);
            values.extend(next_values);
            let sql = format!(
                "{insert} ON DUPLICATE KEY UPDATE \
                 failures = IF(open_at_ms <= ?, failures + 1, failures), \
                 updated_ms = IF(open_at_ms <= ?, ?, updated_ms), \
                 open_at_ms = IF(open_at_ms <= ?, {next_open_at}, LAST_INSERT_ID(open_at_ms))"
            );
            let refused_at = upsert(db, statement(db, &sql, values)).await?;
            Ok(refused_at_ms(refused_at).map(|open_at| (open_at - now_ms).max(0)))
        }
    }
}

/// A right password from `address`: the failures are forgiven, the address is remembered as
/// one the user signs in from, and what the try took in advance from the username's limits in
/// `given_back` is returned. One statement on MySQL.
pub async fn password_succeeded(
    db: &DatabaseConnection,
    username: &str,
    address: &str,
    given_back: &[(String, Rate)],
    now_ms: i64,
) -> Result<(), StoreError> {
    if given_back.is_empty() || db.get_database_backend() == DatabaseBackend::Sqlite {
        for (bucket, rate) in given_back {
            give_back(db, bucket, username, *rate).await?;
        }
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
        return Ok(());
    }
    // A multi-table update: the attempt row and each limit row of the username at once. A
    // limit row the clean-up took has nothing to give back; the attempt row changes anyway.
    let buckets = vec!["?"; given_back.len()].join(", ");
    let intervals = " WHEN ? THEN ?".repeat(given_back.len());
    let sql = format!(
        "UPDATE password_attempts AS p LEFT JOIN rate_limits AS r \
         ON r.subject = ? AND r.bucket IN ({buckets}) \
         SET p.failures = 0, p.open_at_ms = 0, p.signed_in_ms = ?, p.updated_ms = ?, \
         r.tat_ms = r.tat_ms - CASE r.bucket{intervals} ELSE 0 END \
         WHERE p.username = ? AND p.address = ?"
    );
    let mut values = vec![Value::from(username)];
    values.extend(
        given_back
            .iter()
            .map(|(bucket, _)| Value::from(bucket.as_str())),
    );
    values.extend([now_ms.into(), now_ms.into()]);
    for (bucket, rate) in given_back {
        values.extend([Value::from(bucket.as_str()), rate.interval_ms.into()]);
    }
    values.extend([username.into(), address.into()]);
    db.execute(statement(db, &sql, values)).await?;
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
