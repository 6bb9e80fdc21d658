//! `otp-login keys rotate`: one command that stages. With no standby key it makes one, which
//! is published at once but signs nothing; the next run, once every verifier can have fetched
//! it, makes it active and retires the old active key, which stays published until the last
//! token it signed has expired. Retired keys past that are deleted.
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::{create, Sealer, JWKS_MAX_AGE, REFRESH};
use crate::store::signing_keys::{self, KeyState};
use crate::store::{self, Db};

/// How long a standby key must have been published before it may sign: an instance serves
/// the set from a copy up to `REFRESH` old, and verifiers cache it for `JWKS_MAX_AGE`.
pub const PUBLISH_BEFORE_SIGNING: Duration =
    Duration::from_secs(JWKS_MAX_AGE.as_secs() + REFRESH.as_secs());

/// What a rotate did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotated {
    /// A standby key was made and published.
    Staged { standby: String },
    /// The standby became active; the old active key is retired, published until then.
    Promoted {
        active: String,
        retired: String,
        retire_after: DateTime<Utc>,
    },
    /// There was no key at all: the first active one was made.
    Created,
}

/// One step of the rotation. `token_ttl` is the longest an access token lives; `wait` how long
/// a standby must have been published (`PUBLISH_BEFORE_SIGNING`, or zero when no one outside
/// verifies tokens).
pub async fn rotate(
    db: &Db,
    secret: &[u8],
    token_ttl: Duration,
    wait: Duration,
) -> anyhow::Result<Rotated> {
    let sealer = Sealer::new(secret);
    let dropped = signing_keys::delete_expired(db).await?;
    if dropped > 0 {
        tracing::info!(
            event = "signing_keys_dropped",
            dropped,
            "expired keys deleted"
        );
    }
    let stored = signing_keys::list(db).await?;
    let active = stored.iter().find(|key| key.state == KeyState::Active);
    let standby = stored.iter().find(|key| key.state == KeyState::Standby);
    let (active, standby) = match (active, standby) {
        (None, _) => {
            create(db, &sealer, KeyState::Active).await?;
            return Ok(Rotated::Created);
        }
        (Some(_), None) => {
            let kid = stage(db, &sealer).await?;
            return Ok(Rotated::Staged { standby: kid });
        }
        (Some(active), Some(standby)) => (active, standby),
    };
    // The standby must open with this JWT_SECRET before it may sign.
    sealer.open(&standby.kid, &standby.sealed_private_key)?;
    let ready_at = standby.created_at + chrono::Duration::from_std(wait)?;
    anyhow::ensure!(
        store::now() >= ready_at,
        "standby key {} was published at {}; verifiers may not have it until {ready_at} \
         (run again then, or pass --now if nothing outside otp-login verifies tokens)",
        standby.kid,
        standby.created_at
    );
    // Instances may sign with the old key for up to REFRESH more; its tokens then live TTL.
    let retire_after = store::now() + chrono::Duration::from_std(token_ttl + REFRESH * 2)?;
    let promoted = signing_keys::promote(db, &active.kid, &standby.kid, retire_after).await?;
    anyhow::ensure!(
        promoted,
        "another rotate moved the keys first; see `otp-login keys list`"
    );
    Ok(Rotated::Promoted {
        active: standby.kid.clone(),
        retired: active.kid.clone(),
        retire_after,
    })
}

async fn stage(db: &Db, sealer: &Sealer) -> anyhow::Result<String> {
    create(db, sealer, KeyState::Standby).await?;
    let stored = signing_keys::list(db).await?;
    stored
        .into_iter()
        .find(|key| key.state == KeyState::Standby)
        .map(|key| key.kid)
        .context("the new standby key is not stored")
}
