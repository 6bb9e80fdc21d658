//! `spawn_app` / `test_app()…spawn()`: a fresh server on port 0 with its own database and a
//! development mailer the test can read codes from.
use std::sync::Arc;

use otp_login::config::Settings;
use otp_login::mail::{CodeMessage, DevMailer, MailError, Mailer, Notice};
use otp_login::server::Application;
use rand::distr::{Alphanumeric, SampleString};
use reqwest::{Response, StatusCode};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{json, Value};

pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef0123";
pub const OTP_SECRET: &str = "test-otp-secret-0123456789abcdef0123";
pub const PASSWORD: &str = "correct horse battery";

/// The MariaDB server the tests create their databases on.
pub fn mariadb_server_url() -> String {
    std::env::var("TEST_MARIADB_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    MariaDb,
    Sqlite,
}

/// A database owned by one test, dropped when the last app using it is gone.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Arc<Self> {
        let name = format!("otp_test_{}", random_suffix().to_lowercase());
        match backend {
            Backend::MariaDb => {
                let server = mariadb_server_url();
                let admin = Database::connect(&server).await.unwrap_or_else(|e| {
                    panic!(
                        "MariaDB is not reachable at {server} ({e}). Start it (see README: \
                         Testing) or point TEST_MARIADB_URL at one."
                    )
                });
                admin
                    .execute_unprepared(&format!("CREATE DATABASE `{name}`"))
                    .await
                    .expect("create test database");
                Arc::new(Self {
                    url: format!("{server}/{name}"),
                    backend,
                    name,
                    _dir: None,
                })
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/{name}.db?mode=rwc", dir.path().display());
                Arc::new(Self {
                    url,
                    backend,
                    name,
                    _dir: Some(dir),
                })
            }
        }
    }

    pub async fn connect(&self) -> DatabaseConnection {
        Database::connect(&self.url)
            .await
            .expect("connect to test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.backend != Backend::MariaDb {
            return;
        }
        let statement = format!("DROP DATABASE IF EXISTS `{}`", self.name);
        // Drop runs inside the test's runtime, which cannot block on itself: use a thread.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                if let Ok(admin) = Database::connect(&mariadb_server_url()).await {
                    let _ = admin.execute_unprepared(&statement).await;
                }
            });
        })
        .join();
    }
}

pub fn random_suffix() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 12)
}

/// A code that is not `code`, for wrong-code tests.
pub fn other_than(code: &str) -> String {
    let n: u32 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

pub fn unique_email() -> String {
    format!("user-{}@example.com", random_suffix().to_lowercase())
}

fn settings_for(db: &TestDb, extra: &[(&str, &str)]) -> Settings {
    let mut vars: std::collections::HashMap<String, String> = [
        ("DATABASE_URL".to_owned(), db.url.clone()),
        ("PORT".to_owned(), "0".to_owned()),
        ("JWT_SECRET".to_owned(), JWT_SECRET.to_owned()),
        ("OTP_SECRET".to_owned(), OTP_SECRET.to_owned()),
        ("FRONTEND_DIR".to_owned(), "/nonexistent".to_owned()),
        // Limits are off unless a test is about them: tests repeat requests quickly.
        ("RATE_LIMIT_PER_ADDRESS".to_owned(), "off".to_owned()),
        ("RATE_LIMIT_CODE_SENDS".to_owned(), "off".to_owned()),
        ("RATE_LIMIT_CODE_VERIFIES".to_owned(), "off".to_owned()),
        ("RATE_LIMIT_RESET_CODE_CHECKS".to_owned(), "off".to_owned()),
        ("RATE_LIMIT_MAILBOX_SENDS".to_owned(), "off".to_owned()),
        ("RATE_LIMIT_PASSWORD_FAILURES".to_owned(), "off".to_owned()),
        ("PASSWORD_BACKOFF_AFTER".to_owned(), "0".to_owned()),
    ]
    .into();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::from_vars(vars).expect("test settings are valid")
}

/// Runs the binary with only `env` (no `.env` from a checkout: it runs in an empty folder).
pub fn otp_login(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    std::process::Command::new(env!("CARGO_BIN_EXE_otp-login"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .output()
        .unwrap()
}

pub fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub struct TestApp {
    pub address: String,
    pub db: Arc<TestDb>,
    pub client: reqwest::Client,
    /// The server task; it ends when the app was built `stop_on` a signal that came.
    pub server: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// The app's own pool (a clone shares it).
    pub pool: DatabaseConnection,
    /// The app's account rules, for what no request triggers on demand (the clean-ups).
    pub auth: otp_login::auth::AuthService,
    dev_mailer: Option<Arc<DevMailer>>,
}

/// How a test app starts. Unless a method says otherwise: a fresh MariaDB database of its
/// own, the test keys, rate limits off, and a development mailer the test reads codes from.
#[must_use]
pub struct AppBuilder {
    backend: Backend,
    db: Option<Arc<TestDb>>,
    env: Vec<(String, String)>,
    mailer: Option<Arc<dyn Mailer>>,
    stop: Option<tokio::sync::oneshot::Receiver<()>>,
}

pub fn test_app() -> AppBuilder {
    AppBuilder {
        backend: Backend::MariaDb,
        db: None,
        env: vec![],
        mailer: None,
        stop: None,
    }
}

/// A fresh app on its own MariaDB database.
pub async fn spawn_app() -> TestApp {
    test_app().spawn().await
}

impl AppBuilder {
    /// A fresh database on this backend instead of MariaDB.
    pub fn on(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// This database instead of a fresh one (several apps may share one, like Lambda
    /// instances).
    pub fn sharing(mut self, db: &Arc<TestDb>) -> Self {
        self.db = Some(db.clone());
        self
    }

    /// These environment variables on top of the test defaults.
    pub fn env(mut self, vars: &[(&str, &str)]) -> Self {
        self.env
            .extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self
    }

    /// Send codes with `mailer`; the app then has no development mailer to read codes from.
    pub fn mailer(mut self, mailer: impl Mailer + 'static) -> Self {
        self.mailer = Some(Arc::new(mailer));
        self
    }

    /// Shut the server down gracefully when `stop` fires (as SIGTERM does for the binary).
    pub fn stop_on(mut self, stop: tokio::sync::oneshot::Receiver<()>) -> Self {
        self.stop = Some(stop);
        self
    }

    pub async fn spawn(self) -> TestApp {
        let db = match self.db {
            Some(db) => db,
            None => TestDb::new(self.backend).await,
        };
        let vars: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let settings = settings_for(&db, &vars);
        let (mailer, dev_mailer): (Arc<dyn Mailer>, _) = match self.mailer {
            Some(mailer) => (mailer, None),
            None => {
                let dev = Arc::new(DevMailer::default());
                (dev.clone(), Some(dev))
            }
        };
        let app = Application::build(&settings, mailer)
            .await
            .expect("build app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let auth = app.auth().clone();
        let pool = auth.database().clone();
        let server = match self.stop {
            Some(stop) => tokio::spawn(app.run_until(async {
                let _ = stop.await;
            })),
            None => tokio::spawn(app.run_until(std::future::pending())),
        };
        TestApp {
            address,
            db,
            client: reqwest::Client::new(),
            server,
            pool,
            auth,
            dev_mailer,
        }
    }
}

impl TestApp {
    /// The development mailer this app sends with.
    pub fn mailer(&self) -> &DevMailer {
        self.dev_mailer
            .as_deref()
            .expect("this app sends with another mailer: read what it sent there")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn register(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/register",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/login",
            &json!({"username": username, "password": password}),
        )
        .await
    }

    pub async fn verify(&self, username: &str, code: &str) -> Response {
        self.post_json("/verify", &json!({"username": username, "code": code}))
            .await
    }

    pub async fn me(&self, token: &str) -> Response {
        self.client
            .get(self.url("/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn request_reset(&self, username: &str) -> Response {
        self.post_json("/request-password-reset", &json!({"username": username}))
            .await
    }

    pub async fn reset_password(&self, username: &str, code: &str, new_password: &str) -> Response {
        self.post_json(
            "/reset-password",
            &json!({"username": username, "code": code, "new_password": new_password}),
        )
        .await
    }

    /// `POST /logout` with `body`, or with no body at all.
    pub async fn logout(&self, token: &str, body: Option<Value>) -> Response {
        let request = self.client.post(self.url("/logout")).bearer_auth(token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request.send().await.expect("request")
    }

    /// `POST /change-email` with the signed-in `token`.
    pub async fn change_email(&self, token: &str, new: &str, password: &str) -> Response {
        self.client
            .post(self.url("/change-email"))
            .bearer_auth(token)
            .json(&json!({"new_username": new, "current_password": password}))
            .send()
            .await
            .expect("request")
    }

    /// `POST /confirm-email-change` with the signed-in `token`.
    pub async fn confirm_email_change(&self, token: &str, code: &str) -> Response {
        self.client
            .post(self.url("/confirm-email-change"))
            .bearer_auth(token)
            .json(&json!({"code": code}))
            .send()
            .await
            .expect("request")
    }

    /// `GET /me/activity` with `query` (`""` or `"?limit=…"`).
    pub async fn activity(&self, token: &str, query: &str) -> Response {
        self.client
            .get(self.url(&format!("/me/activity{query}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn change_password(&self, token: &str, current: &str, new: &str) -> Response {
        self.client
            .post(self.url("/change-password"))
            .bearer_auth(token)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
            .await
            .expect("request")
    }

    /// The last sign-in code the development mailer sent to `username`.
    pub fn code_for(&self, username: &str) -> String {
        self.last_code(username, "Your sign-in code")
    }

    /// The last password reset code the development mailer sent to `username`.
    pub fn reset_code_for(&self, username: &str) -> String {
        self.last_code(username, "Your password reset code")
    }

    /// The last code of any kind and language the development mailer sent to `username`.
    pub fn code_for_any(&self, username: &str) -> String {
        self.mailer()
            .last_code_for(username)
            .unwrap_or_else(|| panic!("no code was sent to {username}"))
    }

    /// The last change-of-address code the development mailer sent to `username`.
    pub fn address_code_for(&self, username: &str) -> String {
        self.last_code(username, "Confirm your new address")
    }

    fn last_code(&self, username: &str, subject: &str) -> String {
        self.mailer()
            .messages_to(username)
            .into_iter()
            .rev()
            .find(|m| m.subject == subject && !m.code.is_empty())
            .map(|m| m.code)
            .unwrap_or_else(|| panic!("no {subject:?} was sent to {username}"))
    }

    /// How many messages with this subject went to `username`.
    pub fn mails_to(&self, username: &str, subject: &str) -> usize {
        self.mailer()
            .messages_to(username)
            .iter()
            .filter(|m| m.subject == subject)
            .count()
    }

    /// Registers `username` and logs in; the code is then waiting in the mailer.
    pub async fn register_and_login(&self, username: &str) {
        assert_status(self.register(username, PASSWORD).await, 201).await;
        assert_status(self.login(username, PASSWORD).await, 200).await;
    }

    /// The whole flow, returning the session token.
    pub async fn sign_in(&self, username: &str) -> String {
        assert_status(self.register(username, PASSWORD).await, 201).await;
        self.sign_in_again(username).await
    }

    /// Logs in and verifies as the registered `username`, returning another session's token.
    pub async fn sign_in_again(&self, username: &str) -> String {
        let body = self.sign_in_grant(username).await;
        body["token"].as_str().expect("token").to_owned()
    }

    /// Logs in and verifies as the registered `username`, returning the whole `/verify` answer:
    /// the access token and the refresh token of a new session.
    pub async fn sign_in_grant(&self, username: &str) -> Value {
        assert_status(self.login(username, PASSWORD).await, 200).await;
        assert_status(self.verify(username, &self.code_for(username)).await, 200).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_json("/refresh", &json!({"refresh_token": refresh_token}))
            .await
    }

    pub async fn connect_db(&self) -> DatabaseConnection {
        self.db.connect().await
    }

    /// How many rows `table` holds in this app's database.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let db = self.connect_db().await;
        let sql = format!("SELECT COUNT(*) AS n FROM {table}");
        db.query_one(Statement::from_string(db.get_database_backend(), sql))
            .await
            .expect("count rows")
            .expect("one row")
            .try_get("", "n")
            .expect("a count")
    }
}

/// Asserts the status and the `{"success", "message"}` contract; returns the body.
pub async fn assert_status(response: Response, expected: u16) -> Value {
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    let text = response.text().await.expect("body");
    assert_eq!(
        status,
        StatusCode::from_u16(expected).unwrap(),
        "body: {text}"
    );
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}: {text}"
    );
    let body: Value = serde_json::from_str(&text).expect("JSON body");
    assert_eq!(body["success"], json!(status.is_success()), "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

/// Asserts the status, the contract, and exactly this message.
pub async fn assert_answer(response: Response, expected: u16, message: &str) -> Value {
    let body = assert_status(response, expected).await;
    assert_eq!(body["message"], message, "{body}");
    body
}

impl TestApp {
    /// Logs in and verifies as the registered `email` from `address` (the app must trust
    /// `X-Forwarded-For`), returning the `/verify` answer.
    pub async fn sign_in_from(&self, address: &str, email: &str) -> Value {
        let login = json!({"username": email, "password": PASSWORD});
        let challenge = challenge_of(self.post_from(address, "/login", &login).await).await;
        let code = self.code_for(email);
        let verify = json!({"username": email, "code": code, "challenge": challenge});
        assert_status(self.post_from(address, "/verify", &verify).await, 200).await
    }

    /// The internal id of the user named exactly `email`, if there is one.
    pub async fn user_id(&self, email: &str) -> Option<i64> {
        let db = self.connect_db().await;
        db.query_one(Statement::from_sql_and_values(
            db.get_database_backend(),
            "SELECT id FROM users WHERE username = ?",
            [email.into()],
        ))
        .await
        .unwrap()
        .map(|row| row.try_get_by_index::<i32>(0).unwrap().into())
    }

    /// A JSON request from `address` (the app must trust `X-Forwarded-For`).
    pub async fn post_from(&self, address: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .header("x-forwarded-for", address)
            .json(body)
            .send()
            .await
            .expect("request")
    }
}

/// The challenge a 200 from `/login` or `/request-password-reset` carries.
pub async fn challenge_of(response: Response) -> String {
    let body = assert_status(response, 200).await;
    let challenge = body["challenge"].as_str().expect("a challenge").to_owned();
    assert_eq!(challenge.len(), 32, "{body}");
    challenge
}

/// A well-formed challenge (or link secret) that the service never issued.
pub fn random_challenge() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A mail service that takes `delay` to accept anything (SES on a bad day), then hands the
/// message to `delivered`.
pub struct SlowMailer {
    pub delivered: Arc<DevMailer>,
    pub delay: std::time::Duration,
}

#[async_trait::async_trait]
impl Mailer for SlowMailer {
    async fn send_code(&self, message: &CodeMessage) -> Result<(), MailError> {
        tokio::time::sleep(self.delay).await;
        self.delivered.send_code(message).await
    }

    async fn send_notice(&self, notice: &Notice) -> Result<(), MailError> {
        tokio::time::sleep(self.delay).await;
        self.delivered.send_notice(notice).await
    }

    async fn send_decoy(&self, message: &CodeMessage) -> Result<(), MailError> {
        tokio::time::sleep(self.delay).await;
        self.delivered.send_decoy(message).await
    }
}

/// Every `table.column` of the app's MariaDB database holding the user's id (in a column
/// that names a user) or text containing their address, with how many rows.
pub async fn traces_of(app: &TestApp, user_id: i64, email: &str) -> Vec<String> {
    let db = app.connect_db().await;
    let backend = db.get_database_backend();
    let columns = db
        .query_all(Statement::from_string(
            backend,
            "SELECT TABLE_NAME AS t, COLUMN_NAME AS c, DATA_TYPE AS d \
             FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()",
        ))
        .await
        .unwrap();
    let mut found = vec![];
    for column in columns {
        let table: String = column.try_get("", "t").unwrap();
        let name: String = column.try_get("", "c").unwrap();
        let kind: String = column.try_get("", "d").unwrap();
        let condition = if name == "user_id" || (table == "users" && name == "id") {
            format!("`{name}` = {user_id}")
        } else if ["varchar", "text", "char"].contains(&kind.as_str()) {
            format!("INSTR(`{name}`, ?) > 0")
        } else {
            continue;
        };
        let sql = format!("SELECT COUNT(*) AS n FROM `{table}` WHERE {condition}");
        let values: Vec<sea_orm::Value> = if condition.contains('?') {
            vec![email.into()]
        } else {
            vec![]
        };
        let n: i64 = db
            .query_one(Statement::from_sql_and_values(backend, sql, values))
            .await
            .unwrap()
            .unwrap()
            .try_get("", "n")
            .unwrap();
        if n > 0 {
            found.push(format!("{table}.{name}: {n}"));
        }
    }
    found
}

impl TestApp {
    /// Registers `email` from a browser whose `Accept-Language` is `accept_language`.
    pub async fn register_speaking(&self, email: &str, accept_language: &str) {
        let registered = self
            .client
            .post(self.url("/register"))
            .header("Accept-Language", accept_language)
            .json(&json!({"username": email, "password": PASSWORD}))
            .send()
            .await
            .expect("request");
        assert_status(registered, 201).await;
    }
}

/// Checks that `raw` is a sign-in code mail to `to` in German with the headers of an
/// automatic mail, a message id on `sender_domain` and the code in both parts; answers the
/// code.
pub fn assert_a_german_code_mail(raw: &[u8], to: &str, sender_domain: &str) -> String {
    let message = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("a MIME message");
    let recipient = message.to().and_then(|to| to.first()).expect("a recipient");
    assert_eq!(recipient.address(), Some(to));
    let header = |name: &str| message.header_raw(name).map(|v| v.trim().to_owned());
    assert_eq!(header("Content-Language").as_deref(), Some("de"));
    assert_eq!(header("Auto-Submitted").as_deref(), Some("auto-generated"));
    assert!(message.date().is_some());
    assert!(message
        .message_id()
        .is_some_and(|id| id.ends_with(&format!("@{sender_domain}"))));
    assert_ne!(message.subject(), Some("Your sign-in code"));
    let text = message.body_text(0).expect("a text part");
    let html = message.body_html(0).expect("an HTML part");
    assert!(html.contains("lang=\"de\""), "{html}");
    let code = crate::ses::code_in(&text);
    assert!(html.contains(&code), "{html}");
    code
}

/// Runs `otp-login users ARGS` against the app's database, with `env` besides.
pub fn users(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut all = vec!["users"];
    all.extend_from_slice(args);
    let mut vars = vec![("DATABASE_URL", app.db.url.as_str())];
    vars.extend_from_slice(env);
    otp_login(&all, &vars)
}

/// What MariaDB has counted on this connection so far (`Questions`: every statement a client
/// sent, `BEGIN` and `COMMIT` too). On a pool of one connection, the statements of whatever
/// runs between two readings, and one for the reading itself.
pub async fn statements_so_far(db: &DatabaseConnection) -> i64 {
    let backend = db.get_database_backend();
    let statement = Statement::from_string(backend, "SHOW SESSION STATUS LIKE 'Questions'");
    let row = db
        .query_one(statement)
        .await
        .expect("read the counters")
        .expect("a Questions row");
    let value: String = row.try_get("", "Value").expect("a value");
    value.parse().expect("a number")
}
