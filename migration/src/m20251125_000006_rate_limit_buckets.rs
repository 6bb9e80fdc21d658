//! Rate-limit state as one row per (limit, key) instead of one row per request.
//!
//! `rate_limits` holds a GCRA theoretical arrival time per limit and key, so the table grows
//! with the number of active keys, never with the number of requests. `password_attempts`
//! keys the wrong-password back-off by (username, client address) and remembers the addresses
//! a user signed in from. The old per-request tables are dropped: limits start afresh once.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RateLimits::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(RateLimits::Bucket).string_len(64).not_null())
                    .col(exact(manager, RateLimits::Subject, 254))
                    .col(ColumnDef::new(RateLimits::TatMs).big_integer().not_null())
                    .primary_key(
                        Index::create()
                            .col(RateLimits::Bucket)
                            .col(RateLimits::Subject),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PasswordAttempts::Table)
                    .if_not_exists()
                    .col(exact(manager, PasswordAttempts::Username, 254))
                    .col(exact(manager, PasswordAttempts::Address, 64))
                    .col(
                        ColumnDef::new(PasswordAttempts::Failures)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(PasswordAttempts::OpenAtMs)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(PasswordAttempts::SignedInMs)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(PasswordAttempts::UpdatedMs)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(PasswordAttempts::Username)
                            .col(PasswordAttempts::Address),
                    )
                    .to_owned(),
            )
            .await?;
        // The clean-up deletes by these; MySQL has no CREATE INDEX IF NOT EXISTS, and a
        // database made by the hand-written SQL already has them.
        for (table, name, column) in [
            ("rate_limits", "idx_rate_limits_tat", "tat_ms"),
            (
                "password_attempts",
                "idx_password_attempts_updated",
                "updated_ms",
            ),
        ] {
            if !manager.has_index(table, name).await? {
                manager
                    .create_index(
                        Index::create()
                            .name(name)
                            .table(Alias::new(table))
                            .col(Alias::new(column))
                            .to_owned(),
                    )
                    .await?;
            }
        }
        for old in ["rate_limit_hits", "login_failures"] {
            manager
                .drop_table(Table::drop().table(Alias::new(old)).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["password_attempts", "rate_limits"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        // The per-request tables as the earlier migrations left them, so they can go back too.
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("rate_limit_hits"))
                    .col(
                        ColumnDef::new(Alias::new("id"))
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Alias::new("bucket"))
                            .string_len(32)
                            .not_null(),
                    )
                    .col(exact(manager, Alias::new("subject"), 254))
                    .col(ColumnDef::new(Alias::new("hit_at")).date_time().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alias::new("login_failures"))
                    .col(exact(manager, Alias::new("username"), 254).primary_key())
                    .col(
                        ColumnDef::new(Alias::new("failures"))
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(Alias::new("last_failure_at"))
                            .date_time()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }
}

/// A key column compared byte for byte: MySQL's default collations ignore case and accents;
/// SQLite's default already compares bytes.
fn exact(manager: &SchemaManager, name: impl IntoIden, len: u32) -> ColumnDef {
    let mut column = ColumnDef::new(name);
    column.string_len(len);
    // MySQL wants the collation before NOT NULL, where `extra` alone can put it.
    if manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::MySql {
        column.extra("CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL");
    } else {
        column.not_null();
    }
    column
}

#[derive(DeriveIden)]
enum RateLimits {
    Table,
    Bucket,
    Subject,
    TatMs,
}

#[derive(DeriveIden)]
enum PasswordAttempts {
    Table,
    Username,
    Address,
    Failures,
    OpenAtMs,
    SignedInMs,
    UpdatedMs,
}
