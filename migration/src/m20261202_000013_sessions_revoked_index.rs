//! An index on `sessions.revoked_at`: the clean-up deletes sessions that expired *or* were
//! revoked a day ago, and with only `expires_at` indexed that `OR` read the whole table once in
//! every 20 sign-ins. With both indexed, MySQL reads the two ranges and nothing else.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const NAME: &str = "idx_sessions_revoked";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // A database made from database/create_database.sql has it already.
        if manager.has_index("sessions", NAME).await? {
            return Ok(());
        }
        manager
            .create_index(
                Index::create()
                    .name(NAME)
                    .table(Sessions::Table)
                    .col(Sessions::RevokedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(NAME).table(Sessions::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    RevokedAt,
}
