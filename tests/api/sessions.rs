//! Sessions the server can end: `POST /logout` (one session or all), `POST /change-password`,
//! and session rows that outlive neither their token nor a sign-out.
use serde_json::json;

use crate::helpers::*;

const NEW_PASSWORD: &str = "a brand new passphrase";
const SIGNED_OUT: &str = "Invalid or expired session";

/// A second session of the same user, as from another device.
async fn another_session(app: &TestApp, email: &str, password: &str) -> String {
    assert_status(app.login(email, password).await, 200).await;
    let body = assert_status(app.verify(email, &app.code_for(email)).await, 200).await;
    body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_token_is_refused_right_after_logout() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        let token = app.sign_in(&email).await;
        let other = another_session(&app, &email, PASSWORD).await;

        assert_answer(app.logout(&token, None).await, 200, "Signed out").await;
        assert_answer(app.me(&token).await, 401, SIGNED_OUT).await;
        assert_answer(app.logout(&token, None).await, 401, SIGNED_OUT).await;
        // Only that session ended.
        assert_status(app.me(&other).await, 200).await;
        assert_answer(
            app.logout(&other, Some(json!({"scope": "current"}))).await,
            200,
            "Signed out",
        )
        .await;
        assert_status(app.me(&other).await, 401).await;
    }
}

#[tokio::test]
async fn logout_everywhere_ends_every_session_of_the_user_only() {
    let app = spawn_app().await;
    let email = unique_email();
    let first = app.sign_in(&email).await;
    let second = another_session(&app, &email, PASSWORD).await;
    let someone_else = app.sign_in(&unique_email()).await;

    assert_answer(
        app.logout(&second, Some(json!({"scope": "all"}))).await,
        200,
        "Signed out everywhere",
    )
    .await;
    for token in [&first, &second] {
        assert_answer(app.me(token).await, 401, SIGNED_OUT).await;
    }
    assert_status(app.me(&someone_else).await, 200).await;
    // Signing in again opens a new session.
    let again = another_session(&app, &email, PASSWORD).await;
    assert_status(app.me(&again).await, 200).await;
}

#[tokio::test]
async fn logout_refuses_bad_tokens_and_bad_bodies() {
    let app = spawn_app().await;
    let token = app.sign_in(&unique_email()).await;
    let no_token = app.client.post(app.url("/logout")).send().await.unwrap();
    assert_answer(no_token, 401, SIGNED_OUT).await;
    assert_answer(app.logout("not-a-jwt", None).await, 401, SIGNED_OUT).await;
    for body in [
        json!({"scope": "everything"}),
        json!({"scope": "all", "extra": 1}),
        json!([]),
    ] {
        assert_status(app.logout(&token, Some(body)).await, 400).await;
    }
    let not_json = app
        .client
        .post(app.url("/logout"))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body("all")
        .send()
        .await
        .unwrap();
    assert_answer(not_json, 400, "Content-Type must be application/json").await;
    // None of that signed anyone out.
    assert_status(app.me(&token).await, 200).await;
    let empty_object = app.logout(&token, Some(json!({}))).await;
    assert_answer(empty_object, 200, "Signed out").await;
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        let here = app.sign_in(&email).await;
        let elsewhere = another_session(&app, &email, PASSWORD).await;

        assert_answer(
            app.change_password(&here, PASSWORD, NEW_PASSWORD).await,
            200,
            "Password changed",
        )
        .await;
        assert_status(app.me(&here).await, 200).await;
        assert_answer(app.me(&elsewhere).await, 401, SIGNED_OUT).await;
        assert_status(app.login(&email, PASSWORD).await, 401).await;
        assert_status(app.login(&email, NEW_PASSWORD).await, 200).await;
    }
}

#[tokio::test]
async fn a_wrong_current_password_or_a_weak_new_one_changes_nothing() {
    let app = spawn_app().await;
    let email = unique_email();
    let token = app.sign_in(&email).await;
    assert_answer(
        app.change_password(&token, "not my password", NEW_PASSWORD)
            .await,
        401,
        "Current password is incorrect",
    )
    .await;
    assert_answer(
        app.change_password(&token, PASSWORD, "short").await,
        400,
        "Password must be at least 8 characters",
    )
    .await;
    let missing = app
        .client
        .post(app.url("/change-password"))
        .bearer_auth(&token)
        .json(&json!({"new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_status(missing, 400).await;
    assert_status(app.me(&token).await, 200).await;
    assert_status(app.login(&email, PASSWORD).await, 200).await;
}

#[tokio::test]
async fn change_password_needs_a_live_session() {
    let app = spawn_app().await;
    let email = unique_email();
    let token = app.sign_in(&email).await;
    let no_token = app
        .client
        .post(app.url("/change-password"))
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_answer(no_token, 401, SIGNED_OUT).await;
    assert_status(app.logout(&token, None).await, 200).await;
    assert_answer(
        app.change_password(&token, PASSWORD, NEW_PASSWORD).await,
        401,
        SIGNED_OUT,
    )
    .await;
    assert_status(app.login(&email, PASSWORD).await, 200).await;
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_password_back_off() {
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
        assert_status(
            app.change_password(&token, "wrong one", NEW_PASSWORD).await,
            401,
        )
        .await;
    }
    let limited = app.change_password(&token, PASSWORD, NEW_PASSWORD).await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_status(limited, 429).await;
    // The same back-off as sign-in: the password is the user's, wherever it is typed.
    assert_status(app.login(&email, PASSWORD).await, 429).await;
}

#[tokio::test]
async fn a_session_row_is_written_per_sign_in_and_ended_by_logout() {
    let app = spawn_app().await;
    let email = unique_email();
    let token = app.sign_in(&email).await;
    let _other = another_session(&app, &email, PASSWORD).await;
    assert_eq!(app.count_rows("sessions").await, 2);
    assert_status(app.logout(&token, None).await, 200).await;
    assert_eq!(
        app.count_rows("sessions WHERE revoked_at IS NOT NULL")
            .await,
        1
    );
}

#[tokio::test]
async fn dead_session_rows_are_cleaned_up_as_sessions_open() {
    let app = spawn_app().await;
    let email = unique_email();
    app.sign_in(&email).await;
    let db = app.connect_db().await;
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        "UPDATE sessions SET expires_at = '2000-01-01 00:00:00'",
    )
    .await
    .unwrap();
    // One new session in twenty prunes: enough sign-ins make one all but certain.
    for _ in 0..120 {
        if app
            .count_rows("sessions WHERE expires_at < '2001-01-01'")
            .await
            == 0
        {
            return;
        }
        another_session(&app, &email, PASSWORD).await;
    }
    panic!("the expired session row was never cleaned up");
}
