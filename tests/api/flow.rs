use crate::helpers::*;

#[tokio::test]
async fn the_whole_sign_in_flow_works_on_mariadb_and_sqlite() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        assert_answer(
            app.register(&email, PASSWORD).await,
            201,
            "User created successfully",
        )
        .await;
        assert_answer(app.login(&email, PASSWORD).await, 200, "OTP sent to email").await;
        let body = assert_answer(
            app.verify(&email, &app.code_for(&email)).await,
            200,
            "Login successful",
        )
        .await;
        let me = assert_status(app.me(body["token"].as_str().unwrap()).await, 200).await;
        assert_eq!(me["username"], email, "{backend:?}");
    }
}

#[tokio::test]
async fn a_code_issued_by_one_instance_verifies_on_another() {
    let db = TestDb::new(Backend::MariaDb).await;
    let instance_a = test_app().sharing(&db).spawn().await;
    let instance_b = test_app().sharing(&db).spawn().await;
    let email = unique_email();
    instance_a.register_and_login(&email).await;
    let code = instance_a.code_for(&email);
    let body = assert_status(instance_b.verify(&email, &code).await, 200).await;
    // And the session is good on either instance.
    assert_status(instance_a.me(body["token"].as_str().unwrap()).await, 200).await;
}
