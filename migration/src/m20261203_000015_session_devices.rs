//! Where each session was opened, for the owner's list of their sessions: `client_address`
//! (the address the limits key by) and `user_agent` (a short description of the browser or
//! program). Sessions opened before it have neither.
use sea_orm_migration::prelude::*;

use crate::columns::{add_missing, drop_present};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_missing(manager, Sessions::Table, columns().into()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = vec![
            (Sessions::ClientAddress, "client_address"),
            (Sessions::UserAgent, "user_agent"),
        ];
        drop_present(manager, Sessions::Table, columns).await
    }
}

fn columns() -> [(&'static str, ColumnDef); 2] {
    [
        (
            "client_address",
            ColumnDef::new(Sessions::ClientAddress)
                .string_len(64)
                .null()
                .to_owned(),
        ),
        (
            "user_agent",
            ColumnDef::new(Sessions::UserAgent)
                .string_len(255)
                .null()
                .to_owned(),
        ),
    ]
}

#[derive(DeriveIden, Clone, Copy)]
enum Sessions {
    Table,
    ClientAddress,
    UserAgent,
}
