//! `POST /refresh`: refresh tokens that rotate, the grace window for two tabs, reuse that ends
//! the session, idle and absolute expiry, and every session end taking its refresh tokens.
use futures::future::join_all;
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::helpers::*;

const REFRESHED: &str = "Token refreshed";
const REFUSED: &str = "Invalid or expired session";

fn refresh_token(body: &Value) -> String {
    body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned()
}

fn access_token(body: &Value) -> String {
    body["token"].as_str().expect("token").to_owned()
}

async fn refreshed(app: &TestApp, refresh: &str) -> Value {
    assert_answer(app.refresh(refresh).await, 200, REFRESHED).await
}

async fn refused(app: &TestApp, refresh: &str) {
    assert_answer(app.refresh(refresh).await, 401, REFUSED).await;
}

async fn sql(app: &TestApp, statement: &str) {
    app.connect_db()
        .await
        .execute_unprepared(statement)
        .await
        .expect(statement);
}

#[tokio::test]
async fn verify_answers_a_refresh_token_that_renews_the_access_token_once() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        let signed_in = app.sign_in_grant(&email).await;
        assert_eq!(signed_in["expires_in"], 900, "{signed_in}");
        assert_eq!(signed_in["refresh_expires_in"], 30 * 86_400, "{signed_in}");
        let first = refresh_token(&signed_in);
        assert_eq!(first.len(), 32);

        let renewed = refreshed(&app, &first).await;
        assert_eq!(renewed["token_type"], "Bearer");
        assert_eq!(renewed["expires_in"], 900);
        let second = refresh_token(&renewed);
        assert_ne!(second, first);
        assert_ne!(access_token(&renewed), access_token(&signed_in));
        let me = assert_status(app.me(&access_token(&renewed)).await, 200).await;
        assert_eq!(me["username"], email);
        // The old access token lives out its minutes; the old refresh token is spent.
        assert_status(app.me(&access_token(&signed_in)).await, 200).await;
        refreshed(&app, &second).await;
        assert_eq!(app.count_rows("refresh_tokens").await, 3);
    }
}

#[tokio::test]
async fn only_the_hash_of_a_refresh_token_is_stored() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let token = refresh_token(&app.sign_in_grant(&email).await);
    let db = app.connect_db().await;
    let rows = db
        .query_all(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT token_hash FROM refresh_tokens",
        ))
        .await
        .unwrap();
    let stored: String = rows[0].try_get("", "token_hash").unwrap();
    assert_eq!(stored.len(), 64);
    assert!(!stored.contains(&token));
}

#[tokio::test]
async fn a_spent_refresh_token_presented_again_ends_the_session() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app()
            .on(backend)
            .env(&[("REFRESH_REUSE_GRACE_SECONDS", "0")])
            .spawn()
            .await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        let other_session = app.sign_in_grant(&email).await;
        let first = refresh_token(&app.sign_in_grant(&email).await);
        let renewed = refreshed(&app, &first).await;
        // Two seconds: past a zero grace even where the clock ticks in whole seconds.
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;

        refused(&app, &first).await;
        // The thief's copy and the owner's live token are both dead now, with the session.
        refused(&app, &refresh_token(&renewed)).await;
        assert_answer(app.me(&access_token(&renewed)).await, 401, REFUSED).await;
        // Other sessions of the account go on.
        refreshed(&app, &refresh_token(&other_session)).await;
    }
}

#[tokio::test]
async fn within_the_grace_window_the_parent_renews_again_so_two_tabs_stay_signed_in() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let parent = refresh_token(&app.sign_in_grant(&email).await);
    let tab_a = refreshed(&app, &parent).await;
    let tab_b = refreshed(&app, &parent).await;
    assert_ne!(refresh_token(&tab_a), refresh_token(&tab_b));
    // Both tabs go on; once a child of the parent is spent, the parent is no one's to use.
    let tab_a_next = refreshed(&app, &refresh_token(&tab_a)).await;
    assert_status(app.me(&access_token(&tab_b)).await, 200).await;
    refused(&app, &parent).await;
    refused(&app, &refresh_token(&tab_a_next)).await;
}

#[tokio::test]
async fn twenty_parallel_refreshes_of_one_token_all_renew_within_the_grace() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        let token = refresh_token(&app.sign_in_grant(&email).await);
        let answers = join_all((0..20).map(|_| app.refresh(&token))).await;
        let mut children = std::collections::HashSet::new();
        for answer in answers {
            children.insert(refresh_token(&refreshed_body(answer).await));
        }
        assert_eq!(children.len(), 20);
        // Exactly one of them spent the token; the others hang off it as siblings.
        assert_eq!(app.count_rows("refresh_tokens").await, 21);
    }
}

async fn refreshed_body(answer: reqwest::Response) -> Value {
    assert_answer(answer, 200, REFRESHED).await
}

#[tokio::test]
async fn a_refresh_token_unused_for_the_idle_time_is_refused() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app()
            .on(backend)
            .env(&[("REFRESH_IDLE_SECONDS", "3600")])
            .spawn()
            .await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        let grant = app.sign_in_grant(&email).await;
        assert_eq!(grant["refresh_expires_in"], 3600);
        let fresh = refresh_token(&app.sign_in_grant(&email).await);
        sql(
            &app,
            "UPDATE refresh_tokens SET issued_at = '2000-01-01 00:00:00' \
             WHERE parent_hash IS NULL AND session_id = \
             (SELECT MIN(id) FROM (SELECT id FROM sessions) AS s)",
        )
        .await;
        // One of the two sessions' tokens went idle; exactly one of them still renews.
        let outcomes = [
            app.refresh(&refresh_token(&grant)).await.status().as_u16(),
            app.refresh(&fresh).await.status().as_u16(),
        ];
        let mut sorted = outcomes;
        sorted.sort_unstable();
        assert_eq!(sorted, [200, 401], "{outcomes:?}");
    }
}

#[tokio::test]
async fn a_session_ends_at_its_maximum_age_however_often_it_is_refreshed() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        let grant = app.sign_in_grant(&email).await;
        let ends_soon = chrono::Utc::now() + chrono::Duration::seconds(120);
        sql(
            &app,
            &format!(
                "UPDATE sessions SET expires_at = '{}'",
                ends_soon.format("%Y-%m-%d %H:%M:%S")
            ),
        )
        .await;
        // Near the end, neither token outlives the session.
        let renewed = refreshed(&app, &refresh_token(&grant)).await;
        for field in ["expires_in", "refresh_expires_in"] {
            let left = renewed[field].as_u64().unwrap();
            assert!((100..=120).contains(&left), "{field}: {renewed}");
        }
        sql(
            &app,
            "UPDATE sessions SET expires_at = '2000-01-01 00:00:00'",
        )
        .await;
        refused(&app, &refresh_token(&renewed)).await;
    }
}

#[tokio::test]
async fn signing_out_ends_the_refresh_tokens_of_the_session() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let kept = app.sign_in_grant(&email).await;
    let ended = app.sign_in_grant(&email).await;
    assert_status(app.logout(&access_token(&ended), None).await, 200).await;
    refused(&app, &refresh_token(&ended)).await;
    refreshed(&app, &refresh_token(&kept)).await;

    assert_status(
        app.logout(&access_token(&kept), Some(json!({"scope": "all"})))
            .await,
        200,
    )
    .await;
    let after_all = app.sign_in_grant(&email).await;
    refused(&app, &refresh_token(&kept)).await;
    refreshed(&app, &refresh_token(&after_all)).await;
}

#[tokio::test]
async fn a_password_reset_ends_every_refresh_token_and_a_change_every_other() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let changer = app.sign_in_grant(&email).await;
    let other = app.sign_in_grant(&email).await;
    let new_password = "a brand new passphrase";
    assert_status(
        app.change_password(&access_token(&changer), PASSWORD, new_password)
            .await,
        200,
    )
    .await;
    refused(&app, &refresh_token(&other)).await;
    let changer = refreshed(&app, &refresh_token(&changer)).await;

    assert_status(app.request_reset(&email).await, 200).await;
    let code = app.reset_code_for(&email);
    assert_status(app.reset_password(&email, &code, PASSWORD).await, 200).await;
    refused(&app, &refresh_token(&changer)).await;
}

#[tokio::test]
async fn a_malformed_refresh_token_is_a_400_and_an_unknown_one_a_401() {
    let app = spawn_app().await;
    for body in [
        json!({}),
        json!({"refresh_token": ""}),
        json!({"refresh_token": "not-hex-not-hex-not-hex-not-hex!"}),
        json!({"refresh_token": 7}),
    ] {
        let answer = assert_status(app.post_json("/refresh", &body).await, 400).await;
        assert_eq!(answer["success"], false, "{body}");
    }
    refused(&app, &random_challenge()).await;
}

#[tokio::test]
async fn refreshes_count_against_the_per_address_limit() {
    let app = test_app()
        .env(&[("RATE_LIMIT_PER_ADDRESS", "2/1m")])
        .spawn()
        .await;
    for _ in 0..2 {
        refused(&app, &random_challenge()).await;
    }
    let limited = assert_status(app.refresh(&random_challenge()).await, 429).await;
    assert!(limited["retry_after"].as_u64().unwrap() > 0);
}
