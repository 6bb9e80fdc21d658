//! The `one_time_codes` table: one row per user and purpose holding the hash of the latest code
//! of that purpose. Every state change is a single conditional statement, so racing requests
//! cannot both win, and every query names the purpose, so a code never passes for another.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
};

use super::now;
use super::StoreError;
use crate::entity::one_time_codes::{self, Column, Entity};

/// What a code is for, as the `purpose` column names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::PasswordReset => "password_reset",
        }
    }
}

/// Stores a new code for the user, replacing (and so invalidating) any previous one of the
/// same purpose.
pub async fn replace(
    db: &DatabaseConnection,
    user_id: i32,
    purpose: Purpose,
    code_hash: &str,
    expires_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let row = one_time_codes::ActiveModel {
        user_id: Set(user_id),
        purpose: Set(purpose.as_str().to_owned()),
        code_hash: Set(code_hash.to_owned()),
        expires_at: Set(expires_at),
        attempts: Set(0),
        consumed_at: Set(None),
        created_at: Set(now()),
        ..Default::default()
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::UserId, Column::Purpose])
                .update_columns([
                    Column::CodeHash,
                    Column::ExpiresAt,
                    Column::Attempts,
                    Column::ConsumedAt,
                    Column::CreatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The hash of the user's code of this purpose if it is live: unused, unexpired, with tries
/// left.
pub async fn live_hash(
    db: &DatabaseConnection,
    user_id: i32,
    purpose: Purpose,
    max_attempts: u32,
) -> Result<Option<String>, StoreError> {
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::ConsumedAt.is_null())
        .filter(Column::Attempts.lt(max_attempts))
        .filter(Column::ExpiresAt.gt(now()))
        .one(db)
        .await?
        .map(|row| row.code_hash))
}

/// Counts one try against the code, if it is still live (unused, unexpired, tries left).
/// Returns whether the try may go ahead. Counting before comparing bounds parallel guessing.
pub async fn record_attempt(
    db: &DatabaseConnection,
    user_id: i32,
    purpose: Purpose,
    code_hash: &str,
    max_attempts: u32,
) -> Result<bool, StoreError> {
    let result = Entity::update_many()
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(live(user_id, purpose, code_hash))
        .filter(Column::Attempts.lt(max_attempts))
        .filter(Column::ExpiresAt.gt(now()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Marks the code used. Only one caller can see `true` for a given code. Takes any connection,
/// so that a transaction can spend a code together with what it pays for.
pub async fn consume<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    purpose: Purpose,
    code_hash: &str,
) -> Result<bool, StoreError> {
    let result = Entity::update_many()
        .col_expr(Column::ConsumedAt, Expr::value(now()))
        .filter(live(user_id, purpose, code_hash))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deletes this code, if it is still the user's current one (a later login's code stays).
pub async fn discard(
    db: &DatabaseConnection,
    user_id: i32,
    purpose: Purpose,
    code_hash: &str,
) -> Result<(), StoreError> {
    Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .filter(Column::CodeHash.eq(code_hash))
        .exec(db)
        .await?;
    Ok(())
}

fn live(user_id: i32, purpose: Purpose, code_hash: &str) -> sea_orm::Condition {
    sea_orm::Condition::all()
        .add(Column::UserId.eq(user_id))
        .add(Column::Purpose.eq(purpose.as_str()))
        .add(Column::CodeHash.eq(code_hash))
        .add(Column::ConsumedAt.is_null())
}

/// Deletes the user's code of this purpose, whatever it is.
pub async fn discard_all<C: ConnectionTrait>(
    db: &C,
    user_id: i32,
    purpose: Purpose,
) -> Result<(), StoreError> {
    Entity::delete_many()
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Purpose.eq(purpose.as_str()))
        .exec(db)
        .await?;
    Ok(())
}
