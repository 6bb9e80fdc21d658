//! No password, code, secret or token reaches the logs.
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::helpers::*;

/// Everything the service logs while this test binary runs (all tests share one subscriber).
fn captured() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        tracing_subscriber::fmt()
            .with_env_filter("info,otp_login=debug")
            .with_ansi(false)
            .with_writer(move || Capture(sink.clone()))
            .try_init()
            .expect("the first subscriber of this test binary");
        logs
    })
}

struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_password_code_secret_or_token_is_logged() {
    let logs = captured();
    let jwt_secret = format!(
        "jwt-{}-{}-{}",
        random_suffix(),
        random_suffix(),
        random_suffix()
    );
    let otp_secret = format!(
        "otp-{}-{}-{}",
        random_suffix(),
        random_suffix(),
        random_suffix()
    );
    let password = format!("pw-{}", random_suffix());
    let wrong_password = format!("wrong-{}", random_suffix());

    let endpoint = std::env::var("TEST_SES_ENDPOINT").expect("TEST_SES_ENDPOINT (see ses.rs)");
    let aws = crate::ses::aws_config(&endpoint).await;
    let sender = crate::ses::verified_sender(&aws).await;
    let app = test_app()
        .env(&[("JWT_SECRET", &jwt_secret), ("OTP_SECRET", &otp_secret)])
        .mailer(crate::ses::ses_mailer(
            &aws,
            &sender,
            Duration::from_secs(5),
        ))
        .spawn()
        .await;

    let email = unique_email();
    assert_status(app.register(&email, &password).await, 201).await;
    assert_status(app.login(&email, &wrong_password).await, 401).await;
    let challenge = challenge_of(app.login(&email, &password).await).await;
    let code = crate::ses::code_in(&crate::ses::delivered_to(&email).await[0].1);
    assert_status(app.verify(&email, "000000").await, 401).await;
    let session = assert_status(app.verify(&email, &code).await, 200).await;
    let token = session["token"].as_str().unwrap().to_owned();
    assert_status(app.me(&token).await, 200).await;
    // Refreshed twice; then the first refresh token again, a reuse that ends the session.
    let refresh_token = session["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = assert_status(app.refresh(&refresh_token).await, 200).await;
    let next_refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();
    let refreshed_token = refreshed["token"].as_str().unwrap().to_owned();
    assert_status(app.refresh(&next_refresh).await, 200).await;
    assert_status(app.refresh(&refresh_token).await, 401).await;
    // The rest of the account's life: a reset by code, then a change while signed in.
    let reset_password = format!("reset-{}", random_suffix());
    let changed_password = format!("changed-{}", random_suffix());
    let reset_challenge = challenge_of(app.request_reset(&email).await).await;
    let mails = crate::ses::delivered_to(&email).await;
    let (subject, body) = mails.last().unwrap();
    assert_eq!(subject, "Your password reset code");
    let reset_code = crate::ses::code_in(body);
    let (_, link_token) = body.split_once("token=").expect("a link in the reset mail");
    let link_token: String = link_token.chars().take(32).collect();
    assert_status(
        app.reset_password(&email, &reset_code, &reset_password)
            .await,
        200,
    )
    .await;
    assert_status(app.login(&email, &reset_password).await, 200).await;
    let code_again = crate::ses::code_in(&crate::ses::delivered_to(&email).await.last().unwrap().1);
    let session = assert_status(app.verify(&email, &code_again).await, 200).await;
    let second_token = session["token"].as_str().unwrap().to_owned();
    assert_status(
        app.change_password(&second_token, &reset_password, &changed_password)
            .await,
        200,
    )
    .await;
    assert_status(app.logout(&second_token, None).await, 200).await;

    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert!(text.contains("code sent"), "the logs were captured");
    for event in [
        "password_reset",
        "password_changed",
        "signed_out",
        "token_refreshed",
        "refresh_token_reused",
    ] {
        let line = text
            .lines()
            .find(|l| l.contains(&format!("event=\"{event}\"")))
            .unwrap_or_else(|| panic!("no {event} event in the logs"));
        assert!(line.contains("client="), "{line}");
    }
    for (what, secret) in [
        ("password", password.as_str()),
        ("wrong password", &wrong_password),
        ("code", &code),
        ("reset code", &reset_code),
        ("challenge", &challenge),
        ("reset challenge", &reset_challenge),
        ("reset link secret", &link_token),
        ("new password", &reset_password),
        ("changed password", &changed_password),
        ("JWT secret", &jwt_secret),
        ("OTP secret", &otp_secret),
        ("token", &token),
        ("second token", &second_token),
        ("refresh token", &refresh_token),
        ("next refresh token", &next_refresh),
        ("refreshed token", &refreshed_token),
    ] {
        assert!(!text.contains(secret), "the {what} appears in the logs");
    }
}

#[tokio::test]
async fn each_request_gets_an_id_returned_and_carried_by_its_log_lines() {
    let logs = captured();
    let app = spawn_app().await;
    let id_of = |response: &reqwest::Response| {
        response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let email = unique_email();
    let given = format!("trace-{}", random_suffix());
    let response = app
        .client
        .post(app.url("/register"))
        .header("x-request-id", &given)
        .json(&serde_json::json!({"username": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(id_of(&response), given, "a well-formed incoming id is kept");
    assert_status(response, 201).await;

    let made = id_of(&app.login(&email, PASSWORD).await);
    assert!(
        made.len() == 32 && made.bytes().all(|b| b.is_ascii_hexdigit()),
        "{made}"
    );
    let forged = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(id_of(&forged), "bad id\twith spaces");

    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let line_with = |needle: &str| text.lines().find(|l| l.contains(needle)).map(str::to_owned);
    let registered =
        line_with(&format!("request_id={given}")).filter(|l| l.contains("user registered"));
    assert!(
        registered.is_some(),
        "the registration's own log line names its id"
    );
    let sent = text.lines().any(|l| {
        l.contains(&format!("request_id={made}"))
            && l.contains("event=\"code_sent\"")
            && l.contains("client=")
    });
    assert!(sent, "the security event carries the id");
}

#[tokio::test]
async fn a_failed_mail_is_logged_with_its_event_for_the_alarm() {
    let logs = captured();
    // A port nothing listens on: SES cannot be reached, and the login answers 502.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let aws = crate::ses::aws_config(&endpoint).await;
    let mailer = crate::ses::ses_mailer(&aws, "noreply@otp-login.test", Duration::from_secs(2));
    let app = test_app().mailer(mailer).spawn().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let response = app.login(&email, PASSWORD).await;
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_status(response, 502).await;

    let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let failed = text.lines().any(|l| {
        l.contains(&format!("request_id={id}"))
            && l.contains("event=\"mail_failed\"")
            && l.contains("request failed")
    });
    assert!(failed, "the 502 is logged as event=\"mail_failed\"");
}
