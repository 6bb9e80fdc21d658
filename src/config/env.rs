//! The environment as the operator writes it: every variable otp-login reads, with its default.
//! Nothing here is checked beyond its type; `Settings::parse` turns it into what the program uses.
use schemars::JsonSchema;
use secrecy::SecretString;
use serde::Deserialize;

/// Every setting of otp-login, each read from the environment variable of the same name in
/// upper case (`database_url` from `DATABASE_URL`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(
    title = "otp-login settings (environment variables)",
    rename_all = "SCREAMING_SNAKE_CASE"
)]
pub struct Environment {
    /// Database connection URL (`mysql://user:pass@host:3306/db` or `sqlite://file.db?mode=rwc`).
    /// When unset, `DB_HOST`/`DB_USER`/`DB_PASSWORD`/`DB_NAME` are used; when those are unset
    /// too, an embedded SQLite file `otp-login.db`.
    #[schemars(with = "Option<String>")]
    pub database_url: Option<SecretString>,
    /// MySQL host, as the old service configured it (used only without `DATABASE_URL`).
    pub db_host: Option<String>,
    /// MySQL port for `DB_HOST`.
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
    pub bind: String,
    /// Port the local server listens on.
    pub port: u16,
    /// Key the private halves of the token signing keys (RS256, kept in the database) are
    /// sealed under, at least 32 bytes. Random per process when unset (development only: the
    /// signing key is then this process's own and tokens die with it).
    #[schemars(with = "Option<String>")]
    pub jwt_secret: Option<SecretString>,
    /// Key for the HMAC-SHA-256 of stored one-time codes, at least 32 bytes, shared by every
    /// instance and different from `JWT_SECRET`. Random per process when unset (development only).
    #[schemars(with = "Option<String>")]
    pub otp_secret: Option<SecretString>,
    /// AWS Secrets Manager secret holding `JWT_SECRET` (the whole string, or a `JWT_SECRET`
    /// field of a JSON secret), read at start-up instead of the variable.
    pub jwt_secret_arn: Option<String>,
    /// The same for `OTP_SECRET`.
    pub otp_secret_arn: Option<String>,
    /// How long a one-time code stays valid, in seconds (60 to 600).
    pub otp_ttl_seconds: u64,
    /// Wrong tries after which a code is dead (at least 1).
    pub otp_max_attempts: u32,
    /// Wrong codes in a row, across codes, after which sign-in by code is locked until the
    /// password is reset; the user is told by mail (1 to 100).
    pub otp_lock_after: u32,
    /// Lifetime of an access token, in seconds (300 to 86400). Outside verifiers see a
    /// revocation within this time; `/refresh` renews the token before it ends.
    pub token_ttl_seconds: u64,
    /// How long a refresh token stays usable unused, in seconds (1 hour to 365 days).
    pub refresh_idle_seconds: u64,
    /// The longest a session lasts however often it is refreshed, in seconds (at least the
    /// idle time, at most 3650 days); the user signs in with a code again after it.
    pub refresh_max_age_seconds: u64,
    /// How long after a refresh its spent token still renews instead of ending the session,
    /// for two tabs refreshing at once, in seconds (0 to 10).
    pub refresh_reuse_grace_seconds: u64,
    /// `iss` of access tokens: the URL the service is reached at, under which verifiers find
    /// `/.well-known/openid-configuration`. Default: `http://localhost:PORT` off Lambda;
    /// required on Lambda.
    pub token_issuer: Option<String>,
    /// `aud` of access tokens: one audience, or several separated by commas (tokens then carry
    /// them all; each verifier accepts its own).
    pub token_audience: String,
    /// Answer CORS (and preflights) in the app. Turn off only when the Lambda Function URL's
    /// own CORS settings are used instead: both at once send duplicate headers browsers reject.
    pub cors_enabled: bool,
    /// Comma-separated origins allowed by CORS, or `*` for any.
    pub cors_allowed_origins: String,
    /// Folder of static pages served at `/` when it exists.
    pub frontend_dir: String,
    /// Requests to the operations that take a password, a code or an address to mail (register,
    /// login, verify, request-password-reset, reset-password, change-password) per client
    /// address, as `30/1m`; several limits separated by commas, or `off`. Units: s, m, h, d.
    pub rate_limit_per_address: String,
    /// Codes sent per username, counted apart for sign-in and reset codes.
    pub rate_limit_code_sends: String,
    /// Codes sent to sub-addresses (`name+tag@`) of one mailbox, across tags and purposes: so
    /// that accounts on `victim+1@`, `victim+2@`… cannot flood `victim@`. Mail to the mailbox's
    /// own address does not count here, so such a flood cannot hold back the owner's codes.
    pub rate_limit_mailbox_sends: String,
    /// Sign-in code checks per username (each code also dies after `OTP_MAX_ATTEMPTS` wrong
    /// tries). Only checks that carry the code's challenge, or come from the address that asked
    /// for it, count: nobody else can reach the code.
    pub rate_limit_code_verifies: String,
    /// Reset code checks per username, whoever sends them (anyone can ask for a reset code).
    /// The long window bounds guessing: see SECURITY.md. The reset mail's link is never limited.
    pub rate_limit_reset_code_checks: String,
    /// Wrong passwords per username, whatever the back-off (NIST SP 800-63B: at most 100).
    pub rate_limit_password_failures: String,
    /// Consecutive wrong passwords after which each further try waits 2^(n - this) seconds
    /// (0 turns the back-off off).
    pub password_backoff_after: u32,
    /// Longest back-off after wrong passwords, in seconds.
    pub password_backoff_max_seconds: u64,
    /// Take the client address from `X-Forwarded-For` (its last entry, the one the trusted proxy
    /// added). Only behind a proxy that sets it; on Lambda the request context is used anyway.
    pub trust_forwarded_for: bool,
    /// IPv6 clients are limited per network of this many bits (32 to 128): one subscriber
    /// usually gets a whole /64 and could rotate addresses inside it.
    pub client_ipv6_prefix: u8,
    /// Which mailer sends codes: `ses`, `smtp` (the server at `SMTP_URL`), or `dev` (writes
    /// codes to the log; never on Lambda). Default: `ses` when `SENDER_EMAIL` is set, `dev`
    /// otherwise.
    #[schemars(with = "Option<MailerKind>")]
    pub mailer: Option<String>,
    /// The sender, `noreply@example.com` or `otp-login <noreply@example.com>` (verified in SES
    /// when SES sends).
    pub sender_email: Option<String>,
    /// The SMTP server for `MAILER=smtp`: `smtps://user:pass@host:465` (TLS),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS), or `smtp://localhost:1025` (plain,
    /// for a local mail catcher). A secret: never logged.
    #[schemars(with = "Option<String>")]
    pub smtp_url: Option<SecretString>,
    /// What this process serves: `api` (the HTTP operations), or `mail-events` (on Lambda, the
    /// SES bounce and complaint events SNS delivers from `MAIL_EVENTS_TOPIC_ARN`).
    pub function_role: String,
    /// The one SNS topic whose mail events the `mail-events` function reads; records from any
    /// other topic are refused.
    pub mail_events_topic_arn: Option<String>,
    /// Longest wait for the SMTP server to take a message, in seconds (1 to 30).
    pub smtp_timeout_seconds: u64,
    /// A folder of mail templates replacing the compiled-in ones of the same name
    /// (`layout.html`, `en/sign_in_code.txt`, `de/sign_in_code.html`…; docs/mail.md).
    pub mail_templates_dir: Option<String>,
    /// How mail names the service (and the sender, when `SENDER_EMAIL` gives no name).
    pub mail_site_name: String,
    /// Where the pages (`frontend/`) are served, e.g. `https://d111111abcdef8.cloudfront.net/`:
    /// the reset mail links to its `reset.html`. Default: `http://localhost:PORT/` off Lambda;
    /// on Lambda, without it, reset mails carry no link.
    pub pages_url: Option<String>,
    /// Where SES sends the decoy of a reset mail for an unknown account, so that the answer takes
    /// as long as for a known one (`off` to send none; timing may then tell).
    pub ses_decoy_address: String,
    /// SES configuration set to send with (for delivery events), if any.
    pub ses_configuration_set: Option<String>,
    /// Longest wait for SES to accept a message, in seconds (1 to 30).
    pub ses_timeout_seconds: u64,
    /// AWS region of SES, read by the AWS SDK (Lambda sets it). `AWS_ENDPOINT_URL_SESV2` and
    /// the standard credential variables are read by the SDK too.
    pub aws_region: Option<String>,
    /// Set by AWS Lambda itself: its presence means "serve Lambda events, not a TCP port".
    pub aws_lambda_runtime_api: Option<String>,
    /// Mail the owner when their password is changed or reset (when, from which address, and
    /// what to do if it was not them).
    pub notice_password_changed: bool,
    /// Mail the old address when the account's address is changed (when, from which address,
    /// and what to do if it was not them).
    pub notice_email_changed: bool,
    /// Mail the owner when someone signs in from a client address the account never signed in
    /// from before (as far as the kept activity tells; the first sign-in is not news).
    pub notice_new_sign_in: bool,
    /// Mail the owner when wrong codes lock sign-in by code.
    pub notice_code_sign_in_locked: bool,
    /// Days the owner's activity (`GET /me/activity`) is kept (1 to 3650).
    pub activity_retention_days: u32,
    /// Days after which an account registered through `/register` is removed when no code has
    /// proven its address (1 to 365, or 0 for never). Accounts that existed before the service
    /// recorded it never lapse.
    pub unproven_account_days: u32,
    /// Serve the figures (`/metrics`, Prometheus text format) on this separate `host:port`,
    /// e.g. `127.0.0.1:9464`. Unset: no metrics listener. Never the public port, never on
    /// Lambda (the figures go to CloudWatch as EMF lines there).
    pub metrics_addr: Option<String>,
    /// Write one CloudWatch Embedded Metric Format line per request on standard output (for
    /// CloudWatch Logs or the CloudWatch agent). Default: yes on Lambda, no elsewhere.
    pub metrics_emf: Option<bool>,
    /// The CloudWatch namespace of the EMF figures.
    pub metrics_namespace: String,
}

/// The values `MAILER` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MailerKind {
    Dev,
    Ses,
    Smtp,
}

impl Default for Environment {
    fn default() -> Self {
        Self {
            database_url: None,
            db_host: None,
            db_port: 3306,
            db_user: None,
            db_password: None,
            db_name: None,
            db_max_connections: None,
            run_migrations: None,
            bind: "127.0.0.1".into(),
            port: 3000,
            jwt_secret: None,
            otp_secret: None,
            jwt_secret_arn: None,
            otp_secret_arn: None,
            otp_ttl_seconds: 300,
            otp_max_attempts: 5,
            otp_lock_after: 100,
            token_ttl_seconds: 900,
            refresh_idle_seconds: 30 * 86_400,
            refresh_max_age_seconds: 90 * 86_400,
            refresh_reuse_grace_seconds: 10,
            token_issuer: None,
            token_audience: "otp-login".into(),
            cors_enabled: true,
            cors_allowed_origins: "*".into(),
            frontend_dir: "frontend".into(),
            rate_limit_per_address: "30/1m".into(),
            rate_limit_code_sends: "1/1m,5/1h".into(),
            rate_limit_mailbox_sends: "1/1m,5/1h".into(),
            rate_limit_code_verifies: "10/1h".into(),
            rate_limit_reset_code_checks: "10/1h,20/365d".into(),
            rate_limit_password_failures: "100/1h".into(),
            password_backoff_after: 5,
            password_backoff_max_seconds: 900,
            trust_forwarded_for: false,
            client_ipv6_prefix: 64,
            mailer: None,
            sender_email: None,
            smtp_url: None,
            function_role: "api".into(),
            mail_events_topic_arn: None,
            smtp_timeout_seconds: 5,
            mail_templates_dir: None,
            mail_site_name: "otp-login".into(),
            pages_url: None,
            ses_decoy_address: "success@simulator.amazonses.com".into(),
            ses_configuration_set: None,
            ses_timeout_seconds: 5,
            aws_region: None,
            aws_lambda_runtime_api: None,
            notice_password_changed: true,
            notice_email_changed: true,
            notice_new_sign_in: true,
            notice_code_sign_in_locked: true,
            activity_retention_days: crate::auth::service::ACTIVITY_RETENTION_DAYS,
            unproven_account_days: 7,
            metrics_addr: None,
            metrics_emf: None,
            metrics_namespace: "otp-login".into(),
        }
    }
}

/// A type error from the environment (`PORT=eighty`), naming the variable as the user typed it.
pub fn describe_envy_error(error: envy::Error) -> String {
    match error {
        envy::Error::MissingValue(field) => format!("{} is required", field.to_uppercase()),
        envy::Error::Custom(message) => match message.rsplit_once(" provided by ") {
            Some((what, field)) => format!("{} is invalid: {what}", field.to_uppercase()),
            None => message,
        },
    }
}
