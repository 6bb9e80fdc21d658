//! Notices by mail: the owner hears of a changed or reset password once, at their address,
//! with when and from where, and no secret; `NOTICE_PASSWORD_CHANGED=false` turns it off.
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
