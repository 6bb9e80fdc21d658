use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn login_with_right_password_mails_a_code_and_stores_only_its_hash() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    assert_answer(app.login(&email, PASSWORD).await, 200, "OTP sent to email").await;

    let sent = app.mailer().messages_to(&email);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].subject, "Your sign-in code");
    let code = &sent[0].code;
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    assert!(sent[0].text.contains("expires in 5 minutes"));

    let db = app.connect_db().await;
    let rows = db
        .query_all(Statement::from_string(
            db.get_database_backend(),
            "SELECT * FROM one_time_codes",
        ))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let hash: String = rows[0].try_get("", "code_hash").unwrap();
    assert_eq!(hash.len(), 64);
    assert!(!hash.contains(code.as_str()));
}

#[tokio::test]
async fn login_with_wrong_password_or_unknown_user_returns_the_same_401() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let wrong = assert_answer(
        app.login(&email, "wrong password").await,
        401,
        "Invalid username or password",
    )
    .await;
    let unknown = assert_answer(
        app.login(&unique_email(), PASSWORD).await,
        401,
        "Invalid username or password",
    )
    .await;
    assert_eq!(wrong, unknown);
    assert!(app.mailer().messages_to(&email).is_empty());
}

#[tokio::test]
async fn login_again_replaces_the_previous_code() {
    let app = spawn_app().await;
    let email = unique_email();
    app.register_and_login(&email).await;
    let first = app.code_for(&email);
    // Codes are random: log in until the new code differs, so the test cannot pass by luck.
    let mut second = first.clone();
    while second == first {
        assert_status(app.login(&email, PASSWORD).await, 200).await;
        second = app.code_for(&email);
    }
    assert_answer(
        app.verify(&email, &first).await,
        401,
        "Invalid or expired OTP",
    )
    .await;
    assert_status(app.verify(&email, &second).await, 200).await;
}

#[tokio::test]
async fn login_with_missing_fields_or_bad_username_returns_400() {
    let app = spawn_app().await;
    assert_status(
        app.post_json("/login", &json!({"username": unique_email()}))
            .await,
        400,
    )
    .await;
    assert_answer(
        app.login("student", PASSWORD).await,
        400,
        "Username must be a valid email address",
    )
    .await;
    assert_answer(
        app.login(&unique_email(), "").await,
        400,
        "Password is required",
    )
    .await;
}

#[tokio::test]
async fn login_works_on_the_embedded_sqlite_default() {
    let app = test_app().on(Backend::Sqlite).spawn().await;
    let email = unique_email();
    app.register_and_login(&email).await;
    assert_eq!(app.code_for(&email).len(), 6);
}

#[tokio::test]
async fn a_look_alike_address_gets_401_and_no_code_on_mariadb() {
    let app = spawn_app().await;
    let local = format!("alice-{}", random_suffix().to_lowercase());
    let real = format!("{local}@example.com");
    assert_status(app.register(&real, PASSWORD).await, 201).await;
    // Under a case- and accent-insensitive collation `exámple` matched `example`, and the code
    // went to the look-alike address.
    for look_alike in [
        format!("{local}@exámple.com"),
        format!("{local}@EXÁMPLE.com"),
    ] {
        assert_answer(
            app.login(&look_alike, PASSWORD).await,
            401,
            "Invalid username or password",
        )
        .await;
        assert_status(app.verify(&look_alike, "123456").await, 401).await;
    }
    assert_status(
        app.login(&format!("{local}ä@example.com"), PASSWORD).await,
        400,
    )
    .await;
    assert!(app.mailer().sent().is_empty());
    // The real address still signs in, and the code goes to the address on the account.
    assert_status(
        app.login(&format!(" {}@Example.COM", local.to_uppercase()), PASSWORD)
            .await,
        200,
    )
    .await;
    let sent = app.mailer().sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, real);
}
