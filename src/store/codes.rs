//! The `one_time_codes` table: one row per user and purpose holding the hash of the latest code
//! of that purpose. Every state change is a single conditional statement, so racing requests
//! cannot both win, and every query names the purpose, so a code never passes for another.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    EntityTrait, QueryFilter, Statement,
};

use super::now;
use super::users::UserRecord;
use super::StoreError;
use crate::entity::one_time_codes::{self, Column, Entity};
use crate::entity::users;

/// What a code is for, as the `purpose` column names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    PasswordReset,
    EmailChange,
}

impl Purpose {
    /// The column's value, which the owner's activity also names the purpose by.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::PasswordReset => "password_reset",
            Purpose::EmailChange => "email_change",
        }
    }
}

/// What ties a code to the request that asked for it: the hash of the challenge that request
/// was answered with, and its client address. A reset code also has its link's hash, and a
/// change-of-address code the address it went to.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub challenge_hash: &'a str,
    pub issued_to: &'a str,
    pub link_hash: Option<&'a str>,
    pub new_username: Option<&'a str>,
}

/// A live code as the domain checks it. The binding columns are empty for a code stored
/// before codes were bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveCode {
    pub code_hash: String,
    pub challenge_hash: Option<String>,
    pub issued_to: Option<String>,
    pub link_hash: Option<String>,
    /// Where a change-of-address code went.
    pub new_username: Option<String>,
}

/// Stores a new code for the user, replacing (and so invalidating) any previous one of the
/// same purpose.
pub async fn replace(
    db: &DatabaseConnection,
    user_id: i32,
    purpose: Purpose,
    code_hash: &str,
    binding: Binding<'_>,
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
        challenge_hash: Set(Some(binding.challenge_hash.to_owned())),
        issued_to: Set(Some(binding.issued_to.to_owned())),
        link_hash: Set(binding.link_hash.map(str::to_owned)),
        new_username: Set(binding.new_username.map(str::to_owned)),
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
                    Column::ChallengeHash,
                    Column::IssuedTo,
                    Column::LinkHash,
                    Column::NewUsername,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Hands the user's live code of this purpose to a new request: the one that proved the
/// password again while the send limit kept a new code from going out. Its tries and lifetime
/// stay as they were. Answers whether there was a live code to hand over.
pub async fn rebind(
    db: &DatabaseConnection,
    user_id: i32,
    purpose: Purpose,
    challenge_hash: &str,
    issued_to: &str,
) -> Result<bool, StoreError> {
    let result = Entity::update_many()
        .col_expr(Column::ChallengeHash, Expr::value(challenge_hash))
        .col_expr(Column::IssuedTo, Expr::value(issued_to))
        .filter(Column::UserId.eq(user_id))
        .filter(unspent_filter(purpose, None))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// The user's code of this purpose if it is live: unused, unexpired, with tries left.
pub async fn live(
    db: &DatabaseConnection,
    user_id: i32,
    purpose: Purpose,
    max_attempts: u32,
) -> Result<Option<LiveCode>, StoreError> {
    find_unspent(db, user_id, purpose, Some(max_attempts)).await
}

/// The user's code of this purpose if it is unused and unexpired, whatever tries it had: what
/// a reset mail's link spends.
pub async fn unspent(
    db: &DatabaseConnection,
    user_id: i32,
    purpose: Purpose,
) -> Result<Option<LiveCode>, StoreError> {
    find_unspent(db, user_id, purpose, None).await
}

async fn find_unspent(
    db: &DatabaseConnection,
    user_id: i32,
    purpose: Purpose,
    max_attempts: Option<u32>,
) -> Result<Option<LiveCode>, StoreError> {
    Ok(Entity::find()
        .filter(Column::UserId.eq(user_id))
        .filter(unspent_filter(purpose, max_attempts))
        .one(db)
        .await?
        .map(LiveCode::from))
}

/// The user whose stored username is exactly `username`, with their live code of this
/// purpose, in one read: what a code check needs before it counts a try. `None` when either is
/// missing, which a check answers alike.
pub async fn live_for_username(
    db: &DatabaseConnection,
    username: &str,
    purpose: Purpose,
    max_attempts: u32,
) -> Result<Option<(UserRecord, LiveCode)>, StoreError> {
    Ok(Entity::find()
        .find_also_related(users::Entity)
        .filter(users::Column::Username.eq(username))
        .filter(unspent_filter(purpose, Some(max_attempts)))
        .all(db)
        .await?
        .into_iter()
        // As `users::find_by_username`: the bytes must match, whatever the collation.
        .find_map(|(code, user)| {
            let user = user.filter(|user| user.username == username)?;
            Some((UserRecord::from(user), LiveCode::from(code)))
        }))
}

impl From<one_time_codes::Model> for LiveCode {
    fn from(row: one_time_codes::Model) -> Self {
        Self {
            code_hash: row.code_hash,
            challenge_hash: row.challenge_hash,
            issued_to: row.issued_to,
            link_hash: row.link_hash,
            new_username: row.new_username,
        }
    }
}

/// A code of this purpose, unused and unexpired, and with tries left when `max_attempts` says.
fn unspent_filter(purpose: Purpose, max_attempts: Option<u32>) -> sea_orm::Condition {
    let condition = sea_orm::Condition::all()
        .add(Column::Purpose.eq(purpose.as_str()))
        .add(Column::ConsumedAt.is_null())
        .add(Column::ExpiresAt.gt(now()));
    match max_attempts {
        Some(max_attempts) => condition.add(Column::Attempts.lt(max_attempts)),
        None => condition,
    }
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
    count_try(db, user_id, purpose, code_hash, max_attempts, false).await
}

/// Counts a try that offered the right sign-in code and spends the code with it, if the code
/// is still live, and records the sign-in on the user's row: the run of wrong codes ends, the
/// mailbox is proven (the first time), and the time and `client` are the last sign-in's. One
/// statement on MySQL; the try counts against the same limit a wrong one would, and only one
/// caller can see `true` for a given code.
pub async fn spend_signing_in(
    db: &DatabaseConnection,
    user_id: i32,
    code_hash: &str,
    max_attempts: u32,
    client: &str,
) -> Result<bool, StoreError> {
    let purpose = Purpose::SignIn;
    let at = now();
    if db.get_database_backend() == DatabaseBackend::Sqlite {
        let counted = count_try(db, user_id, purpose, code_hash, max_attempts, true).await?;
        if counted {
            super::users::record_sign_in(db, user_id, at, client).await?;
        }
        return Ok(counted);
    }
    // Both rows change only when the code row matches; MySQL counts a row whose values did
    // not change (a second sign-in within the second) as unaffected, so the code's row,
    // whose tries always grow, is what says the try counted.
    let statement = Statement::from_sql_and_values(
        db.get_database_backend(),
        "UPDATE one_time_codes c JOIN users u ON u.id = c.user_id \
         SET c.attempts = c.attempts + 1, c.consumed_at = ?, u.failed_codes = 0, \
         u.email_verified_at = COALESCE(u.email_verified_at, ?), u.last_sign_in_at = ?, \
         u.last_sign_in_from = ? \
         WHERE c.user_id = ? AND c.code_hash = ? AND c.purpose = ? AND c.consumed_at IS NULL \
         AND c.expires_at > ? AND c.attempts < ?",
        [
            at.into(),
            at.into(),
            at.into(),
            client.into(),
            user_id.into(),
            code_hash.into(),
            purpose.as_str().into(),
            at.into(),
            max_attempts.into(),
        ],
    );
    Ok(db.execute(statement).await?.rows_affected() >= 1)
}

/// One try at this code, if it is live (unused, unexpired, tries left), spending it too when
/// `spend` says so. Answers whether the try counted.
async fn count_try(
    db: &DatabaseConnection,
    user_id: i32,
    purpose: Purpose,
    code_hash: &str,
    max_attempts: u32,
    spend: bool,
) -> Result<bool, StoreError> {
    let mut update =
        Entity::update_many().col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1));
    if spend {
        update = update.col_expr(Column::ConsumedAt, Expr::value(now()));
    }
    let result = update
        .filter(Column::UserId.eq(user_id))
        .filter(Column::CodeHash.eq(code_hash))
        .filter(unspent_filter(purpose, Some(max_attempts)))
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
        .filter(unspent_code(user_id, purpose, code_hash))
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

fn unspent_code(user_id: i32, purpose: Purpose, code_hash: &str) -> sea_orm::Condition {
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
