//! The keys that sign access tokens, shared by every instance: one row per RSA key pair, with
//! the public half as JWK components and the private half sealed (AES-256-GCM under a key
//! derived from `JWT_SECRET`), never in the clear.
//!
//! `state` is `standby` (published, not yet signing), `active` (signing) or `retired` (published
//! until `retire_after`, when the last token it signed has expired). `active_slot` is 1 on the
//! active row and NULL elsewhere; its unique index lets only one instance's first key win.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Keys::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Keys::Kid)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Keys::State).string_len(16).not_null())
                    .col(ColumnDef::new(Keys::ActiveSlot).integer().null())
                    .col(ColumnDef::new(Keys::JwkN).string_len(1024).not_null())
                    .col(ColumnDef::new(Keys::JwkE).string_len(16).not_null())
                    .col(ColumnDef::new(Keys::SealedPrivateKey).text().not_null())
                    .col(ColumnDef::new(Keys::CreatedAt).date_time().not_null())
                    .col(ColumnDef::new(Keys::ActivatedAt).date_time().null())
                    .col(ColumnDef::new(Keys::RetiredAt).date_time().null())
                    .col(ColumnDef::new(Keys::RetireAfter).date_time().null())
                    .to_owned(),
            )
            .await?;
        if !manager
            .has_index("signing_keys", "idx_signing_keys_active")
            .await?
        {
            manager
                .create_index(
                    Index::create()
                        .name("idx_signing_keys_active")
                        .table(Keys::Table)
                        .col(Keys::ActiveSlot)
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Keys::Table).if_exists().to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Keys {
    #[sea_orm(iden = "signing_keys")]
    Table,
    Kid,
    State,
    ActiveSlot,
    JwkN,
    JwkE,
    SealedPrivateKey,
    CreatedAt,
    ActivatedAt,
    RetiredAt,
    RetireAfter,
}
