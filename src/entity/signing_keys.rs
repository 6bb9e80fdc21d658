//! The `signing_keys` table: the RSA key pairs that sign access tokens, shared by every instance.
use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub kid: String,
    /// `standby`, `active` or `retired`.
    pub state: String,
    /// 1 on the active key, NULL elsewhere (unique: one active key).
    pub active_slot: Option<i32>,
    pub jwk_n: String,
    pub jwk_e: String,
    /// The PKCS#8 private key sealed with AES-256-GCM; never in the clear.
    pub sealed_private_key: String,
    pub created_at: DateTimeUtc,
    pub activated_at: Option<DateTimeUtc>,
    pub retired_at: Option<DateTimeUtc>,
    pub retire_after: Option<DateTimeUtc>,
}

/// Without the sealed key: a row in a log says which key, never what it holds.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("signing_keys::Model")
            .field("kid", &self.kid)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
