//! The service from its settings: the database (with its migrations), the server keys and the
//! mailer, assembled into the one `AuthService` a process shares; and `otp-login migrate`.
//! `server` puts the HTTP app around it.
use std::sync::Arc;

use anyhow::Context;
use migration::{MigrationStatus, Migrator, MigratorTrait};

use crate::auth::admin::AccountAdmin;
use crate::auth::keys::{self, KeySet, Rotated};
use crate::auth::{AuthService, CodeHasher, KeyRing, PasswordHasher, RateLimiter, TokenKeys};
use crate::config::secrets::ServerKeys;
use crate::config::KeySource;
use crate::config::{DatabaseSettings, MailerChoice, Settings};
use crate::mail::{
    DevMailer, Mailer, Sender, SesMailer, Site, SmtpMailer, TemplateError, Templates,
};
use crate::store::signing_keys::{self, StoredKey};
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
    let ring = match settings.keys.jwt {
        KeySource::Random => KeyRing::ephemeral()?,
        _ => KeyRing::shared(db.clone(), keys.jwt_bytes()),
    };
    // On Lambda the function's memory is reserved whether used or not: one block stays warm.
    let passwords = if settings.on_lambda {
        PasswordHasher::default().keeping_a_block_warm()
    } else {
        PasswordHasher::default()
    };
    Ok(AuthService::new(
        db.clone(),
        passwords,
        CodeHasher::new(keys.otp_bytes()),
        settings.codes,
        TokenKeys::new(ring, settings.tokens.clone()),
        mailer,
        RateLimiter::new(db, settings.limits.clone()),
    )
    .with_reset_links(settings.pages_url.clone())
    .with_unproven_lapse(settings.unproven_lapse)
    .with_notices(settings.notices)
    .with_activity_retention(settings.activity_retention))
}

/// The operator's actions on accounts, over the configured database.
pub async fn account_admin(settings: &Settings) -> anyhow::Result<AccountAdmin> {
    let db = connect(&settings.database, false).await?;
    Ok(AccountAdmin::new(db, settings.codes))
}

/// The database and `JWT_SECRET`, for the key commands: keys sealed under a random secret
/// would open in no other process.
async fn key_store(settings: &Settings) -> anyhow::Result<(Db, ServerKeys)> {
    anyhow::ensure!(
        !matches!(settings.keys.jwt, KeySource::Random),
        "JWT_SECRET (or JWT_SECRET_ARN) must be set: it seals the signing keys"
    );
    let keys = ServerKeys::resolve(&settings.keys).await?;
    Ok((connect(&settings.database, false).await?, keys))
}

/// The published key set, making the first key if there is none (`otp-login jwks`).
pub async fn key_set(settings: &Settings) -> anyhow::Result<Arc<KeySet>> {
    let (db, secrets) = key_store(settings).await?;
    let set = KeyRing::shared(db.clone(), secrets.jwt_bytes())
        .current()
        .await;
    store::close(&db).await?;
    set
}

/// Every stored key, published or not (`otp-login keys list`).
pub async fn stored_keys(settings: &Settings) -> anyhow::Result<Vec<StoredKey>> {
    let (db, _) = key_store(settings).await?;
    let stored = signing_keys::list(&db).await?;
    store::close(&db).await?;
    Ok(stored)
}

/// One step of the rotation (`otp-login keys rotate`); `now` skips the wait for verifiers
/// to fetch a standby key.
pub async fn rotate_keys(settings: &Settings, now: bool) -> anyhow::Result<Rotated> {
    let (db, secrets) = key_store(settings).await?;
    let wait = match now {
        true => std::time::Duration::ZERO,
        false => keys::PUBLISH_BEFORE_SIGNING,
    };
    let rotated = keys::rotate(&db, secrets.jwt_bytes(), settings.tokens.ttl, wait).await;
    store::close(&db).await?;
    rotated
}

/// The templates every mail is written with: the compiled-in ones with the configured
/// overrides, each message rendered once in every language to check them.
pub fn templates_for(settings: &Settings) -> Result<Templates, TemplateError> {
    let site = Site {
        name: settings.mail_templates.site_name.clone(),
        url: settings.pages_url.clone(),
    };
    Templates::load(settings.mail_templates.dir.as_deref(), site)
}

/// Who mail comes from: `raw` (`SENDER_EMAIL`), named as the site when it names no one.
pub fn sender_for(settings: &Settings, raw: &str) -> Result<Sender, String> {
    Sender::new(raw, &settings.mail_templates.site_name)
}

/// The mailer the settings ask for, with the checked templates; the SES client is built here,
/// once per process. Templates that do not parse or render stop start-up here, with their
/// file and line.
pub async fn mailer_for(settings: &Settings) -> anyhow::Result<Arc<dyn Mailer>> {
    let templates = Arc::new(templates_for(settings)?);
    let sender = |raw: &str| sender_for(settings, raw).map_err(anyhow::Error::msg);
    Ok(match &settings.mail {
        MailerChoice::Development => {
            tracing::warn!(
                "development mailer: sign-in codes are written to this log, not emailed"
            );
            Arc::new(DevMailer::new(templates))
        }
        // On Lambda the client waits for the first message: the function's role and region
        // are certain there, and a cold start need not load them (nor the TLS roots).
        MailerChoice::Ses(ses) if settings.on_lambda => Arc::new(SesMailer::on_first_send(
            ses,
            templates,
            sender(&ses.sender)?,
        )),
        MailerChoice::Ses(ses) => {
            let aws = crate::aws::shared_config().await;
            anyhow::ensure!(
                aws.region().is_some(),
                "AWS_REGION is required to send with SES"
            );
            tracing::info!(region = ?aws.region(), "sending sign-in codes with SES");
            Arc::new(SesMailer::new(aws, ses, templates, sender(&ses.sender)?))
        }
        MailerChoice::Smtp(smtp) => {
            tracing::info!("sending sign-in codes over SMTP");
            Arc::new(SmtpMailer::new(
                &smtp.url,
                smtp.timeout,
                templates,
                sender(&smtp.sender)?,
            )?)
        }
    })
}
