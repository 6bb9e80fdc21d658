//! Session tokens: HS256 JWTs naming the signed-in user and the session row (`sid`) that keeps
//! them valid, issued after a verified code.
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
    /// The session's row; a token from before sessions were rows has none and is refused.
    sid: String,
    iss: String,
    iat: u64,
    exp: u64,
}

/// A freshly issued token and how long it lives.
pub struct SessionToken {
    pub token: String,
    pub expires_in: Duration,
}

/// What a valid token says: whose it is and which session it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub username: String,
    pub session_id: String,
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

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, username: &str, session_id: &str) -> anyhow::Result<SessionToken> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: username.to_owned(),
            sid: session_id.to_owned(),
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

    /// The user and session a valid, unexpired token was issued for.
    pub fn verify(&self, token: &str) -> Result<TokenClaims, InvalidToken> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 0;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| TokenClaims {
                username: data.claims.sub,
                session_id: data.claims.sid,
            })
            .map_err(|_| InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_to_their_user() {
        let keys = TokenKeys::new(&[7; 32], Duration::from_secs(3600));
        let issued = keys.issue("alice@example.com", "s1").unwrap();
        assert_eq!(issued.expires_in.as_secs(), 3600);
        let claims = keys.verify(&issued.token).unwrap();
        assert_eq!(claims.username, "alice@example.com");
        assert_eq!(claims.session_id, "s1");
    }

    #[test]
    fn other_keys_and_garbage_are_rejected() {
        let keys = TokenKeys::new(&[7; 32], Duration::from_secs(3600));
        let other = TokenKeys::new(&[8; 32], Duration::from_secs(3600));
        let token = other.issue("alice@example.com", "s1").unwrap().token;
        assert!(keys.verify(&token).is_err());
        assert!(keys.verify("not.a.token").is_err());
    }

    #[test]
    fn expired_tokens_are_rejected() {
        let keys = TokenKeys::new(&[7; 32], Duration::from_secs(3600));
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: "alice@example.com".into(),
            sid: "s1".into(),
            iss: ISSUER.into(),
            iat: now - 7200,
            exp: now - 3600,
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &keys.encoding).unwrap();
        assert!(keys.verify(&token).is_err());
    }

    #[test]
    fn tokens_from_before_sessions_were_rows_are_refused() {
        #[derive(Serialize)]
        struct OldClaims {
            sub: String,
            iss: String,
            iat: u64,
            exp: u64,
        }
        let keys = TokenKeys::new(&[7; 32], Duration::from_secs(3600));
        let now = jsonwebtoken::get_current_timestamp();
        let old = OldClaims {
            sub: "alice@example.com".into(),
            iss: ISSUER.into(),
            iat: now,
            exp: now + 3600,
        };
        let token =
            jsonwebtoken::encode(&Header::new(Algorithm::HS256), &old, &keys.encoding).unwrap();
        assert!(keys.verify(&token).is_err());
    }
}
