//! Notices by mail: the owner hears of a changed or reset password, and of a sign-in from an
//! address never seen, once, at their address, with when and from where, and no secret; each
//! notice's setting turns it off.
use crate::helpers::*;

const CHANGED: &str = "Your password was changed";
const RESET: &str = "Your password was reset";
const NEW_PASSWORD: &str = "a brand new passphrase";
const THIRD_PASSWORD: &str = "yet another passphrase";

fn notices(app: &TestApp, email: &str, subject: &str) -> Vec<String> {
    app.mailer()
        .messages_to(email)
        .into_iter()
        .filter(|m| m.subject == subject)
        .map(|m| m.text)
        .collect()
}

#[tokio::test]
async fn a_changed_or_reset_password_is_told_once_to_the_address_without_a_secret() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let (email, bystander) = (unique_email(), unique_email());
        let token = app.sign_in(&email).await;
        app.sign_in(&bystander).await;

        let wrong = app
            .change_password(&token, "not the password", NEW_PASSWORD)
            .await;
        assert_status(wrong, 401).await;
        assert!(notices(&app, &email, CHANGED).is_empty(), "nothing changed");

        let changed = app.change_password(&token, PASSWORD, NEW_PASSWORD).await;
        assert_status(changed, 200).await;
        let told = notices(&app, &email, CHANGED);
        assert_eq!(told.len(), 1, "{backend:?}");
        let text = &told[0];
        assert!(
            text.contains("from 127.0.0.1") && text.contains("UTC"),
            "{text}"
        );
        assert!(text.contains("reset.html"), "says where to reset: {text}");
        for secret in [PASSWORD, NEW_PASSWORD, &token[..24]] {
            assert!(!text.contains(secret), "{text}");
        }

        assert_status(app.request_reset(&email).await, 200).await;
        let code = app.reset_code_for(&email);
        let reset = app.reset_password(&email, &code, THIRD_PASSWORD).await;
        assert_status(reset, 200).await;
        let told = notices(&app, &email, RESET);
        assert_eq!(told.len(), 1);
        assert!(
            !told[0].contains(&code) && !told[0].contains(THIRD_PASSWORD),
            "{}",
            told[0]
        );
        assert_eq!(notices(&app, &email, CHANGED).len(), 1, "each notice once");

        for subject in [CHANGED, RESET] {
            assert!(notices(&app, &bystander, subject).is_empty());
        }
    }
}

#[tokio::test]
async fn with_notice_password_changed_false_no_notice_is_mailed() {
    let app = test_app()
        .env(&[("NOTICE_PASSWORD_CHANGED", "false")])
        .spawn()
        .await;
    let email = unique_email();
    let token = app.sign_in(&email).await;
    let changed = app.change_password(&token, PASSWORD, NEW_PASSWORD).await;
    assert_status(changed, 200).await;
    assert_status(app.request_reset(&email).await, 200).await;
    let code = app.reset_code_for(&email);
    assert_status(app.reset_password(&email, &code, THIRD_PASSWORD).await, 200).await;
    assert!(notices(&app, &email, CHANGED).is_empty());
    assert!(notices(&app, &email, RESET).is_empty());
}

const NEW_ADDRESS: &str = "A sign-in from a new address";

#[tokio::test]
async fn a_sign_in_from_an_address_never_seen_is_told_once_and_a_known_one_never() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app()
            .on(backend)
            .env(&[("TRUST_FORWARDED_FOR", "true")])
            .spawn()
            .await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        // The first sign-in is not news, nor one from where the last came.
        app.sign_in_from("198.51.100.7", &email).await;
        app.sign_in_from("198.51.100.7", &email).await;
        assert!(notices(&app, &email, NEW_ADDRESS).is_empty());

        let grant = app.sign_in_from("203.0.113.9", &email).await;
        let told = notices(&app, &email, NEW_ADDRESS);
        assert_eq!(told.len(), 1, "{backend:?}");
        let text = &told[0];
        assert!(
            text.contains("from 203.0.113.9") && text.contains("UTC"),
            "{text}"
        );
        assert!(text.contains("reset.html"), "{text}");
        let code = app.code_for(&email);
        let token = grant["token"].as_str().unwrap();
        for secret in [PASSWORD, code.as_str(), &token[..24]] {
            assert!(!text.contains(secret), "{text}");
        }

        // Back at an address it signed in from before, and again at the last one.
        app.sign_in_from("198.51.100.7", &email).await;
        app.sign_in_from("198.51.100.7", &email).await;
        app.sign_in_from("203.0.113.9", &email).await;
        assert_eq!(notices(&app, &email, NEW_ADDRESS).len(), 1, "{backend:?}");
    }
}

#[tokio::test]
async fn with_notice_new_sign_in_false_a_new_address_is_not_mailed() {
    let app = test_app()
        .env(&[
            ("TRUST_FORWARDED_FOR", "true"),
            ("NOTICE_NEW_SIGN_IN", "false"),
        ])
        .spawn()
        .await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    app.sign_in_from("198.51.100.7", &email).await;
    app.sign_in_from("203.0.113.9", &email).await;
    assert!(notices(&app, &email, NEW_ADDRESS).is_empty());
}

#[tokio::test]
async fn with_the_lock_and_address_notices_off_neither_is_mailed_and_both_still_happen() {
    let app = test_app()
        .env(&[
            ("OTP_LOCK_AFTER", "1"),
            ("NOTICE_CODE_SIGN_IN_LOCKED", "false"),
            ("NOTICE_EMAIL_CHANGED", "false"),
        ])
        .spawn()
        .await;
    let (locked, old, new) = (unique_email(), unique_email(), unique_email());
    assert_status(app.register(&locked, PASSWORD).await, 201).await;
    assert_status(app.login(&locked, PASSWORD).await, 200).await;
    let code = app.code_for(&locked);
    assert_status(app.verify(&locked, &other_than(&code)).await, 401).await;
    assert_status(app.verify(&locked, &code).await, 401).await;
    assert!(notices(&app, &locked, "Sign-in to your account is locked").is_empty());

    let token = app.sign_in(&old).await;
    assert_status(app.change_email(&token, &new, PASSWORD).await, 200).await;
    let code = app.address_code_for(&new);
    assert_status(app.confirm_email_change(&token, &code).await, 200).await;
    assert!(notices(&app, &old, "Your account's address was changed").is_empty());
}
