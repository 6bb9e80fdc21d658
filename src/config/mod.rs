//! Settings: the environment read once and parsed once into typed values, so an invalid value
//! stops start-up and nothing downstream can fail on configuration again. `secrets` resolves
//! the server keys they name.
mod env;
pub mod secrets;
mod tokens;

use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

pub use env::{Environment, MailerKind};

use crate::auth::code::{CodePolicy, CodePolicyError};
use crate::auth::limits::{parse_limits, Limit, RateLimits};
use crate::auth::{Notices, TokenPolicy};

/// Where the service keeps its data when nothing is configured: a file beside the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://otp-login.db?mode=rwc";

/// Shortest key accepted for signing tokens or keying code hashes.
pub const MIN_KEY_BYTES: usize = 32;

/// Everything the program is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub keys: KeySettings,
    pub codes: CodePolicy,
    /// What access tokens say: issuer, audiences, lifetime.
    pub tokens: TokenPolicy,
    pub limits: RateLimits,
    pub mail: MailerChoice,
    pub mail_templates: MailTemplateSettings,
    /// Set when this process is the function that reads the mail service's events.
    pub mail_events: Option<MailEventsSettings>,
    pub cors: CorsSettings,
    /// Base URL of the pages, ending in `/`, for the link in reset mails; none on Lambda
    /// unless `PAGES_URL` is set.
    pub pages_url: Option<String>,
    /// How long an account registered through `/register` may stay unproven; none, forever.
    pub unproven_lapse: Option<Duration>,
    /// Which notices owners are mailed.
    pub notices: Notices,
    /// How long the owner's activity is kept.
    pub activity_retention: Duration,
    /// Where the figures go: EMF lines, a Prometheus listener, both or neither.
    pub metrics: MetricsSettings,
    /// Started by the Lambda runtime: serve its events instead of a TCP port.
    pub on_lambda: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSettings {
    /// One CloudWatch Embedded Metric Format line per request on standard output.
    pub emf: bool,
    /// The CloudWatch namespace of those lines.
    pub namespace: String,
    /// The separate listener serving `/metrics` in Prometheus text format, if any.
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub bind: String,
    pub port: u16,
    pub frontend_dir: PathBuf,
    pub trust_forwarded_for: bool,
    /// IPv6 clients are rate-limited by their network of this many bits.
    pub ipv6_prefix: u8,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: SecretString,
    pub max_connections: u32,
    pub run_migrations: bool,
}

/// Where a server key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    Value(SecretString),
    SecretsManager {
        arn: String,
    },
    /// A random key for this process only (never on Lambda).
    Random,
}

#[derive(Debug, Clone)]
pub struct KeySettings {
    pub jwt: KeySource,
    pub otp: KeySource,
}

/// The mailer the settings resolve to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailerChoice {
    Development,
    Ses(SesSettings),
    Smtp(SmtpSettings),
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub sender: String,
    pub url: SecretString,
    pub timeout: Duration,
}

impl PartialEq for SmtpSettings {
    fn eq(&self, other: &Self) -> bool {
        self.sender == other.sender
            && self.timeout == other.timeout
            && self.url.expose_secret() == other.url.expose_secret()
    }
}

impl Eq for SmtpSettings {}

/// The mail-events function: the only topic it takes events from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailEventsSettings {
    pub topic_arn: String,
}

/// What every mail is written with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailTemplateSettings {
    /// Templates replacing the compiled-in ones.
    pub dir: Option<PathBuf>,
    /// How mail names the service.
    pub site_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SesSettings {
    pub sender: String,
    pub configuration_set: Option<String>,
    pub timeout: Duration,
    /// Where decoys go (the SES mailbox simulator by default); none when `off`.
    pub decoy: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CorsSettings {
    pub enabled: bool,
    /// Origins allowed; empty means any.
    pub allowed_origins: Vec<String>,
}

/// A setting that stops start-up, with the variable it came from.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Reads every setting from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Reads settings from `(NAME, value)` pairs, as the environment holds them.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        // Empty variables count as unset, as a shell user expects of `FOO= cargo run`.
        let vars = vars.into_iter().filter(|(_, v)| !v.is_empty());
        let env: Environment =
            envy::from_iter(vars).map_err(|e| ConfigError(env::describe_envy_error(e)))?;
        Self::parse(env)
    }

    /// Checks every value and builds the typed tree.
    pub fn parse(env: Environment) -> Result<Self, ConfigError> {
        let on_lambda = env.aws_lambda_runtime_api.is_some();
        let codes = CodePolicy::new(
            env.otp_ttl_seconds,
            env.otp_max_attempts,
            env.otp_lock_after,
        )
        .map_err(|e| {
            let name = match e {
                CodePolicyError::Lifetime(_) => "OTP_TTL_SECONDS",
                CodePolicyError::NoAttempts => "OTP_MAX_ATTEMPTS",
                CodePolicyError::LockAfter(_) => "OTP_LOCK_AFTER",
            };
            ConfigError(format!("{name} {e}"))
        })?;
        let metrics = metrics(&env, on_lambda)?;
        let activity_retention = match env.activity_retention_days {
            days @ 1..=3650 => Duration::from_secs(u64::from(days) * 86_400),
            days => {
                return Err(ConfigError(format!(
                    "ACTIVITY_RETENTION_DAYS must be between 1 and 3650, got {days}"
                )))
            }
        };
        let unproven_lapse = match env.unproven_account_days {
            0 => None,
            days @ 1..=365 => Some(Duration::from_secs(u64::from(days) * 86_400)),
            days => {
                return Err(ConfigError(format!(
                    "UNPROVEN_ACCOUNT_DAYS must be between 0 and 365, got {days}"
                )))
            }
        };
        Ok(Self {
            database: database(&env, on_lambda)?,
            keys: keys(&env, on_lambda)?,
            limits: limits(&env)?,
            mail: mailer(&env, on_lambda)?,
            mail_templates: mail_templates(&env)?,
            mail_events: mail_events(&env, on_lambda)?,
            pages_url: pages_url(&env, on_lambda)?,
            tokens: tokens::tokens(&env, on_lambda)?,
            server: ServerSettings {
                bind: env.bind,
                port: env.port,
                frontend_dir: env.frontend_dir.into(),
                trust_forwarded_for: env.trust_forwarded_for,
                ipv6_prefix: ipv6_prefix(env.client_ipv6_prefix)?,
            },
            cors: CorsSettings {
                enabled: env.cors_enabled,
                allowed_origins: env
                    .cors_allowed_origins
                    .split(',')
                    .map(str::trim)
                    .filter(|o| !o.is_empty() && *o != "*")
                    .map(str::to_owned)
                    .collect(),
            },
            metrics,
            unproven_lapse,
            notices: Notices {
                password_changed: env.notice_password_changed,
                email_changed: env.notice_email_changed,
                new_sign_in_address: env.notice_new_sign_in,
                code_sign_in_locked: env.notice_code_sign_in_locked,
            },
            activity_retention,
            codes,
            on_lambda,
        })
    }

    /// The JSON Schema of the environment, for `otp-login config-schema`.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Environment)).expect("a schema is valid JSON")
    }
}

/// The metrics settings: a namespace CloudWatch accepts, and a listener that is neither the
/// public port nor on Lambda (which has no port to listen on).
fn metrics(env: &Environment, on_lambda: bool) -> Result<MetricsSettings, ConfigError> {
    let namespace = env.metrics_namespace.trim().to_owned();
    let namespace_ok = (1..=255).contains(&namespace.len())
        && !namespace.starts_with("AWS/")
        && !namespace.starts_with(':')
        && namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-_/#:".contains(&b));
    if !namespace_ok {
        return Err(ConfigError(
            "METRICS_NAMESPACE must be 1 to 255 letters, digits or . - _ / # : and not start \
             with AWS/"
                .into(),
        ));
    }
    let listen =
        match &env.metrics_addr {
            None => None,
            Some(_) if on_lambda => return Err(ConfigError(
                "METRICS_ADDR has no meaning on Lambda: the figures go to CloudWatch as EMF lines"
                    .into(),
            )),
            Some(addr) => {
                let addr: std::net::SocketAddr = addr.trim().parse().map_err(|_| {
                    ConfigError(format!(
                    "METRICS_ADDR must be an address and port such as 127.0.0.1:9464, got {addr:?}"
                ))
                })?;
                if addr.port() == env.port && addr.port() != 0 {
                    return Err(ConfigError(
                        "METRICS_ADDR must not be the public port (PORT): the figures are for the \
                     operator only"
                            .into(),
                    ));
                }
                Some(addr)
            }
        };
    Ok(MetricsSettings {
        emf: env.metrics_emf.unwrap_or(on_lambda),
        namespace,
        listen,
    })
}

fn ipv6_prefix(bits: u8) -> Result<u8, ConfigError> {
    if (32..=128).contains(&bits) {
        Ok(bits)
    } else {
        Err(ConfigError(format!(
            "CLIENT_IPV6_PREFIX must be between 32 and 128, got {bits}"
        )))
    }
}

/// `DATABASE_URL`, else one built from the old service's `DB_*` variables, else the embedded
/// SQLite default; only schemes the service has drivers for.
fn database(env: &Environment, on_lambda: bool) -> Result<DatabaseSettings, ConfigError> {
    let url: SecretString = match (&env.database_url, &env.db_host) {
        (Some(url), _) => url.clone(),
        (None, None) => DEFAULT_DATABASE_URL.into(),
        (None, Some(host)) => {
            let required = |value: &Option<String>, name: &str| {
                value
                    .clone()
                    .ok_or_else(|| ConfigError(format!("{name} is required when DB_HOST is set")))
            };
            let user = required(&env.db_user, "DB_USER")?;
            let name = required(&env.db_name, "DB_NAME")?;
            let password = env
                .db_password
                .as_ref()
                .map(|p| format!(":{}", encode(p.expose_secret())))
                .unwrap_or_default();
            format!(
                "mysql://{}{password}@{host}:{}/{}",
                encode(&user),
                env.db_port,
                encode(&name)
            )
            .into()
        }
    };
    // Say only the scheme: the rest of the URL may hold the database password.
    let scheme = url.expose_secret().split_once("://").map(|(s, _)| s);
    if !matches!(scheme, Some("mysql" | "mariadb" | "sqlite")) {
        return Err(ConfigError(
            "DATABASE_URL must start with mysql://, mariadb:// or sqlite://".into(),
        ));
    }
    if env.db_max_connections == Some(0) {
        return Err(ConfigError("DB_MAX_CONNECTIONS must be at least 1".into()));
    }
    Ok(DatabaseSettings {
        url,
        max_connections: env
            .db_max_connections
            .unwrap_or(if on_lambda { 2 } else { 10 }),
        run_migrations: env.run_migrations.unwrap_or(!on_lambda),
    })
}

fn keys(env: &Environment, on_lambda: bool) -> Result<KeySettings, ConfigError> {
    let source = |name: &str, value: &Option<SecretString>, arn: &Option<String>| {
        match (value, arn) {
            (Some(_), Some(_)) => Err(ConfigError(format!("set {name} or {name}_ARN, not both"))),
            (None, Some(arn)) => Ok(KeySource::SecretsManager { arn: arn.clone() }),
            (Some(value), None) if value.expose_secret().len() < MIN_KEY_BYTES => Err(ConfigError(
                format!("{name} must be at least {MIN_KEY_BYTES} bytes long"),
            )),
            (Some(value), None) => Ok(KeySource::Value(value.clone())),
            // Per-process random keys would break every token and code across instances.
            (None, None) if on_lambda => Err(ConfigError(format!(
                "{name} (or {name}_ARN) is required on AWS Lambda"
            ))),
            (None, None) => Ok(KeySource::Random),
        }
    };
    let jwt = source("JWT_SECRET", &env.jwt_secret, &env.jwt_secret_arn)?;
    let otp = source("OTP_SECRET", &env.otp_secret, &env.otp_secret_arn)?;
    if let (KeySource::Value(jwt), KeySource::Value(otp)) = (&jwt, &otp) {
        // One leaked key must not give away the other's job.
        if jwt.expose_secret() == otp.expose_secret() {
            return Err(ConfigError(
                "JWT_SECRET and OTP_SECRET must be different keys".into(),
            ));
        }
    }
    Ok(KeySettings { jwt, otp })
}

/// The rate limits, each parsed with the variable it came from named in any error.
fn limits(env: &Environment) -> Result<RateLimits, ConfigError> {
    let parse = |value: &str, name: &str| -> Result<Vec<Limit>, ConfigError> {
        parse_limits(value).map_err(|e| ConfigError(format!("{name} is invalid: {e}")))
    };
    Ok(RateLimits {
        per_address: parse(&env.rate_limit_per_address, "RATE_LIMIT_PER_ADDRESS")?,
        code_sends: parse(&env.rate_limit_code_sends, "RATE_LIMIT_CODE_SENDS")?,
        mailbox_sends: parse(&env.rate_limit_mailbox_sends, "RATE_LIMIT_MAILBOX_SENDS")?,
        code_verifies: parse(&env.rate_limit_code_verifies, "RATE_LIMIT_CODE_VERIFIES")?,
        reset_code_checks: parse(
            &env.rate_limit_reset_code_checks,
            "RATE_LIMIT_RESET_CODE_CHECKS",
        )?,
        password_failures: parse(
            &env.rate_limit_password_failures,
            "RATE_LIMIT_PASSWORD_FAILURES",
        )?,
        backoff_after: env.password_backoff_after,
        backoff_cap: Duration::from_secs(env.password_backoff_max_seconds),
    })
}

/// SES when asked for (or when a sender is configured); the development mailer only off
/// Lambda, because its whole job is to put codes in the log.
fn mailer(env: &Environment, on_lambda: bool) -> Result<MailerChoice, ConfigError> {
    let sender = env.sender_email.as_deref().map(str::trim);
    if let Some(sender) = sender {
        if !sender.contains('@') {
            return Err(ConfigError(format!(
                "SENDER_EMAIL must be an email address, got {sender:?}"
            )));
        }
    }
    if !(1..=30).contains(&env.ses_timeout_seconds) {
        return Err(ConfigError(format!(
            "SES_TIMEOUT_SECONDS must be between 1 and 30, got {}",
            env.ses_timeout_seconds
        )));
    }
    let kind = match env.mailer.as_deref().map(str::trim) {
        None => None,
        Some("dev") => Some(MailerKind::Dev),
        Some("ses") => Some(MailerKind::Ses),
        Some("smtp") => Some(MailerKind::Smtp),
        Some(other) => {
            return Err(ConfigError(format!(
                "MAILER must be `ses`, `smtp` or `dev`, got {other:?}"
            )))
        }
    };
    if kind == Some(MailerKind::Smtp) {
        return smtp(env, sender);
    }
    match (kind, sender) {
        (Some(MailerKind::Dev), _) | (None, None) if on_lambda => Err(ConfigError(
            "SENDER_EMAIL is required on AWS Lambda (the development mailer only logs codes)"
                .into(),
        )),
        (Some(MailerKind::Dev), _) | (None, None) => Ok(MailerChoice::Development),
        (Some(MailerKind::Ses | MailerKind::Smtp), None) => Err(ConfigError(
            "SENDER_EMAIL is required when MAILER=ses".into(),
        )),
        (_, Some(sender)) => Ok(MailerChoice::Ses(SesSettings {
            sender: sender.to_owned(),
            configuration_set: env.ses_configuration_set.clone(),
            timeout: Duration::from_secs(env.ses_timeout_seconds),
            decoy: decoy_address(&env.ses_decoy_address)?,
        })),
    }
}

/// `MAILER=smtp`: a sender, and a server URL whose credentials stay out of every message here.
fn smtp(env: &Environment, sender: Option<&str>) -> Result<MailerChoice, ConfigError> {
    let sender =
        sender.ok_or_else(|| ConfigError("SENDER_EMAIL is required when MAILER=smtp".into()))?;
    let url = env
        .smtp_url
        .clone()
        .filter(|url| !url.expose_secret().trim().is_empty())
        .ok_or_else(|| ConfigError("SMTP_URL is required when MAILER=smtp".into()))?;
    let scheme_ok = ["smtp://", "smtps://"]
        .iter()
        .any(|scheme| url.expose_secret().starts_with(scheme));
    if !scheme_ok {
        return Err(ConfigError(
            "SMTP_URL must start with smtp:// or smtps://".into(),
        ));
    }
    if !(1..=30).contains(&env.smtp_timeout_seconds) {
        return Err(ConfigError(format!(
            "SMTP_TIMEOUT_SECONDS must be between 1 and 30, got {}",
            env.smtp_timeout_seconds
        )));
    }
    Ok(MailerChoice::Smtp(SmtpSettings {
        sender: sender.to_owned(),
        url,
        timeout: Duration::from_secs(env.smtp_timeout_seconds),
    }))
}

fn mail_events(
    env: &Environment,
    on_lambda: bool,
) -> Result<Option<MailEventsSettings>, ConfigError> {
    match env.function_role.trim() {
        "api" => Ok(None),
        "mail-events" if !on_lambda => Err(ConfigError(
            "FUNCTION_ROLE=mail-events runs only on AWS Lambda (SNS delivers its events)".into(),
        )),
        "mail-events" => {
            let topic_arn = env
                .mail_events_topic_arn
                .as_deref()
                .map(str::trim)
                .filter(|arn| arn.starts_with("arn:aws") && arn.contains(":sns:"))
                .ok_or_else(|| {
                    ConfigError(
                        "MAIL_EVENTS_TOPIC_ARN must be the SNS topic's ARN when \
                         FUNCTION_ROLE=mail-events"
                            .into(),
                    )
                })?;
            Ok(Some(MailEventsSettings {
                topic_arn: topic_arn.to_owned(),
            }))
        }
        other => Err(ConfigError(format!(
            "FUNCTION_ROLE must be `api` or `mail-events`, got {other:?}"
        ))),
    }
}

fn mail_templates(env: &Environment) -> Result<MailTemplateSettings, ConfigError> {
    let site_name = env.mail_site_name.trim();
    if site_name.is_empty() || site_name.chars().count() > 64 || site_name.contains(['\n', '\r']) {
        return Err(ConfigError(
            "MAIL_SITE_NAME must be 1 to 64 characters on one line".into(),
        ));
    }
    let dir = env
        .mail_templates_dir
        .as_deref()
        .map(str::trim)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from);
    if let Some(dir) = &dir {
        if !dir.is_dir() {
            return Err(ConfigError(format!(
                "MAIL_TEMPLATES_DIR {} is not a folder",
                dir.display()
            )));
        }
    }
    Ok(MailTemplateSettings {
        dir,
        site_name: site_name.to_owned(),
    })
}

fn decoy_address(raw: &str) -> Result<Option<String>, ConfigError> {
    match raw.trim() {
        off if off.eq_ignore_ascii_case("off") => Ok(None),
        address if address.contains('@') => Ok(Some(address.to_owned())),
        other => Err(ConfigError(format!(
            "SES_DECOY_ADDRESS must be an email address or `off`, got {other:?}"
        ))),
    }
}

/// The pages' base URL, ending in `/`; by default the local server's own, which serves them.
fn pages_url(env: &Environment, on_lambda: bool) -> Result<Option<String>, ConfigError> {
    let Some(raw) = env.pages_url.as_deref().map(str::trim) else {
        return Ok((!on_lambda).then(|| format!("http://localhost:{}/", env.port)));
    };
    if !(raw.starts_with("https://") || raw.starts_with("http://")) || raw.contains(['#', '?']) {
        return Err(ConfigError(format!(
            "PAGES_URL must be an http(s) URL without a query or fragment, got {raw:?}"
        )));
    }
    Ok(Some(if raw.ends_with('/') {
        raw.to_owned()
    } else {
        format!("{raw}/")
    }))
}

fn encode(part: &str) -> String {
    percent_encoding::utf8_percent_encode(part, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests;
