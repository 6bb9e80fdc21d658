//! The database: reachable at `DATABASE_URL`, every migration applied, and the signing keys
//! it holds (their count, and whether they open with `JWT_SECRET`).
use std::time::Duration;

use migration::{MigrationStatus, Migrator, MigratorTrait};
use secrecy::{ExposeSecret, SecretString};

use super::Finding;
use crate::auth::keys::Sealer;
use crate::config::{KeySource, Settings};
use crate::store::signing_keys::{self, KeyState};
use crate::store::{self, Db};

/// Longest wait for the first connection: a firewalled host drops packets rather than refusing.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub async fn check(settings: &Settings, jwt: Option<&SecretString>) -> Vec<Finding> {
    let connecting = store::connect(&settings.database.url, 1, false);
    // The URL is never quoted: a password with a `/` in it would defeat the redaction.
    let db = match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
        Ok(Ok(db)) => db,
        Ok(Err(err)) => {
            return vec![Finding::error(
                "database",
                format!("could not connect to DATABASE_URL: {err}"),
            )]
        }
        Err(_) => {
            return vec![Finding::error(
                "database",
                format!(
                    "DATABASE_URL did not answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                ),
            )]
        }
    };
    let url = settings.database.url.expose_secret();
    let scheme = url.split_once("://").map_or("", |(scheme, _)| scheme);
    let mut findings = vec![Finding::ok("database", format!("reachable ({scheme})"))];
    let migrated = migrations(&db, &mut findings).await;
    // Keys sealed under a random JWT_SECRET live in the process, not the database.
    if migrated && !matches!(settings.keys.jwt, KeySource::Random) {
        findings.push(stored_keys(&db, jwt).await);
    }
    // Nothing is left to do on this connection; a failed close changes no finding.
    let _ = store::close(&db).await;
    findings
}

/// Adds the migrations' finding; answers whether every one is applied.
async fn migrations(db: &Db, findings: &mut Vec<Finding>) -> bool {
    let all = match Migrator::get_migration_with_status(db).await {
        Ok(all) => all,
        Err(err) => {
            findings.push(Finding::error(
                "migrations",
                format!("could not read the applied migrations: {err}"),
            ));
            return false;
        }
    };
    let pending: Vec<&str> = all
        .iter()
        .filter(|m| !matches!(m.status(), MigrationStatus::Applied))
        .map(|m| m.name())
        .collect();
    findings.push(match pending.len() {
        0 => Finding::ok(
            "migrations",
            format!("all {} migrations are applied", all.len()),
        ),
        n => Finding::error(
            "migrations",
            format!(
                "{n} of {} migrations are pending, from {}: run `otp-login migrate` first",
                all.len(),
                pending[0]
            ),
        ),
    });
    pending.is_empty()
}

/// How many keys sign or wait to, and whether they open with this `JWT_SECRET`.
async fn stored_keys(db: &Db, jwt: Option<&SecretString>) -> Finding {
    let stored = match signing_keys::list(db).await {
        Ok(stored) => stored,
        Err(err) => {
            return Finding::error(
                "signing-keys",
                format!("could not read the signing keys: {err}"),
            )
        }
    };
    let live: Vec<_> = stored
        .iter()
        .filter(|k| matches!(k.state, KeyState::Active | KeyState::Standby))
        .collect();
    if let Some(jwt) = jwt {
        let sealer = Sealer::new(jwt.expose_secret().as_bytes());
        for key in &live {
            if let Err(err) = sealer.open(&key.kid, &key.sealed_private_key) {
                return Finding::error("signing-keys", format!("{err:#}"));
            }
        }
    }
    let count = |state| live.iter().filter(|k| k.state == state).count();
    let (active, standby) = (count(KeyState::Active), count(KeyState::Standby));
    match active {
        0 => Finding::warning(
            "signing-keys",
            "no active signing key yet: the first request (or `otp-login jwks`) makes one",
        ),
        _ => Finding::ok(
            "signing-keys",
            format!("{active} active and {standby} standby signing key(s)"),
        ),
    }
}
