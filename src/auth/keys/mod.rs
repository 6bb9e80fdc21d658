//! The key set access tokens are signed and verified with: RSA pairs stored in the database
//! (private halves sealed under `JWT_SECRET`) so every instance shares them, each instance
//! keeping a copy it reads again at least every `REFRESH`. The first key is made on first use.
mod pair;
mod rotation;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use jsonwebtoken::{DecodingKey, EncodingKey};

pub use pair::{encoding_key, generate, NewPair, PublicJwk, Sealer};
pub use rotation::{rotate, Rotated, PUBLISH_BEFORE_SIGNING};

use crate::store::signing_keys::{self, KeyState, StoredKey};
use crate::store::{self, Db};

/// How long an instance signs and verifies from its copy of the key set before reading it
/// again: so a rotated key stops signing everywhere within this, which `retire_after` allows for.
pub const REFRESH: Duration = Duration::from_secs(60);
/// How long verifiers may cache the published key set (`Cache-Control: max-age`).
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(600);
/// A token naming a kid this instance does not know makes it read the set again, at most this
/// often (a standby promoted by another instance's rotate signs before our refresh).
const UNKNOWN_KID_RELOAD: Duration = Duration::from_secs(5);

/// A key that may still verify a live token, as the key set publishes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedKey {
    pub kid: String,
    pub state: KeyState,
    pub jwk: PublicJwk,
}

/// The key that signs now. Its private half never reaches `Debug`.
pub struct SigningKey {
    pub kid: String,
    pub key: EncodingKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// One reading of the key set.
pub struct KeySet {
    pub signing: SigningKey,
    pub published: Vec<PublishedKey>,
    verifying: Vec<(String, DecodingKey)>,
    loaded_at: Instant,
}

impl KeySet {
    pub fn verifying_key(&self, kid: &str) -> Option<&DecodingKey> {
        self.verifying
            .iter()
            .find(|(known, _)| known == kid)
            .map(|(_, key)| key)
    }
}

#[derive(Clone)]
enum Source {
    Shared {
        db: Db,
        sealer: Sealer,
    },
    /// A key pair for this process only, when `JWT_SECRET` is random (development only).
    Ephemeral,
}

/// The shared key set and this instance's copy of it.
#[derive(Clone)]
pub struct KeyRing {
    source: Source,
    copy: Arc<RwLock<Option<Arc<KeySet>>>>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyRing(..)")
    }
}

impl KeyRing {
    /// Keys stored in `db`, sealed under a key derived from `secret` (`JWT_SECRET`).
    pub fn shared(db: Db, secret: &[u8]) -> Self {
        Self::from_source(Source::Shared {
            db,
            sealer: Sealer::new(secret),
        })
    }

    /// One key pair for this process, never stored: tokens die with the process, as they did
    /// with a random `JWT_SECRET`.
    pub fn ephemeral() -> anyhow::Result<Self> {
        let ring = Self::from_source(Source::Ephemeral);
        let generated = pair::generate()?;
        let kid = new_kid();
        let set = KeySet {
            signing: SigningKey {
                kid: kid.clone(),
                key: pair::encoding_key(&generated.pkcs8)?,
            },
            verifying: vec![(kid.clone(), generated.public.decoding_key()?)],
            published: vec![PublishedKey {
                kid,
                state: KeyState::Active,
                jwk: generated.public,
            }],
            loaded_at: Instant::now(),
        };
        *ring.copy.write().expect("key set lock") = Some(Arc::new(set));
        Ok(ring)
    }

    fn from_source(source: Source) -> Self {
        Self {
            source,
            copy: Arc::new(RwLock::new(None)),
        }
    }

    /// The key set, read again when this copy is older than `REFRESH`.
    pub async fn current(&self) -> anyhow::Result<Arc<KeySet>> {
        let copy = self.copy.read().expect("key set lock").clone();
        match copy {
            Some(set) if self.is_fresh(&set, REFRESH) => Ok(set),
            _ => self.reload().await,
        }
    }

    /// The key that verifies tokens naming `kid`, if it is in the set.
    pub async fn verifying_key(&self, kid: &str) -> anyhow::Result<Option<DecodingKey>> {
        let mut set = self.current().await?;
        if set.verifying_key(kid).is_none() && !self.is_fresh(&set, UNKNOWN_KID_RELOAD) {
            set = self.reload().await?;
        }
        Ok(set.verifying_key(kid).cloned())
    }

    fn is_fresh(&self, set: &KeySet, within: Duration) -> bool {
        matches!(self.source, Source::Ephemeral) || set.loaded_at.elapsed() < within
    }

    async fn reload(&self) -> anyhow::Result<Arc<KeySet>> {
        let Source::Shared { db, sealer } = &self.source else {
            let copy = self.copy.read().expect("key set lock").clone();
            return copy.context("the ephemeral key set is always loaded");
        };
        let set = Arc::new(load(db, sealer).await?);
        *self.copy.write().expect("key set lock") = Some(set.clone());
        Ok(set)
    }
}

/// Reads the stored set, making the first active key when there is none. Two instances doing
/// so at once both try; the unique active slot lets one win, and the other reads its key.
async fn load(db: &Db, sealer: &Sealer) -> anyhow::Result<KeySet> {
    let mut stored = signing_keys::list(db).await?;
    if !stored.iter().any(|key| key.state == KeyState::Active) {
        let made = create(db, sealer, KeyState::Active).await?;
        if made {
            tracing::info!(
                event = "signing_key_created",
                "first token signing key made"
            );
        }
        stored = signing_keys::list(db).await?;
    }
    let active = stored
        .iter()
        .find(|key| key.state == KeyState::Active)
        .context("no active signing key after making one")?;
    let signing = SigningKey {
        kid: active.kid.clone(),
        key: pair::encoding_key(&sealer.open(&active.kid, &active.sealed_private_key)?)?,
    };
    let published = published(&stored);
    let verifying = published
        .iter()
        .map(|key| Ok((key.kid.clone(), key.jwk.decoding_key()?)))
        .collect::<anyhow::Result<_>>()?;
    Ok(KeySet {
        signing,
        published,
        verifying,
        loaded_at: Instant::now(),
    })
}

/// The keys that may still verify a live token: active, standby, and retired ones until their
/// `retire_after`.
pub fn published(stored: &[StoredKey]) -> Vec<PublishedKey> {
    let now = store::now();
    stored
        .iter()
        .filter(|key| key.state != KeyState::Retired || key.retire_after.is_some_and(|t| t > now))
        .map(|key| PublishedKey {
            kid: key.kid.clone(),
            state: key.state,
            jwk: PublicJwk {
                n: key.n.clone(),
                e: key.e.clone(),
            },
        })
        .collect()
}

/// A new key pair stored as `state`; `false` when another instance's active key won.
async fn create(db: &Db, sealer: &Sealer, state: KeyState) -> anyhow::Result<bool> {
    let generated = pair::generate()?;
    let kid = new_kid();
    let sealed = sealer.seal(&kid, &generated.pkcs8)?;
    let (n, e) = (&generated.public.n, &generated.public.e);
    Ok(signing_keys::insert(db, &kid, state, n, e, &sealed).await?)
}

/// 128 random bits in hex: names a key and says nothing about it.
fn new_kid() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}
