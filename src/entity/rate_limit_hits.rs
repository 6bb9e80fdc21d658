//! The `rate_limit_hits` table: one row per counted request, for sliding windows.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "rate_limit_hits")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Which limit: `address`, `code_sent`, `code_verify`, `password_failure`.
    pub bucket: String,
    /// Whom it counts: a client address or a username.
    pub subject: String,
    pub hit_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
