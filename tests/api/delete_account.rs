//! `POST /delete-account`: the owner leaves. The password is checked first (under the
//! wrong-password back-off), then the account and everything keyed to it go at once, a
//! goodbye notice goes to the address, and the address can register again.
use serde_json::json;

use crate::helpers::*;

const GOODBYE: &str = "Your account was deleted";

async fn delete_account(app: &TestApp, token: &str, body: serde_json::Value) -> reqwest::Response {
    app.client
        .post(app.url("/delete-account"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn deleting_leaves_nothing_of_the_account_mails_a_goodbye_and_the_address_registers_again() {
    let app = test_app()
        .env(&[
            ("RATE_LIMIT_CODE_SENDS", "5/1h"),
            ("RATE_LIMIT_PASSWORD_FAILURES", "50/1h"),
            ("PASSWORD_BACKOFF_AFTER", "5"),
        ])
        .spawn()
        .await;
    let (email, kept) = (unique_email(), unique_email());
    let token = app.sign_in(&email).await;
    let elsewhere = app.sign_in_grant(&email).await;
    app.sign_in(&kept).await;
    // Something of the account in every table that keys rows to it.
    assert_status(app.login(&email, "not the password").await, 401).await;
    assert_status(app.request_reset(&email).await, 200).await;
    let id = app.user_id(&email).await.unwrap();
    assert!(traces_of(&app, id, &email).await.len() >= 6);

    let wrong = delete_account(&app, &token, json!({"current_password": "not it"})).await;
    assert_answer(wrong, 401, "Current password is incorrect").await;
    let malformed = delete_account(&app, &token, json!({"password": PASSWORD})).await;
    assert_status(malformed, 400).await;
    assert_eq!(app.user_id(&email).await, Some(id), "nothing deleted");
    assert_eq!(app.mails_to(&email, GOODBYE), 0);

    let deleted = delete_account(&app, &token, json!({"current_password": PASSWORD})).await;
    assert_answer(deleted, 200, "Account deleted").await;
    assert_eq!(traces_of(&app, id, &email).await, Vec::<String>::new());
    // Every token of the account is refused; the other account is untouched.
    assert_answer(app.me(&token).await, 401, "Invalid or expired session").await;
    let refresh = elsewhere["refresh_token"].as_str().unwrap();
    assert_answer(
        app.refresh(refresh).await,
        401,
        "Invalid or expired session",
    )
    .await;
    assert!(app.user_id(&kept).await.is_some());

    // One goodbye, to the address, saying when and from where, with no secret in it.
    let goodbyes: Vec<_> = app
        .mailer()
        .messages_to(&email)
        .into_iter()
        .filter(|m| m.subject == GOODBYE)
        .collect();
    assert_eq!(goodbyes.len(), 1);
    let text = &goodbyes[0].text;
    assert!(
        text.contains("from 127.0.0.1") && text.contains("UTC"),
        "{text}"
    );
    assert!(
        !text.contains(PASSWORD) && !text.contains(&token[..20]),
        "{text}"
    );

    assert_status(app.register(&email, PASSWORD).await, 201).await;
    app.sign_in_again(&email).await;
}

#[tokio::test]
async fn deleting_on_sqlite_removes_the_user_its_sessions_and_codes() {
    let app = test_app().on(Backend::Sqlite).spawn().await;
    let email = unique_email();
    let token = app.sign_in(&email).await;
    app.sign_in_again(&email).await;
    assert_status(app.request_reset(&email).await, 200).await;
    let deleted = delete_account(&app, &token, json!({"current_password": PASSWORD})).await;
    assert_answer(deleted, 200, "Account deleted").await;
    assert_eq!(app.user_id(&email).await, None);
    for table in [
        "sessions",
        "one_time_codes",
        "refresh_tokens",
        "password_attempts",
    ] {
        assert_eq!(app.count_rows(table).await, 0, "{table}");
    }
    assert_eq!(app.mails_to(&email, GOODBYE), 1);
    assert_status(app.register(&email, PASSWORD).await, 201).await;
}

#[tokio::test]
async fn wrong_passwords_at_deletion_fall_under_the_back_off() {
    let app = test_app()
        .env(&[
            ("PASSWORD_BACKOFF_AFTER", "2"),
            ("PASSWORD_BACKOFF_MAX_SECONDS", "60"),
        ])
        .spawn()
        .await;
    let email = unique_email();
    let token = app.sign_in(&email).await;
    for _ in 0..2 {
        let wrong = delete_account(&app, &token, json!({"current_password": "not it"})).await;
        assert_status(wrong, 401).await;
    }
    let waiting = delete_account(&app, &token, json!({"current_password": PASSWORD})).await;
    assert_status(waiting, 429).await;
    assert!(app.user_id(&email).await.is_some(), "nothing deleted");
    let anonymous = app
        .client
        .post(app.url("/delete-account"))
        .json(&json!({"current_password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_answer(anonymous, 401, "Invalid or expired session").await;
}
