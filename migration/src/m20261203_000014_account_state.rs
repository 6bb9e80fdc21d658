//! What an account's owner and its operator need to know of it, on the `users` row:
//! `email_verified_at` (set by the first code that proves the mailbox; rows that exist now have
//! none until then), the last sign-in's time and client address, and `disabled_at` (set by
//! `otp-login users disable`: such an account cannot sign in, and its tokens are refused).
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column a statement: SQLite alters one at a time. A database made from
        // database/create_database.sql has them already.
        for (name, column) in columns() {
            if !manager.has_column("users", name).await? {
                manager
                    .alter_table(
                        Table::alter()
                            .table(Users::Table)
                            .add_column(column)
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Users::EmailVerifiedAt,
            Users::LastSignInAt,
            Users::LastSignInFrom,
            Users::DisabledAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

fn columns() -> [(&'static str, ColumnDef); 4] {
    [
        (
            "email_verified_at",
            ColumnDef::new(Users::EmailVerifiedAt)
                .date_time()
                .null()
                .to_owned(),
        ),
        (
            "last_sign_in_at",
            ColumnDef::new(Users::LastSignInAt)
                .date_time()
                .null()
                .to_owned(),
        ),
        (
            "last_sign_in_from",
            ColumnDef::new(Users::LastSignInFrom)
                .string_len(64)
                .null()
                .to_owned(),
        ),
        (
            "disabled_at",
            ColumnDef::new(Users::DisabledAt)
                .date_time()
                .null()
                .to_owned(),
        ),
    ]
}

#[derive(DeriveIden)]
enum Users {
    Table,
    EmailVerifiedAt,
    LastSignInAt,
    LastSignInFrom,
    DisabledAt,
}
