//! The user's language: taken from `Accept-Language` at registration, shown by `GET /me`,
//! changed with `PUT /me/language`, and used for every mail of the account; unknown languages
//! fall back to English.
use otp_login::mail::Language;
use reqwest::Response;
use serde_json::json;

use crate::helpers::*;

async fn set_language(app: &TestApp, token: &str, language: &serde_json::Value) -> Response {
    app.client
        .put(app.url("/me/language"))
        .bearer_auth(token)
        .json(&json!({ "language": language }))
        .send()
        .await
        .unwrap()
}

fn last_mail_language(app: &TestApp, email: &str) -> (Language, String) {
    let mail = app.mailer().messages_to(email).pop().expect("a mail");
    (mail.language, mail.subject)
}

#[tokio::test]
async fn the_registration_language_writes_every_mail_and_an_unknown_one_is_english() {
    let app = test_app().spawn().await;
    for (header, expected) in [
        ("de-DE,de;q=0.9,en;q=0.8", Language::De),
        ("fr-CA", Language::Fr),
        ("es-MX;q=0.9, ja", Language::Es),
        ("ja, zh-CN;q=0.5", Language::En),
    ] {
        let email = unique_email();
        app.register_speaking(&email, header).await;
        assert_status(app.login(&email, PASSWORD).await, 200).await;
        let (language, subject) = last_mail_language(&app, &email);
        assert_eq!(language, expected, "{header}");
        assert_eq!(
            subject != "Your sign-in code",
            expected != Language::En,
            "{subject}"
        );
        let token = app.verify(&email, &app.code_for_any(&email)).await;
        let token = assert_status(token, 200).await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let me = assert_status(app.me(&token).await, 200).await;
        assert_eq!(me["language"], expected.tag(), "{header}");
        // The notices speak it too.
        assert_status(
            app.change_password(&token, PASSWORD, "another fine passphrase")
                .await,
            200,
        )
        .await;
        assert_eq!(last_mail_language(&app, &email).0, expected);
    }
}

#[tokio::test]
async fn the_owner_changes_the_language_of_their_mail() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        let token = app.sign_in(&email).await;
        let me = assert_status(app.me(&token).await, 200).await;
        assert_eq!(me["language"], "en", "no Accept-Language: English");

        let changed = set_language(&app, &token, &json!("fr")).await;
        assert_answer(changed, 200, "Language changed").await;
        let me = assert_status(app.me(&token).await, 200).await;
        assert_eq!(me["language"], "fr", "{backend:?}");
        assert_status(app.request_reset(&email).await, 200).await;
        assert_eq!(last_mail_language(&app, &email).0, Language::Fr);

        for bad in [json!("it"), json!("FR"), json!(null), json!(3)] {
            assert_status(set_language(&app, &token, &bad).await, 400).await;
        }
        let anonymous = app
            .client
            .put(app.url("/me/language"))
            .json(&json!({"language": "de"}))
            .send()
            .await
            .unwrap();
        assert_answer(anonymous, 401, "Invalid or expired session").await;
        let me = assert_status(app.me(&token).await, 200).await;
        assert_eq!(me["language"], "fr", "nothing changed");
    }
}

#[tokio::test]
async fn a_broken_template_override_stops_start_up_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("de")).unwrap();
    std::fs::write(
        dir.path().join("de/sign_in_code.html"),
        "{% extends \"layout.html\" %}\n{% block content %}\n<p>{{ code }</p>\n{% endblock %}\n",
    )
    .unwrap();
    let folder = dir.path().to_str().unwrap();
    let located = format!("{folder}/de/sign_in_code.html:3");

    let vars: std::collections::HashMap<String, String> =
        [("MAIL_TEMPLATES_DIR".to_owned(), folder.to_owned())].into();
    let settings = otp_login::config::Settings::from_vars(vars).unwrap();
    let refused = otp_login::startup::mailer_for(&settings)
        .await
        .err()
        .unwrap();
    assert!(refused.to_string().contains(&located), "{refused}");

    // The pre-flight says the same, before any deploy.
    let checked = otp_login(&["check"], &[("MAIL_TEMPLATES_DIR", folder)]);
    assert!(!checked.status.success());
    let out = stdout(&checked);
    assert!(
        out.lines()
            .any(|line| line.starts_with("error: mail templates") && line.contains(&located)),
        "{out}"
    );
}
