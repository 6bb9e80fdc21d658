//! A change of address: `POST /change-email` needs the password and mails a code to the new
//! address; `POST /confirm-email-change` with that code, from the same session, makes it the
//! username, ends the other sessions and tells the old address.
use serde_json::{json, Value};

use crate::helpers::*;

const NOTICE: &str = "Your account's address was changed";

async fn username_of(app: &TestApp, token: &str) -> Value {
    let me = assert_status(app.me(token).await, 200).await;
    me["username"].clone()
}

#[tokio::test]
async fn a_new_address_needs_the_password_and_its_code_then_signs_in_and_the_old_one_is_told() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let (old, new) = (unique_email(), unique_email());
        let token = app.sign_in(&old).await;
        let other = app.sign_in_again(&old).await;

        let wrong = app.change_email(&token, &new, "not the password").await;
        assert_answer(wrong, 401, "Current password is incorrect").await;
        assert_eq!(
            app.mailer().messages_to(&new).len(),
            0,
            "no code without it"
        );

        let asked = app.change_email(&token, &new, PASSWORD).await;
        assert_answer(asked, 200, "Code sent to the new address").await;
        let code = app.address_code_for(&new);
        assert_answer(
            app.confirm_email_change(&token, &other_than(&code)).await,
            401,
            "Invalid or expired code",
        )
        .await;
        assert_eq!(username_of(&app, &token).await, json!(old), "nothing yet");

        let confirmed = assert_answer(
            app.confirm_email_change(&token, &code).await,
            200,
            "Email address changed",
        )
        .await;
        assert_eq!(confirmed["username"], json!(new), "{backend:?}");
        assert_eq!(username_of(&app, &token).await, json!(new));
        assert_status(app.me(&other).await, 401).await;
        // Spent: the same code again changes nothing.
        assert_status(app.confirm_email_change(&token, &code).await, 401).await;

        let told: Vec<String> = app
            .mailer()
            .messages_to(&old)
            .into_iter()
            .filter(|m| m.subject == NOTICE)
            .map(|m| m.text)
            .collect();
        assert_eq!(told.len(), 1, "{backend:?}");
        assert!(
            told[0].contains(&new) && told[0].contains("from 127.0.0.1"),
            "{}",
            told[0]
        );
        assert!(!told[0].contains(&code) && !told[0].contains(PASSWORD));
        assert!(app
            .mailer()
            .messages_to(&new)
            .iter()
            .all(|m| m.subject != NOTICE));

        assert_status(app.login(&old, PASSWORD).await, 401).await;
        let again = app.sign_in_again(&new).await;
        assert_eq!(username_of(&app, &again).await, json!(new));
        // The old address is free to register.
        assert_status(app.register(&old, PASSWORD).await, 201).await;
    }
}

#[tokio::test]
async fn a_taken_address_is_told_only_after_the_right_password() {
    let app = test_app().spawn().await;
    let (alice, bob) = (unique_email(), unique_email());
    let token = app.sign_in(&alice).await;
    assert_status(app.register(&bob, PASSWORD).await, 201).await;

    let wrong = app.change_email(&token, &bob, "not the password").await;
    assert_answer(wrong, 401, "Current password is incorrect").await;
    let taken = app.change_email(&token, &bob, PASSWORD).await;
    assert_answer(taken, 409, "Username already exists").await;
    let same = app.change_email(&token, &alice, PASSWORD).await;
    assert_answer(same, 400, "New address is the current address").await;
    let bad = app.change_email(&token, "not an address", PASSWORD).await;
    assert_status(bad, 400).await;
    assert_eq!(app.mailer().messages_to(&bob).len(), 0);
}

#[tokio::test]
async fn the_code_works_only_in_the_session_that_asked_and_never_as_another_code() {
    let app = test_app().spawn().await;
    let (old, new) = (unique_email(), unique_email());
    let token = app.sign_in(&old).await;
    let other = app.sign_in_again(&old).await;
    assert_status(app.change_email(&token, &new, PASSWORD).await, 200).await;
    let code = app.address_code_for(&new);

    assert_answer(
        app.confirm_email_change(&other, &code).await,
        401,
        "Invalid or expired code",
    )
    .await;
    // A sign-in code for the old address does not confirm, nor this code sign in.
    assert_status(app.login(&old, PASSWORD).await, 200).await;
    let sign_in_code = app.code_for(&old);
    if sign_in_code != code {
        assert_status(app.confirm_email_change(&token, &sign_in_code).await, 401).await;
    }
    assert_status(app.verify(&new, &code).await, 401).await;
    assert_status(app.confirm_email_change(&token, &code).await, 200).await;
    assert_eq!(username_of(&app, &token).await, json!(new));
}

#[tokio::test]
async fn an_address_taken_before_the_code_came_back_changes_nothing() {
    let app = test_app().spawn().await;
    let (old, new) = (unique_email(), unique_email());
    let token = app.sign_in(&old).await;
    assert_status(app.change_email(&token, &new, PASSWORD).await, 200).await;
    let code = app.address_code_for(&new);
    assert_status(app.register(&new, PASSWORD).await, 201).await;

    let late = app.confirm_email_change(&token, &code).await;
    assert_answer(late, 409, "Username already exists").await;
    assert_eq!(username_of(&app, &token).await, json!(old));
    assert_status(app.login(&old, PASSWORD).await, 200).await;
}

#[tokio::test]
async fn the_activity_records_the_request_and_the_change() {
    let app = test_app().spawn().await;
    let (old, new) = (unique_email(), unique_email());
    let token = app.sign_in(&old).await;
    assert_status(app.change_email(&token, &new, PASSWORD).await, 200).await;
    assert_status(
        app.confirm_email_change(&token, &app.address_code_for(&new))
            .await,
        200,
    )
    .await;
    let page = assert_status(app.activity(&token, "?limit=2").await, 200).await;
    let kinds: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["email_changed", "email_change_requested"]);
    assert_eq!(page["events"][0]["current_session"], true);
}
