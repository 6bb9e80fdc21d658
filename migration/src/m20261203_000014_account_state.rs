//! What an account's owner and its operator need to know of it, on the `users` row:
//! `email_verified_at` (set by the first code that proves the mailbox; rows that exist now have
//! none until then), the last sign-in's time and client address, and `disabled_at` (set by
//! `otp-login users disable`: such an account cannot sign in, and its tokens are refused).
use sea_orm_migration::prelude::*;

use crate::columns::{add_missing, drop_present};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_missing(manager, Users::Table, columns().into()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = vec![
            (Users::EmailVerifiedAt, "email_verified_at"),
            (Users::LastSignInAt, "last_sign_in_at"),
            (Users::LastSignInFrom, "last_sign_in_from"),
            (Users::DisabledAt, "disabled_at"),
        ];
        drop_present(manager, Users::Table, columns).await
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

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    EmailVerifiedAt,
    LastSignInAt,
    LastSignInFrom,
    DisabledAt,
}
