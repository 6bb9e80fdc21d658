//! `users.lapses_at`: when an account registered through `/register` is removed if no code has
//! proven its address by then, so a registration of someone else's address clears itself.
//! Every row that exists when this runs (adopted old rows included) has none, and never lapses.
//! Indexed, so the clean-up reads only the rows due.
use sea_orm_migration::prelude::*;

use crate::columns::{add_missing, drop_present};

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_users_lapses_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let column = ColumnDef::new(Users::LapsesAt)
            .date_time()
            .null()
            .to_owned();
        add_missing(manager, Users::Table, vec![("lapses_at", column)]).await?;
        // A database made from database/create_database.sql has it already.
        if manager.has_index("users", INDEX).await? {
            return Ok(());
        }
        manager
            .create_index(
                Index::create()
                    .name(INDEX)
                    .table(Users::Table)
                    .col(Users::LapsesAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_index("users", INDEX).await? {
            manager
                .drop_index(Index::drop().name(INDEX).table(Users::Table).to_owned())
                .await?;
        }
        drop_present(manager, Users::Table, vec![(Users::LapsesAt, "lapses_at")]).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    LapsesAt,
}
