//! Rate-limit state kept in the database, so limits hold across every server instance: a log
//! of hits per (bucket, subject) for sliding windows, and consecutive password failures per
//! username for the exponential back-off.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimitHits::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(RateLimitHits::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RateLimitHits::Bucket)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RateLimitHits::Subject)
                            .string_len(254)
                            .not_null(),
                    )
                    .col(ColumnDef::new(RateLimitHits::HitAt).date_time().not_null())
                    .to_owned(),
            )
            .await?;
        // MySQL has no CREATE INDEX IF NOT EXISTS; a database made by the hand-written SQL
        // already has these.
        let indexes: [(&str, &[RateLimitHits]); 2] = [
            (
                "idx_rate_limit_hits_window",
                &[
                    RateLimitHits::Bucket,
                    RateLimitHits::Subject,
                    RateLimitHits::HitAt,
                ],
            ),
            ("idx_rate_limit_hits_hit_at", &[RateLimitHits::HitAt]),
        ];
        for (name, columns) in indexes {
            if manager.has_index("rate_limit_hits", name).await? {
                continue;
            }
            let mut index = Index::create();
            index.name(name).table(RateLimitHits::Table);
            for column in columns {
                index.col(*column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(LoginFailures::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(LoginFailures::Username)
                            .string_len(254)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(LoginFailures::Failures)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(LoginFailures::LastFailureAt)
                            .date_time()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(LoginFailures::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(RateLimitHits::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum RateLimitHits {
    Table,
    Id,
    Bucket,
    Subject,
    HitAt,
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    Username,
    Failures,
    LastFailureAt,
}
