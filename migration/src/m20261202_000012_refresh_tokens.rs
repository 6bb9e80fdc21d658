//! Refresh tokens: one row per token a session was ever given, stored only as the SHA-256 of
//! the secret. A refresh spends its row (`spent_at`) and adds the next, whose `parent_hash` names
//! it; a spent token presented again outside the grace window ends the session. The rows go
//! with their session (`ON DELETE CASCADE`).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(RefreshTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::SessionId)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::ParentHash)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(RefreshTokens::IssuedAt)
                            .date_time()
                            .not_null(),
                    )
                    .col(ColumnDef::new(RefreshTokens::SpentAt).date_time().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_session")
                            .from(RefreshTokens::Table, RefreshTokens::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_refresh_tokens_session", RefreshTokens::SessionId),
            ("idx_refresh_tokens_parent", RefreshTokens::ParentHash),
            ("idx_refresh_tokens_issued", RefreshTokens::IssuedAt),
        ] {
            if !manager.has_index("refresh_tokens", name).await? {
                manager
                    .create_index(
                        Index::create()
                            .name(name)
                            .table(RefreshTokens::Table)
                            .col(column)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(RefreshTokens::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TokenHash,
    SessionId,
    ParentHash,
    IssuedAt,
    SpentAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
}
