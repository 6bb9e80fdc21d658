//! otp-login: two-step sign-in by emailed one-time code.
pub mod api;
pub mod auth;
pub mod aws;
pub mod cli;
pub mod config;
pub mod entity;
pub mod mail;
pub mod memory;
pub mod metrics;
pub mod preflight;
pub mod redact;
pub mod server;
pub mod startup;
pub mod store;
pub mod telemetry;
