//! End-to-end tests through the public HTTP interface, against MariaDB (each test in its own
//! fresh database) and, where named, against the embedded SQLite default.
mod abuse;
mod bad_input;
mod cli;
mod docs;
mod enumeration;
mod flow;
mod health;
mod helpers;
mod limits;
mod login;
mod logs;
mod me;
mod refresh;
mod register;
mod reset;
mod routing;
mod schema;
mod secrets;
mod ses;
mod sessions;
mod shutdown;
mod spec;
mod spec_rules;
mod tokens;
mod toolchain;
mod verify;
