//! The owner's activity: `GET /me/activity` lists the account's security events, newest first,
//! with where each came from — a stranger's wrong passwords included — only to the owner, a
//! page at a time; events past the retention time are pruned.
use chrono::Utc;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::helpers::*;

const OWNER_AT: &str = "198.51.100.7";
const STRANGER_AT: &str = "203.0.113.66";
const TRUSTED: &[(&str, &str)] = &[("TRUST_FORWARDED_FOR", "true")];

async fn events_of(app: &TestApp, token: &str, query: &str) -> Value {
    assert_answer(app.activity(token, query).await, 200, "Activity").await
}

/// Each event as `kind detail@address`, newest first.
fn summary(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            let detail = event["detail"].as_str().map(|d| format!(" {d}"));
            let address = event["client_address"].as_str().unwrap_or("-");
            format!(
                "{}{}@{address}",
                event["event"].as_str().unwrap(),
                detail.unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test]
async fn the_owner_sees_a_strangers_wrong_password_with_its_address_newest_first() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).env(TRUSTED).spawn().await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        let grant = app.sign_in_from(OWNER_AT, &email).await;
        let token = grant["token"].as_str().unwrap();
        let wrong = json!({"username": email, "password": "not the password"});
        assert_status(app.post_from(STRANGER_AT, "/login", &wrong).await, 401).await;

        let page = events_of(&app, token, "").await;
        assert_eq!(
            summary(&page),
            [
                format!("wrong_password@{STRANGER_AT}"),
                format!("signed_in@{OWNER_AT}"),
                format!("code_sent sign_in@{OWNER_AT}"),
                "registered@127.0.0.1".to_owned(),
            ],
            "{backend:?}"
        );
        let events = page["events"].as_array().unwrap();
        let signed_in = &events[1];
        assert_eq!(signed_in["current_session"], true, "{signed_in}");
        assert_eq!(signed_in["session_id"].as_str().map(str::len), Some(32));
        assert_eq!(events[0]["current_session"], false);
        assert!(page.get("next_cursor").is_none(), "one page: {page}");
        for event in events {
            let at: chrono::DateTime<Utc> = event["at"].as_str().unwrap().parse().unwrap();
            assert!((Utc::now() - at).num_minutes() < 5, "{event}");
        }
        // What a signed-in request does is recorded with its session.
        let ended = app.logout(token, None).await;
        assert_status(ended, 200).await;
        let again = app.sign_in_grant(&email).await;
        let token = again["token"].as_str().unwrap();
        let page = events_of(&app, token, "?limit=3").await;
        assert_eq!(
            summary(&page)[2],
            format!("signed_out current@127.0.0.1"),
            "{page}"
        );
    }
}

#[tokio::test]
async fn one_user_cannot_see_anothers_activity() {
    let app = test_app().env(TRUSTED).spawn().await;
    let (alice, bob) = (unique_email(), unique_email());
    assert_status(app.register(&alice, PASSWORD).await, 201).await;
    assert_status(app.register(&bob, PASSWORD).await, 201).await;
    let alice_token = app.sign_in_from(OWNER_AT, &alice).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob_token = app.sign_in_from(STRANGER_AT, &bob).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = json!({"username": alice, "password": "not the password"});
    assert_status(app.post_from(STRANGER_AT, "/login", &wrong).await, 401).await;

    let bobs = summary(&events_of(&app, &bob_token, "?limit=100").await);
    assert_eq!(bobs.len(), 3, "{bobs:?}");
    assert!(bobs.iter().all(|e| !e.starts_with("wrong_password")));
    let alices = summary(&events_of(&app, &alice_token, "?limit=100").await);
    assert_eq!(alices[0], format!("wrong_password@{STRANGER_AT}"));
    assert!(alices
        .iter()
        .all(|e| !e.ends_with(&format!("@{STRANGER_AT}")) || e.starts_with("wrong")));
    // No token, no list; a wrong one is the usual 401.
    let anonymous = app
        .client
        .get(app.url("/me/activity"))
        .send()
        .await
        .unwrap();
    assert_answer(anonymous, 401, "Invalid or expired session").await;
    let forged = app.activity("not-a-token", "").await;
    assert_answer(forged, 401, "Invalid or expired session").await;
}

#[tokio::test]
async fn pages_of_limit_events_walk_back_to_the_first_by_cursor() {
    let app = test_app()
        .env(&[
            ("RATE_LIMIT_PASSWORD_FAILURES", "100/1h"),
            ("PASSWORD_BACKOFF_AFTER", "100"),
        ])
        .spawn()
        .await;
    let email = unique_email();
    let token = app.sign_in(&email).await;
    for _ in 0..6 {
        assert_status(app.login(&email, "not the password").await, 401).await;
    }
    // registered, code sent, signed in, six wrong passwords.
    let whole = summary(&events_of(&app, &token, "?limit=100").await);
    assert_eq!(whole.len(), 9, "{whole:?}");
    assert_eq!(
        events_of(&app, &token, "").await["events"]
            .as_array()
            .unwrap()
            .len(),
        9,
        "20 unless asked"
    );

    let mut walked = vec![];
    let mut query = "?limit=4".to_owned();
    let mut pages = 0;
    loop {
        let page = events_of(&app, &token, &query).await;
        pages += 1;
        walked.extend(summary(&page));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=4&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(walked, whole);

    for (query, message) in [
        ("?limit=0", "Limit must be between 1 and 100"),
        ("?limit=101", "Limit must be between 1 and 100"),
        ("?limit=ten", "Limit must be between 1 and 100"),
        ("?cursor=abc", "Invalid cursor"),
        ("?cursor=0", "Invalid cursor"),
    ] {
        assert_answer(app.activity(&token, query).await, 400, message).await;
    }
}

#[tokio::test]
async fn events_past_the_retention_time_are_pruned_and_newer_ones_stay() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app()
            .on(backend)
            .env(&[("ACTIVITY_RETENTION_DAYS", "30")])
            .spawn()
            .await;
        let email = unique_email();
        let token = app.sign_in(&email).await;
        let id = app.user_id(&email).await.unwrap();
        let db = app.connect_db().await;
        let old = Utc::now() - chrono::Duration::days(31);
        for _ in 0..3 {
            db.execute(Statement::from_sql_and_values(
                db.get_database_backend(),
                "INSERT INTO account_events (user_id, at, kind, client_address) \
                 VALUES (?, ?, 'wrong_password', '192.0.2.1')",
                [id.into(), old.into()],
            ))
            .await
            .unwrap();
        }
        assert_eq!(
            summary(&events_of(&app, &token, "?limit=100").await).len(),
            6
        );
        let pruned = app.auth.prune_activity().await.unwrap();
        assert_eq!(pruned, 3, "{backend:?}");
        let kept = summary(&events_of(&app, &token, "?limit=100").await);
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert!(kept.iter().all(|e| !e.ends_with("@192.0.2.1")));
    }
}

#[tokio::test]
async fn a_flow_stands_when_its_activity_row_cannot_be_written() {
    let app = test_app().spawn().await;
    let email = unique_email();
    let token = app.sign_in(&email).await;
    let db = app.connect_db().await;
    db.execute_unprepared("DROP TABLE account_events")
        .await
        .unwrap();
    assert_status(app.login(&email, "not the password").await, 401).await;
    let changed = app
        .change_password(&token, PASSWORD, "a brand new passphrase")
        .await;
    assert_answer(changed, 200, "Password changed").await;
    assert_status(app.login(&email, "a brand new passphrase").await, 200).await;
}
