//! Server keys from AWS Secrets Manager, against the local AWS emulator (moto).
use otp_login::config::secrets::fetch;
use secrecy::ExposeSecret;

use crate::helpers::*;

async fn secrets_client() -> aws_sdk_secretsmanager::Client {
    let endpoint = std::env::var("TEST_SES_ENDPOINT").expect("TEST_SES_ENDPOINT (see ses.rs)");
    aws_sdk_secretsmanager::Client::new(&crate::ses::aws_config(&endpoint).await)
}

async fn create_secret(client: &aws_sdk_secretsmanager::Client, value: &str) -> String {
    client
        .create_secret()
        .name(format!("otp-login/test-{}", random_suffix()))
        .secret_string(value)
        .send()
        .await
        .expect("create the secret in the emulator")
        .arn()
        .expect("an ARN")
        .to_owned()
}

#[tokio::test]
async fn keys_are_read_whole_or_from_a_json_secret() {
    let client = secrets_client().await;
    let plain = format!(
        "plain-{}-{}-{}",
        random_suffix(),
        random_suffix(),
        random_suffix()
    );
    let arn = create_secret(&client, &plain).await;
    let key = fetch(&client, &arn, "JWT_SECRET").await.unwrap();
    assert_eq!(key.expose_secret(), plain);

    let (jwt, otp) = ("j".repeat(40), "o".repeat(40));
    let both = serde_json::json!({"JWT_SECRET": jwt, "OTP_SECRET": otp}).to_string();
    let arn = create_secret(&client, &both).await;
    assert_eq!(
        fetch(&client, &arn, "JWT_SECRET")
            .await
            .unwrap()
            .expose_secret(),
        jwt
    );
    assert_eq!(
        fetch(&client, &arn, "OTP_SECRET")
            .await
            .unwrap()
            .expose_secret(),
        otp
    );
}

#[tokio::test]
async fn unusable_secrets_stop_start_up_naming_the_variable() {
    let client = secrets_client().await;
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:otp-login/none-AbCdEf";
    let short = create_secret(&client, "too short").await;
    let wrong_field = create_secret(&client, r#"{"SOMETHING_ELSE": "x"}"#).await;
    for (arn, expected) in [
        (missing, "could not read JWT_SECRET_ARN"),
        (short.as_str(), "at least 32 bytes"),
        (wrong_field.as_str(), "without a JWT_SECRET field"),
    ] {
        let message = format!("{:#}", fetch(&client, arn, "JWT_SECRET").await.unwrap_err());
        assert!(message.contains(expected), "{message}");
        assert!(
            !message.contains("too short"),
            "the secret itself stays out of errors"
        );
    }
}
