//! The `otp-login` binary: serve (locally or on Lambda), or one of the maintenance commands.
use std::process::ExitCode;

use otp_login::auth::{NewPassword, PasswordHasher};
use otp_login::config::Settings;
use otp_login::{api, startup, telemetry};

const USAGE: &str = "usage: otp-login [serve | migrate | openapi | config-schema | hash-password]";

#[tokio::main]
async fn main() -> ExitCode {
    let command = std::env::args().nth(1);
    match command.as_deref() {
        Some("openapi") => print!("{}", api::spec_yaml()),
        Some("config-schema") => println!("{:#}", Settings::json_schema()),
        Some("hash-password") => return hash_password().await,
        None | Some("serve") | Some("migrate") => {
            let settings = match Settings::from_env() {
                Ok(settings) => settings,
                Err(err) => {
                    eprintln!("otp-login: {err}");
                    return ExitCode::FAILURE;
                }
            };
            telemetry::init(settings.on_lambda);
            let result = match command.as_deref() {
                Some("migrate") => startup::migrate(&settings).await,
                _ => startup::run(settings).await,
            };
            if let Err(err) = result {
                tracing::error!("{err:#}");
                return ExitCode::FAILURE;
            }
        }
        Some("-h") | Some("--help") | Some("help") => println!("{USAGE}"),
        Some(other) => {
            eprintln!("otp-login: unknown command {other:?}\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// Reads a password from standard input and prints its argon2id PHC string, for rows written
/// by hand (`database/create_database.sql`, a password reset in SQL).
async fn hash_password() -> ExitCode {
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        eprintln!("otp-login: could not read a password from standard input");
        return ExitCode::FAILURE;
    }
    let password = match NewPassword::parse(line.trim_end_matches(['\r', '\n']).to_owned()) {
        Ok(password) => password,
        Err(err) => {
            eprintln!("otp-login: {err}");
            return ExitCode::FAILURE;
        }
    };
    match PasswordHasher::default().hash(&password).await {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("otp-login: {err:#}");
            ExitCode::FAILURE
        }
    }
}
