//! The `mail_suppressions` table: addresses mail cannot reach, until the operator clears them.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait};

use super::StoreError;
use crate::entity::mail_suppressions::{self, Column, Entity};

/// An address mail cannot reach, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    pub address: String,
    /// `bounce` or `complaint`.
    pub kind: String,
    pub reason: Option<String>,
    pub since: DateTime<Utc>,
}

/// Records that mail cannot reach `address`; a later report replaces an earlier one.
pub async fn mark(db: &DatabaseConnection, suppression: &Suppression) -> Result<(), StoreError> {
    let reason = suppression
        .reason
        .as_deref()
        .map(|reason| reason.chars().take(255).collect::<String>());
    let row = mail_suppressions::ActiveModel {
        address: Set(suppression.address.clone()),
        kind: Set(suppression.kind.clone()),
        reason: Set(reason),
        since: Set(suppression.since),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::Address)
                .update_columns([Column::Kind, Column::Reason, Column::Since])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Why mail cannot reach `address`, if it cannot.
pub async fn find(
    db: &DatabaseConnection,
    address: &str,
) -> Result<Option<Suppression>, StoreError> {
    Ok(Entity::find_by_id(address.to_owned())
        .one(db)
        .await?
        .filter(|row| row.address == address)
        .map(Suppression::from))
}

/// Lets mail reach `address` again. Answers whether it was suppressed.
pub async fn clear(db: &DatabaseConnection, address: &str) -> Result<bool, StoreError> {
    let result = Entity::delete_by_id(address.to_owned()).exec(db).await?;
    Ok(result.rows_affected == 1)
}

impl From<mail_suppressions::Model> for Suppression {
    fn from(row: mail_suppressions::Model) -> Self {
        Self {
            address: row.address,
            kind: row.kind,
            reason: row.reason,
            since: row.since,
        }
    }
}
