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
