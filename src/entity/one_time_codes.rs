//! The `one_time_codes` table: the keyed hash of each user's latest code for each purpose.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "one_time_codes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub user_id: i32,
    /// `sign_in`, `password_reset` or `email_change`; unique with `user_id`.
    pub purpose: String,
    /// Hex HMAC-SHA-256 of the code; the code itself is never stored.
    pub code_hash: String,
    pub expires_at: DateTimeUtc,
    pub attempts: i32,
    pub consumed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// Hex SHA-256 of the challenge answered to the request that asked for the code.
    pub challenge_hash: Option<String>,
    /// The client address (as the rate limits key it) that asked for the code.
    pub issued_to: Option<String>,
    /// Hex SHA-256 of the secret in a reset mail's link.
    pub link_hash: Option<String>,
    /// The address a change-of-address code was mailed to.
    pub new_username: Option<String>,
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
