//! Persistence: SeaORM queries as plain functions over a connection. Nothing above this module
//! sees an entity or a `DbErr`-specific detail beyond the error values returned here.
pub mod codes;
pub mod limits;
pub mod users;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr};
use secrecy::{ExposeSecret, SecretString};

pub use sea_orm::DatabaseConnection as Db;

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
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.expose_secret());
    options
        .max_connections(max_connections)
        .min_connections(0)
        .connect_lazy(lazy)
        .acquire_timeout(std::time::Duration::from_secs(5))
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Whether the database answers a trivial query.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// Errors that mean "the database is not reachable now" rather than "this query is wrong".
pub fn is_unavailable(err: &DbErr) -> bool {
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
