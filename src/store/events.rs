//! The `account_events` table: each account's security events, newest first for its owner,
//! pruned after the retention time.
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Statement,
};

use super::{bounded_delete, now, StoreError};
use crate::entity::account_events::{self, Column, Entity};

/// An event to record, in the table's own words (the domain names the kinds).
#[derive(Debug, Clone, Copy)]
pub struct NewEvent<'a> {
    pub user_id: i32,
    pub kind: &'a str,
    pub client_address: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub detail: Option<&'a str>,
}

/// A recorded event as the owner's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    pub session_id: Option<String>,
    pub detail: Option<String>,
}

/// Records one event, now. Takes any connection, so a transaction can record what it did.
pub async fn record<C: ConnectionTrait>(db: &C, event: NewEvent<'_>) -> Result<(), StoreError> {
    let owned = |value: Option<&str>| value.map(str::to_owned);
    let row = account_events::ActiveModel {
        user_id: Set(event.user_id),
        at: Set(now()),
        kind: Set(event.kind.to_owned()),
        client_address: Set(owned(event.client_address)),
        user_agent: Set(owned(event.user_agent)),
        session_id: Set(owned(event.session_id)),
        detail: Set(owned(event.detail)),
        ..Default::default()
    };
    Entity::insert(row).exec_without_returning(db).await?;
    Ok(())
}

/// Up to `limit` of the user's events older than the event `before` (all, without it), the
/// newest first.
pub async fn page(
    db: &DatabaseConnection,
    user_id: i32,
    before: Option<i64>,
    limit: u64,
) -> Result<Vec<EventRow>, StoreError> {
    let mut query = Entity::find().filter(Column::UserId.eq(user_id));
    if let Some(before) = before {
        query = query.filter(Column::Id.lt(before));
    }
    Ok(query
        .order_by_desc(Column::Id)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(EventRow::from)
        .collect())
}

/// Whether the user ever signed in from `client_address`, as far as the kept events tell.
pub async fn signed_in_from(
    db: &DatabaseConnection,
    user_id: i32,
    signed_in: &str,
    client_address: &str,
) -> Result<bool, StoreError> {
    let found = Entity::find()
        .select_only()
        .column(Column::Id)
        .filter(Column::UserId.eq(user_id))
        .filter(Column::Kind.eq(signed_in))
        .filter(Column::ClientAddress.eq(client_address))
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    Ok(found.is_some())
}

/// Deletes at most `batch` events recorded before `before`. Answers how many went.
pub async fn prune(
    db: &DatabaseConnection,
    before: DateTime<Utc>,
    batch: u32,
) -> Result<u64, StoreError> {
    let sql = bounded_delete(db, "account_events", "at < ?", batch);
    let statement = Statement::from_sql_and_values(db.get_database_backend(), sql, [before.into()]);
    Ok(db.execute(statement).await?.rows_affected())
}

impl From<account_events::Model> for EventRow {
    fn from(row: account_events::Model) -> Self {
        Self {
            id: row.id,
            at: row.at,
            kind: row.kind,
            client_address: row.client_address,
            user_agent: row.user_agent,
            session_id: row.session_id,
            detail: row.detail,
        }
    }
}
