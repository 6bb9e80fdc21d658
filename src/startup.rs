//! The service from its settings: the database (with its migrations), the server keys and the
//! mailer, assembled into the one `AuthService` a process shares; and `otp-login migrate`.
//! `server` puts the HTTP app around it.
use std::sync::Arc;

use anyhow::Context;
use migration::{MigrationStatus, Migrator, MigratorTrait};

use crate::auth::{AuthService, CodeHasher, PasswordHasher, RateLimiter, TokenKeys};
use crate::config::secrets::ServerKeys;
use crate::config::{DatabaseSettings, MailerChoice, Settings};
use crate::mail::{DevMailer, Mailer, SesMailer};
use crate::store::{self, Db};

/// Opens the pool the settings describe, applying migrations when they ask for it.
async fn connect(database: &DatabaseSettings, lazy: bool) -> anyhow::Result<Db> {
    let db = store::connect(&database.url, database.max_connections, lazy)
        .await
        .context("could not connect to the database")?;
    if database.run_migrations {
        Migrator::up(&db, None)
            .await
            .context("could not apply database migrations")?;
    }
    Ok(db)
}

/// What `otp-login migrate` does to the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Migrate {
    Up { steps: Option<u32> },
    Down { steps: u32 },
    Status,
    Fresh,
}

/// Runs `what` against the configured database, whatever `RUN_MIGRATIONS` says, and answers
/// every migration's name and whether it is applied.
pub async fn migrate(settings: &Settings, what: Migrate) -> anyhow::Result<Vec<(String, bool)>> {
    let db = store::connect(&settings.database.url, 1, false)
        .await
        .context("could not connect to the database")?;
    match what {
        Migrate::Up { steps } => Migrator::up(&db, steps).await,
        Migrate::Down { steps } => Migrator::down(&db, Some(steps)).await,
        Migrate::Fresh => Migrator::fresh(&db).await,
        Migrate::Status => Ok(()),
    }
    .context("migration failed")?;
    let status = Migrator::get_migration_with_status(&db)
        .await
        .context("could not read the applied migrations")?
        .iter()
        .map(|m| {
            let applied = matches!(m.status(), MigrationStatus::Applied);
            (m.name().to_owned(), applied)
        })
        .collect();
    db.close().await.context("could not close the database")?;
    Ok(status)
}

/// Connects to the database (applying migrations when configured) and assembles the sign-in
/// service. Called once per process; every request shares the result.
pub async fn build_auth_service(
    settings: &Settings,
    mailer: Arc<dyn Mailer>,
) -> anyhow::Result<AuthService> {
    let keys = ServerKeys::resolve(&settings.keys).await?;
    let db = connect(&settings.database, settings.on_lambda).await?;
    Ok(AuthService::new(
        db.clone(),
        PasswordHasher::default(),
        CodeHasher::new(keys.otp_bytes()),
        settings.codes,
        TokenKeys::new(keys.jwt_bytes(), settings.token_ttl),
        mailer,
        RateLimiter::new(db, settings.limits.clone()),
    )
    .with_reset_links(settings.pages_url.clone()))
}

/// The mailer the settings ask for; the SES client is built here, once per process.
pub async fn mailer_for(settings: &Settings) -> anyhow::Result<Arc<dyn Mailer>> {
    Ok(match &settings.mail {
        MailerChoice::Development => {
            tracing::warn!(
                "development mailer: sign-in codes are written to this log, not emailed"
            );
            Arc::new(DevMailer::default())
        }
        // On Lambda the client waits for the first message: the function's role and region
        // are certain there, and a cold start need not load them (nor the TLS roots).
        MailerChoice::Ses(ses) if settings.on_lambda => Arc::new(SesMailer::on_first_send(ses)),
        MailerChoice::Ses(ses) => {
            let aws = crate::aws::shared_config().await;
            anyhow::ensure!(
                aws.region().is_some(),
                "AWS_REGION is required to send with SES"
            );
            tracing::info!(region = ?aws.region(), "sending sign-in codes with SES");
            Arc::new(SesMailer::new(aws, ses))
        }
    })
}
