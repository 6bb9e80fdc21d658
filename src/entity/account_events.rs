//! The `account_events` table: one row per security event of an account, for its owner.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "account_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i32,
    pub at: DateTimeUtc,
    /// What happened, as `auth::activity::EventKind` names it.
    pub kind: String,
    /// The client address it came from (the limits' key).
    pub client_address: Option<String>,
    /// A short description of the browser or program it came from.
    pub user_agent: Option<String>,
    /// The session it happened in, for what a signed-in user did.
    pub session_id: Option<String>,
    /// What kind of it: a code's purpose, a limit's name, who acted.
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::users::Entity",
        from = "Column::UserId",
        to = "super::users::Column::Id",
        on_delete = "Cascade"
    )]
    User,
}

impl Related<super::users::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::User.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
