//! The `signing_keys` table: the shared RSA keys and their life cycle. Moves between states are
//! guarded updates, so two instances (or two `keys rotate`) racing cannot both win.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    SqlErr, TransactionTrait,
};

use super::{now, StoreError};
use crate::entity::signing_keys::{self, Column, Entity};

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published, not signing yet: verifiers learn it before it signs.
    Standby,
    /// Signing new tokens.
    Active,
    /// Published until `retire_after`, when the last token it signed has expired.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Standby => "standby",
            Self::Active => "active",
            Self::Retired => "retired",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        [Self::Standby, Self::Active, Self::Retired]
            .into_iter()
            .find(|state| state.as_str() == value)
    }
}

/// A stored key as the domain needs it; the private half still sealed.
#[derive(Clone)]
pub struct StoredKey {
    pub kid: String,
    pub state: KeyState,
    pub n: String,
    pub e: String,
    pub sealed_private_key: String,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub retired_at: Option<DateTime<Utc>>,
    pub retire_after: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Every stored key, oldest first. A row with an unknown state is left out.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<StoredKey>, StoreError> {
    let rows = Entity::find()
        .order_by_asc(Column::CreatedAt)
        .order_by_asc(Column::Kid)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            Some(StoredKey {
                state: KeyState::parse(&row.state)?,
                kid: row.kid,
                n: row.jwk_n,
                e: row.jwk_e,
                sealed_private_key: row.sealed_private_key,
                created_at: row.created_at,
                activated_at: row.activated_at,
                retired_at: row.retired_at,
                retire_after: row.retire_after,
            })
        })
        .collect())
}

/// Stores a new key as `state`. Answers `false` when it would be a second active key (another
/// instance made the first one at the same moment): the caller then reads the winner.
pub async fn insert(
    db: &DatabaseConnection,
    kid: &str,
    state: KeyState,
    n: &str,
    e: &str,
    sealed_private_key: &str,
) -> Result<bool, StoreError> {
    let now = now();
    let active = state == KeyState::Active;
    let row = signing_keys::ActiveModel {
        kid: Set(kid.to_owned()),
        state: Set(state.as_str().to_owned()),
        active_slot: Set(active.then_some(1)),
        jwk_n: Set(n.to_owned()),
        jwk_e: Set(e.to_owned()),
        sealed_private_key: Set(sealed_private_key.to_owned()),
        created_at: Set(now),
        activated_at: Set(active.then_some(now)),
        retired_at: Set(None),
        retire_after: Set(None),
    };
    match Entity::insert(row).exec_without_returning(db).await {
        Ok(_) => Ok(true),
        Err(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
            Ok(false)
        }
        Err(err) => Err(err.into()),
    }
}

/// Retires the active key `active` (published until `retire_after`) and makes the standby
/// `standby` active, in one transaction. Answers `false`, changing nothing, when either is no
/// longer in that state (a racing rotate moved it first).
pub async fn promote(
    db: &DatabaseConnection,
    active: &str,
    standby: &str,
    retire_after: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let now = now();
    let txn = db.begin().await?;
    let retired = Entity::update_many()
        .col_expr(Column::State, Expr::value(KeyState::Retired.as_str()))
        .col_expr(Column::ActiveSlot, Expr::value(Option::<i32>::None))
        .col_expr(Column::RetiredAt, Expr::value(now))
        .col_expr(Column::RetireAfter, Expr::value(retire_after))
        .filter(Column::Kid.eq(active))
        .filter(Column::State.eq(KeyState::Active.as_str()))
        .exec(&txn)
        .await?;
    let activated = Entity::update_many()
        .col_expr(Column::State, Expr::value(KeyState::Active.as_str()))
        .col_expr(Column::ActiveSlot, Expr::value(1))
        .col_expr(Column::ActivatedAt, Expr::value(now))
        .filter(Column::Kid.eq(standby))
        .filter(Column::State.eq(KeyState::Standby.as_str()))
        .exec(&txn)
        .await?;
    if retired.rows_affected != 1 || activated.rows_affected != 1 {
        txn.rollback().await?;
        return Ok(false);
    }
    txn.commit().await?;
    Ok(true)
}

/// Deletes retired keys whose last token has expired. Answers how many went.
pub async fn delete_expired(db: &DatabaseConnection) -> Result<u64, StoreError> {
    Ok(Entity::delete_many()
        .filter(Column::State.eq(KeyState::Retired.as_str()))
        .filter(Column::RetireAfter.lte(now()))
        .exec(db)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_key_in_a_log_shows_its_kid_and_never_its_private_half() {
        let key = StoredKey {
            kid: "k1".into(),
            state: KeyState::Active,
            n: "n".into(),
            e: "AQAB".into(),
            sealed_private_key: "5ea1ed".into(),
            created_at: now(),
            activated_at: None,
            retired_at: None,
            retire_after: None,
        };
        let shown = format!("{key:?}");
        assert!(shown.contains("k1") && !shown.contains("5ea1ed"), "{shown}");
    }
}
