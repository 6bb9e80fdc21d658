//! The two server keys, from the environment or from AWS Secrets Manager (`*_SECRET_ARN`),
//! resolved once at start-up.
use anyhow::Context;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use super::{KeySettings, KeySource, MIN_KEY_BYTES};

/// The signing key for session tokens and the HMAC key for stored codes.
pub struct ServerKeys {
    pub jwt: SecretString,
    pub otp: SecretString,
}

impl ServerKeys {
    /// Takes each key as configured: given, fetched from Secrets Manager, or random for this
    /// process (development only; never allowed on Lambda by the settings).
    pub async fn resolve(keys: &KeySettings) -> anyhow::Result<Self> {
        let needs_manager = [&keys.jwt, &keys.otp]
            .iter()
            .any(|source| matches!(source, KeySource::SecretsManager { .. }));
        let client = match needs_manager {
            true => Some(aws_sdk_secretsmanager::Client::new(
                crate::aws::shared_config().await,
            )),
            false => None,
        };
        let key = |name: &'static str, source: &KeySource| {
            let client = client.clone();
            let source = source.clone();
            async move {
                match (source, client) {
                    (KeySource::Value(value), _) => Ok(value),
                    (KeySource::SecretsManager { arn }, Some(client)) => {
                        fetch(&client, &arn, name).await
                    }
                    _ => Ok(random_key(name)),
                }
            }
        };
        Ok(Self {
            jwt: key("JWT_SECRET", &keys.jwt).await?,
            otp: key("OTP_SECRET", &keys.otp).await?,
        })
    }
}

/// One key from Secrets Manager: the whole `SecretString`, or its field `name` when the secret
/// is a JSON object (one secret can then hold both keys).
pub async fn fetch(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
    name: &str,
) -> anyhow::Result<SecretString> {
    let output = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!(aws_sdk_secretsmanager::error::DisplayErrorContext(e)))
        .with_context(|| format!("could not read {name}_ARN ({arn}) from Secrets Manager"))?;
    let text = output
        .secret_string()
        .with_context(|| format!("{name}_ARN ({arn}) holds no SecretString"))?;
    let value = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(fields)) => fields
            .get(name)
            .and_then(|v| v.as_str())
            .with_context(|| format!("{name}_ARN ({arn}) is a JSON object without a {name} field"))?
            .to_owned(),
        _ => text.to_owned(),
    };
    anyhow::ensure!(
        value.len() >= MIN_KEY_BYTES,
        "{name} from {name}_ARN must be at least {MIN_KEY_BYTES} bytes long"
    );
    Ok(value.into())
}

fn random_key(name: &str) -> SecretString {
    tracing::warn!(
        "{name} is not set: using a random key for this process only; \
         set it for anything but local development"
    );
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    hex::encode(key).into()
}

impl ServerKeys {
    pub fn jwt_bytes(&self) -> &[u8] {
        self.jwt.expose_secret().as_bytes()
    }

    pub fn otp_bytes(&self) -> &[u8] {
        self.otp.expose_secret().as_bytes()
    }
}
