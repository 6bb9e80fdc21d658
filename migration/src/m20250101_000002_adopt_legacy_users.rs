//! Adopts the old service's `users(id, username VARCHAR(30) UNIQUE, password)` table: widens
//! `username` to a full email address and adds the timestamps, keeping every row. The plain-text
//! passwords stay until each user's next successful sign-in re-hashes them.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A table created by the previous migration already has the timestamps: nothing to adopt.
        if manager.has_column("users", "created_at").await? {
            return Ok(());
        }
        if manager.get_database_backend() != DatabaseBackend::MySql {
            return Err(DbErr::Migration(
                "a legacy users table can only be adopted on MySQL/MariaDB".to_owned(),
            ));
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .modify_column(ColumnDef::new(Users::Username).string_len(254).not_null())
                    .add_column(timestamp_column(Users::CreatedAt))
                    .add_column(timestamp_column(Users::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        // Narrowing `username` back could truncate addresses; adoption is one-way by design.
        Ok(())
    }
}

fn timestamp_column(name: Users) -> ColumnDef {
    ColumnDef::new(name)
        .date_time()
        .not_null()
        .default(Expr::current_timestamp())
        .to_owned()
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Username,
    CreatedAt,
    UpdatedAt,
}
