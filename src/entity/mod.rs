//! SeaORM entities for the tables the `migration` crate creates. Used only by `store`.
pub mod login_failures;
pub mod one_time_codes;
pub mod rate_limit_hits;
pub mod users;
