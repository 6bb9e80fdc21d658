//! `account_events`: what happened to each account, for its owner's activity list: one row per
//! security event (signed in, a wrong password, a code sent, the password changed…) with its
//! time, the client address and short user agent it came from, and the session it happened in.
//! The rows go with their user (`ON DELETE CASCADE`); older ones are pruned after the retention
//! time. Indexed for the owner's newest-first pages and for the clean-up's oldest-first reads.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AccountEvents::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(AccountEvents::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AccountEvents::UserId).integer().not_null())
                    .col(ColumnDef::new(AccountEvents::At).date_time().not_null())
                    .col(
                        ColumnDef::new(AccountEvents::Kind)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AccountEvents::ClientAddress)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AccountEvents::UserAgent)
                            .string_len(255)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AccountEvents::SessionId)
                            .string_len(32)
                            .null(),
                    )
                    .col(ColumnDef::new(AccountEvents::Detail).string_len(32).null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_account_events_user")
                            .from(AccountEvents::Table, AccountEvents::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            (
                "idx_account_events_user",
                vec![AccountEvents::UserId, AccountEvents::Id],
            ),
            ("idx_account_events_at", vec![AccountEvents::At]),
        ];
        for (name, columns) in indexes {
            if !manager.has_index("account_events", name).await? {
                let mut index = Index::create();
                index.name(name).table(AccountEvents::Table);
                for column in columns {
                    index.col(column);
                }
                manager.create_index(index.to_owned()).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(AccountEvents::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum AccountEvents {
    Table,
    Id,
    UserId,
    At,
    Kind,
    ClientAddress,
    UserAgent,
    SessionId,
    Detail,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
