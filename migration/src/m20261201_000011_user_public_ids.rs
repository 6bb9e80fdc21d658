//! A stable opaque id per user (`public_id`, 128 random bits in hex), which tokens carry as
//! `sub` instead of the email address a user may one day change. Existing rows get one here;
//! rows written by hand later get one at their first sign-in.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_users_public_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !manager.has_column("users", "public_id").await? {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(ColumnDef::new(Users::PublicId).string_len(32).null())
                        .to_owned(),
                )
                .await?;
        }
        if !manager.has_index("users", INDEX).await? {
            manager
                .create_index(
                    Index::create()
                        .name(INDEX)
                        .table(Users::Table)
                        .col(Users::PublicId)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        backfill(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.has_index("users", INDEX).await? {
            manager
                .drop_index(Index::drop().name(INDEX).table(Users::Table).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .drop_column(Users::PublicId)
                    .to_owned(),
            )
            .await
    }
}

/// Gives every user without an id a fresh random one, one row at a time (ids are random, so
/// no single statement can make them on both MariaDB and SQLite).
async fn backfill(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let backend = manager.get_database_backend();
    let rows = db
        .query_all(Statement::from_string(
            backend,
            "SELECT id FROM users WHERE public_id IS NULL",
        ))
        .await?;
    for row in rows {
        let id: i32 = row.try_get_by_index(0)?;
        let public_id = format!("{:032x}", rand::random::<u128>());
        db.execute(Statement::from_sql_and_values(
            backend,
            "UPDATE users SET public_id = ? WHERE id = ? AND public_id IS NULL",
            [public_id.into(), id.into()],
        ))
        .await?;
    }
    Ok(())
}

#[derive(DeriveIden)]
enum Users {
    Table,
    PublicId,
}
