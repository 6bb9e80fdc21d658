//! Rate-limit state: hit logs for sliding windows and consecutive password failures.
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use super::StoreError;
use crate::entity::{login_failures, rate_limit_hits};

pub async fn record_hit(
    db: &DatabaseConnection,
    bucket: &str,
    subject: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let hit = rate_limit_hits::ActiveModel {
        bucket: Set(bucket.to_owned()),
        subject: Set(subject.to_owned()),
        hit_at: Set(at),
        ..Default::default()
    };
    rate_limit_hits::Entity::insert(hit)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// How many hits the subject has in the bucket since `since`, and the `nth` oldest of them
/// (0-based), which is the one whose ageing out frees a place.
pub async fn hits_since(
    db: &DatabaseConnection,
    bucket: &str,
    subject: &str,
    since: DateTime<Utc>,
    nth: u64,
) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
    use rate_limit_hits::Column;
    let in_window = || {
        rate_limit_hits::Entity::find()
            .filter(Column::Bucket.eq(bucket))
            .filter(Column::Subject.eq(subject))
            .filter(Column::HitAt.gt(since))
    };
    let count = in_window().count(db).await?;
    let freed_by = in_window()
        .order_by_asc(Column::HitAt)
        .offset(nth)
        .one(db)
        .await?
        .map(|hit| hit.hit_at);
    Ok((count, freed_by))
}

/// Forgets hits older than any window needs.
pub async fn prune_hits(db: &DatabaseConnection, before: DateTime<Utc>) -> Result<u64, StoreError> {
    Ok(rate_limit_hits::Entity::delete_many()
        .filter(rate_limit_hits::Column::HitAt.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// Consecutive failures and the time of the last, if the username has any.
pub async fn failures(
    db: &DatabaseConnection,
    username: &str,
) -> Result<Option<(u32, DateTime<Utc>)>, StoreError> {
    Ok(login_failures::Entity::find_by_id(username.to_owned())
        .one(db)
        .await?
        .map(|row| (row.failures.max(0) as u32, row.last_failure_at)))
}

/// One more consecutive failure, counted in a single statement so racing requests add up.
pub async fn record_failure(
    db: &DatabaseConnection,
    username: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    use login_failures::Column;
    let row = login_failures::ActiveModel {
        username: Set(username.to_owned()),
        failures: Set(1),
        last_failure_at: Set(at),
    };
    login_failures::Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::Username)
                .value(Column::Failures, Expr::col(Column::Failures).add(1))
                .value(Column::LastFailureAt, Expr::value(at))
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn clear_failures(db: &DatabaseConnection, username: &str) -> Result<(), StoreError> {
    login_failures::Entity::delete_by_id(username.to_owned())
        .exec(db)
        .await?;
    Ok(())
}
