//! Hashing and checking passwords: argon2id with OWASP's parameters, off the async executor,
//! bounded in threads and memory, and a check that costs the same whether or not the account
//! exists.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::Context;
use argon2::Block;
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::sync::{OnceCell, Semaphore};

use super::argon2id::{argon2, hash_phc, verify_phc};
use super::working_memory::WorkingMemory;
use super::{LoginPassword, NewPassword};

/// What a stored password said about an offered one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Mismatch,
    Match,
    /// Matched a plain-text password left by the old service: store a hash now.
    MatchNeedsRehash,
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// More requests are already waiting for a hash than the queue holds: try again shortly.
    #[error("password hashing is at capacity")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Argon2id with OWASP's parameters (m=19 MiB, t=2, p=1), at most one hash per core at a time
/// and a bounded queue of requests waiting for one: memory and threads stay bounded by the
/// permits, however many requests arrive or give up. Hashes work in memory kept warm between
/// them (`WorkingMemory`), at most one block per permit.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    memory: WorkingMemory,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    dummy_hash: Arc<OnceCell<String>>,
}

/// Requests that may wait for a hash, per permit. Each hash takes some tens of milliseconds,
/// so a full queue is still answered within about a second; past it, 503 at once beats piling
/// up requests (and their memory) that will time out anyway.
const WAITING_PER_PERMIT: usize = 16;

impl Default for PasswordHasher {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::with_permits(cores)
    }
}

/// Counts a request as waiting for as long as it lives, even when its future is dropped.
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PasswordHasher {
    /// At most `permits` hashes at once, and `WAITING_PER_PERMIT` times as many waiting.
    pub fn with_permits(permits: usize) -> Self {
        let permits = permits.max(1);
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            memory: WorkingMemory::new(argon2().params().block_count()),
            waiting: Arc::default(),
            max_waiting: permits * WAITING_PER_PERMIT,
            dummy_hash: Arc::default(),
        }
    }

    /// Keeps one block of working memory however long no hash runs: for where memory is
    /// reserved whether used or not (Lambda), so the first hash after a quiet spell is as fast
    /// as the next.
    pub fn keeping_a_block_warm(mut self) -> Self {
        self.memory = self.memory.keeping(1);
        self
    }

    /// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) for storage.
    pub async fn hash(&self, password: &NewPassword) -> Result<String, HashError> {
        self.hash_secret(password.0.clone()).await
    }

    /// Re-hashes a password that has just been proven right, for legacy rows.
    pub async fn rehash(&self, password: &LoginPassword) -> Result<String, HashError> {
        self.hash_secret(password.0.clone()).await
    }

    async fn hash_secret(&self, password: SecretString) -> Result<String, HashError> {
        self.blocking(move |memory| hash_phc(password.expose_secret().as_bytes(), memory))
            .await
    }

    /// Checks `password` against a stored value: a PHC hash, or the old service's plain text.
    /// `None` (no such user) still pays for a full hash so timing does not reveal the account.
    pub async fn verify(
        &self,
        password: &LoginPassword,
        stored: Option<&str>,
    ) -> Result<Verdict, HashError> {
        let is_phc = stored.is_some_and(|s| s.starts_with("$argon2"));
        let hash = match stored {
            Some(s) if is_phc => s.to_owned(),
            _ => self.dummy_hash().await?,
        };
        let offered = password.0.clone();
        let hash_matches = self
            .blocking(move |memory| verify_phc(offered.expose_secret().as_bytes(), &hash, memory))
            .await?;
        Ok(match stored {
            Some(_) if is_phc => match hash_matches {
                true => Verdict::Match,
                false => Verdict::Mismatch,
            },
            Some(plain) => {
                let offered = password.0.expose_secret().as_bytes();
                match bool::from(offered.ct_eq(plain.as_bytes())) {
                    true => Verdict::MatchNeedsRehash,
                    false => Verdict::Mismatch,
                }
            }
            None => Verdict::Mismatch,
        })
    }

    /// A hash of a random password, made once, that unknown users are checked against.
    async fn dummy_hash(&self) -> Result<String, HashError> {
        self.dummy_hash
            .get_or_try_init(|| async {
                let random: String = {
                    use rand::distr::{Alphanumeric, SampleString};
                    Alphanumeric.sample_string(&mut rand::rng(), 32)
                };
                self.hash_secret(random.into()).await
            })
            .await
            .cloned()
    }

    /// Runs `work` on the blocking pool, in working memory, once a permit is free. The permit
    /// moves into the blocking task, so it is held until the hash is done (and its memory kept
    /// for the next) even if the request is dropped.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut [Block]) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        let permit = match self.permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let queued = Waiting(self.waiting.clone());
                if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.max_waiting {
                    return Err(HashError::Busy);
                }
                let permit = self.permits.clone().acquire_owned().await;
                drop(queued);
                permit.context("password hasher is shut down")?
            }
        };
        let (memory, runtime) = (self.memory.clone(), tokio::runtime::Handle::current());
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let mut blocks = memory.take();
            let result = work(&mut blocks);
            memory.keep(blocks, &runtime);
            result
        })
        .await
        .context("password hashing task failed")?
        .map_err(HashError::Failed)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
    use argon2::{Algorithm, Argon2, Params, Version};

    use super::*;

    fn login(p: &str) -> LoginPassword {
        LoginPassword::parse(p.to_owned()).unwrap()
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_with_owasp_parameters_and_verify() {
        let hasher = PasswordHasher::default();
        let hash = hasher
            .hash(&NewPassword::parse("correct horse".into()).unwrap())
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let verdict = |p| {
            let hasher = hasher.clone();
            let hash = hash.clone();
            async move { hasher.verify(&login(p), Some(&hash)).await.unwrap() }
        };
        assert_eq!(verdict("correct horse").await, Verdict::Match);
        assert_eq!(verdict("correct horse!").await, Verdict::Mismatch);
    }

    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crates_own_in_both_directions() {
        use argon2::{PasswordHasher as _, PasswordVerifier as _};
        let hasher = PasswordHasher::default();
        let ours = hasher
            .hash(&NewPassword::parse("correct horse".into()).unwrap())
            .await
            .unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(b"correct horse", &parsed).is_ok());
        assert!(argon2().verify_password(b"correct horsf", &parsed).is_err());
        // Stored hashes with other parameters, smaller and larger than the kept memory: each
        // is checked under its own.
        for (m, t, p) in [(4096, 3, 1), (19 * 1024, 2, 2), (24 * 1024, 1, 1)] {
            let params = Params::new(m, t, p, None).unwrap();
            let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"correct horse", &SaltString::generate(&mut OsRng))
                .unwrap()
                .to_string();
            let verdict = |p| {
                let hasher = hasher.clone();
                let theirs = theirs.clone();
                async move { hasher.verify(&login(p), Some(&theirs)).await.unwrap() }
            };
            assert_eq!(verdict("correct horse").await, Verdict::Match, "{theirs}");
            assert_eq!(
                verdict("correct horsf").await,
                Verdict::Mismatch,
                "{theirs}"
            );
        }
        assert!(
            hasher.memory.kept() <= 1,
            "one hash at a time keeps one block"
        );
    }

    #[tokio::test]
    async fn legacy_plain_text_matches_and_asks_for_a_rehash() {
        let hasher = PasswordHasher::default();
        let verdict = |p| {
            let hasher = hasher.clone();
            async move { hasher.verify(&login(p), Some("1234")).await.unwrap() }
        };
        assert_eq!(verdict("1234").await, Verdict::MatchNeedsRehash);
        assert_eq!(verdict("12345").await, Verdict::Mismatch);
    }

    /// Work for the blocking pool that runs until `release` says so.
    fn held_until(
        release: std::sync::mpsc::Receiver<()>,
    ) -> impl FnOnce(&mut [Block]) -> anyhow::Result<()> {
        move |_| {
            let _ = release.recv();
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_dropped_request_keeps_its_permit_until_the_hash_is_done() {
        let hasher = PasswordHasher::with_permits(1);
        let (release, hold) = std::sync::mpsc::channel();
        let request = hasher.blocking(held_until(hold));
        // The client goes away while its hash runs.
        let gone = tokio::time::timeout(Duration::from_millis(50), request).await;
        assert!(gone.is_err());
        assert_eq!(hasher.permits.available_permits(), 0, "the hash still runs");
        release.send(()).unwrap();
        for _ in 0..100 {
            if hasher.permits.available_permits() == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the permit was never given back");
    }

    #[tokio::test]
    async fn past_the_queue_bound_a_hash_is_refused_at_once() {
        let hasher = PasswordHasher::with_permits(1);
        let (release, hold) = std::sync::mpsc::channel();
        let running = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.blocking(held_until(hold)).await }
        });
        while hasher.permits.available_permits() == 1 {
            tokio::task::yield_now().await;
        }
        let queued: Vec<_> = (0..WAITING_PER_PERMIT)
            .map(|_| {
                let hasher = hasher.clone();
                tokio::spawn(async move { hasher.blocking(|_| Ok(())).await })
            })
            .collect();
        while hasher.waiting.load(Ordering::Acquire) < WAITING_PER_PERMIT {
            tokio::task::yield_now().await;
        }
        assert!(matches!(
            hasher.blocking(|_| Ok(())).await,
            Err(HashError::Busy)
        ));
        // A waiter that gives up leaves the queue, and its place is taken.
        let mut queued = queued.into_iter();
        let gave_up = queued.next().unwrap();
        gave_up.abort();
        assert!(gave_up.await.is_err());
        assert_eq!(
            hasher.waiting.load(Ordering::Acquire),
            WAITING_PER_PERMIT - 1
        );
        let late = tokio::spawn({
            let hasher = hasher.clone();
            async move { hasher.blocking(|_| Ok(())).await }
        });
        release.send(()).unwrap();
        running.await.unwrap().unwrap();
        for waiter in queued.chain([late]) {
            waiter.await.unwrap().unwrap();
        }
    }

    #[tokio::test]
    async fn unknown_user_never_matches() {
        let hasher = PasswordHasher::default();
        assert_eq!(
            hasher.verify(&login("anything"), None).await.unwrap(),
            Verdict::Mismatch
        );
    }
}
