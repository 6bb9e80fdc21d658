//! The `users` table.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, Func};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    FromQueryResult, QueryFilter, SqlErr, Statement, TransactionTrait,
};

use super::codes::{self, Purpose};
use super::{sessions, StoreError};
use crate::auth::Language;
use crate::entity::users;

/// A user as the domain needs it.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: i32,
    pub username: String,
    /// A PHC hash, or plain text left by the old service.
    pub stored_password: String,
    /// Wrong codes in a row, across codes.
    pub failed_codes: u32,
    /// The opaque id tokens name the user by; none on a row written by hand until its first
    /// sign-in.
    pub public_id: Option<String>,
    /// Disabled by the operator: no sign-in, no token honoured.
    pub disabled: bool,
    /// The client address of the last sign-in by code, if any.
    pub last_sign_in_from: Option<String>,
    /// The language of the account's mail.
    pub language: Language,
}

impl From<users::Model> for UserRecord {
    fn from(m: users::Model) -> Self {
        Self {
            id: m.id,
            username: m.username,
            stored_password: m.password,
            failed_codes: u32::try_from(m.failed_codes).unwrap_or(0),
            public_id: m.public_id,
            disabled: m.disabled_at.is_some(),
            last_sign_in_from: m.last_sign_in_from,
            language: language_of(m.language.as_deref()),
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

/// What a password check needs to know before it reserves its try: the account, if there is
/// one, and whether the client's address is one it signed in from (which spares it the cap on
/// wrong passwords).
#[derive(Debug, Clone)]
pub struct Claimed {
    pub user: Option<UserRecord>,
    pub known_address: bool,
    /// Since when mail cannot reach the account's address, if it cannot.
    pub undeliverable_since: Option<DateTime<Utc>>,
}

/// The user named exactly `username` and whether they signed in from `address` before, in
/// one read. An unknown name has no address it signed in from.
pub async fn find_claimed(
    db: &DatabaseConnection,
    username: &str,
    address: &str,
) -> Result<Claimed, StoreError> {
    let statement = Statement::from_sql_and_values(
        db.get_database_backend(),
        "SELECT users.*, EXISTS (SELECT 1 FROM password_attempts p \
         WHERE p.username = users.username AND p.address = ? AND p.signed_in_ms IS NOT NULL) \
         AS known_address, (SELECT s.since FROM mail_suppressions s \
         WHERE s.address = users.username) AS undeliverable_since \
         FROM users WHERE users.username = ?",
        [address.into(), username.into()],
    );
    for row in db.query_all(statement).await? {
        let user = users::Model::from_query_result(&row, "")?;
        // As in `find_by_username`: the bytes must match, whatever the collation.
        if user.username == username {
            let known: i64 = row.try_get("", "known_address")?;
            let undeliverable_since = row.try_get("", "undeliverable_since")?;
            return Ok(Claimed {
                user: Some(user.into()),
                known_address: known != 0,
                undeliverable_since,
            });
        }
    }
    Ok(Claimed {
        user: None,
        known_address: false,
        undeliverable_since: None,
    })
}

/// Inserts a user. A unique-constraint violation (an existing user, or a registration racing
/// this one) is `UsernameTaken`, never a database error.
pub async fn insert(
    db: &DatabaseConnection,
    username: &str,
    password_hash: &str,
    lapses_after: Option<chrono::Duration>,
    language: Language,
) -> Result<i32, InsertUserError> {
    let now = Utc::now();
    let user = users::ActiveModel {
        username: Set(username.to_owned()),
        password: Set(password_hash.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
        failed_codes: Set(0),
        public_id: Set(Some(new_public_id())),
        lapses_at: Set(lapses_after.map(|after| now + after)),
        language: Set(Some(language.tag().to_owned())),
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

/// Sets the language of the user's mail. Answers whether the user is still there.
pub async fn set_language(
    db: &DatabaseConnection,
    id: i32,
    language: Language,
) -> Result<bool, StoreError> {
    let result = users::Entity::update_many()
        .col_expr(users::Column::Language, Expr::value(language.tag()))
        .col_expr(users::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(users::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// A stored language tag as a language: English when none or unknown.
pub fn language_of(stored: Option<&str>) -> Language {
    stored.and_then(Language::parse).unwrap_or_default()
}

/// 128 random bits in hex: says nothing about the user, and never changes.
fn new_public_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The user's public id, giving a row written by hand one if it has none. Two sign-ins racing
/// both try; the guarded update lets the first win and both answer its id.
pub async fn ensure_public_id(db: &DatabaseConnection, id: i32) -> Result<String, StoreError> {
    users::Entity::update_many()
        .col_expr(users::Column::PublicId, Expr::value(new_public_id()))
        .filter(users::Column::Id.eq(id))
        .filter(users::Column::PublicId.is_null())
        .exec(db)
        .await?;
    users::Entity::find_by_id(id)
        .one(db)
        .await?
        .and_then(|user| user.public_id)
        .ok_or_else(|| StoreError::Other(sea_orm::DbErr::RecordNotFound("users.public_id".into())))
}

/// Replaces a legacy password with its hash; nothing else about the account changes.
pub async fn update_password(
    db: &DatabaseConnection,
    id: i32,
    password_hash: &str,
) -> Result<(), StoreError> {
    users::Entity::update_many()
        .col_expr(users::Column::Password, Expr::value(password_hash))
        .col_expr(users::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(users::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Spends the user's password-reset code and sets the new password, in one transaction: the new
/// password ends the run of wrong codes (unlocking sign-in), the pending sign-in code and every
/// session. Answers `false`, changing nothing, when the code was no longer live (a racing reset
/// spent it first).
pub async fn reset_password(
    db: &DatabaseConnection,
    id: i32,
    code_hash: &str,
    password_hash: &str,
) -> Result<bool, StoreError> {
    let txn = db.begin().await?;
    if !codes::consume(&txn, id, Purpose::PasswordReset, code_hash).await? {
        txn.rollback().await?;
        return Ok(false);
    }
    replace_password(&txn, id, password_hash, None).await?;
    txn.commit().await?;
    Ok(true)
}

/// What became of a signed-in user's password change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordChange {
    Changed,
    /// The session ended (signed out, or every session ended by a reset or a change) while the
    /// new password was being hashed; nothing changed.
    SessionEnded,
    /// The stored password is no longer the one that was checked; nothing changed.
    PasswordMoved,
}

/// Sets a new password chosen by a signed-in user, ending every other session of theirs, in
/// one transaction, and only while the session is still live and the stored password is still
/// `checked`, the one its owner proved: the hash takes long enough for a sign-out or a reset
/// to land in between.
pub async fn change_password(
    db: &DatabaseConnection,
    id: i32,
    checked: &str,
    password_hash: &str,
    current_session: &str,
) -> Result<PasswordChange, StoreError> {
    let txn = db.begin().await?;
    // The user's row first, then the session's, in the order a reset takes them: two
    // transactions that take the same rows in the same order wait for each other instead of
    // deadlocking. A sign-out racing this one waits for it, or has already won.
    let outcome = if !set_password(&txn, id, password_hash, Some(checked), false).await? {
        PasswordChange::PasswordMoved
    } else if !sessions::hold_live(&txn, id, current_session).await? {
        PasswordChange::SessionEnded
    } else {
        end_password_dependents(&txn, id, Some(current_session)).await?;
        PasswordChange::Changed
    };
    match outcome {
        PasswordChange::Changed => txn.commit().await?,
        _ => txn.rollback().await?,
    }
    Ok(outcome)
}

/// What became of a signed-in user's change of address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsernameChange {
    Changed,
    /// Another account holds the new address now; nothing changed.
    Taken,
    /// The code was spent (or replaced) meanwhile; nothing changed.
    CodeSpent,
    /// The session ended meanwhile; nothing changed.
    SessionEnded,
}

/// Spends the user's change-of-address code and makes `new_username` their username, in one
/// transaction: the code proves the new mailbox, and the codes mailed to the old address and
/// every session but `current_session` end. Nothing changes unless all of it can.
pub async fn change_username(
    db: &DatabaseConnection,
    id: i32,
    code_hash: &str,
    new_username: &str,
    current_session: &str,
) -> Result<UsernameChange, StoreError> {
    let txn = db.begin().await?;
    let now = super::now();
    // The user's row first, as a password change takes it.
    let renamed = users::Entity::update_many()
        .col_expr(users::Column::Username, Expr::value(new_username))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .col_expr(users::Column::EmailVerifiedAt, Expr::value(now))
        .filter(users::Column::Id.eq(id))
        .exec(&txn)
        .await;
    let outcome = match renamed {
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            UsernameChange::Taken
        }
        Err(err) => return Err(err.into()),
        Ok(_) if !codes::consume(&txn, id, Purpose::EmailChange, code_hash).await? => {
            UsernameChange::CodeSpent
        }
        Ok(_) if !sessions::hold_live(&txn, id, current_session).await? => {
            UsernameChange::SessionEnded
        }
        Ok(_) => {
            for purpose in [Purpose::SignIn, Purpose::PasswordReset] {
                codes::discard_all(&txn, id, purpose).await?;
            }
            sessions::revoke_all(&txn, id, Some(current_session)).await?;
            UsernameChange::Changed
        }
    };
    match outcome {
        UsernameChange::Changed => txn.commit().await?,
        _ => txn.rollback().await?,
    }
    Ok(outcome)
}

/// A new password set by a mailed reset ends the run of wrong codes, the pending sign-in code,
/// and every session but `keep`; the code it took proves the mailbox.
async fn replace_password<C: ConnectionTrait>(
    db: &C,
    id: i32,
    password_hash: &str,
    keep: Option<&str>,
) -> Result<(), StoreError> {
    set_password(db, id, password_hash, None, true).await?;
    end_password_dependents(db, id, keep).await
}

/// Sets the password and ends the run of wrong codes; with `expected`, only if the stored
/// password is still that; with `proves_mailbox`, the mailbox is proven too. Answers whether
/// it was set.
async fn set_password<C: ConnectionTrait>(
    db: &C,
    id: i32,
    password_hash: &str,
    expected: Option<&str>,
    proves_mailbox: bool,
) -> Result<bool, StoreError> {
    let mut update = users::Entity::update_many()
        .col_expr(users::Column::Password, Expr::value(password_hash))
        .col_expr(users::Column::UpdatedAt, Expr::value(Utc::now()))
        .col_expr(users::Column::FailedCodes, Expr::value(0))
        .filter(users::Column::Id.eq(id));
    if proves_mailbox {
        update = update.col_expr(users::Column::EmailVerifiedAt, proven_at(super::now()));
    }
    if let Some(expected) = expected {
        update = update.filter(users::Column::Password.eq(expected));
    }
    Ok(update.exec(db).await?.rows_affected == 1)
}

/// What a new password ends: the pending sign-in code, and every session but `keep`.
async fn end_password_dependents<C: ConnectionTrait>(
    db: &C,
    id: i32,
    keep: Option<&str>,
) -> Result<(), StoreError> {
    codes::discard_all(db, id, Purpose::SignIn).await?;
    sessions::revoke_all(db, id, keep).await?;
    Ok(())
}

/// Counts one more wrong code for the user, in one statement so racing guesses all count.
/// Answers whether this very one reached `lock_after`: exactly one request can.
pub async fn record_wrong_code(
    db: &DatabaseConnection,
    id: i32,
    lock_after: u32,
) -> Result<bool, StoreError> {
    let last_before_lock = i32::try_from(lock_after.saturating_sub(1)).unwrap_or(i32::MAX);
    loop {
        for crossing in [false, true] {
            let at_the_edge = users::Column::FailedCodes.eq(last_before_lock);
            let condition = if crossing {
                at_the_edge
            } else {
                at_the_edge.not()
            };
            let counted = users::Entity::update_many()
                .col_expr(
                    users::Column::FailedCodes,
                    Expr::col(users::Column::FailedCodes).add(1),
                )
                .filter(users::Column::Id.eq(id))
                .filter(condition)
                .exec(db)
                .await?
                .rows_affected;
            if counted == 1 {
                return Ok(crossing);
            }
        }
        // A racing guess moved the count between the two statements (or the user is gone).
        if users::Entity::find_by_id(id).one(db).await?.is_none() {
            return Ok(false);
        }
    }
}

/// A sign-in by code: the run of wrong codes ends, the mailbox is proven (the first time), and
/// this is the last sign-in. Where the database allows, the code's spending does this in the
/// same statement (`codes::spend_signing_in`).
pub async fn record_sign_in(
    db: &DatabaseConnection,
    id: i32,
    at: DateTime<Utc>,
    client: &str,
) -> Result<(), StoreError> {
    users::Entity::update_many()
        .col_expr(users::Column::FailedCodes, Expr::value(0))
        .col_expr(users::Column::EmailVerifiedAt, proven_at(at))
        .col_expr(users::Column::LastSignInAt, Expr::value(at))
        .col_expr(users::Column::LastSignInFrom, Expr::value(client))
        .filter(users::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// The mailbox proven now, unless it was before.
fn proven_at(at: DateTime<Utc>) -> sea_orm::sea_query::SimpleExpr {
    Func::coalesce([
        Expr::col(users::Column::EmailVerifiedAt).into(),
        Expr::value(at),
    ])
    .into()
}
