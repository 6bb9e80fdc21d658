//! The `sessions` table: one row per signed-in session. A token is honoured only while its row
//! is unrevoked and unexpired, so the server can end a session before its token expires.
use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Statement,
};

use super::{bounded_delete, now, refresh_tokens, StoreError};
use crate::entity::sessions::{self, Column, Entity};
use crate::entity::users;

/// A live session as the domain needs it.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id: String,
    pub user_id: i32,
    pub last_seen_at: DateTime<Utc>,
}

/// How stale `last_seen_at` may get before a request writes it again: one write a minute per
/// session, not one per request.
const SEEN_EVERY: Duration = Duration::minutes(1);
/// How long a revoked row is kept (for the record) before the clean-up takes it.
const KEEP_REVOKED: Duration = Duration::days(1);

/// Opens a session that ends at `expires_at` with its first refresh token. Two statements and no
/// transaction: the token's row needs the session's, and a session whose token could not be
/// stored is deleted again, so a failure leaves no session behind that nobody holds.
pub async fn open(
    db: &DatabaseConnection,
    id: &str,
    user_id: i32,
    expires_at: DateTime<Utc>,
    refresh_hash: &str,
    opened_by: &OpenedBy<'_>,
) -> Result<(), StoreError> {
    let now = now();
    let row = sessions::ActiveModel {
        id: Set(id.to_owned()),
        user_id: Set(user_id),
        created_at: Set(now),
        last_seen_at: Set(now),
        expires_at: Set(expires_at),
        revoked_at: Set(None),
        client_address: Set(Some(opened_by.client_address.to_owned())),
        user_agent: Set(opened_by.user_agent.map(str::to_owned)),
    };
    Entity::insert(row).exec_without_returning(db).await?;
    if let Err(err) = refresh_tokens::issue(db, refresh_hash, id, None).await {
        if let Err(undo) = Entity::delete_by_id(id.to_owned()).exec(db).await {
            // The row holds no token anyone has; the clean-up takes it once it expires.
            tracing::warn!(error = %undo, "could not delete a session left without its token");
        }
        return Err(err);
    }
    Ok(())
}

/// Where a session is opened from, as its owner's list shows it.
#[derive(Debug, Clone, Copy)]
pub struct OpenedBy<'a> {
    pub client_address: &'a str,
    /// A short description of the browser or program.
    pub user_agent: Option<&'a str>,
}

/// One live session of a user, as the owner's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub id: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
}

/// The user's live sessions, the most recently seen first; at most `limit`.
pub async fn live_for_user(
    db: &DatabaseConnection,
    user_id: i32,
    limit: u64,
) -> Result<Vec<SessionRow>, StoreError> {
    let rows = Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(now()))
        .order_by_desc(Column::LastSeenAt)
        .order_by_asc(Column::Id)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| SessionRow {
            id: row.id,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            client_address: row.client_address,
            user_agent: row.user_agent,
        })
        .collect())
}

/// A live session with the user it belongs to, as a bearer check needs them.
#[derive(Debug, Clone)]
pub struct LiveSession {
    pub session: SessionRecord,
    pub username: String,
    pub public_id: Option<String>,
    /// The user is disabled: the session honours nothing.
    pub user_disabled: bool,
    /// When the account was made.
    pub user_created_at: DateTime<Utc>,
    /// When a code first proved the user's mailbox.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// The user's last sign-in by code, and the client address it came from.
    pub last_sign_in_at: Option<DateTime<Utc>>,
    pub last_sign_in_from: Option<String>,
    /// The language of the user's mail.
    pub language: crate::auth::Language,
}

/// The session, if it is neither revoked nor expired, with its user: one read.
pub async fn find_live(
    db: &DatabaseConnection,
    id: &str,
) -> Result<Option<LiveSession>, StoreError> {
    Ok(Entity::find_by_id(id.to_owned())
        .find_also_related(users::Entity)
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(now()))
        .one(db)
        .await?
        // The column may compare without regard to case; ids are exact.
        .filter(|(row, _)| row.id == id)
        .and_then(|(row, user)| {
            let user = user?;
            Some(LiveSession {
                session: SessionRecord {
                    id: row.id,
                    user_id: row.user_id,
                    last_seen_at: row.last_seen_at,
                },
                username: user.username,
                public_id: user.public_id,
                user_disabled: user.disabled_at.is_some(),
                user_created_at: user.created_at,
                email_verified_at: user.email_verified_at,
                last_sign_in_at: user.last_sign_in_at,
                last_sign_in_from: user.last_sign_in_from,
                language: super::users::language_of(user.language.as_deref()),
            })
        }))
}

/// Inside a transaction: whether the user's session is still live, holding its row until the
/// transaction ends, so that a sign-out racing the transaction lands after it or not at all.
pub async fn hold_live<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    id: &str,
) -> Result<bool, StoreError> {
    let held = Entity::update_many()
        .col_expr(Column::LastSeenAt, Expr::col(Column::LastSeenAt).into())
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        .filter(Column::ExpiresAt.gt(now()))
        .exec(db)
        .await?
        .rows_affected;
    Ok(held == 1)
}

/// Records that the session was used, at most once a minute.
pub async fn seen(db: &DatabaseConnection, session: &SessionRecord) -> Result<(), StoreError> {
    seen_at(db, &session.id, session.last_seen_at).await
}

/// Records that the session `id`, last seen at `last_seen_at`, was used, at most once a minute.
pub async fn seen_at(
    db: &DatabaseConnection,
    id: &str,
    last_seen_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let now = now();
    if now - last_seen_at < SEEN_EVERY {
        return Ok(());
    }
    Entity::update_many()
        .col_expr(Column::LastSeenAt, Expr::value(now))
        .filter(Column::Id.eq(id))
        .filter(Column::LastSeenAt.lt(now - SEEN_EVERY))
        .exec(db)
        .await?;
    Ok(())
}

/// Ends one session of the user. Answers whether it was live until now.
pub async fn revoke(db: &DatabaseConnection, user_id: i32, id: &str) -> Result<bool, StoreError> {
    let ended = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now()))
        .filter(Column::Id.eq(id))
        .filter(Column::UserId.eq(user_id))
        .filter(Column::RevokedAt.is_null())
        // An expired session is over already: there is nothing left to end.
        .filter(Column::ExpiresAt.gt(now()))
        .exec(db)
        .await?
        .rows_affected;
    Ok(ended == 1)
}

/// Ends every live session of the user but `keep`. Answers how many were ended.
pub async fn revoke_all<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    keep: Option<&str>,
) -> Result<u64, StoreError> {
    let mut which = Condition::all()
        .add(Column::UserId.eq(user_id))
        .add(Column::RevokedAt.is_null())
        .add(Column::ExpiresAt.gt(now()));
    if let Some(keep) = keep {
        which = which.add(Column::Id.ne(keep));
    }
    Ok(Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now()))
        .filter(which)
        .exec(db)
        .await?
        .rows_affected)
}

/// Deletes at most `batch` rows that refuse their token anyway: expired, or revoked more than a
/// day ago.
pub async fn prune(db: &DatabaseConnection, batch: u32) -> Result<u64, StoreError> {
    let sql = bounded_delete(db, "sessions", "expires_at < ? OR revoked_at < ?", batch);
    let now = now();
    let statement = Statement::from_sql_and_values(
        db.get_database_backend(),
        sql,
        [now.into(), (now - KEEP_REVOKED).into()],
    );
    Ok(db.execute(statement).await?.rows_affected())
}
