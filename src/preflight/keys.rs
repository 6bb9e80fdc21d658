//! The server keys: each one there (given, or read from Secrets Manager as start-up reads it)
//! and long enough, and the two different.
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::Finding;
use crate::config::secrets::fetch;
use crate::config::{KeySettings, KeySource};

/// Longest wait for Secrets Manager (credentials included) before the key is called unreadable.
const SECRETS_TIMEOUT: Duration = Duration::from_secs(10);

/// The findings, and `JWT_SECRET` as resolved (none when random or unreadable) for the check
/// of the signing keys it seals.
pub async fn check(keys: &KeySettings) -> (Vec<Finding>, Option<SecretString>) {
    let mut findings = Vec::new();
    let jwt = resolve("JWT_SECRET", &keys.jwt, &mut findings).await;
    let otp = resolve("OTP_SECRET", &keys.otp, &mut findings).await;
    if let (Some(jwt), Some(otp)) = (&jwt, &otp) {
        findings.push(match jwt.expose_secret() == otp.expose_secret() {
            true => Finding::error(
                "keys",
                "JWT_SECRET and OTP_SECRET are the same key: one leaked key must not give \
                 away the other's job; make a new key for one of them",
            ),
            false => Finding::ok("keys", "JWT_SECRET and OTP_SECRET are different keys"),
        });
    }
    (findings, jwt)
}

async fn resolve(
    name: &'static str,
    source: &KeySource,
    findings: &mut Vec<Finding>,
) -> Option<SecretString> {
    match source {
        // The settings have already refused a key shorter than the minimum.
        KeySource::Value(value) => {
            findings.push(Finding::ok(
                "keys",
                format!("{name} is set and long enough"),
            ));
            Some(value.clone())
        }
        KeySource::SecretsManager { arn } => {
            let client = aws_sdk_secretsmanager::Client::new(crate::aws::shared_config().await);
            match tokio::time::timeout(SECRETS_TIMEOUT, fetch(&client, arn, name)).await {
                Ok(Ok(value)) => {
                    findings.push(Finding::ok(
                        "keys",
                        format!("{name} is read from {name}_ARN ({arn}) and long enough"),
                    ));
                    Some(value)
                }
                Ok(Err(err)) => {
                    findings.push(Finding::error("keys", format!("{err:#}")));
                    None
                }
                Err(_) => {
                    findings.push(Finding::error(
                        "keys",
                        format!(
                            "{name}_ARN ({arn}): Secrets Manager did not answer within {} s",
                            SECRETS_TIMEOUT.as_secs()
                        ),
                    ));
                    None
                }
            }
        }
        KeySource::Random => {
            findings.push(Finding::warning(
                "keys",
                format!(
                    "{name} is not set: each process makes a random one, so tokens and codes \
                     die with it; fine for local development only"
                ),
            ));
            None
        }
    }
}
