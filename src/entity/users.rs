//! The `users` table: accounts, with an argon2id hash of each password.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub username: String,
    /// An argon2id PHC string, or plain text in rows left by the old service.
    pub password: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Wrong codes in a row, across codes.
    pub failed_codes: i32,
    /// The stable opaque id tokens carry as `sub`; none on a row written by hand until its
    /// first sign-in.
    #[sea_orm(unique)]
    pub public_id: Option<String>,
    /// When a code first proved the mailbox; none on older rows until their next sign-in.
    pub email_verified_at: Option<DateTimeUtc>,
    pub last_sign_in_at: Option<DateTimeUtc>,
    /// The client address of the last sign-in.
    pub last_sign_in_from: Option<String>,
    /// Set while the operator has the account disabled.
    pub disabled_at: Option<DateTimeUtc>,
    /// An account registered through `/register` is removed at this time unless a code proved
    /// its address by then; none for the rest, which never lapse.
    pub lapses_at: Option<DateTimeUtc>,
    /// The language of the account's mail (`en`, `de`, `es`, `fr`); none reads as English.
    pub language: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::one_time_codes::Entity")]
    OneTimeCode,
    #[sea_orm(has_many = "super::sessions::Entity")]
    Session,
}

impl Related<super::one_time_codes::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::OneTimeCode.def()
    }
}

impl Related<super::sessions::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Session.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
