use futures::future::join_all;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn verify_with_the_mailed_code_returns_a_bearer_token() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        app.register_and_login(&email).await;
        let body = assert_answer(
            app.verify(&email, &app.code_for(&email)).await,
            200,
            "Login successful",
        )
        .await;
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 900);
        assert_eq!(
            body["token"].as_str().unwrap().split('.').count(),
            3,
            "{body}"
        );
    }
}

#[tokio::test]
async fn verify_accepts_the_username_in_another_case() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register_and_login(&email).await;
    assert_status(
        app.verify(&email.to_uppercase(), &app.code_for(&email))
            .await,
        200,
    )
    .await;
}

#[tokio::test]
async fn every_verify_failure_gets_the_same_401() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register_and_login(&email).await;
    let code = app.code_for(&email);
    let never_logged_in = unique_email();
    assert_status(app.register(&never_logged_in, PASSWORD).await, 201).await;

    let wrong_code = app.verify(&email, &other_than(&code)).await;
    let unknown_user = app.verify(&unique_email(), &code).await;
    let no_code = app.verify(&never_logged_in, &code).await;
    let mut bodies = vec![];
    for response in [wrong_code, unknown_user, no_code] {
        bodies.push(assert_answer(response, 401, "Invalid or expired OTP").await);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]));
}

#[tokio::test]
async fn a_code_works_only_once() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register_and_login(&email).await;
    let code = app.code_for(&email);
    assert_status(app.verify(&email, &code).await, 200).await;
    assert_answer(
        app.verify(&email, &code).await,
        401,
        "Invalid or expired OTP",
    )
    .await;
}

#[tokio::test]
async fn an_expired_code_is_rejected() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register_and_login(&email).await;
    let db = app.connect_db().await;
    db.execute(Statement::from_string(
        db.get_database_backend(),
        "UPDATE one_time_codes SET expires_at = '2000-01-01 00:00:00'",
    ))
    .await
    .unwrap();
    assert_answer(
        app.verify(&email, &app.code_for(&email)).await,
        401,
        "Invalid or expired OTP",
    )
    .await;
}

/// A signed-up user whose code has already met `wrong` wrong tries; returns it and the code.
async fn after_wrong_tries(app: &TestApp, wrong: usize) -> (String, String) {
    let email = unique_email();
    app.register_and_login(&email).await;
    let code = app.code_for(&email);
    for _ in 0..wrong {
        assert_status(app.verify(&email, &other_than(&code)).await, 401).await;
    }
    (email, code)
}

#[tokio::test]
async fn a_code_dies_after_five_wrong_tries() {
    let app = spawn_app().await;
    let (email, code) = after_wrong_tries(&app, 5).await;
    assert_answer(
        app.verify(&email, &code).await,
        401,
        "Invalid or expired OTP",
    )
    .await;
}

#[tokio::test]
async fn the_right_code_still_works_after_four_wrong_tries() {
    let app = spawn_app().await;
    let (email, code) = after_wrong_tries(&app, 4).await;
    assert_status(app.verify(&email, &code).await, 200).await;
}

#[tokio::test]
async fn verify_with_a_malformed_code_or_missing_field_returns_400() {
    let app = spawn_app().await;
    let email = unique_email();
    for code in ["12345", "abcdef", "1234567", ""] {
        assert_answer(app.verify(&email, code).await, 400, "Code must be 6 digits").await;
    }
    assert_answer(
        app.post_json("/verify", &json!({"username": email})).await,
        400,
        "Request body must be a JSON object with string fields \"username\" and \"code\"",
    )
    .await;
    assert_status(
        app.post_json("/verify", &json!({"username": email, "code": [1, 2]}))
            .await,
        400,
    )
    .await;
}

#[tokio::test]
async fn twenty_parallel_verifies_of_one_code_sign_in_exactly_once() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        app.register_and_login(&email).await;
        let code = app.code_for(&email);
        let responses = join_all((0..20).map(|_| app.verify(&email, &code))).await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "{backend:?}: {statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 401).count(),
            19,
            "{backend:?}: {statuses:?}"
        );
    }
}

#[tokio::test]
async fn wrong_codes_count_across_codes_and_lock_code_sign_in_with_a_notice() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        // Two tries a code, locked at the third wrong code in a row whatever the code.
        let app = test_app()
            .on(backend)
            .env(&[("OTP_MAX_ATTEMPTS", "2"), ("OTP_LOCK_AFTER", "3")])
            .spawn()
            .await;
        let email = unique_email();
        app.register_and_login(&email).await;
        let first = app.code_for(&email);
        for _ in 0..2 {
            assert_status(app.verify(&email, &other_than(&first)).await, 401).await;
        }
        // A new login used to start the count afresh; the run of wrong codes goes on.
        assert_status(app.login(&email, PASSWORD).await, 200).await;
        let second = app.code_for(&email);
        assert_status(app.verify(&email, &other_than(&second)).await, 401).await;
        let sent = app.mailer().messages_to(&email);
        let notice = sent.last().unwrap();
        assert_eq!(
            notice.subject, "Sign-in to your account is locked",
            "{backend:?}"
        );
        assert!(notice.code.is_empty() && notice.text.contains("Reset your password"));
        // Locked: the live code is dead, and a right password sends no new one.
        assert_status(app.verify(&email, &second).await, 401).await;
        assert_answer(app.login(&email, PASSWORD).await, 200, "OTP sent to email").await;
        assert_eq!(
            app.mailer().messages_to(&email).len(),
            sent.len(),
            "{backend:?}"
        );
    }
}

#[tokio::test]
async fn a_right_code_ends_the_run_of_wrong_ones() {
    let app = test_app()
        .env(&[("OTP_MAX_ATTEMPTS", "5"), ("OTP_LOCK_AFTER", "3")])
        .spawn()
        .await;
    let email = unique_email();
    for _ in 0..3 {
        if app.mailer().messages_to(&email).is_empty() {
            app.register_and_login(&email).await;
        } else {
            assert_status(app.login(&email, PASSWORD).await, 200).await;
        }
        let code = app.code_for(&email);
        let wrong = other_than(&code);
        for _ in 0..2 {
            assert_status(app.verify(&email, &wrong).await, 401).await;
        }
        assert_status(app.verify(&email, &code).await, 200).await;
    }
}
