//! Rate limits, with short windows configured for the test.
use std::time::Duration;

use reqwest::Response;
use serde_json::Value;

use crate::helpers::*;

/// Asserts a 429 with a `Retry-After` header that agrees with the body; returns the seconds.
async fn assert_limited(response: Response) -> u64 {
    let header: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = assert_status(response, 429).await;
    assert_eq!(body["retry_after"], header, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Too many attempts; try again in"),
        "{body}"
    );
    header
}

async fn app_with_limits(limits: &[(&str, &str)]) -> TestApp {
    test_app().env(limits).spawn().await
}

#[tokio::test]
async fn requests_per_client_address_are_limited_across_endpoints() {
    let app = app_with_limits(&[("RATE_LIMIT_PER_ADDRESS", "3/1m")]).await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    assert_status(app.login(&email, "wrong password").await, 401).await;
    assert_status(app.verify(&email, "123456").await, 401).await;
    let wait = assert_limited(app.login(&email, PASSWORD).await).await;
    assert!((1..=60).contains(&wait), "{wait}");
    assert_limited(app.register(&unique_email(), PASSWORD).await).await;
    // /me and /health are not counted.
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_status(health, 200).await;
}

#[tokio::test]
async fn forwarded_for_is_believed_only_when_trusted() {
    let post_from = |app: &TestApp, address: &'static str| {
        app.client
            .post(app.url("/login"))
            .header("x-forwarded-for", format!("198.51.100.1, {address}"))
            .json(&serde_json::json!({"username": unique_email(), "password": PASSWORD}))
            .send()
    };
    let trusting = app_with_limits(&[
        ("RATE_LIMIT_PER_ADDRESS", "1/1m"),
        ("TRUST_FORWARDED_FOR", "true"),
    ])
    .await;
    assert_status(post_from(&trusting, "203.0.113.1").await.unwrap(), 401).await;
    assert_status(post_from(&trusting, "203.0.113.2").await.unwrap(), 401).await;
    assert_limited(post_from(&trusting, "203.0.113.2").await.unwrap()).await;

    // Untrusted, the header is the client's to forge: everything counts against the peer.
    let wary = app_with_limits(&[("RATE_LIMIT_PER_ADDRESS", "1/1m")]).await;
    assert_status(post_from(&wary, "203.0.113.1").await.unwrap(), 401).await;
    assert_limited(post_from(&wary, "203.0.113.2").await.unwrap()).await;
}

#[tokio::test]
async fn codes_sent_per_username_are_limited_in_every_window() {
    let app = app_with_limits(&[("RATE_LIMIT_CODE_SENDS", "1/2s,2/1h")]).await;
    let email = unique_email();
    app.register_and_login(&email).await;
    let first = app.code_for(&email);
    let wait = assert_limited(app.login(&email, PASSWORD).await).await;
    assert!(wait <= 2, "{wait}");
    // No new code was made: the first still works after the refusal.
    assert_eq!(app.mailer().messages_to(&email).len(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_status(app.login(&email, PASSWORD).await, 200).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let wait = assert_limited(app.login(&email, PASSWORD).await).await;
    assert!(wait > 3000, "the hourly window holds: {wait}");
    assert_ne!(
        app.code_for(&email),
        first,
        "the second send replaced the code"
    );
}

#[tokio::test]
async fn wrong_passwords_back_off_exponentially_alike_for_unknown_users() {
    let app = app_with_limits(&[("PASSWORD_BACKOFF_AFTER", "2")]).await;
    let known = unique_email();
    assert_status(app.register(&known, PASSWORD).await, 201).await;
    let unknown = unique_email();

    let mut answers = vec![];
    for username in [&known, &unknown] {
        let mut seen = vec![];
        for _ in 0..2 {
            seen.push(assert_status(app.login(username, "wrong password").await, 401).await);
        }
        // The second failure starts a 1 s back-off, even for the right password.
        assert_eq!(assert_limited(app.login(username, PASSWORD).await).await, 1);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        seen.push(assert_status(app.login(username, "wrong password").await, 401).await);
        assert_eq!(assert_limited(app.login(username, "x").await).await, 2);
        answers.push(seen);
    }
    assert_eq!(
        answers[0], answers[1],
        "known and unknown users answer alike"
    );

    // A right password after the wait signs in and resets the count.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_status(app.login(&known, PASSWORD).await, 200).await;
    assert_status(app.login(&known, "wrong password").await, 401).await;
    assert_status(app.login(&known, "wrong password").await, 401).await;
}

#[tokio::test]
async fn wrong_passwords_per_hour_are_capped_whatever_the_backoff() {
    let app = app_with_limits(&[("RATE_LIMIT_PASSWORD_FAILURES", "3/1h")]).await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    for _ in 0..3 {
        assert_status(app.login(&email, "wrong password").await, 401).await;
    }
    let wait = assert_limited(app.login(&email, PASSWORD).await).await;
    assert!(wait > 3000, "{wait}");
}

#[tokio::test]
async fn code_checks_per_username_are_capped() {
    let app = app_with_limits(&[("RATE_LIMIT_CODE_VERIFIES", "2/1h")]).await;
    let email = unique_email();
    app.register_and_login(&email).await;
    let code = app.code_for(&email);
    let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for _ in 0..2 {
        assert_status(app.verify(&email, &wrong).await, 401).await;
    }
    assert_limited(app.verify(&email, &code).await).await;
    // Unknown usernames are counted the same way.
    let stranger = unique_email();
    for _ in 0..2 {
        assert_status(app.verify(&stranger, &wrong).await, 401).await;
    }
    assert_limited(app.verify(&stranger, &code).await).await;
}

#[tokio::test]
async fn limits_hold_across_instances_sharing_the_database() {
    let db = TestDb::new(Backend::MariaDb).await;
    let limits = [("RATE_LIMIT_PER_ADDRESS", "2/1m")];
    let a = test_app().sharing(&db).env(&limits).spawn().await;
    let b = test_app().sharing(&db).env(&limits).spawn().await;
    assert_status(a.login(&unique_email(), PASSWORD).await, 401).await;
    assert_status(b.login(&unique_email(), PASSWORD).await, 401).await;
    assert_limited(a.login(&unique_email(), PASSWORD).await).await;
    assert_limited(b.login(&unique_email(), PASSWORD).await).await;
}

#[tokio::test]
async fn a_cross_origin_page_can_read_retry_after() {
    let app = app_with_limits(&[("RATE_LIMIT_PER_ADDRESS", "1/1m")]).await;
    let send = || {
        app.client
            .post(app.url("/login"))
            .header("origin", "https://pages.example.com")
            .json(&serde_json::json!({"username": unique_email(), "password": PASSWORD}))
            .send()
    };
    send().await.unwrap();
    let limited = send().await.unwrap();
    let exposed = limited.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(exposed.contains("retry-after"), "{exposed}");
    assert_limited(limited).await;
}
