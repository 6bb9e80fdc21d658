//! Typed settings read once from the environment; secrets stay wrapped until they are used.
use std::time::Duration;

use schemars::JsonSchema;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::auth::limits::{parse_limits, RateLimits};

/// Where the service keeps its data when nothing is configured: a file beside the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://otp-login.db?mode=rwc";

/// Every setting of otp-login, each read from the environment variable of the same name in
/// upper case (`database_url` from `DATABASE_URL`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[schemars(
    title = "otp-login settings (environment variables)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub struct Settings {
    /// Database connection URL (`mysql://user:pass@host:3306/db` or `sqlite://file.db?mode=rwc`).
    /// When unset, `DB_HOST`/`DB_USER`/`DB_PASSWORD`/`DB_NAME` are used; when those are unset
    /// too, an embedded SQLite file `otp-login.db`.
    pub database_url: Option<String>,
    /// MySQL host, as the old service configured it (used only without `DATABASE_URL`).
    pub db_host: Option<String>,
    /// MySQL port for `DB_HOST`.
    #[serde(default = "default_db_port")]
    pub db_port: u16,
    /// MySQL user for `DB_HOST`.
    pub db_user: Option<String>,
    /// MySQL password for `DB_HOST`.
    #[schemars(with = "Option<String>")]
    pub db_password: Option<SecretString>,
    /// MySQL database name for `DB_HOST`.
    pub db_name: Option<String>,
    /// Largest number of pooled database connections. Default: 10 locally, 2 on Lambda (an
    /// instance serves one request at a time).
    pub db_max_connections: Option<u32>,
    /// Apply pending migrations at start-up. Default: yes locally, no on Lambda (run
    /// `otp-login migrate` at deploy time instead).
    pub run_migrations: Option<bool>,
    /// Address the local server listens on.
    #[serde(default = "default_bind")]
    pub bind: String,
    /// Port the local server listens on.
    #[serde(default = "default_port")]
    pub port: u16,
    /// Key for signing session tokens (HS256), at least 32 bytes. Random per process when unset
    /// (development only: tokens then die with the process).
    #[schemars(with = "Option<String>")]
    pub jwt_secret: Option<SecretString>,
    /// Key for the HMAC-SHA-256 of stored one-time codes, at least 32 bytes, shared by every
    /// instance. Random per process when unset (development only).
    #[schemars(with = "Option<String>")]
    pub otp_secret: Option<SecretString>,
    /// AWS Secrets Manager secret holding `JWT_SECRET` (the whole string, or a `JWT_SECRET`
    /// field of a JSON secret), read at start-up instead of the variable.
    pub jwt_secret_arn: Option<String>,
    /// The same for `OTP_SECRET`.
    pub otp_secret_arn: Option<String>,
    /// How long a one-time code stays valid, in seconds (60 to 600).
    #[serde(default = "default_otp_ttl")]
    pub otp_ttl_seconds: u64,
    /// Wrong tries after which a code is dead.
    #[serde(default = "default_otp_max_attempts")]
    pub otp_max_attempts: u32,
    /// Lifetime of a session token, in seconds.
    #[serde(default = "default_token_ttl")]
    pub token_ttl_seconds: u64,
    /// Answer CORS (and preflights) in the app. Turn off only when the Lambda Function URL's
    /// own CORS settings are used instead: both at once send duplicate headers browsers reject.
    #[serde(default = "default_true")]
    pub cors_enabled: bool,
    /// Comma-separated origins allowed by CORS, or `*` for any.
    #[serde(default = "default_cors_origins")]
    pub cors_allowed_origins: String,
    /// Folder of static pages served at `/` when it exists.
    #[serde(default = "default_frontend_dir")]
    pub frontend_dir: String,
    /// Requests to `/register`, `/login` and `/verify` per client address, as `30/1m`;
    /// several limits separated by commas, or `off`.
    #[serde(default = "default_limit_per_address")]
    pub rate_limit_per_address: String,
    /// Codes sent per username.
    #[serde(default = "default_limit_code_sends")]
    pub rate_limit_code_sends: String,
    /// Code checks per username (each code also dies after `OTP_MAX_ATTEMPTS` wrong tries).
    #[serde(default = "default_limit_code_verifies")]
    pub rate_limit_code_verifies: String,
    /// Wrong passwords per username, whatever the back-off (NIST SP 800-63B: at most 100).
    #[serde(default = "default_limit_password_failures")]
    pub rate_limit_password_failures: String,
    /// Consecutive wrong passwords after which each further try waits 2^(n - this) seconds.
    #[serde(default = "default_backoff_after")]
    pub password_backoff_after: u32,
    /// Longest back-off after wrong passwords, in seconds.
    #[serde(default = "default_backoff_max")]
    pub password_backoff_max_seconds: u64,
    /// Take the client address from `X-Forwarded-For` (its last entry, the one the trusted proxy
    /// added). Only behind a proxy that sets it; on Lambda the request context is used anyway.
    #[serde(default)]
    pub trust_forwarded_for: bool,
    /// Which mailer sends codes: `ses`, or `dev` (writes codes to the log; never on Lambda).
    /// Default: `ses` when `SENDER_EMAIL` is set, `dev` otherwise.
    #[schemars(with = "Option<MailerKind>")]
    pub mailer: Option<String>,
    /// The SES-verified sender, `noreply@example.com` or `otp-login <noreply@example.com>`.
    pub sender_email: Option<String>,
    /// SES configuration set to send with (for delivery events), if any.
    pub ses_configuration_set: Option<String>,
    /// Longest wait for SES to accept a message, in seconds (1 to 30).
    #[serde(default = "default_ses_timeout")]
    pub ses_timeout_seconds: u64,
    /// AWS region of SES, read by the AWS SDK (Lambda sets it). `AWS_ENDPOINT_URL_SESV2` and
    /// the standard credential variables are read by the SDK too.
    pub aws_region: Option<String>,
    /// Set by AWS Lambda itself: its presence means "serve Lambda events, not a TCP port".
    pub aws_lambda_runtime_api: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MailerKind {
    Dev,
    Ses,
}

/// The mailer the settings resolve to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailerChoice {
    Development,
    Ses { sender: String },
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
        let settings: Settings =
            envy::from_iter(vars).map_err(|e| ConfigError(describe_envy_error(e)))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if !(60..=600).contains(&self.otp_ttl_seconds) {
            return Err(ConfigError(format!(
                "OTP_TTL_SECONDS must be between 60 and 600, got {}",
                self.otp_ttl_seconds
            )));
        }
        if self.otp_max_attempts == 0 {
            return Err(ConfigError("OTP_MAX_ATTEMPTS must be at least 1".into()));
        }
        if !(60..=86_400).contains(&self.token_ttl_seconds) {
            return Err(ConfigError(format!(
                "TOKEN_TTL_SECONDS must be between 60 and 86400, got {}",
                self.token_ttl_seconds
            )));
        }
        if self.db_max_connections == Some(0) {
            return Err(ConfigError("DB_MAX_CONNECTIONS must be at least 1".into()));
        }
        for (name, secret, arn) in [
            ("JWT_SECRET", &self.jwt_secret, &self.jwt_secret_arn),
            ("OTP_SECRET", &self.otp_secret, &self.otp_secret_arn),
        ] {
            if secret.is_some() && arn.is_some() {
                return Err(ConfigError(format!("set {name} or {name}_ARN, not both")));
            }
            if arn.is_some() {
                continue;
            }
            match secret {
                Some(s) if s.expose_secret().len() < 32 => {
                    return Err(ConfigError(format!(
                        "{name} must be at least 32 bytes long"
                    )));
                }
                // Per-process random keys would break every token and code across instances.
                None if self.on_lambda() => {
                    return Err(ConfigError(format!(
                        "{name} (or {name}_ARN) is required on AWS Lambda"
                    )));
                }
                _ => {}
            }
        }
        if !(1..=30).contains(&self.ses_timeout_seconds) {
            return Err(ConfigError(format!(
                "SES_TIMEOUT_SECONDS must be between 1 and 30, got {}",
                self.ses_timeout_seconds
            )));
        }
        self.rate_limits()?;
        self.mailer()?;
        self.database_url()?;
        Ok(())
    }

    /// SES when asked for (or when a sender is configured); the development mailer only off
    /// Lambda, because its whole job is to put codes in the log.
    pub fn mailer(&self) -> Result<MailerChoice, ConfigError> {
        let sender = self.sender_email.as_deref().map(str::trim);
        if let Some(sender) = sender {
            if !sender.contains('@') {
                return Err(ConfigError(format!(
                    "SENDER_EMAIL must be an email address, got {sender:?}"
                )));
            }
        }
        let kind = match self.mailer.as_deref().map(str::trim) {
            None => None,
            Some("dev") => Some(MailerKind::Dev),
            Some("ses") => Some(MailerKind::Ses),
            Some(other) => {
                return Err(ConfigError(format!(
                    "MAILER must be `ses` or `dev`, got {other:?}"
                )))
            }
        };
        match (kind, sender) {
            (Some(MailerKind::Dev), _) | (None, None) if self.on_lambda() => Err(ConfigError(
                "SENDER_EMAIL is required on AWS Lambda (the development mailer only logs codes)"
                    .into(),
            )),
            (Some(MailerKind::Dev), _) | (None, None) => Ok(MailerChoice::Development),
            (Some(MailerKind::Ses), None) => Err(ConfigError(
                "SENDER_EMAIL is required when MAILER=ses".into(),
            )),
            (_, Some(sender)) => Ok(MailerChoice::Ses {
                sender: sender.to_owned(),
            }),
        }
    }

    /// The rate limits, each parsed with the variable it came from named in any error.
    pub fn rate_limits(&self) -> Result<RateLimits, ConfigError> {
        let parse = |value: &str, name: &str| {
            parse_limits(value).map_err(|e| ConfigError(format!("{name} is invalid: {e}")))
        };
        Ok(RateLimits {
            per_address: parse(&self.rate_limit_per_address, "RATE_LIMIT_PER_ADDRESS")?,
            code_sends: parse(&self.rate_limit_code_sends, "RATE_LIMIT_CODE_SENDS")?,
            code_verifies: parse(&self.rate_limit_code_verifies, "RATE_LIMIT_CODE_VERIFIES")?,
            password_failures: parse(
                &self.rate_limit_password_failures,
                "RATE_LIMIT_PASSWORD_FAILURES",
            )?,
            backoff_after: self.password_backoff_after,
            backoff_cap: Duration::from_secs(self.password_backoff_max_seconds),
        })
    }

    pub fn ses_timeout(&self) -> Duration {
        Duration::from_secs(self.ses_timeout_seconds)
    }

    /// The database to connect to: `DATABASE_URL`, else one built from the old service's
    /// `DB_*` variables, else the embedded SQLite default.
    pub fn database_url(&self) -> Result<SecretString, ConfigError> {
        if let Some(url) = &self.database_url {
            return Ok(url.clone().into());
        }
        let Some(host) = &self.db_host else {
            return Ok(DEFAULT_DATABASE_URL.into());
        };
        let required = |value: &Option<String>, name: &str| {
            value
                .clone()
                .ok_or_else(|| ConfigError(format!("{name} is required when DB_HOST is set")))
        };
        let user = required(&self.db_user, "DB_USER")?;
        let name = required(&self.db_name, "DB_NAME")?;
        let password = self
            .db_password
            .as_ref()
            .map(|p| format!(":{}", encode(p.expose_secret())))
            .unwrap_or_default();
        Ok(format!(
            "mysql://{}{password}@{host}:{}/{}",
            encode(&user),
            self.db_port,
            encode(&name)
        )
        .into())
    }

    /// Whether this process was started by the Lambda runtime.
    pub fn on_lambda(&self) -> bool {
        self.aws_lambda_runtime_api.is_some()
    }

    pub fn db_max_connections(&self) -> u32 {
        self.db_max_connections
            .unwrap_or(if self.on_lambda() { 2 } else { 10 })
    }

    pub fn run_migrations(&self) -> bool {
        self.run_migrations.unwrap_or(!self.on_lambda())
    }

    pub fn otp_ttl(&self) -> Duration {
        Duration::from_secs(self.otp_ttl_seconds)
    }

    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_seconds)
    }

    /// The JSON Schema of these settings, for `otp-login config-schema`.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(Settings)).expect("a schema is valid JSON")
    }
}

fn encode(part: &str) -> String {
    percent_encoding::utf8_percent_encode(part, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// envy names fields in lower case; name the variable the way the user typed it.
fn describe_envy_error(error: envy::Error) -> String {
    match error {
        envy::Error::MissingValue(field) => format!("{} is required", field.to_uppercase()),
        envy::Error::Custom(message) => match message.rsplit_once(" provided by ") {
            Some((what, field)) => format!("{} is invalid: {what}", field.to_uppercase()),
            None => message,
        },
    }
}

fn default_db_port() -> u16 {
    3306
}
fn default_true() -> bool {
    true
}
fn default_bind() -> String {
    "127.0.0.1".into()
}
fn default_port() -> u16 {
    3000
}
fn default_otp_ttl() -> u64 {
    300
}
fn default_otp_max_attempts() -> u32 {
    5
}
fn default_token_ttl() -> u64 {
    3600
}
fn default_cors_origins() -> String {
    "*".into()
}
fn default_limit_per_address() -> String {
    "30/1m".into()
}
fn default_limit_code_sends() -> String {
    "1/1m,5/1h".into()
}
fn default_limit_code_verifies() -> String {
    "10/1h".into()
}
fn default_limit_password_failures() -> String {
    "100/1h".into()
}
fn default_backoff_after() -> u32 {
    5
}
fn default_backoff_max() -> u64 {
    900
}
fn default_ses_timeout() -> u64 {
    5
}
fn default_frontend_dir() -> String {
    "frontend".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn defaults_to_embedded_sqlite_on_port_3000() {
        let s = settings(&[]).unwrap();
        assert_eq!(
            s.database_url().unwrap().expose_secret(),
            DEFAULT_DATABASE_URL
        );
        assert_eq!((s.bind.as_str(), s.port), ("127.0.0.1", 3000));
        assert_eq!(s.otp_ttl(), Duration::from_secs(300));
    }

    #[test]
    fn builds_mysql_url_from_the_old_services_variables() {
        let s = settings(&[
            ("DB_HOST", "db.example.com"),
            ("DB_USER", "admin"),
            ("DB_PASSWORD", "p@ss:w/rd"),
            ("DB_NAME", "user_id"),
        ])
        .unwrap();
        assert_eq!(
            s.database_url().unwrap().expose_secret(),
            "mysql://admin:p%40ss%3Aw%2Frd@db.example.com:3306/user%5Fid"
        );
    }

    #[test]
    fn database_url_wins_over_db_host() {
        let s = settings(&[("DATABASE_URL", "mysql://a@b/c"), ("DB_HOST", "x")]).unwrap();
        assert_eq!(s.database_url().unwrap().expose_secret(), "mysql://a@b/c");
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("PORT", "eighty")], "PORT"),
            (&[("OTP_TTL_SECONDS", "900")], "OTP_TTL_SECONDS"),
            (&[("JWT_SECRET", "short")], "JWT_SECRET"),
            (&[("DB_HOST", "h"), ("DB_NAME", "n")], "DB_USER"),
            (&[("RUN_MIGRATIONS", "maybe")], "RUN_MIGRATIONS"),
        ];
        for (vars, name) in cases {
            let message = settings(vars).unwrap_err().to_string();
            assert!(message.contains(name), "{message:?} should name {name}");
        }
    }

    #[test]
    fn lambda_requires_both_secrets_a_sender_and_skips_migrations() {
        let lambda = ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
        let secret = "k".repeat(32);
        let message = settings(&[lambda, ("OTP_SECRET", &secret)])
            .unwrap_err()
            .to_string();
        assert!(message.contains("JWT_SECRET"), "{message}");
        let secrets = [("OTP_SECRET", secret.as_str()), ("JWT_SECRET", &secret)];
        let message = settings(&[lambda, secrets[0], secrets[1]])
            .unwrap_err()
            .to_string();
        assert!(message.contains("SENDER_EMAIL"), "{message}");
        let sender = ("SENDER_EMAIL", "noreply@example.com");
        let s = settings(&[lambda, secrets[0], secrets[1], sender]).unwrap();
        assert!(s.on_lambda() && !s.run_migrations());
        let from_manager = [
            (
                "JWT_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:jwt",
            ),
            (
                "OTP_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:1:secret:otp",
            ),
        ];
        assert!(settings(&[lambda, from_manager[0], from_manager[1], sender]).is_ok());
        let both = settings(&[lambda, secrets[0], from_manager[0], from_manager[1], sender]);
        assert!(both.unwrap_err().to_string().contains("not both"));
        let dev_on_lambda = settings(&[lambda, secrets[0], secrets[1], sender, ("MAILER", "dev")]);
        assert!(dev_on_lambda
            .unwrap_err()
            .to_string()
            .contains("SENDER_EMAIL"));
        assert!(settings(&[]).unwrap().run_migrations());
    }

    #[test]
    fn ses_is_chosen_by_a_sender_and_dev_otherwise() {
        assert_eq!(
            settings(&[]).unwrap().mailer().unwrap(),
            MailerChoice::Development
        );
        let s = settings(&[("SENDER_EMAIL", " otp <noreply@example.com> ")]).unwrap();
        assert_eq!(
            s.mailer().unwrap(),
            MailerChoice::Ses {
                sender: "otp <noreply@example.com>".into()
            }
        );
        let forced_dev = settings(&[("SENDER_EMAIL", "a@example.com"), ("MAILER", "dev")]);
        assert_eq!(
            forced_dev.unwrap().mailer().unwrap(),
            MailerChoice::Development
        );
        for (vars, name) in [
            (&[("MAILER", "ses")][..], "SENDER_EMAIL"),
            (&[("MAILER", "carrier-pigeon")][..], "MAILER"),
            (&[("SENDER_EMAIL", "nobody")][..], "SENDER_EMAIL"),
            (&[("SES_TIMEOUT_SECONDS", "0")][..], "SES_TIMEOUT_SECONDS"),
            (
                &[("RATE_LIMIT_CODE_SENDS", "1/1m,5/1d")][..],
                "RATE_LIMIT_CODE_SENDS",
            ),
        ] {
            let message = settings(vars).unwrap_err().to_string();
            assert!(message.contains(name), "{message:?} should name {name}");
        }
    }

    #[test]
    fn schema_lists_every_variable() {
        let schema = Settings::json_schema();
        let properties = schema["properties"].as_object().unwrap();
        assert!(properties.contains_key("DATABASE_URL"));
        assert!(properties.contains_key("OTP_TTL_SECONDS"));
    }
}
