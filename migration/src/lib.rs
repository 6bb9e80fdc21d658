//! Schema migrations for otp-login: the `users` table (adopting the old service's table when it
//! exists), the table of one-time sign-in codes, the rate-limit state, exact usernames, code purposes and sessions,
//! codes bound to the request that asked for them, the shared token-signing keys, and users'
//! opaque public ids, refresh tokens, the index the sessions' clean-up reads, the owner's
//! activity, the address a change-of-address code was mailed to, each user's language, and the addresses mail cannot reach.
pub use sea_orm_migration::prelude::*;
pub use sea_orm_migration::MigrationStatus;

mod columns;
mod m20250101_000001_create_users;
mod m20250101_000002_adopt_legacy_users;
mod m20250101_000003_create_one_time_codes;
mod m20250101_000004_create_rate_limits;
mod m20251125_000005_exact_usernames;
mod m20251125_000006_rate_limit_buckets;
mod m20251125_000007_code_failures;
mod m20251125_000008_code_purposes_and_sessions;
mod m20261201_000009_code_bindings;
mod m20261201_000010_signing_keys;
mod m20261201_000011_user_public_ids;
mod m20261202_000012_refresh_tokens;
mod m20261202_000013_sessions_revoked_index;
mod m20261203_000014_account_state;
mod m20261203_000015_session_devices;
mod m20261203_000016_unproven_lapse;
mod m20261204_000017_account_events;
mod m20261204_000018_pending_addresses;
mod m20261204_000019_user_languages;
mod m20261204_000020_mail_suppressions;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20250101_000001_create_users::Migration),
            Box::new(m20250101_000002_adopt_legacy_users::Migration),
            Box::new(m20250101_000003_create_one_time_codes::Migration),
            Box::new(m20250101_000004_create_rate_limits::Migration),
            Box::new(m20251125_000005_exact_usernames::Migration),
            Box::new(m20251125_000006_rate_limit_buckets::Migration),
            Box::new(m20251125_000007_code_failures::Migration),
            Box::new(m20251125_000008_code_purposes_and_sessions::Migration),
            Box::new(m20261201_000009_code_bindings::Migration),
            Box::new(m20261201_000010_signing_keys::Migration),
            Box::new(m20261201_000011_user_public_ids::Migration),
            Box::new(m20261202_000012_refresh_tokens::Migration),
            Box::new(m20261202_000013_sessions_revoked_index::Migration),
            Box::new(m20261203_000014_account_state::Migration),
            Box::new(m20261203_000015_session_devices::Migration),
            Box::new(m20261203_000016_unproven_lapse::Migration),
            Box::new(m20261204_000017_account_events::Migration),
            Box::new(m20261204_000018_pending_addresses::Migration),
            Box::new(m20261204_000019_user_languages::Migration),
            Box::new(m20261204_000020_mail_suppressions::Migration),
        ]
    }
}
