//! Garbage gets a 4xx JSON answer and leaves nothing behind.
use serde_json::{json, Value};

use crate::helpers::*;

async fn post_raw(app: &TestApp, path: &str, body: Vec<u8>) -> reqwest::Response {
    app.client
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn garbage_bodies_get_4xx_json_and_store_nothing() {
    let app = spawn_app().await;
    let long = "a".repeat(5000);
    let cases: Vec<Value> = vec![
        json!({"username": "\u{0}@example.com", "password": PASSWORD}),
        json!({"username": "bob\u{7}@example.com", "password": PASSWORD}),
        json!({"username": "' OR '1'='1' --@example.com", "password": PASSWORD}),
        json!({"username": "<script>alert(1)</script>@example.com", "password": PASSWORD}),
        json!({"username": "robert'); DROP TABLE users;--@example.com", "password": PASSWORD}),
        json!({"username": format!("{long}@example.com"), "password": PASSWORD}),
        json!({"username": unique_email(), "password": long}),
        json!({"username": unique_email(), "password": "nul\u{0}in the middle"}),
        json!({"username": unique_email(), "password": "password1"}),
        json!({"username": unique_email(), "password": PASSWORD, "admin": true}),
        json!({"username": unique_email(), "password": true}),
        json!({"username": null, "password": PASSWORD}),
        json!("just a string"),
        json!(42),
    ];
    for body in &cases {
        let response = app.post_json("/register", body).await;
        let status = response.status().as_u16();
        assert!((400..500).contains(&status), "{body} answered {status}");
        assert_status(response, status).await;
    }
    for raw in [
        b"\xff\xfe{\"username\":1}".to_vec(),
        b"{\"username\":\"\xc3\x28@example.com\",\"password\":\"correct horse\"}".to_vec(),
        b"{\"username\": \"a@example.com\", \"password\": \"pw\"".to_vec(),
        Vec::new(),
    ] {
        assert_status(post_raw(&app, "/register", raw).await, 400).await;
    }
    assert_eq!(app.count_rows("users").await, 0, "nothing was stored");
}

#[tokio::test]
async fn sql_and_script_text_in_a_password_is_only_ever_data() {
    let app = spawn_app().await;
    let email = unique_email();
    let password = "x'); DROP TABLE users; -- <script>";
    assert_status(app.register(&email, password).await, 201).await;
    assert_status(app.login(&email, password).await, 200).await;
    assert_eq!(app.count_rows("users").await, 1);
}

#[tokio::test]
async fn the_password_policy_refuses_common_and_control_character_passwords() {
    let app = spawn_app().await;
    assert_answer(
        app.register(&unique_email(), "Baseball1").await,
        400,
        "Password is too common; choose one that is harder to guess",
    )
    .await;
    assert_answer(
        app.register(&unique_email(), "tab\tinside!").await,
        400,
        "Password must not contain control characters",
    )
    .await;
}

#[tokio::test]
async fn extra_fields_are_refused_everywhere() {
    let app = spawn_app().await;
    let email = unique_email();
    for (path, body) in [
        (
            "/register",
            json!({"username": email, "password": PASSWORD, "role": "admin"}),
        ),
        (
            "/login",
            json!({"username": email, "password": PASSWORD, "remember": true}),
        ),
        (
            "/verify",
            json!({"username": email, "code": "123456", "trusted": true}),
        ),
    ] {
        assert_status(app.post_json(path, &body).await, 400).await;
    }
}
