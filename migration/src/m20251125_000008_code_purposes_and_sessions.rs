//! Codes bound to a purpose, and sessions the server can end.
//!
//! `one_time_codes` gains `purpose` (`sign_in` or `password_reset`): a user holds at most one
//! live code per purpose, and a code of one purpose never passes for the other. The table is
//! rebuilt to change its unique key from `(user_id)` to `(user_id, purpose)` the same way on
//! MySQL and SQLite (SQLite cannot drop a column's inline constraint); every existing code is a
//! sign-in code and keeps working.
//!
//! `sessions` holds one row per signed-in session; a token names its row, and a revoked or
//! expired row refuses the token.
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::TransactionTrait;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if !manager.has_column("one_time_codes", "purpose").await? {
            rebuild_codes(manager, true).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Sessions::Id)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Sessions::UserId).integer().not_null())
                    .col(ColumnDef::new(Sessions::CreatedAt).date_time().not_null())
                    .col(ColumnDef::new(Sessions::LastSeenAt).date_time().not_null())
                    .col(ColumnDef::new(Sessions::ExpiresAt).date_time().not_null())
                    .col(ColumnDef::new(Sessions::RevokedAt).date_time().null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_sessions_user", Sessions::UserId),
            ("idx_sessions_expires", Sessions::ExpiresAt),
        ] {
            if !manager.has_index("sessions", name).await? {
                manager
                    .create_index(
                        Index::create()
                            .name(name)
                            .table(Sessions::Table)
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
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await?;
        rebuild_codes(manager, false).await
    }
}

/// Rebuilds `one_time_codes` with or without `purpose`, keeping the sign-in codes (going down,
/// reset codes have nowhere to go and are dropped).
async fn rebuild_codes(manager: &SchemaManager<'_>, with_purpose: bool) -> Result<(), DbErr> {
    let mut table = Table::create();
    table
        .table(Next::Table)
        .col(
            ColumnDef::new(Codes::Id)
                .integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(ColumnDef::new(Codes::UserId).integer().not_null());
    if with_purpose {
        table.col(
            ColumnDef::new(Codes::Purpose)
                .string_len(16)
                .not_null()
                .default("sign_in"),
        );
    }
    table
        .col(ColumnDef::new(Codes::CodeHash).string_len(64).not_null())
        .col(ColumnDef::new(Codes::ExpiresAt).date_time().not_null())
        .col(
            ColumnDef::new(Codes::Attempts)
                .integer()
                .not_null()
                .default(0),
        )
        .col(ColumnDef::new(Codes::ConsumedAt).date_time().null())
        .col(
            ColumnDef::new(Codes::CreatedAt)
                .date_time()
                .not_null()
                .default(Expr::current_timestamp()),
        )
        .foreign_key(
            ForeignKey::create()
                // Foreign-key names are per schema on MySQL: the old table still holds its own.
                .name(if with_purpose {
                    "fk_one_time_codes_owner"
                } else {
                    "fk_one_time_codes_user"
                })
                .from(Next::Table, Codes::UserId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::Cascade),
        );
    let mut unique = Index::create();
    unique.unique().col(Codes::UserId);
    if with_purpose {
        unique.name("user_purpose").col(Codes::Purpose);
    } else {
        unique.name("user_id");
    }
    table.index(&mut unique);

    let kept = "id, user_id, code_hash, expires_at, attempts, consumed_at, created_at";
    let copy = if with_purpose {
        format!(
            "INSERT INTO one_time_codes_next ({kept}, purpose) \
             SELECT {kept}, 'sign_in' FROM one_time_codes"
        )
    } else {
        format!(
            "INSERT INTO one_time_codes_next ({kept}) \
             SELECT {kept} FROM one_time_codes WHERE purpose = 'sign_in'"
        )
    };
    // One connection for the whole swap: on SQLite, another pooled connection may not yet
    // see the old table dropped when the new one takes its name.
    let backend = manager.get_database_backend();
    let txn = manager.get_connection().begin().await?;
    txn.execute(backend.build(&table)).await?;
    txn.execute_unprepared(&copy).await?;
    txn.execute(backend.build(Table::drop().table(Codes::Table)))
        .await?;
    txn.execute(backend.build(Table::rename().table(Next::Table, Codes::Table)))
        .await?;
    txn.commit().await
}

#[derive(DeriveIden)]
enum Codes {
    #[sea_orm(iden = "one_time_codes")]
    Table,
    Id,
    UserId,
    Purpose,
    CodeHash,
    ExpiresAt,
    Attempts,
    ConsumedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Next {
    #[sea_orm(iden = "one_time_codes_next")]
    Table,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    CreatedAt,
    LastSeenAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}
