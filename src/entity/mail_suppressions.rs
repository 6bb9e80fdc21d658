//! The `mail_suppressions` table: addresses mail cannot reach.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_suppressions")]
pub struct Model {
    /// The address, as usernames are stored.
    #[sea_orm(primary_key, auto_increment = false)]
    pub address: String,
    /// `bounce` or `complaint`.
    pub kind: String,
    /// What the mail service said (a bounce's diagnostic, a complaint's feedback type).
    pub reason: Option<String>,
    /// When the mail service reported it.
    pub since: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
