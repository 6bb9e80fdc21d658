use futures::future::join_all;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::helpers::*;

async fn stored_password(app: &TestApp, username: &str) -> String {
    let db = app.connect_db().await;
    let backend = db.get_database_backend();
    let row = db
        .query_one(Statement::from_sql_and_values(
            backend,
            "SELECT password FROM users WHERE username = ?",
            [username.into()],
        ))
        .await
        .unwrap()
        .expect("user row");
    row.try_get("", "password").unwrap()
}

#[tokio::test]
async fn register_with_email_and_good_password_returns_201_and_stores_argon2id() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        assert_answer(
            app.register(&email, PASSWORD).await,
            201,
            "User created successfully",
        )
        .await;
        let stored = stored_password(&app, &email).await;
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{backend:?}: {stored}"
        );
        assert!(!stored.contains(PASSWORD));
    }
}

#[tokio::test]
async fn register_trims_and_lowercases_the_username() {
    let app = spawn_app().await;
    let email = unique_email();
    let shouted = format!("  {}  ", email.to_uppercase());
    assert_status(app.register(&shouted, PASSWORD).await, 201).await;
    assert!(stored_password(&app, &email)
        .await
        .starts_with("$argon2id$"));
    assert_status(app.login(&email, PASSWORD).await, 200).await;
}

#[tokio::test]
async fn register_with_existing_username_in_any_case_returns_409() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    for again in [email.clone(), email.to_uppercase()] {
        assert_answer(
            app.register(&again, "another password").await,
            409,
            "Username already exists",
        )
        .await;
    }
}

#[tokio::test]
async fn register_with_invalid_email_returns_400() {
    let app = spawn_app().await;
    let too_long = format!("{}@example.com", "a".repeat(250));
    for username in [
        "student",
        "",
        "no-at-sign.example.com",
        "a@b",
        "x y@example.com",
        &too_long,
    ] {
        let body = assert_status(app.register(username, PASSWORD).await, 400).await;
        assert!(
            body["message"].as_str().unwrap().contains("Username"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn register_with_password_outside_the_policy_returns_400_naming_the_rule() {
    let app = spawn_app().await;
    let cases = [
        ("short12", "Password must be at least 8 characters"),
        (&*"p".repeat(129), "Password must be at most 128 characters"),
        ("", "Password is required"),
    ];
    for (password, message) in cases {
        assert_answer(app.register(&unique_email(), password).await, 400, message).await;
    }
    // Length is counted in characters: 8 two-byte characters pass.
    assert_status(app.register(&unique_email(), "éééééééé").await, 201).await;
}

#[tokio::test]
async fn register_with_missing_or_mistyped_fields_returns_400_json() {
    let app = spawn_app().await;
    for body in [
        json!({"username": unique_email()}),
        json!({"password": PASSWORD}),
        json!({}),
        json!({"username": ["a@example.com"], "password": PASSWORD}),
        json!({"username": unique_email(), "password": {"value": PASSWORD}}),
        json!({"username": unique_email(), "password": null}),
        json!(["not", "an", "object"]),
    ] {
        assert_answer(
            app.post_json("/register", &body).await,
            400,
            "Request body must be a JSON object with string fields \"username\" and \"password\"",
        )
        .await;
    }
}

#[tokio::test]
async fn register_with_malformed_json_or_no_content_type_returns_400_json() {
    let app = spawn_app().await;
    let malformed = app
        .client
        .post(app.url("/register"))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    assert_status(malformed, 400).await;
    let untyped = app
        .client
        .post(app.url("/register"))
        .body(json!({"username": unique_email(), "password": PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    assert_answer(untyped, 400, "Content-Type must be application/json").await;
}

#[tokio::test]
async fn twenty_parallel_registrations_of_one_username_create_exactly_one_user() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        let responses = join_all((0..20).map(|_| app.register(&email, PASSWORD))).await;
        let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
        assert_eq!(
            statuses.iter().filter(|s| **s == 201).count(),
            1,
            "{backend:?}: {statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 409).count(),
            19,
            "{backend:?}: {statuses:?}"
        );
    }
}
