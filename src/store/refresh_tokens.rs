//! The `refresh_tokens` table: every refresh token a session was given, by the SHA-256 of its
//! secret. A token is honoured while it is unspent, younger than the idle limit, and its session
//! live; the rows go with their session.
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, Statement,
};

use super::{bounded_delete, now, StoreError};
use crate::entity::refresh_tokens::{self, Column, Entity};

/// A stored refresh token with its session and user, as one read finds them.
#[derive(Debug, Clone, FromQueryResult)]
pub struct RefreshRecord {
    pub session_id: String,
    pub issued_at: DateTime<Utc>,
    pub spent_at: Option<DateTime<Utc>>,
    pub user_id: i32,
    pub username: String,
    pub public_id: Option<String>,
    pub session_last_seen_at: DateTime<Utc>,
    pub session_expires_at: DateTime<Utc>,
    pub session_revoked_at: Option<DateTime<Utc>>,
    /// Set while the user is disabled.
    pub user_disabled_at: Option<DateTime<Utc>>,
}

impl RefreshRecord {
    /// Whether the session the token belongs to is neither revoked nor past its absolute end.
    pub fn session_live(&self, now: DateTime<Utc>) -> bool {
        self.session_revoked_at.is_none() && self.session_expires_at > now
    }
}

/// Stores a new token of the session; `parent` is the token it replaces.
pub async fn issue<C: ConnectionTrait>(
    db: &C,
    token_hash: &str,
    session_id: &str,
    parent: Option<&str>,
) -> Result<(), StoreError> {
    let row = refresh_tokens::ActiveModel {
        token_hash: Set(token_hash.to_owned()),
        session_id: Set(session_id.to_owned()),
        parent_hash: Set(parent.map(str::to_owned)),
        issued_at: Set(now()),
        spent_at: Set(None),
    };
    Entity::insert(row).exec_without_returning(db).await?;
    Ok(())
}

/// The token with this hash, its session and its user, in one statement.
pub async fn find(
    db: &DatabaseConnection,
    token_hash: &str,
) -> Result<Option<RefreshRecord>, StoreError> {
    let statement = Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT r.session_id, r.issued_at, r.spent_at, s.user_id, u.username, u.public_id, \
         s.last_seen_at AS session_last_seen_at, s.expires_at AS session_expires_at, \
         s.revoked_at AS session_revoked_at, u.disabled_at AS user_disabled_at \
         FROM refresh_tokens r \
         JOIN sessions s ON s.id = r.session_id \
         JOIN users u ON u.id = s.user_id \
         WHERE r.token_hash = ?",
        [token_hash.into()],
    );
    Ok(RefreshRecord::find_by_statement(statement).one(db).await?)
}

/// Spends `spent` and stores `next` in its place: two statements and no transaction. `next` is
/// stored first (nobody holds it yet), then `spent` is spent if it still is unspent; when a
/// racing refresh spent it first, or the spending fails, `next` is deleted again. Answers
/// `false`, storing nothing, when `spent` was no longer unspent.
pub async fn rotate(
    db: &DatabaseConnection,
    spent: &str,
    session_id: &str,
    next: &str,
) -> Result<bool, StoreError> {
    issue(db, next, session_id, Some(spent)).await?;
    let taken = Entity::update_many()
        .col_expr(Column::SpentAt, Expr::value(now()))
        .filter(Column::TokenHash.eq(spent))
        .filter(Column::SpentAt.is_null())
        .exec(db)
        .await;
    match taken {
        Ok(done) if done.rows_affected == 1 => Ok(true),
        taken => {
            Entity::delete_by_id(next.to_owned()).exec(db).await?;
            taken?;
            Ok(false)
        }
    }
}

/// Whether a token that replaced this one has been spent too: then this one is no longer the
/// immediate parent of the session's live token.
pub async fn has_spent_child(
    db: &DatabaseConnection,
    token_hash: &str,
) -> Result<bool, StoreError> {
    Ok(Entity::find()
        .filter(Column::ParentHash.eq(token_hash))
        .filter(Column::SpentAt.is_not_null())
        .count(db)
        .await?
        > 0)
}

/// Deletes at most `batch` tokens issued longer than `idle` ago: idle-expired if unspent, and
/// past the point where their reuse could still be told from a stranger's guess if spent.
pub async fn prune(db: &DatabaseConnection, idle: Duration, batch: u32) -> Result<u64, StoreError> {
    let sql = bounded_delete(db, "refresh_tokens", "issued_at < ?", batch);
    let statement =
        Statement::from_sql_and_values(db.get_database_backend(), sql, [(now() - idle).into()]);
    Ok(db.execute(statement).await?.rows_affected())
}
