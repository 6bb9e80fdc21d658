//! The command line of the one binary a user deploys: serve, migrate, and the maintenance
//! commands (the account ones in `users`). Settings come from the environment (and a `.env`
//! file, when there is one).
mod users;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::auth::keys::Rotated;
use crate::auth::{NewPassword, PasswordHasher};
use crate::config::Settings;
use crate::startup::{self, Migrate};
use crate::{api, server, telemetry};

/// Two-step sign-in by emailed one-time code. Configured by environment variables: see
/// `otp-login config-schema` and `.env.example`.
#[derive(Debug, Parser)]
#[command(name = "otp-login", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default): Lambda events when AWS_LAMBDA_RUNTIME_API is set, a local
    /// port (BIND:PORT) otherwise.
    Serve,
    /// Manage the database schema of DATABASE_URL (default: apply pending migrations).
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Print the OpenAPI spec as YAML (what openapi.yaml holds).
    Openapi,
    /// Print the JSON Schema of the settings (the environment variables and their defaults).
    ConfigSchema,
    /// Print the key set that verifies access tokens, as GET /.well-known/jwks.json serves it
    /// (making the first key if there is none).
    Jwks,
    /// Print the discovery document, as GET /.well-known/openid-configuration serves it.
    Discovery,
    /// List or rotate the keys that sign access tokens.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Read passwords on standard input, one a line, and print each one's argon2id PHC string
    /// on a line of its own, in order: for rows written by hand.
    HashPassword,
    /// Before a deploy: read the settings as `serve` does, then check the database and its
    /// migrations, the keys and the mailer. One finding a line; exits 1 when any is an error.
    Check {
        /// Print the findings as a JSON array of {level, check, message}.
        #[arg(long)]
        json: bool,
    },
    /// The operator's view of accounts and actions on them: show, list, disable, enable,
    /// sign-out, unlock, delete.
    Users(users::UsersCommand),
}

#[derive(Debug, Subcommand)]
enum MigrateAction {
    /// Apply pending migrations.
    Up {
        /// Apply at most this many.
        #[arg(short = 'n', long)]
        steps: Option<u32>,
    },
    /// Roll back applied migrations, newest first.
    Down {
        /// Roll back this many.
        #[arg(short = 'n', long, default_value_t = 1)]
        steps: u32,
    },
    /// List every migration and whether it is applied.
    Status,
    /// Drop every table, then apply all migrations: all data is lost.
    Fresh,
}

#[derive(Debug, Subcommand)]
enum KeysAction {
    /// Every stored key: kid, state, when it was made, activated and retired, and whether the
    /// key set still publishes it.
    List,
    /// One step of the rotation: make a standby key (published, not signing) when there is
    /// none; otherwise make the standby active and retire the active key, which stays
    /// published until its last token has expired. Expired keys are deleted.
    Rotate {
        /// Promote a standby key even if it was published less than 11 minutes ago, so
        /// verifiers caching the key set may not have it yet. Only when nothing outside
        /// otp-login verifies tokens.
        #[arg(long)]
        now: bool,
    },
}

impl Cli {
    /// This process's command line. Without arguments, as Lambda starts the bootstrap, it
    /// serves without building clap's parser, a tenth of a millisecond of a cold start.
    pub fn from_args() -> Self {
        if std::env::args_os().len() <= 1 {
            return Self { command: None };
        }
        Self::parse()
    }

    /// Runs the command; the exit code says how it went.
    pub async fn run(self) -> ExitCode {
        match self.command.unwrap_or(Command::Serve) {
            Command::Openapi => print!("{}", api::spec_yaml()),
            Command::ConfigSchema => println!("{:#}", Settings::json_schema()),
            Command::HashPassword => return hash_password().await,
            Command::Check { json } => return check(json).await,
            Command::Users(users) => return users.run().await,
            Command::Jwks => {
                return printing(|s| async move {
                    let set = startup::key_set(&s).await?;
                    println!("{:#}", serde_json::to_value(api::keys::jwks(&set))?);
                    Ok(())
                })
                .await
            }
            Command::Discovery => {
                return printing(|s| async move {
                    let document = api::keys::discovery(&s.tokens.issuer);
                    println!("{:#}", serde_json::to_value(document)?);
                    Ok(())
                })
                .await
            }
            Command::Keys { action } => return with_settings(|s| keys(s, action)).await,
            Command::Serve => return with_settings(|s| async move { server::run(s).await }).await,
            Command::Migrate { action } => {
                let what = match action.unwrap_or(MigrateAction::Up { steps: None }) {
                    MigrateAction::Up { steps } => Migrate::Up { steps },
                    MigrateAction::Down { steps } => Migrate::Down { steps },
                    MigrateAction::Status => Migrate::Status,
                    MigrateAction::Fresh => Migrate::Fresh,
                };
                return with_settings(|s| async move {
                    for (name, applied) in startup::migrate(&s, what).await? {
                        let state = if applied { "applied" } else { "pending" };
                        println!("{state:8} {name}");
                    }
                    Ok(())
                })
                .await;
            }
        }
        ExitCode::SUCCESS
    }
}

/// Reads the settings, starts logging, and runs `work` with them.
async fn with_settings<F, Fut>(work: F) -> ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("otp-login: {err}");
            return ExitCode::FAILURE;
        }
    };
    telemetry::init(settings.on_lambda);
    match work(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{}", crate::redact::credentials(&format!("{err:#}")));
            ExitCode::FAILURE
        }
    }
}

/// Like `with_settings`, for a command whose standard output is a document to keep as a file:
/// no log lines there, and errors on standard error.
async fn printing<F, Fut>(work: F) -> ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let outcome = match Settings::from_env() {
        Ok(settings) => work(settings).await,
        Err(err) => Err(err.into()),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let message = crate::redact::credentials(&format!("{err:#}"));
            eprintln!("otp-login: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn keys(settings: Settings, action: KeysAction) -> anyhow::Result<()> {
    match action {
        KeysAction::List => {
            let stored = startup::stored_keys(&settings).await?;
            let published = crate::auth::keys::published(&stored);
            let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("-".to_owned(), |t| {
                    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
                })
            };
            println!("kid                              state    published created              activated            retired              retire_after");
            for key in &stored {
                let shown = published.iter().any(|p| p.kid == key.kid);
                println!(
                    "{} {:8} {:9} {} {} {} {}",
                    key.kid,
                    key.state.as_str(),
                    if shown { "yes" } else { "no" },
                    time(Some(key.created_at)),
                    time(key.activated_at),
                    time(key.retired_at),
                    time(key.retire_after),
                );
            }
        }
        KeysAction::Rotate { now } => match startup::rotate_keys(&settings, now).await? {
            Rotated::Created => println!("made the first signing key"),
            Rotated::Staged { standby } => println!(
                "standby key {standby} published; run `otp-login keys rotate` again in {} \
                 minutes or later to make it sign",
                crate::auth::keys::PUBLISH_BEFORE_SIGNING.as_secs() / 60
            ),
            Rotated::Promoted {
                active,
                retired,
                retire_after,
            } => println!(
                "key {active} signs now; {retired} is retired, published until {retire_after}"
            ),
        },
    }
    Ok(())
}

async fn check(json: bool) -> ExitCode {
    let findings = crate::preflight::run(std::env::vars().collect()).await;
    if json {
        println!("{}", crate::preflight::json(&findings));
    } else {
        print!("{}", crate::preflight::lines(&findings));
    }
    if crate::preflight::failed(&findings) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn hash_password() -> ExitCode {
    let mut input = String::new();
    if std::io::Read::read_to_string(&mut std::io::stdin(), &mut input).is_err() {
        eprintln!("otp-login: could not read passwords from standard input");
        return ExitCode::FAILURE;
    }
    let mut passwords = Vec::new();
    for (number, line) in input.lines().enumerate() {
        match NewPassword::parse(line.to_owned()) {
            Ok(password) => passwords.push(password),
            Err(err) => {
                eprintln!("otp-login: line {}: {err}", number + 1);
                return ExitCode::FAILURE;
            }
        }
    }
    if passwords.is_empty() {
        eprintln!("otp-login: no password on standard input");
        return ExitCode::FAILURE;
    }
    // One after the other, as sign-ins come: each hash reuses the last one's memory.
    let hasher = PasswordHasher::default();
    for password in &passwords {
        match hasher.hash(password).await {
            Ok(hash) => println!("{hash}"),
            Err(err) => {
                eprintln!("otp-login: {err:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_is_the_default_and_migrate_takes_its_actions() {
        assert!(Cli::try_parse_from(["otp-login"])
            .unwrap()
            .command
            .is_none());
        let cli = Cli::try_parse_from(["otp-login", "migrate", "down", "-n", "2"]).unwrap();
        assert!(matches!(
            cli.command,
            Some(Command::Migrate {
                action: Some(MigrateAction::Down { steps: 2 })
            })
        ));
        assert!(Cli::try_parse_from(["otp-login", "migrate", "sideways"]).is_err());
    }
}
