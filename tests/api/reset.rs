//! Password reset by emailed code: `POST /request-password-reset` and `POST /reset-password`.
use futures::future::join_all;

use crate::helpers::*;

const NEW_PASSWORD: &str = "a brand new passphrase";
const RESET_SENT: &str = "If the account exists, a reset code was sent";
const RESET_SUBJECT: &str = "Your password reset code";

#[tokio::test]
async fn a_mailed_reset_code_sets_a_new_password() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;

        assert_answer(app.request_reset(&email).await, 200, RESET_SENT).await;
        let mail = app.mailer().messages_to(&email).pop().expect("a mail");
        assert_eq!(mail.subject, RESET_SUBJECT, "{backend:?}");
        assert!(
            mail.text.contains("Your password reset code is"),
            "{}",
            mail.text
        );
        assert!(mail
            .text
            .contains("If you did not ask to reset your password"));

        let code = app.reset_code_for(&email);
        assert_answer(
            app.reset_password(&email, &code, NEW_PASSWORD).await,
            200,
            "Password changed",
        )
        .await;
        assert_status(app.login(&email, PASSWORD).await, 401).await;
        assert_status(app.login(&email, NEW_PASSWORD).await, 200).await;
        assert_status(app.verify(&email, &app.code_for(&email)).await, 200).await;
        // Spent: the same code does not work twice.
        assert_answer(
            app.reset_password(&email, &code, "yet another passphrase")
                .await,
            401,
            "Invalid or expired code",
        )
        .await;
    }
}

#[tokio::test]
async fn a_sign_in_code_never_resets_and_a_reset_code_never_signs_in() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register_and_login(&email).await;
    let sign_in = app.code_for(&email);
    // A reset code unlike the sign-in code, so that a refusal is about the purpose alone.
    let mut reset = sign_in.clone();
    while reset == sign_in {
        assert_status(app.request_reset(&email).await, 200).await;
        reset = app.reset_code_for(&email);
    }

    assert_answer(
        app.reset_password(&email, &sign_in, NEW_PASSWORD).await,
        401,
        "Invalid or expired code",
    )
    .await;
    assert_answer(
        app.verify(&email, &reset).await,
        401,
        "Invalid or expired OTP",
    )
    .await;
    // Each still works for its own purpose, and a reset leaves no sign-in code behind.
    assert_status(app.reset_password(&email, &reset, NEW_PASSWORD).await, 200).await;
    assert_status(app.verify(&email, &sign_in).await, 401).await;
    assert_status(app.login(&email, NEW_PASSWORD).await, 200).await;
    assert_status(app.verify(&email, &app.code_for(&email)).await, 200).await;
}

#[tokio::test]
async fn twenty_racing_resets_with_one_code_change_the_password_once() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        assert_status(app.request_reset(&email).await, 200).await;
        let code = app.reset_code_for(&email);
        let passwords: Vec<String> = (0..20).map(|i| format!("racing passphrase {i}")).collect();
        let responses = join_all(
            passwords
                .iter()
                .map(|p| app.reset_password(&email, &code, p)),
        )
        .await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
        let winners: Vec<&String> = statuses
            .iter()
            .zip(&passwords)
            .filter(|(s, _)| **s == 200)
            .map(|(_, p)| p)
            .collect();
        assert_eq!(winners.len(), 1, "{backend:?}: {statuses:?}");
        assert_eq!(
            statuses.iter().filter(|s| **s == 401).count(),
            19,
            "{backend:?}: {statuses:?}"
        );
        // The winner's password is the one that holds.
        assert_status(app.login(&email, winners[0]).await, 200).await;
    }
}

#[tokio::test]
async fn every_reset_failure_gets_the_same_401() {
    let app = test_app().env(&[("OTP_MAX_ATTEMPTS", "2")]).spawn().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let refused = |response| assert_answer(response, 401, "Invalid or expired code");
    // No code asked for, an unknown user, a wrong code, a code out of tries.
    refused(app.reset_password(&email, "123456", NEW_PASSWORD).await).await;
    refused(
        app.reset_password(&unique_email(), "123456", NEW_PASSWORD)
            .await,
    )
    .await;
    assert_status(app.request_reset(&email).await, 200).await;
    let code = app.reset_code_for(&email);
    for _ in 0..2 {
        refused(
            app.reset_password(&email, &other_than(&code), NEW_PASSWORD)
                .await,
        )
        .await;
    }
    refused(app.reset_password(&email, &code, NEW_PASSWORD).await).await;
    assert_status(app.login(&email, PASSWORD).await, 200).await;
}

#[tokio::test]
async fn a_new_request_replaces_the_earlier_reset_code() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    assert_status(app.request_reset(&email).await, 200).await;
    let first = app.reset_code_for(&email);
    let mut second = first.clone();
    while second == first {
        assert_status(app.request_reset(&email).await, 200).await;
        second = app.reset_code_for(&email);
    }
    assert_status(app.reset_password(&email, &first, NEW_PASSWORD).await, 401).await;
    assert_status(app.reset_password(&email, &second, NEW_PASSWORD).await, 200).await;
}

#[tokio::test]
async fn an_expired_reset_code_is_refused() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    assert_status(app.request_reset(&email).await, 200).await;
    let code = app.reset_code_for(&email);
    let db = app.connect_db().await;
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        "UPDATE one_time_codes SET expires_at = '2000-01-01 00:00:00' \
         WHERE purpose = 'password_reset'",
    )
    .await
    .unwrap();
    assert_status(app.reset_password(&email, &code, NEW_PASSWORD).await, 401).await;
}

#[tokio::test]
async fn a_new_password_follows_the_registration_rules() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    assert_status(app.request_reset(&email).await, 200).await;
    let code = app.reset_code_for(&email);
    for (password, message) in [
        ("short", "Password must be at least 8 characters"),
        (
            "password123",
            "Password is too common; choose one that is harder to guess",
        ),
    ] {
        assert_answer(
            app.reset_password(&email, &code, password).await,
            400,
            message,
        )
        .await;
        assert_answer(app.register(&unique_email(), password).await, 400, message).await;
    }
    // A refused password spent nothing: the code still works.
    assert_status(app.reset_password(&email, &code, NEW_PASSWORD).await, 200).await;
}

#[tokio::test]
async fn malformed_reset_requests_get_400() {
    let app = spawn_app().await;
    assert_answer(
        app.request_reset("not-an-email").await,
        400,
        "Username must be a valid email address",
    )
    .await;
    assert_status(
        app.post_json("/request-password-reset", &serde_json::json!({}))
            .await,
        400,
    )
    .await;
    assert_answer(
        app.reset_password(&unique_email(), "12345", NEW_PASSWORD)
            .await,
        400,
        "Code must be 6 digits",
    )
    .await;
    let missing = serde_json::json!({"username": unique_email(), "code": "123456"});
    assert_status(app.post_json("/reset-password", &missing).await, 400).await;
}

#[tokio::test]
async fn an_unknown_user_gets_the_same_answer_and_no_mail() {
    let app = spawn_app().await;
    let known = unique_email();
    let unknown = unique_email();
    assert_status(app.register(&known, PASSWORD).await, 201).await;
    let mut for_known = assert_status(app.request_reset(&known).await, 200).await;
    let mut for_unknown = assert_status(app.request_reset(&unknown).await, 200).await;
    // Each answer has a challenge of its own, alike in form.
    for body in [&mut for_known, &mut for_unknown] {
        let challenge = body["challenge"].take();
        assert_eq!(challenge.as_str().map(str::len), Some(32), "{body}");
    }
    assert_eq!(for_known, for_unknown);
    assert_eq!(app.mails_to(&known, RESET_SUBJECT), 1);
    assert!(app.mailer().messages_to(&unknown).is_empty());
}

#[tokio::test]
async fn a_reset_ends_every_session_and_rescues_a_squatted_address() {
    let app = spawn_app().await;
    // Someone registered the owner's address first and signed in with it.
    let email = unique_email();
    let squatter = app.sign_in(&email).await;
    assert_status(app.me(&squatter).await, 200).await;

    // The owner proves the mailbox.
    assert_status(app.request_reset(&email).await, 200).await;
    let code = app.reset_code_for(&email);
    assert_status(app.reset_password(&email, &code, NEW_PASSWORD).await, 200).await;

    assert_answer(app.me(&squatter).await, 401, "Invalid or expired session").await;
    assert_status(app.login(&email, PASSWORD).await, 401).await;
    assert_status(app.login(&email, NEW_PASSWORD).await, 200).await;
    let body = assert_status(app.verify(&email, &app.code_for(&email)).await, 200).await;
    assert_status(app.me(body["token"].as_str().unwrap()).await, 200).await;
}

#[tokio::test]
async fn a_reset_unlocks_sign_in_locked_by_wrong_codes() {
    let app = test_app().env(&[("OTP_LOCK_AFTER", "1")]).spawn().await;
    let email = unique_email();
    app.register_and_login(&email).await;
    let code = app.code_for(&email);
    assert_status(app.verify(&email, &other_than(&code)).await, 401).await;
    // Locked: a right password sends no new code.
    let before = app.mails_to(&email, "Your sign-in code");
    assert_status(app.login(&email, PASSWORD).await, 200).await;
    assert_eq!(app.mails_to(&email, "Your sign-in code"), before);

    assert_status(app.request_reset(&email).await, 200).await;
    let reset = app.reset_code_for(&email);
    assert_status(app.reset_password(&email, &reset, NEW_PASSWORD).await, 200).await;
    assert_status(app.login(&email, NEW_PASSWORD).await, 200).await;
    assert_status(app.verify(&email, &app.code_for(&email)).await, 200).await;
}

#[tokio::test]
async fn reset_codes_are_limited_per_username_like_sign_in_codes() {
    let app = test_app()
        .env(&[
            ("RATE_LIMIT_CODE_SENDS", "2/1h"),
            ("RATE_LIMIT_RESET_CODE_CHECKS", "2/1h"),
        ])
        .spawn()
        .await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    // Past the send limit the answer stays the same, and no mail goes out.
    for _ in 0..3 {
        assert_answer(app.request_reset(&email).await, 200, RESET_SENT).await;
    }
    assert_eq!(app.mails_to(&email, RESET_SUBJECT), 2);
    // Reset sends are counted apart from sign-in sends.
    assert_status(app.login(&email, PASSWORD).await, 200).await;
    assert_eq!(app.mails_to(&email, "Your sign-in code"), 1);

    let code = app.reset_code_for(&email);
    for _ in 0..2 {
        assert_status(
            app.reset_password(&email, &other_than(&code), NEW_PASSWORD)
                .await,
            401,
        )
        .await;
    }
    let limited = app.reset_password(&email, &code, NEW_PASSWORD).await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_status(limited, 429).await;
}

#[tokio::test]
async fn reset_requests_count_toward_the_per_address_limit() {
    let app = test_app()
        .env(&[("RATE_LIMIT_PER_ADDRESS", "2/1m")])
        .spawn()
        .await;
    assert_status(app.request_reset(&unique_email()).await, 200).await;
    assert_status(
        app.reset_password(&unique_email(), "123456", NEW_PASSWORD)
            .await,
        401,
    )
    .await;
    assert_status(app.request_reset(&unique_email()).await, 429).await;
}
