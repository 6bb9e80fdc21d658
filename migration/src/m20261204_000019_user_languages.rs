//! `users.language`: the language the account's mail is written in (`en`, `de`, `es`, `fr`),
//! taken from `Accept-Language` at registration and changeable by the owner. Empty on every
//! existing row, which reads as English.
use sea_orm_migration::prelude::*;

use crate::columns::{add_missing, drop_present};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let column = ColumnDef::new(Users::Language)
            .string_len(8)
            .null()
            .to_owned();
        add_missing(manager, Users::Table, vec![("language", column)]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        drop_present(manager, Users::Table, vec![(Users::Language, "language")]).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Language,
}
