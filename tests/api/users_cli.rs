//! `otp-login users …`, the operator's tool, against the database of a running app: what it
//! shows, and that each action holds on every path the app serves.
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;

use crate::helpers::*;

const RESET_SUBJECT: &str = "Your password reset code";

/// Runs a `users` command that must succeed; answers its standard output.
fn users_ok(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = users(app, args, env);
    assert!(output.status.success(), "users {args:?}: {output:?}");
    stdout(&output)
}

fn users_json(app: &TestApp, args: &[&str], env: &[(&str, &str)]) -> Value {
    let mut with_json = args.to_vec();
    with_json.push("--json");
    serde_json::from_str(&users_ok(app, &with_json, env)).expect("JSON")
}

#[tokio::test]
async fn show_tells_whether_the_address_is_proven_and_the_last_sign_in_on_both_databases() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let (signed_in, registered) = (unique_email(), unique_email());
        app.sign_in(&signed_in).await;
        assert_status(app.register(&registered, PASSWORD).await, 201).await;

        let shown = users_json(&app, &["show", &signed_in], &[]);
        assert_eq!(shown["username"], signed_in.as_str(), "{backend:?}");
        assert!(shown["email_verified_at"].is_string(), "{shown}");
        assert!(shown["last_sign_in_at"].is_string(), "{shown}");
        assert_eq!(shown["last_sign_in_from"], "127.0.0.1");
        assert_eq!(shown["live_sessions"], 1);
        assert_eq!(shown["code_sign_in_locked"], false);
        assert!(shown["disabled_at"].is_null());
        assert_eq!(shown["back_offs"], serde_json::json!([]));
        assert_eq!(shown["public_id"].as_str().map(str::len), Some(32));

        let fresh = users_json(&app, &["show", &registered.to_uppercase()], &[]);
        assert_eq!(
            fresh["username"],
            registered.as_str(),
            "looked up as sign-in does"
        );
        assert!(fresh["email_verified_at"].is_null(), "{fresh}");
        assert!(fresh["last_sign_in_at"].is_null());
        assert_eq!(fresh["live_sessions"], 0);

        let table = users_ok(&app, &["show", &signed_in], &[]);
        assert!(table.contains("address proven      yes, "), "{table}");
        assert!(table.contains(" from 127.0.0.1"), "{table}");
        let table = users_ok(&app, &["show", &registered], &[]);
        assert!(table.contains("address proven      no"), "{table}");
        assert!(table.contains("last sign-in        never"), "{table}");
    }
}

#[tokio::test]
async fn an_unknown_account_is_an_error_that_names_it() {
    let app = spawn_app().await;
    let nobody = unique_email();
    for action in ["show", "disable", "enable", "sign-out", "unlock"] {
        let output = users(&app, &[action, &nobody], &[]);
        assert_eq!(output.status.code(), Some(1), "{action}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!("no account is named {nobody}")),
            "{stderr}"
        );
    }
}

#[tokio::test]
async fn a_disabled_account_is_refused_on_every_path_with_the_answers_of_bad_credentials() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let grant = app.sign_in_grant(&email).await;
    let token = grant["token"].as_str().unwrap().to_owned();
    let refresh = grant["refresh_token"].as_str().unwrap().to_owned();
    // A code asked for before the operator acts.
    assert_status(app.login(&email, PASSWORD).await, 200).await;
    let pending = app.code_for(&email);

    let output = users(&app, &["disable", &email], &[]);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout(&output).contains("is disabled"));
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("account_disabled"),
        "the action is logged: {log}"
    );
    assert!(
        !log.contains(&email),
        "the log names the account by id: {log}"
    );

    let wrong = assert_status(app.login(&email, "not the password").await, 401).await;
    let right = assert_status(app.login(&email, PASSWORD).await, 401).await;
    assert_eq!(right, wrong, "a right password answers as a wrong one");
    assert_answer(
        app.verify(&email, &pending).await,
        401,
        "Invalid or expired OTP",
    )
    .await;
    assert_status(app.me(&token).await, 401).await;
    assert_status(app.refresh(&refresh).await, 401).await;
    assert_status(app.request_reset(&email).await, 200).await;
    assert_eq!(
        app.mails_to(&email, RESET_SUBJECT),
        0,
        "no reset code is mailed"
    );
    assert_eq!(users_json(&app, &["show", &email], &[])["live_sessions"], 0);
    assert_eq!(
        users_json(&app, &["disable", &email], &[])["changed"],
        false
    );

    let enabled = users_json(&app, &["enable", &email], &[]);
    assert_eq!(enabled["changed"], true, "{enabled}");
    // Back in, with a new sign-in: what the disable ended stays ended.
    assert_status(app.me(&token).await, 401).await;
    app.sign_in_again(&email).await;
}

#[tokio::test]
async fn a_disabled_flag_refuses_tokens_even_of_sessions_still_open() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        let grant = app.sign_in_grant(&email).await;
        // As if the operator's disable raced a sign-in that opened this session after it.
        let db = app.connect_db().await;
        db.execute(Statement::from_sql_and_values(
            db.get_database_backend(),
            "UPDATE users SET disabled_at = ? WHERE username = ?",
            [chrono::Utc::now().into(), email.as_str().into()],
        ))
        .await
        .unwrap();
        assert_status(app.me(grant["token"].as_str().unwrap()).await, 401).await;
        let refresh = grant["refresh_token"].as_str().unwrap();
        assert_status(app.refresh(refresh).await, 401).await;
    }
}

#[tokio::test]
async fn sign_out_ends_every_session_and_its_refresh_tokens() {
    let app = spawn_app().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let first = app.sign_in_grant(&email).await;
    let second = app.sign_in_grant(&email).await;
    let signed_out = users_json(&app, &["sign-out", &email], &[]);
    assert_eq!(signed_out["sessions_ended"], 2, "{signed_out}");
    for grant in [&first, &second] {
        assert_status(app.me(grant["token"].as_str().unwrap()).await, 401).await;
        assert_status(
            app.refresh(grant["refresh_token"].as_str().unwrap()).await,
            401,
        )
        .await;
    }
    // The account itself is untouched.
    app.sign_in_again(&email).await;
}

#[tokio::test]
async fn unlock_lets_an_owner_locked_out_by_wrong_codes_and_passwords_back_in() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let policy = [("OTP_LOCK_AFTER", "1"), ("PASSWORD_BACKOFF_AFTER", "1")];
        let app = test_app().on(backend).env(&policy).spawn().await;
        let email = unique_email();
        app.register_and_login(&email).await;
        let code = app.code_for(&email);
        assert_status(app.verify(&email, &other_than(&code)).await, 401).await;
        assert_status(app.login(&email, "not the password").await, 401).await;
        // Locked out two ways: by the wrong code, and by a back-off, made as long as many
        // more wrong passwords would make it.
        let db = app.connect_db().await;
        let until = chrono::Utc::now().timestamp_millis() + 600_000;
        db.execute(Statement::from_sql_and_values(
            db.get_database_backend(),
            "UPDATE password_attempts SET open_at_ms = ? WHERE username = ?",
            [until.into(), email.as_str().into()],
        ))
        .await
        .unwrap();
        assert_status(app.login(&email, PASSWORD).await, 429).await;

        let locked = users_json(&app, &["list", "--locked"], &policy);
        let names: Vec<&str> = locked
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|view| view["username"].as_str())
            .collect();
        assert_eq!(names, [email.as_str()], "{backend:?}");
        let shown = users_json(&app, &["show", &email], &policy);
        assert_eq!(shown["code_sign_in_locked"], true, "{shown}");
        assert_eq!(shown["back_offs"][0]["address"], "127.0.0.1", "{shown}");

        let unlocked = users_json(&app, &["unlock", &email], &policy);
        assert_eq!(unlocked["wrong_codes_cleared"], 1, "{unlocked}");
        assert_eq!(unlocked["back_offs_cleared"], 1, "{unlocked}");
        assert_eq!(
            users_json(&app, &["list", "--locked"], &policy),
            serde_json::json!([])
        );
        // The owner's right password now mails a code, and the code signs in.
        let before = app.mails_to(&email, "Your sign-in code");
        assert_status(app.login(&email, PASSWORD).await, 200).await;
        assert_eq!(app.mails_to(&email, "Your sign-in code"), before + 1);
        assert_status(app.verify(&email, &app.code_for(&email)).await, 200).await;
    }
}

#[tokio::test]
async fn list_filters_and_pages_by_id() {
    let app = spawn_app().await;
    let (proven, unproven, disabled) = (unique_email(), unique_email(), unique_email());
    app.sign_in(&proven).await;
    assert_status(app.register(&unproven, PASSWORD).await, 201).await;
    app.sign_in(&disabled).await;
    users_ok(&app, &["disable", &disabled], &[]);

    let names = |listing: Value| -> Vec<String> {
        listing
            .as_array()
            .unwrap()
            .iter()
            .map(|view| view["username"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(users_json(&app, &["list"], &[])),
        [proven.clone(), unproven.clone(), disabled.clone()]
    );
    assert_eq!(
        names(users_json(&app, &["list", "--unverified"], &[])),
        std::slice::from_ref(&unproven)
    );
    assert_eq!(
        names(users_json(&app, &["list", "--disabled"], &[])),
        std::slice::from_ref(&disabled)
    );
    let page = users_ok(&app, &["list", "--limit", "2"], &[]);
    let first_two = users_json(&app, &["list", "--limit", "2"], &[]);
    let last_id = first_two[1]["id"].as_i64().unwrap().to_string();
    assert!(
        page.contains(&format!("(more: --after {last_id})")),
        "{page}"
    );
    assert!(page.contains(&proven) && page.contains(&unproven) && !page.contains(&disabled));
    assert_eq!(
        names(users_json(&app, &["list", "--after", &last_id], &[])),
        std::slice::from_ref(&disabled)
    );
    assert_eq!(
        users(&app, &["list", "--limit", "0"], &[]).status.code(),
        Some(2)
    );
}

#[tokio::test]
async fn delete_leaves_nothing_of_the_account_in_any_table_and_the_address_registers_again() {
    let app = test_app()
        .env(&[
            ("RATE_LIMIT_CODE_SENDS", "5/1h"),
            ("RATE_LIMIT_PASSWORD_FAILURES", "50/1h"),
            ("PASSWORD_BACKOFF_AFTER", "5"),
        ])
        .spawn()
        .await;
    let email = unique_email();
    let kept = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    app.sign_in_grant(&email).await;
    app.sign_in(&kept).await;
    // Something of the account in every table that keys rows to it.
    assert_status(app.login(&email, "not the password").await, 401).await;
    assert_status(app.request_reset(&email).await, 200).await;
    assert_status(app.login(&email, PASSWORD).await, 200).await;
    let id = users_json(&app, &["show", &email], &[])["id"]
        .as_i64()
        .unwrap();
    assert!(traces_of(&app, id, &email).await.len() >= 6);

    let unconfirmed = users(&app, &["delete", &email], &[]);
    assert_eq!(unconfirmed.status.code(), Some(1), "{unconfirmed:?}");
    assert!(String::from_utf8_lossy(&unconfirmed.stderr).contains("--yes"));
    assert!(
        users(&app, &["show", &email], &[]).status.success(),
        "nothing deleted"
    );

    let deleted = users_json(&app, &["delete", &email, "--yes"], &[]);
    assert_eq!(deleted["deleted"], true, "{deleted}");
    assert_eq!(traces_of(&app, id, &email).await, Vec::<String>::new());
    assert_eq!(
        app.count_rows("refresh_tokens").await,
        1,
        "the other account's token stays"
    );
    users_ok(&app, &["show", &kept], &[]);

    assert_status(app.register(&email, PASSWORD).await, 201).await;
    app.sign_in_again(&email).await;
}
