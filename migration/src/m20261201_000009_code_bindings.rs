//! Codes bound to the request that asked for them, and a reset link beside the reset code.
//!
//! `one_time_codes` gains three nullable columns:
//! - `challenge_hash`: SHA-256 of the opaque challenge `/login` or `/request-password-reset`
//!   answered with; a guess that does not carry it never touches the code.
//! - `issued_to`: the client address (as the rate limits key it) that asked, so a client that
//!   sends no challenge (the old contract) still works from there.
//! - `link_hash`: SHA-256 of the 128-bit secret in a reset mail's link.
//!
//! Rows written before this migration have none of them and stay usable for their few minutes.
use sea_orm_migration::prelude::*;

use crate::columns::{add_missing, drop_present};

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: [(Codes, &str, u32); 3] = [
    (Codes::ChallengeHash, "challenge_hash", 64),
    (Codes::IssuedTo, "issued_to", 64),
    (Codes::LinkHash, "link_hash", 64),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = COLUMNS
            .map(|(column, name, len)| {
                (
                    name,
                    ColumnDef::new(column).string_len(len).null().to_owned(),
                )
            })
            .into();
        add_missing(manager, Codes::Table, columns).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = COLUMNS.map(|(column, name, _)| (column, name)).into();
        drop_present(manager, Codes::Table, columns).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Codes {
    #[sea_orm(iden = "one_time_codes")]
    Table,
    ChallengeHash,
    IssuedTo,
    LinkHash,
}
