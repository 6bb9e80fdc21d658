//! Where each session was opened, for the owner's list of their sessions: `client_address`
//! (the address the limits key by) and `user_agent` (a short description of the browser or
//! program). Sessions opened before it have neither.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column a statement: SQLite alters one at a time. A database made from
        // database/create_database.sql has them already.
        for (name, column) in columns() {
            if !manager.has_column("sessions", name).await? {
                manager
                    .alter_table(
                        Table::alter()
                            .table(Sessions::Table)
                            .add_column(column)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Sessions::ClientAddress, Sessions::UserAgent] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

fn columns() -> [(&'static str, ColumnDef); 2] {
    [
        (
            "client_address",
            ColumnDef::new(Sessions::ClientAddress)
                .string_len(64)
                .null()
                .to_owned(),
        ),
        (
            "user_agent",
            ColumnDef::new(Sessions::UserAgent)
                .string_len(255)
                .null()
                .to_owned(),
        ),
    ]
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    ClientAddress,
    UserAgent,
}
