//! What signing and verifying one access token costs in process, for `scripts/bench`: RS256 by
//! `TokenKeys` over a key ring stored in the database, as the service builds it with a
//! `JWT_SECRET`, next to the HS256 that 0.3.0 signed with one shared secret.
//!
//! `cargo run --release --example token_costs -- [RUNS]` prints one JSON object: the median
//! microseconds per operation over RUNS of each (default 2000).
use std::future::Future;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use migration::{Migrator, MigratorTrait};
use otp_login::auth::{KeyRing, RefreshPolicy, TokenKeys, TokenPolicy};
use otp_login::store;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

const SECRET: &[u8] = b"bench-jwt-secret-0123456789abcdef0123";

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let runs: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 2000,
    };
    anyhow::ensure!(runs > 0, "RUNS must be at least 1");
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("keys.db").display());
    let db = store::connect(&SecretString::from(url), 1, false).await?;
    Migrator::up(&db, None).await?;
    let keys = TokenKeys::new(
        KeyRing::shared(db.clone(), SECRET),
        TokenPolicy {
            issuer: "http://localhost:3000".into(),
            audiences: vec!["otp-login".into()],
            ttl: Duration::from_secs(900),
            refresh: RefreshPolicy {
                idle: Duration::from_secs(30 * 86_400),
                max_age: Duration::from_secs(90 * 86_400),
                reuse_grace: Duration::from_secs(10),
            },
        },
    );
    let session_ends = chrono::Utc::now() + chrono::Duration::days(90);
    // The first use makes and stores the key pair; every later one signs from the ring's copy.
    let token = keys
        .issue("0123abcd", "a@example.com", "s1", session_ends)
        .await?
        .token;
    anyhow::ensure!(
        keys.verify(&token).await.is_ok(),
        "RS256 token did not verify"
    );

    let (keys, token) = (&keys, token.as_str());
    let rs256_issue = median_us(runs, move || async move {
        keys.issue("0123abcd", "a@example.com", "s1", session_ends)
            .await
            .map(drop)
    })
    .await?;
    let rs256_verify = median_us(runs, move || async move {
        keys.verify(token).await.map(drop).map_err(Into::into)
    })
    .await?;

    let hs256 = &Hs256::new(SECRET)?;
    let old = hs256.issue("a@example.com", "s1")?;
    anyhow::ensure!(hs256.verify(&old).is_ok(), "HS256 token did not verify");
    let old = old.as_str();
    let hs256_issue = median_us(runs, move || async move {
        hs256.issue("a@example.com", "s1").map(drop)
    })
    .await?;
    let hs256_verify = median_us(runs, move || async move { hs256.verify(old).map(drop) }).await?;

    store::close(&db).await?;
    println!(
        "{}",
        serde_json::json!({
            "runs": runs,
            "rs256_issue_us": rs256_issue,
            "rs256_verify_us": rs256_verify,
            "hs256_issue_us": hs256_issue,
            "hs256_verify_us": hs256_verify,
        })
    );
    Ok(())
}

/// The median of `runs` timings of `op`, in microseconds.
async fn median_us<F, Fut>(runs: usize, mut op: F) -> anyhow::Result<f64>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        op().await?;
        times.push(started.elapsed().as_secs_f64() * 1e6);
    }
    times.sort_by(f64::total_cmp);
    Ok(times[runs / 2])
}

/// 0.3.0's session tokens, as its `src/auth/token.rs` made and checked them: HS256 over one
/// shared secret, with `sub`, `sid`, `iss`, `iat` and `exp`.
struct Hs256 {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

#[derive(Serialize, Deserialize)]
struct Hs256Claims {
    sub: String,
    sid: String,
    iss: String,
    iat: u64,
    exp: u64,
}

impl Hs256 {
    fn new(secret: &[u8]) -> anyhow::Result<Self> {
        Ok(Self {
            encoding: EncodingKey::from_secret(secret)?,
            decoding: DecodingKey::from_secret(secret)?,
        })
    }

    fn issue(&self, username: &str, session_id: &str) -> anyhow::Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Hs256Claims {
            sub: username.to_owned(),
            sid: session_id.to_owned(),
            iss: "otp-login".to_owned(),
            iat: now,
            exp: now + 3600,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// As 0.3.0 did, the validation is built for each token.
    fn verify(&self, token: &str) -> anyhow::Result<Hs256Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&["otp-login"]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.leeway = 0;
        Ok(jsonwebtoken::decode::<Hs256Claims>(token, &self.decoding, &validation)?.claims)
    }
}
