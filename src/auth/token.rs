//! Session tokens: HS256 JWTs naming the signed-in user, issued after a verified code.
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

const ISSUER: &str = "otp-login";

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl: Duration,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    iat: u64,
    exp: u64,
}

/// A freshly issued token and how long it lives.
pub struct SessionToken {
    pub token: String,
    pub expires_in: Duration,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid session token")]
pub struct InvalidToken;

impl TokenKeys {
    pub fn new(secret: &[u8], ttl: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl,
        }
    }

    pub fn issue(&self, username: &str) -> anyhow::Result<SessionToken> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: username.to_owned(),
            iss: ISSUER.to_owned(),
            iat: now,
            exp: now + self.ttl.as_secs(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(SessionToken {
            token,
            expires_in: self.ttl,
        })
    }

    /// The username a valid, unexpired token was issued to.
    pub fn verify(&self, token: &str) -> Result<String, InvalidToken> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims.sub)
            .map_err(|_| InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_to_their_user() {
        let keys = TokenKeys::new(&[7; 32], Duration::from_secs(3600));
        let issued = keys.issue("alice@example.com").unwrap();
        assert_eq!(issued.expires_in.as_secs(), 3600);
        assert_eq!(keys.verify(&issued.token).unwrap(), "alice@example.com");
    }

    #[test]
    fn other_keys_and_garbage_are_rejected() {
        let keys = TokenKeys::new(&[7; 32], Duration::from_secs(3600));
        let other = TokenKeys::new(&[8; 32], Duration::from_secs(3600));
        let token = other.issue("alice@example.com").unwrap().token;
        assert!(keys.verify(&token).is_err());
        assert!(keys.verify("not.a.token").is_err());
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let keys = TokenKeys::new(&[7; 32], Duration::from_secs(3600));
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: "alice@example.com".into(),
            iss: ISSUER.into(),
            iat: now - 7200,
            exp: now - 3600,
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap();
        assert!(keys.verify(&token).is_err());
    }
}
