//! `mail_suppressions`: addresses mail cannot reach, as SES reported them (a permanent bounce or
//! a complaint): no more codes or notices go there, and the owner is told why at sign-in, until
//! the operator clears the address.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MailSuppressions::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(MailSuppressions::Address)
                            .string_len(254)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MailSuppressions::Kind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MailSuppressions::Reason)
                            .string_len(255)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(MailSuppressions::Since)
                            .date_time()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(MailSuppressions::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum MailSuppressions {
    Table,
    Address,
    Kind,
    Reason,
    Since,
}
