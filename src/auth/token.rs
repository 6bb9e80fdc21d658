//! Access tokens: RS256 JWTs with `kid`, signed by the shared key set, naming the user by an
//! opaque id (`sub`) and the session row (`sid`) that keeps them valid.
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::{Deserialize, Serialize};

use super::keys::KeyRing;

/// What every token says about who issued it, for whom, and for how long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenPolicy {
    /// `iss`: the URL verifiers find `/.well-known/openid-configuration` under.
    pub issuer: String,
    /// `aud`: one or more audiences; verifiers accept a token naming theirs.
    pub audiences: Vec<String>,
    /// How long an access token lives (at most until its session's absolute end).
    pub ttl: Duration,
    pub refresh: RefreshPolicy,
}

/// How refresh tokens renew a session: each lives `idle` unless spent sooner, the session they
/// renew ends `max_age` after sign-in whatever happens, and a spent token presented again
/// within `reuse_grace` of its refresh (two tabs refreshing at once) gets a token rather than
/// ending the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    pub idle: Duration,
    pub max_age: Duration,
    pub reuse_grace: Duration,
}

impl RefreshPolicy {
    /// The longest a grace window may be: a stolen token replayed inside it renews too.
    pub const MAX_GRACE: Duration = Duration::from_secs(10);

    /// Whether a token issued at `issued_at` has gone unused too long by `now`.
    pub fn idle_expired(&self, issued_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now >= issued_at + self.idle
    }

    /// Whether a token spent at `spent_at` is still within the grace window at `now`.
    pub fn within_grace(&self, spent_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now <= spent_at + self.reuse_grace
    }

    /// How long a token issued `now` may renew a session that ends at `session_ends`.
    pub fn lifetime(&self, now: DateTime<Utc>, session_ends: DateTime<Utc>) -> Duration {
        let left = (session_ends - now).to_std().unwrap_or_default();
        left.min(self.idle)
    }
}

/// The only kind of token otp-login issues, as `token_use` says.
const ACCESS: &str = "access";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    /// One audience as a string, several as an array (RFC 7519 §4.1.3 allows both).
    aud: Audience,
    sub: String,
    email: String,
    /// The session's row; a token from before sessions were rows has none and is refused.
    sid: String,
    iat: u64,
    nbf: u64,
    exp: u64,
    jti: String,
    token_use: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// A freshly issued token and how long it lives.
pub struct SessionToken {
    pub token: String,
    pub expires_in: Duration,
}

/// What a valid token says: whose it is and which session it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    /// The user's opaque public id (`sub`).
    pub subject: String,
    pub session_id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("invalid session token")]
pub struct InvalidToken;

/// Signs and checks access tokens with the key ring.
#[derive(Clone, Debug)]
pub struct TokenKeys {
    ring: KeyRing,
    policy: TokenPolicy,
}

impl TokenKeys {
    pub fn new(ring: KeyRing, policy: TokenPolicy) -> Self {
        Self { ring, policy }
    }

    pub fn ttl(&self) -> Duration {
        self.policy.ttl
    }

    pub fn policy(&self) -> &TokenPolicy {
        &self.policy
    }

    pub fn ring(&self) -> &KeyRing {
        &self.ring
    }

    /// A token for the user `subject` (their public id) with address `email`, in session `sid`,
    /// which ends at `session_ends`: the token never outlives it.
    pub async fn issue(
        &self,
        subject: &str,
        email: &str,
        session_id: &str,
        session_ends: DateTime<Utc>,
    ) -> anyhow::Result<SessionToken> {
        let keys = self.ring.current().await?;
        let now = jsonwebtoken::get_current_timestamp();
        let ends = u64::try_from(session_ends.timestamp()).unwrap_or(0);
        let exp = (now + self.policy.ttl.as_secs()).min(ends).max(now);
        let aud = match self.policy.audiences.as_slice() {
            [one] => Audience::One(one.clone()),
            many => Audience::Many(many.to_vec()),
        };
        let claims = Claims {
            iss: self.policy.issuer.clone(),
            aud,
            sub: subject.to_owned(),
            email: email.to_owned(),
            sid: session_id.to_owned(),
            iat: now,
            nbf: now,
            exp,
            jti: hex::encode(rand::random::<[u8; 16]>()),
            token_use: ACCESS.to_owned(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(keys.signing.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &keys.signing.key)?;
        Ok(SessionToken {
            token,
            expires_in: Duration::from_secs(exp - now),
        })
    }

    /// The user and session of a valid token: RS256 only, by a published key its `kid` names,
    /// from our issuer, for our audience, within `nbf`..`exp`, and an access token.
    pub async fn verify(&self, token: &str) -> Result<TokenClaims, InvalidToken> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| InvalidToken)?;
        let kid = match (header.alg, header.kid) {
            (Algorithm::RS256, Some(kid)) => kid,
            _ => return Err(InvalidToken),
        };
        let key = match self.ring.verifying_key(&kid).await {
            Ok(Some(key)) => key,
            Ok(None) => return Err(InvalidToken),
            Err(err) => {
                tracing::error!(error = %format!("{err:#}"), "could not read the key set");
                return Err(InvalidToken);
            }
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation())
            .map_err(|_| InvalidToken)?;
        if data.claims.token_use != ACCESS {
            return Err(InvalidToken);
        }
        Ok(TokenClaims {
            subject: data.claims.sub,
            session_id: data.claims.sid,
        })
    }

    fn validation(&self) -> Validation {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[&self.policy.issuer]);
        validation.set_audience(&self.policy.audiences);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 0;
        validation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::new(
            KeyRing::ephemeral().unwrap(),
            TokenPolicy {
                issuer: "http://localhost:3000".into(),
                audiences: vec!["otp-login".into()],
                ttl: Duration::from_secs(3600),
                refresh: RefreshPolicy {
                    idle: Duration::from_secs(30 * 86_400),
                    max_age: Duration::from_secs(90 * 86_400),
                    reuse_grace: Duration::from_secs(10),
                },
            },
        )
    }

    fn far() -> DateTime<Utc> {
        Utc::now() + chrono::Duration::days(1)
    }

    #[tokio::test]
    async fn a_token_never_outlives_its_session() {
        let keys = keys();
        let ends = Utc::now() + chrono::Duration::seconds(120);
        let issued = keys
            .issue("ab12", "a@example.com", "s1", ends)
            .await
            .unwrap();
        assert!((119..=120).contains(&issued.expires_in.as_secs()));
    }

    #[test]
    fn refresh_rules_for_idle_grace_and_the_session_end() {
        let policy = keys().policy.refresh;
        let t = Utc::now();
        let days = chrono::Duration::days;
        assert!(!policy.idle_expired(t - days(29), t));
        assert!(policy.idle_expired(t - days(30), t));
        let secs = chrono::Duration::seconds;
        assert!(policy.within_grace(t - secs(10), t));
        assert!(!policy.within_grace(t - secs(11), t));
        assert_eq!(policy.lifetime(t, t + days(90)), policy.idle);
        assert_eq!(policy.lifetime(t, t + secs(60)).as_secs(), 60);
        assert_eq!(policy.lifetime(t, t - secs(60)).as_secs(), 0);
    }

    #[tokio::test]
    async fn issued_tokens_verify_to_their_user() {
        let keys = keys();
        let issued = keys
            .issue("ab12", "alice@example.com", "s1", far())
            .await
            .unwrap();
        assert_eq!(issued.expires_in.as_secs(), 3600);
        let claims = keys.verify(&issued.token).await.unwrap();
        assert_eq!(claims.subject, "ab12");
        assert_eq!(claims.session_id, "s1");
    }

    #[tokio::test]
    async fn other_keys_and_garbage_are_rejected() {
        let (keys, other) = (keys(), keys());
        let token = other
            .issue("ab12", "a@example.com", "s1", far())
            .await
            .unwrap()
            .token;
        assert!(keys.verify(&token).await.is_err());
        assert!(keys.verify("not.a.token").await.is_err());
    }

    #[tokio::test]
    async fn several_audiences_go_out_as_an_array_and_verify() {
        let mut keys = keys();
        keys.policy.audiences = vec!["a".into(), "b".into()];
        let token = keys
            .issue("ab12", "a@example.com", "s1", far())
            .await
            .unwrap()
            .token;
        assert!(keys.verify(&token).await.is_ok());
    }
}
