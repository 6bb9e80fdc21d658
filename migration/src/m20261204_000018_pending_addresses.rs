//! `one_time_codes.new_username`: the address a change-of-address code was mailed to, which
//! becomes the username when that code comes back. Empty on every other code.
use sea_orm_migration::prelude::*;

use crate::columns::{add_missing, drop_present};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let column = ColumnDef::new(OneTimeCodes::NewUsername)
            .string_len(254)
            .null()
            .to_owned();
        add_missing(manager, OneTimeCodes::Table, vec![("new_username", column)]).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = vec![(OneTimeCodes::NewUsername, "new_username")];
        drop_present(manager, OneTimeCodes::Table, columns).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum OneTimeCodes {
    Table,
    NewUsername,
}
