//! The SES path with the real aws-sdk-sesv2 client, against a local SES-compatible server
//! (moto in server mode; `scripts/test` starts it and sets `TEST_SES_ENDPOINT`).
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sesv2::config::{Credentials, SharedCredentialsProvider};
use otp_login::config::SesSettings;
use otp_login::mail::{Sender, SesMailer, Templates};
use serde_json::{json, Value};

use crate::helpers::*;

fn ses_endpoint() -> String {
    std::env::var("TEST_SES_ENDPOINT").unwrap_or_else(|_| {
        panic!(
            "TEST_SES_ENDPOINT is not set: the SES tests need a local SES-compatible server. \
             Run scripts/test (it starts moto), or start `moto_server -p 5005` and set \
             TEST_SES_ENDPOINT=http://127.0.0.1:5005"
        )
    })
}

pub(crate) async fn aws_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "tests",
        )))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// A sender address the emulator has verified, as SES requires.
pub(crate) async fn verified_sender(aws: &SdkConfig) -> String {
    let sender = format!("noreply-{}@otp-login.test", random_suffix().to_lowercase());
    aws_sdk_sesv2::Client::new(aws)
        .create_email_identity()
        .email_identity(&sender)
        .send()
        .await
        .expect("verify the sender identity in the SES emulator");
    sender
}

/// The real SES mailer, sending as `sender` through the emulator `aws` points at.
pub(crate) fn ses_mailer(aws: &SdkConfig, sender: &str, timeout: Duration) -> SesMailer {
    let settings = SesSettings {
        sender: sender.to_owned(),
        configuration_set: None,
        timeout,
        decoy: Some(DECOY.to_owned()),
    };
    let from = Sender::new(sender, "otp-login").unwrap();
    SesMailer::new(aws, &settings, Templates::compiled_in(), from)
}

/// The SES mailbox simulator: accepts a message and delivers it to nobody.
const DECOY: &str = "success@simulator.amazonses.com";

async fn spawn_app_sending_with(mailer: SesMailer) -> TestApp {
    test_app().mailer(mailer).spawn().await
}

/// The messages the emulator delivered to `to`, as (subject, plain-text part).
pub(crate) async fn delivered_to(to: &str) -> Vec<(String, String)> {
    raw_delivered_to(to)
        .await
        .iter()
        .map(|raw| {
            let message = mail_parser::MessageParser::default()
                .parse(raw.as_bytes())
                .expect("a MIME message");
            (
                message.subject().unwrap_or_default().to_owned(),
                message.body_text(0).unwrap_or_default().into_owned(),
            )
        })
        .collect()
}

/// The whole MIME messages the emulator delivered to `to`, oldest first.
pub(crate) async fn raw_delivered_to(to: &str) -> Vec<String> {
    let data: Value = reqwest::get(format!("{}/moto-api/data.json", ses_endpoint()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    data["ses"]["RawMessage"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["raw_data"].as_str().unwrap_or_default().to_owned())
        .filter(|raw| {
            let message = mail_parser::MessageParser::default().parse(raw.as_bytes());
            message
                .and_then(|m| {
                    m.to()
                        .and_then(|to| to.first())
                        .and_then(|a| a.address().map(str::to_owned))
                })
                .is_some_and(|address| address == to)
        })
        .collect()
}

pub(crate) fn code_in(body: &str) -> String {
    let digits: Vec<char> = body.chars().collect();
    digits
        .windows(6)
        .enumerate()
        .find(|(i, w)| {
            w.iter().all(char::is_ascii_digit)
                && !digits.get(i + 6).is_some_and(char::is_ascii_digit)
                && (*i == 0 || !digits[i - 1].is_ascii_digit())
        })
        .map(|(_, w)| w.iter().collect())
        .unwrap_or_else(|| panic!("no 6-digit code in {body}"))
}

#[tokio::test]
async fn the_code_arrives_through_ses_and_signs_in() {
    let aws = aws_config(&ses_endpoint()).await;
    let sender = verified_sender(&aws).await;
    let app = spawn_app_sending_with(ses_mailer(&aws, &sender, Duration::from_secs(5))).await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    assert_answer(app.login(&email, PASSWORD).await, 200, "OTP sent to email").await;

    let delivered = delivered_to(&email).await;
    assert_eq!(delivered.len(), 1, "{delivered:?}");
    let (subject, body) = &delivered[0];
    assert_eq!(subject, "Your sign-in code");
    assert!(body.contains("expires in 5 minutes"), "{body}");
    assert!(body.contains("If you did not try to sign in"), "{body}");
    let code = code_in(body);

    let session = assert_answer(app.verify(&email, &code).await, 200, "Login successful").await;
    let me = assert_status(app.me(session["token"].as_str().unwrap()).await, 200).await;
    assert_eq!(me["username"], email);
}

#[tokio::test]
async fn an_unverified_sender_answers_502_and_leaves_no_valid_code() {
    let aws = aws_config(&ses_endpoint()).await;
    let unverified = format!("nobody-{}@otp-login.test", random_suffix().to_lowercase());
    let app = spawn_app_sending_with(ses_mailer(&aws, &unverified, Duration::from_secs(5))).await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    assert_answer(
        app.login(&email, PASSWORD).await,
        502,
        "Could not send the code; try again later",
    )
    .await;
    assert!(delivered_to(&email).await.is_empty());
    assert_eq!(
        app.count_rows("one_time_codes").await,
        0,
        "the undelivered code was withdrawn"
    );
    // A reset request answers as for any address (a 502 would say the account exists), and
    // withdraws the undelivered code all the same.
    assert_answer(
        app.request_reset(&email).await,
        200,
        "If the account exists, a reset code was sent",
    )
    .await;
    assert!(delivered_to(&email).await.is_empty());
    assert_eq!(app.count_rows("one_time_codes").await, 0);
}

/// Registers a user on an app whose SES lives at `endpoint`, then times a login.
async fn timed_login_through(endpoint: &str, timeout: Duration) -> (TestApp, Value, Duration) {
    let aws = aws_config(endpoint).await;
    let mailer = ses_mailer(&aws, "noreply@otp-login.test", timeout);
    let app = spawn_app_sending_with(mailer).await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let started = Instant::now();
    let response = app.login(&email, PASSWORD).await;
    let elapsed = started.elapsed();
    let body = assert_answer(response, 502, "Could not send the code; try again later").await;
    (app, body, elapsed)
}

#[tokio::test]
async fn an_unreachable_ses_answers_502_within_the_timeout() {
    // A port nothing listens on: connection refused, as when SES cannot be reached.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (app, _, elapsed) = timed_login_through(&endpoint, Duration::from_secs(2)).await;
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    assert_eq!(app.count_rows("one_time_codes").await, 0);
}

#[tokio::test]
async fn a_hung_ses_is_cut_off_by_the_timeout() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let _silent = tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let (app, _, elapsed) = timed_login_through(&endpoint, Duration::from_secs(1)).await;
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert_eq!(app.count_rows("one_time_codes").await, 0);
}

#[tokio::test]
async fn the_lock_notice_goes_out_through_ses() {
    let aws = aws_config(&ses_endpoint()).await;
    let sender = verified_sender(&aws).await;
    let app = test_app()
        .env(&[("OTP_LOCK_AFTER", "1")])
        .mailer(ses_mailer(&aws, &sender, Duration::from_secs(5)))
        .spawn()
        .await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    assert_status(app.login(&email, PASSWORD).await, 200).await;
    let code = code_in(&delivered_to(&email).await[0].1);
    let wrong = other_than(&code);
    assert_status(app.verify(&email, &wrong).await, 401).await;
    let delivered = delivered_to(&email).await;
    assert_eq!(delivered.len(), 2, "{delivered:?}");
    assert_eq!(delivered[1].0, "Sign-in to your account is locked");
}

#[tokio::test]
async fn a_reset_request_for_an_unknown_account_sends_its_decoy_through_ses() {
    let aws = aws_config(&ses_endpoint()).await;
    let sender = verified_sender(&aws).await;
    let app = spawn_app_sending_with(ses_mailer(&aws, &sender, Duration::from_secs(5))).await;
    let before = delivered_to(DECOY).await.len();
    let unknown = unique_email();
    assert_status(app.request_reset(&unknown).await, 200).await;
    let decoys = delivered_to(DECOY).await;
    assert_eq!(
        decoys.len(),
        before + 1,
        "one decoy to the mailbox simulator"
    );
    assert_eq!(decoys.last().unwrap().0, "Your password reset code");
    assert!(
        delivered_to(&unknown).await.is_empty(),
        "nothing reaches the address asked for"
    );
}

#[tokio::test]
async fn an_address_change_sends_its_code_to_the_new_address_and_its_notice_to_the_old_through_ses()
{
    let aws = aws_config(&ses_endpoint()).await;
    let sender = verified_sender(&aws).await;
    let app = test_app()
        .env(&[("TRUST_FORWARDED_FOR", "true")])
        .mailer(ses_mailer(&aws, &sender, Duration::from_secs(5)))
        .spawn()
        .await;
    let (old, new) = (unique_email(), unique_email());
    assert_status(app.register(&old, PASSWORD).await, 201).await;
    let mut token = String::new();
    for (address, mails) in [("198.51.100.7", 1), ("203.0.113.9", 3)] {
        let login = json!({"username": old, "password": PASSWORD});
        let challenge = challenge_of(app.post_from(address, "/login", &login).await).await;
        let delivered = delivered_to(&old).await;
        let code = code_in(&delivered.last().unwrap().1);
        let verify = json!({"username": old, "code": code, "challenge": challenge});
        let grant = assert_status(app.post_from(address, "/verify", &verify).await, 200).await;
        token = grant["token"].as_str().unwrap().to_owned();
        assert_eq!(delivered_to(&old).await.len(), mails, "{address}");
    }
    assert_eq!(
        delivered_to(&old).await[2].0,
        "A sign-in from a new address"
    );

    assert_status(app.change_email(&token, &new, PASSWORD).await, 200).await;
    let to_new = delivered_to(&new).await;
    assert_eq!(to_new.len(), 1);
    assert_eq!(to_new[0].0, "Confirm your new address");
    let confirmed = app
        .confirm_email_change(&token, &code_in(&to_new[0].1))
        .await;
    assert_status(confirmed, 200).await;
    let to_old = delivered_to(&old).await;
    assert_eq!(to_old.len(), 4, "{to_old:?}");
    assert_eq!(to_old[3].0, "Your account's address was changed");
    assert_eq!(
        delivered_to(&new).await.len(),
        1,
        "the notice goes to the old address only"
    );
}

#[tokio::test]
async fn a_german_user_gets_german_mail_through_ses_with_the_headers_of_an_automatic_mail() {
    let aws = aws_config(&ses_endpoint()).await;
    let sender = verified_sender(&aws).await;
    let app = spawn_app_sending_with(ses_mailer(&aws, &sender, Duration::from_secs(5))).await;
    let email = unique_email();
    app.register_speaking(&email, "de").await;
    assert_status(app.login(&email, PASSWORD).await, 200).await;
    let raw = raw_delivered_to(&email).await;
    assert_eq!(raw.len(), 1);
    let domain = sender.rsplit('@').next().unwrap();
    let code = assert_a_german_code_mail(raw[0].as_bytes(), &email, domain);
    assert_status(app.verify(&email, &code).await, 200).await;
}
