//! Persistence: SeaORM queries as plain functions over a connection. Nothing above this module
//! sees an entity or a `DbErr`: every function answers with a `StoreError`.
pub mod accounts;
pub mod codes;
pub mod events;
pub mod limit_batches;
pub mod limits;
pub mod refresh_tokens;
pub mod sessions;
pub mod signing_keys;
pub mod suppressions;
pub mod users;

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    RuntimeErr,
};
use secrecy::{ExposeSecret, SecretString};

pub use sea_orm::DatabaseConnection as Db;

/// Why a store operation failed, sorted by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached now (connection refused, pool exhausted…): try later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] DbErr),
    /// Any other failure: a bug or a schema mismatch.
    #[error("database query failed: {0}")]
    Other(#[source] DbErr),
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            Self::Unavailable(err)
        } else {
            Self::Other(err)
        }
    }
}

/// The time to store and compare with, in whole seconds: MySQL `DATETIME` keeps no fraction,
/// and SQLite compares the text.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 0)
}

/// Opens a pool. `lazy` defers the first connection to the first query, which keeps a Lambda
/// cold start fast; the local server connects eagerly so a wrong URL fails at start-up.
pub async fn connect(
    url: &SecretString,
    max_connections: u32,
    lazy: bool,
) -> Result<DatabaseConnection, StoreError> {
    let url = url.expose_secret();
    if url.starts_with("mysql://") {
        return connect_mysql(url, max_connections, lazy).await;
    }
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(max_connections)
        .min_connections(0)
        .connect_lazy(lazy)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        // A file next to the process does not go away between statements.
        .test_before_acquire(false)
        .sqlx_logging(false);
    Ok(Database::connect(options).await?)
}

const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// A pooled MySQL connection idle this long is pinged before it is used: long enough that a
/// busy pool never pings, short enough that one left over a Lambda freeze or a server's
/// `wait_timeout` is found dead before a statement fails on it.
const PING_AFTER_IDLE: Duration = Duration::from_secs(10);

/// The MySQL pool, built here rather than by SeaORM because SeaORM can only ping before every
/// statement (a round trip each) or never.
async fn connect_mysql(
    url: &str,
    max_connections: u32,
    lazy: bool,
) -> Result<DatabaseConnection, StoreError> {
    use sea_orm::sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
    use sea_orm::sqlx::{ConnectOptions as _, Connection as _};
    let connect_options = url
        .parse::<MySqlConnectOptions>()
        .map_err(|err| DbErr::Conn(RuntimeErr::SqlxError(err)))?
        .disable_statement_logging();
    let pool = MySqlPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|connection, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    connection.ping().await?;
                }
                Ok(true)
            })
        });
    let pool = if lazy {
        pool.connect_lazy_with(connect_options)
    } else {
        pool.connect_with(connect_options)
            .await
            .map_err(|err| DbErr::Conn(RuntimeErr::SqlxError(err)))?
    };
    Ok(sea_orm::SqlxMySqlConnector::from_sqlx_mysql_pool(pool))
}

/// Closes every connection of the pool (a clone of it shares the pool).
pub async fn close(db: &DatabaseConnection) -> Result<(), StoreError> {
    db.clone().close().await?;
    Ok(())
}

/// A `DELETE` of at most `batch` rows of `table` matching `condition`: the clean-ups' bound, so
/// no request pays for a large delete. SQLite has no `DELETE … LIMIT` unless built with it.
fn bounded_delete(db: &DatabaseConnection, table: &str, condition: &str, batch: u32) -> String {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => format!(
            "DELETE FROM {table} WHERE rowid IN \
             (SELECT rowid FROM {table} WHERE {condition} LIMIT {batch})"
        ),
        _ => format!("DELETE FROM {table} WHERE {condition} LIMIT {batch}"),
    }
}

/// Whether the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> Result<(), StoreError> {
    db.execute_unprepared("SELECT 1").await?;
    Ok(())
}

/// Errors that mean "the database is not reachable now" rather than "this query is wrong".
fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        DbErr::Exec(sea_orm::RuntimeErr::SqlxError(e))
        | DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) => matches!(
            e,
            sea_orm::SqlxError::Io(_)
                | sea_orm::SqlxError::PoolTimedOut
                | sea_orm::SqlxError::PoolClosed
                | sea_orm::SqlxError::WorkerCrashed
        ),
        _ => false,
    }
}
