//! SeaORM entities for the tables the `migration` crate creates. Used only by `store`.
pub mod account_events;
pub mod mail_suppressions;
pub mod one_time_codes;
pub mod refresh_tokens;
pub mod sessions;
pub mod signing_keys;
pub mod users;
