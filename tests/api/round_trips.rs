//! Statements per operation, as MariaDB itself counts them (`Questions`, which counts `BEGIN`
//! and `COMMIT` too) on the app's only connection, with the default limits: a later change
//! cannot add a round trip unnoticed. docs/capacity.md gives the table these pin.
use std::collections::BTreeMap;

use serde_json::Value;

use super::helpers::*;

/// The defaults of every limit, but the per-address one has room for this test's requests
/// (one rule either way, so the same statements).
const DEFAULT_LIMITS: &[(&str, &str)] = &[
    ("DB_MAX_CONNECTIONS", "1"),
    ("RATE_LIMIT_PER_ADDRESS", "1000/1m"),
    ("RATE_LIMIT_CODE_SENDS", "1/1m,5/1h"),
    ("RATE_LIMIT_MAILBOX_SENDS", "1/1m,5/1h"),
    ("RATE_LIMIT_CODE_VERIFIES", "10/1h"),
    ("RATE_LIMIT_RESET_CODE_CHECKS", "10/1h,20/365d"),
    ("RATE_LIMIT_PASSWORD_FAILURES", "100/1h"),
    ("PASSWORD_BACKOFF_AFTER", "5"),
];

/// Each operation is counted this many times, on a fresh user each, and its fewest kept: the
/// first run also creates the signing key, and one request in 20 or 100 also prunes.
const RUNS: usize = 4;

/// Counts statements around each step of a run, keeping the fewest per step.
struct Counter<'a> {
    app: &'a TestApp,
    /// What reading the counter costs by itself.
    reading: i64,
    fewest: BTreeMap<&'static str, i64>,
}

impl<'a> Counter<'a> {
    async fn new(app: &'a TestApp) -> Self {
        let first = statements_so_far(&app.pool).await;
        let reading = statements_so_far(&app.pool).await - first;
        Self {
            app,
            reading,
            fewest: BTreeMap::new(),
        }
    }

    async fn count<T>(
        &mut self,
        step: &'static str,
        run: impl std::future::Future<Output = T>,
    ) -> T {
        let before = statements_so_far(&self.app.pool).await;
        let answer = run.await;
        let spent = statements_so_far(&self.app.pool).await - before - self.reading;
        let fewest = self.fewest.entry(step).or_insert(spent);
        *fewest = (*fewest).min(spent);
        answer
    }
}

#[tokio::test]
async fn each_operation_costs_the_statements_the_capacity_table_gives() {
    let app = test_app().env(DEFAULT_LIMITS).spawn().await;
    let mut counter = Counter::new(&app).await;
    for _ in 0..RUNS {
        let username = unique_email();
        let registered = counter
            .count("register", app.register(&username, PASSWORD))
            .await;
        assert_status(registered, 201).await;
        let login = counter.count("login", app.login(&username, PASSWORD)).await;
        assert_status(login, 200).await;
        let code = app.code_for(&username);
        let verified = counter.count("verify", app.verify(&username, &code)).await;
        let grant: Value = assert_status(verified, 200).await;
        let token = grant["token"].as_str().expect("token");
        let me = counter.count("me", app.me(token)).await;
        assert_status(me, 200).await;
        let refresh_token = grant["refresh_token"].as_str().expect("refresh token");
        let refreshed = counter.count("refresh", app.refresh(refresh_token)).await;
        assert_status(refreshed, 200).await;
    }
    // Register, login and verify each write the one `account_events` row of the owner's
    // activity (registered, code sent, signed in) beside what they did before; verify also
    // the session's first refresh token. docs/capacity.md gives what each statement is.
    let expected = BTreeMap::from([
        ("register", 3),
        ("login", 7),
        ("verify", 6),
        ("me", 1),
        ("refresh", 4),
    ]);
    assert_eq!(counter.fewest, expected, "statements per operation");
}

#[tokio::test]
async fn a_flood_from_one_address_costs_no_statement_once_it_is_refused() {
    let limits = [
        ("DB_MAX_CONNECTIONS", "1"),
        ("TRUST_FORWARDED_FOR", "true"),
        ("RATE_LIMIT_PER_ADDRESS", "2/1m"),
    ];
    let app = test_app().env(&limits).spawn().await;
    let mut counter = Counter::new(&app).await;
    // Each address floods in turn; the fewest statements of each step are kept, since one
    // request in 100 that takes the limit also prunes.
    for i in 0..RUNS {
        let flooding = format!("198.51.100.{}", 70 + i);
        let (app, flooding) = (&app, flooding.as_str());
        let register = move || async move {
            let account = serde_json::json!({"username": unique_email(), "password": PASSWORD});
            app.post_from(flooding, "/register", &account).await
        };
        for _ in 0..2 {
            assert_status(register().await, 201).await;
        }
        let refused = counter.count("first refusal", register()).await;
        assert_status(refused, 429).await;
        for _ in 0..2 {
            let again = counter.count("refused again", register()).await;
            let waited = again.headers()["retry-after"].to_str().unwrap().to_owned();
            assert_status(again, 429).await;
            assert!(waited.parse::<u64>().unwrap() > 0, "{waited}");
        }
    }
    // Another address is counted as ever.
    let account = serde_json::json!({"username": unique_email(), "password": PASSWORD});
    assert_status(
        app.post_from("203.0.113.78", "/register", &account).await,
        201,
    )
    .await;
    assert_eq!(counter.fewest["first refusal"], 1, "the refusing upsert");
    assert_eq!(counter.fewest["refused again"], 0, "{:?}", counter.fewest);
}
