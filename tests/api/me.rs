use sea_orm::ConnectionTrait;

use crate::helpers::*;

#[tokio::test]
async fn me_with_the_token_from_verify_names_the_user() {
    let app = spawn_app().await;
    let email = unique_email();
    let token = app.sign_in(&email).await;
    let body = assert_answer(app.me(&token).await, 200, "Signed in").await;
    assert_eq!(body["username"], email);
}

#[tokio::test]
async fn me_without_a_valid_token_returns_401_json() {
    let app = spawn_app().await;
    let missing = app.client.get(app.url("/me")).send().await.unwrap();
    assert_answer(missing, 401, "Invalid or expired session").await;
    let basic = app
        .client
        .get(app.url("/me"))
        .basic_auth("user@example.com", Some("pw"))
        .send()
        .await
        .unwrap();
    assert_answer(basic, 401, "Invalid or expired session").await;
    assert_answer(app.me("not-a-jwt").await, 401, "Invalid or expired session").await;
}

#[tokio::test]
async fn a_token_signed_with_another_secret_is_rejected() {
    let db = TestDb::new(Backend::MariaDb).await;
    let other_secret = "another-jwt-secret-0123456789abcdef";
    let app = test_app().sharing(&db).spawn().await;
    let impostor = test_app()
        .sharing(&db)
        .env(&[("JWT_SECRET", other_secret)])
        .spawn()
        .await;
    let email = unique_email();
    let token = impostor.sign_in(&email).await;
    assert_status(impostor.me(&token).await, 200).await;
    assert_answer(app.me(&token).await, 401, "Invalid or expired session").await;
}

/// The token's claims, read without checking the signature (the service checks it).
fn claims_of(token: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn time(body: &serde_json::Value, field: &str) -> chrono::DateTime<chrono::Utc> {
    body[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {body}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn me_shows_the_stable_id_creation_proof_and_last_sign_in_and_leaves_out_what_is_unknown() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        let before = chrono::Utc::now() - chrono::Duration::seconds(1);
        let token = app.sign_in(&email).await;
        let body = assert_answer(app.me(&token).await, 200, "Signed in").await;
        assert_eq!(body["user_id"], claims_of(&token)["sub"], "{backend:?}");
        let created = time(&body, "created_at");
        let proven = time(&body, "email_verified_at");
        let signed_in = time(&body, "last_sign_in_at");
        assert!(
            before <= created && created <= proven && proven <= signed_in,
            "{body}"
        );
        assert_eq!(body["last_sign_in_from"], "127.0.0.1");

        // What the service does not know is left out, not sent as null: an account from
        // before the columns existed, say.
        let conn = app.connect_db().await;
        conn.execute(sea_orm::Statement::from_sql_and_values(
            conn.get_database_backend(),
            "UPDATE users SET email_verified_at = NULL, last_sign_in_at = NULL, \
             last_sign_in_from = NULL WHERE username = ?",
            [email.clone().into()],
        ))
        .await
        .unwrap();
        let body = assert_answer(app.me(&token).await, 200, "Signed in").await;
        for field in ["email_verified_at", "last_sign_in_at", "last_sign_in_from"] {
            assert!(body.get(field).is_none(), "{field} in {body}");
        }
        assert_eq!(time(&body, "created_at"), created);

        // The next sign-in proves the mailbox again and is the last one; the id stays.
        let again = app.sign_in_again(&email).await;
        let body = assert_answer(app.me(&again).await, 200, "Signed in").await;
        assert!(time(&body, "email_verified_at") >= signed_in, "{body}");
        assert!(time(&body, "last_sign_in_at") >= signed_in, "{body}");
        assert_eq!(body["user_id"], claims_of(&token)["sub"]);
    }
}
