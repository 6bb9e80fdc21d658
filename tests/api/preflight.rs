//! `otp-login check`, the pre-flight before a deploy: the binary run as an operator runs it,
//! against MariaDB and the local SES emulator (moto at `TEST_SES_ENDPOINT`, see ses.rs).

use crate::helpers::*;

/// Runs `check`, holds every line to the `level: check: message` form, and answers the output.
fn check(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let output = otp_login(&["check"], env);
    let text = stdout(&output);
    for line in text.lines() {
        assert!(
            ["ok: ", "warning: ", "error: "]
                .iter()
                .any(|level| line.starts_with(level)),
            "{line}"
        );
    }
    for secret in [JWT_SECRET, OTP_SECRET, "hunter2"] {
        assert!(!text.contains(secret), "a secret was printed: {text}");
    }
    (output.status.code(), text)
}

fn ses_endpoint() -> String {
    std::env::var("TEST_SES_ENDPOINT").expect("TEST_SES_ENDPOINT (see ses.rs)")
}

/// A migrated MariaDB database of the test's own.
async fn migrated_db() -> std::sync::Arc<TestDb> {
    let db = TestDb::new(Backend::MariaDb).await;
    let migrated = otp_login(&["migrate"], &[("DATABASE_URL", db.url.as_str())]);
    assert!(migrated.status.success(), "{migrated:?}");
    db
}

#[test]
fn help_lists_check_and_its_json_option() {
    let help = stdout(&otp_login(&["--help"], &[]));
    assert!(help.contains("check"), "{help}");
    let check_help = stdout(&otp_login(&["check", "--help"], &[]));
    assert!(check_help.contains("--json"), "{check_help}");
}

#[tokio::test]
async fn a_good_configuration_passes_with_ok_lines_and_exit_0() {
    let db = migrated_db().await;
    let env = [
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", JWT_SECRET),
        ("OTP_SECRET", OTP_SECRET),
    ];
    let (code, text) = check(&env);
    assert_eq!(code, Some(0), "{text}");
    for expected in [
        "ok: settings:",
        "ok: keys: JWT_SECRET and OTP_SECRET are different keys",
        "ok: database: reachable (mysql)",
        "ok: migrations: all",
        "warning: signing-keys: no active signing key yet",
        "warning: mailer: the development mailer",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }

    // Once the first key is made, it is counted, and it opens with this JWT_SECRET.
    assert!(otp_login(&["jwks"], &env).status.success());
    let (code, text) = check(&env);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("ok: signing-keys: 1 active and 0 standby"),
        "{text}"
    );
    let other_secret = "another-jwt-secret-0123456789abcdef01";
    let (code, text) = check(&[env[0], ("JWT_SECRET", other_secret), env[2]]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("error: signing-keys: signing key") && text.contains("does not open"),
        "{text}"
    );
}

#[tokio::test]
async fn a_wrong_database_url_is_an_error_without_the_password_and_exits_1() {
    let env = [
        (
            "DATABASE_URL",
            "mysql://root:hunter2-secret@127.0.0.1:1/otp",
        ),
        ("JWT_SECRET", JWT_SECRET),
        ("OTP_SECRET", OTP_SECRET),
    ];
    let (code, text) = check(&env);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("error: database: could not connect to DATABASE_URL"),
        "{text}"
    );

    let output = otp_login(&["check", "--json"], &env);
    assert_eq!(output.status.code(), Some(1));
    let findings: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let database = findings
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == "database")
        .unwrap_or_else(|| panic!("{findings}"));
    assert_eq!(database["level"], "error");
    assert!(!database["message"].as_str().unwrap().contains("hunter2"));
}

#[tokio::test]
async fn an_unmigrated_database_is_an_error_naming_the_pending_migrations() {
    let db = TestDb::new(Backend::MariaDb).await;
    let (code, text) = check(&[("DATABASE_URL", db.url.as_str())]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("ok: database: reachable"), "{text}");
    assert!(
        text.contains("error: migrations:")
            && text.contains("pending")
            && text.contains("otp-login migrate"),
        "{text}"
    );
}

#[test]
fn equal_jwt_and_otp_secrets_are_an_error() {
    let (code, text) = check(&[("JWT_SECRET", JWT_SECRET), ("OTP_SECRET", JWT_SECRET)]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("error: settings:")
            && text.contains("JWT_SECRET and OTP_SECRET must be different keys"),
        "{text}"
    );
}

#[tokio::test]
async fn equal_keys_read_from_secrets_manager_are_an_error() {
    let endpoint = ses_endpoint();
    let client = aws_sdk_secretsmanager::Client::new(&crate::ses::aws_config(&endpoint).await);
    let arn = client
        .create_secret()
        .name(format!("otp-login/check-{}", random_suffix()))
        .secret_string(JWT_SECRET)
        .send()
        .await
        .expect("create the secret in the emulator")
        .arn()
        .expect("an ARN")
        .to_owned();
    let (code, text) = check(&[
        ("JWT_SECRET_ARN", arn.as_str()),
        ("OTP_SECRET_ARN", arn.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "ok: keys: JWT_SECRET is read from JWT_SECRET_ARN ({arn})"
        )),
        "{text}"
    );
    assert!(
        text.contains("error: keys: JWT_SECRET and OTP_SECRET are the same key"),
        "{text}"
    );
}

/// The settings of a deploy that sends with SES through the emulator.
fn ses_env<'a>(db: &'a TestDb, sender: &'a str, endpoint: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("DATABASE_URL", db.url.as_str()),
        ("JWT_SECRET", JWT_SECRET),
        ("OTP_SECRET", OTP_SECRET),
        ("SENDER_EMAIL", sender),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_ENDPOINT_URL", endpoint),
    ]
}

#[tokio::test]
async fn an_unverified_ses_sender_is_an_error() {
    let db = migrated_db().await;
    let endpoint = ses_endpoint();
    let sender = format!("nobody@{}.otp-login.test", random_suffix().to_lowercase());
    let (code, text) = check(&ses_env(&db, &sender, &endpoint));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(&format!("error: ses-sender: SES knows neither {sender}")),
        "{text}"
    );
}

#[tokio::test]
async fn a_verified_ses_sender_passes_and_the_account_question_is_answered() {
    let db = migrated_db().await;
    let endpoint = ses_endpoint();
    let sender = crate::ses::verified_sender(&crate::ses::aws_config(&endpoint).await).await;
    let (code, text) = check(&ses_env(&db, &sender, &endpoint));
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("ok: mailer: SES sends as {sender}")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "ok: ses-sender: the SES identity {sender} is verified"
        )),
        "{text}"
    );
    // moto has no SES v2 GetAccount: the sandbox question stays open, as a warning.
    assert!(
        text.contains("warning: ses-account: this SES endpoint does not answer GetAccount"),
        "{text}"
    );
}

#[tokio::test]
async fn settings_for_lambda_warn_that_cors_allows_any_origin() {
    let db = migrated_db().await;
    let endpoint = ses_endpoint();
    let sender = crate::ses::verified_sender(&crate::ses::aws_config(&endpoint).await).await;
    let mut env = ses_env(&db, &sender, &endpoint);
    env.extend([
        ("AWS_LAMBDA_FUNCTION_NAME", "otp-login"),
        ("TOKEN_ISSUER", "https://auth.example.com"),
    ]);
    let (code, text) = check(&env);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("read with Lambda's rules"), "{text}");
    assert!(
        text.contains("warning: cors: CORS_ALLOWED_ORIGINS allows any origin"),
        "{text}"
    );
    env.push(("CORS_ALLOWED_ORIGINS", "https://pages.example.com"));
    let (_, text) = check(&env);
    assert!(
        text.contains("ok: cors: CORS allows https://pages.example.com"),
        "{text}"
    );
}
