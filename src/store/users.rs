//! The `users` table.
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter,
    SqlErr,
};

use super::StoreError;
use crate::entity::users;

/// A user as the domain needs it.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: i32,
    pub username: String,
    /// A PHC hash, or plain text left by the old service.
    pub stored_password: String,
}

impl From<users::Model> for UserRecord {
    fn from(m: users::Model) -> Self {
        Self {
            id: m.id,
            username: m.username,
            stored_password: m.password,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    #[error("username already exists")]
    UsernameTaken,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The user whose stored username is exactly `username`. The column compares bytes
/// (`utf8mb4_bin`), and the comparison is repeated here so that a database still on a
/// case- or accent-insensitive collation can never hand back a look-alike account.
pub async fn find_by_username(
    db: &DatabaseConnection,
    username: &str,
) -> Result<Option<UserRecord>, StoreError> {
    Ok(users::Entity::find()
        .filter(users::Column::Username.eq(username))
        .all(db)
        .await?
        .into_iter()
        .find(|user| user.username == username)
        .map(UserRecord::from))
}

/// Inserts a user. A unique-constraint violation (an existing user, or a registration racing
/// this one) is `UsernameTaken`, never a database error.
pub async fn insert(
    db: &DatabaseConnection,
    username: &str,
    password_hash: &str,
) -> Result<i32, InsertUserError> {
    let now = Utc::now();
    let user = users::ActiveModel {
        username: Set(username.to_owned()),
        password: Set(password_hash.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    match users::Entity::insert(user).exec(db).await {
        Ok(done) => Ok(done.last_insert_id),
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Err(InsertUserError::UsernameTaken)
        }
        Err(err) => Err(StoreError::from(err).into()),
    }
}

pub async fn update_password(
    db: &DatabaseConnection,
    id: i32,
    password_hash: &str,
) -> Result<(), StoreError> {
    users::ActiveModel {
        id: Set(id),
        password: Set(password_hash.to_owned()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .update(db)
    .await?;
    Ok(())
}
