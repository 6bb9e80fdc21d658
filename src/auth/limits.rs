//! Rate limits: the rules (N per window, kept as GCRA buckets; an exponential back-off for
//! wrong passwords) and the limiter that applies them to the state kept in the database,
//! shared by every instance.
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{CodePurpose, Email};
use crate::store::limit_batches::{LimitBatches, OwnedTake};
use crate::store::{limits, Db, StoreError};

/// At most `max` events per `window`, written `30/1m`, `5/1h` or `1/60s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

impl FromStr for Limit {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("{raw:?} is not a limit like 30/1m, 5/1h, 10/30s or 20/365d");
        let (max, window) = raw.trim().split_once('/').ok_or_else(invalid)?;
        let max: u32 = max.trim().parse().map_err(|_| invalid())?;
        let window = window.trim();
        let (number, unit) = window.split_at(window.len().saturating_sub(1));
        let seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86400,
            _ => return Err(invalid()),
        };
        let number: u64 = number.parse().map_err(|_| invalid())?;
        if max == 0 || number == 0 {
            return Err(invalid());
        }
        Ok(Self {
            max,
            window: Duration::from_secs(number * seconds),
        })
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}s", self.max, self.window.as_secs())
    }
}

/// Parses `off`, or a comma-separated list of limits.
pub fn parse_limits(raw: &str) -> Result<Vec<Limit>, String> {
    if raw.trim().eq_ignore_ascii_case("off") {
        return Ok(vec![]);
    }
    raw.split(',').map(str::parse).collect()
}

/// Every limit the service enforces; an empty list turns that limit off.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Requests to the operations that take a password or a code, per client address.
    pub per_address: Vec<Limit>,
    /// Codes sent per username, counted apart for each purpose.
    pub code_sends: Vec<Limit>,
    /// Codes sent to the sub-addresses of one mailbox, across tags and purposes.
    pub mailbox_sends: Vec<Limit>,
    /// Sign-in codes checked per username, counting only checks that reach the code (the 5
    /// tries per code come on top).
    pub code_verifies: Vec<Limit>,
    /// Reset codes checked per username, whoever sends them.
    pub reset_code_checks: Vec<Limit>,
    /// Wrong passwords per username, whatever the back-off.
    pub password_failures: Vec<Limit>,
    /// Consecutive wrong passwords before the back-off starts.
    pub backoff_after: u32,
    pub backoff_cap: Duration,
}

/// A refusal, with how long until trying again can succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds to wait, at least one: what `Retry-After` and the message can say.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs().max(1)
    }

    fn after_ms(ms: i64) -> Self {
        let ms = u64::try_from(ms).unwrap_or(0);
        Self {
            retry_after: Duration::from_millis(ms.div_ceil(1000) * 1000),
        }
    }
}

/// What each limit counts, as its rows are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Bucket {
    Address,
    CodeSent,
    CodeCheck,
    ResetCodeSent,
    ResetCodeCheck,
    EmailCodeSent,
    EmailCodeCheck,
    /// Reset code checks from an address the user signed in from, keyed by both.
    ResetCodeCheckKnown,
    /// Codes to the sub-addresses of one mailbox.
    MailboxSent,
    PasswordFailure,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Address => "address",
            Bucket::CodeSent => "code_sent",
            Bucket::CodeCheck => "code_check",
            Bucket::ResetCodeSent => "reset_code_sent",
            Bucket::ResetCodeCheck => "reset_code_check",
            Bucket::EmailCodeSent => "email_code_sent",
            Bucket::EmailCodeCheck => "email_code_check",
            Bucket::ResetCodeCheckKnown => "reset_code_check_known",
            Bucket::MailboxSent => "mailbox_sent",
            Bucket::PasswordFailure => "password_failure",
        }
    }

    /// What the names of this bucket's rows start with.
    fn prefix(self) -> String {
        format!("{}:", self.name())
    }

    /// Which of a request's limits a refusal of this bucket was: the address's, or one of the
    /// username's.
    fn checked_by(self) -> CheckedBy {
        match self {
            Bucket::Address => CheckedBy::Address,
            _ => CheckedBy::Username,
        }
    }

    /// One row per limit: `code_sent:5/3600s`.
    fn row(self, limit: &Limit) -> String {
        format!("{}{limit}", self.prefix())
    }
}

impl Limit {
    fn rate(&self) -> limits::Rate {
        let window_ms = i64::try_from(self.window.as_millis()).unwrap_or(i64::MAX);
        limits::Rate {
            interval_ms: (window_ms / i64::from(self.max)).max(1),
            window_ms,
        }
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Which of a request's limits refused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckedBy {
    Address,
    Username,
}

/// A limiter's verdict: allowed, or refused with the wait, or the store failed.
pub type Checked = Result<Result<(), Limited>, StoreError>;

/// A password try reserved before the hash is checked.
#[derive(Debug)]
#[must_use = "a right password must give the try back with `password_succeeded`"]
pub struct PasswordTry {
    username: String,
    address: String,
    capped: bool,
}

/// Applies `RateLimits` to the state in the database, which every instance shares. Every
/// check is one conditional statement; refused requests are not counted. An address this
/// instance saw refused is refused again without a statement until one request fits.
#[derive(Clone)]
pub struct RateLimiter {
    db: Db,
    limits: RateLimits,
    /// The takes of concurrent requests, decided together.
    batches: Arc<LimitBatches>,
    /// Per-address rows this instance saw refuse, and when one request fits again (ms).
    refused: Arc<Mutex<HashMap<(String, String), i64>>>,
}

/// The most refused per-address rows an instance remembers.
const MOST_REMEMBERED: usize = 10_000;

/// One request in this many also deletes a bounded batch of rows no limit needs any more.
const PRUNE_ONE_IN: u32 = 100;
const PRUNE_BATCH: u32 = 100;
/// How long an address that never signed in keeps its password record, and one that did.
const STRANGER_MEMORY: Duration = Duration::from_secs(24 * 3600);
const KNOWN_ADDRESS_MEMORY: Duration = Duration::from_secs(90 * 24 * 3600);

/// What the rows of the cap on an account's wrong passwords are named with, keyed by the
/// username: an unlock clears them.
pub fn password_cap_prefix() -> String {
    Bucket::PasswordFailure.prefix()
}

impl RateLimiter {
    pub fn new(db: Db, limits: RateLimits) -> Self {
        Self {
            db,
            limits,
            batches: Arc::default(),
            refused: Arc::default(),
        }
    }

    /// Counts a request from `address` to an operation that takes a password or a code.
    pub async fn hit_from_address(&self, address: &str) -> Checked {
        self.maybe_prune().await?;
        self.take(Bucket::Address, address, &self.limits.per_address)
            .await
    }

    /// Counts a request from `address` to check a sign-in code and, when the check reaches
    /// the code (`username` is then the account's), the check against the username: in one
    /// statement where the database allows, both or neither. A refusal says which limit it was.
    pub async fn hit_checking_sign_in_code(
        &self,
        address: &str,
        username: Option<&str>,
    ) -> Result<Result<(), (CheckedBy, Limited)>, StoreError> {
        self.maybe_prune().await?;
        let purpose = CodePurpose::SignIn;
        let mut takes = vec![(Bucket::Address, address, self.limits.per_address.as_slice())];
        if let Some(username) = username {
            takes.push((
                purpose.checked_bucket(),
                username,
                purpose.check_rules(&self.limits),
            ));
        }
        Ok(self
            .take_together(&takes, None)
            .await?
            .map_err(|(bucket, limited)| (bucket.checked_by(), limited)))
    }

    /// Counts a check of a code of this purpose for `username` from `address`. Checks from an
    /// address the user signed in from count apart where the purpose says so.
    pub async fn take_code_check(
        &self,
        purpose: CodePurpose,
        username: &str,
        address: &str,
    ) -> Checked {
        let rules = purpose.check_rules(&self.limits);
        if rules.is_empty() {
            return Ok(Ok(()));
        }
        if purpose.spares_known_addresses()
            && limits::known_address(&self.db, username, address).await?
        {
            // A space is in neither a username nor an address: the key is unambiguous.
            let key = format!("{username} {address}");
            return self.take(Bucket::ResetCodeCheckKnown, &key, rules).await;
        }
        self.take(purpose.checked_bucket(), username, rules).await
    }

    /// Takes one code send for the address in every window, or none: for the username, and
    /// for a sub-address (`name+tag@`) also for its mailbox, across tags and purposes.
    pub async fn take_code_send(&self, purpose: CodePurpose, to: &Email) -> Checked {
        let rules = &self.limits.code_sends;
        if let Err(limited) = self.take(purpose.sent_bucket(), to.as_ref(), rules).await? {
            return Ok(Err(limited));
        }
        let Some(mailbox) = to.tagged_mailbox() else {
            return Ok(Ok(()));
        };
        let mailbox_rules = &self.limits.mailbox_sends;
        if let Err(limited) = self
            .take(Bucket::MailboxSent, &mailbox, mailbox_rules)
            .await?
        {
            self.give_back(purpose.sent_bucket(), to.as_ref(), rules)
                .await?;
            return Ok(Err(limited));
        }
        Ok(Ok(()))
    }

    /// Returns a send taken for a code that never left (the mailer failed).
    pub async fn give_back_code_send(
        &self,
        purpose: CodePurpose,
        to: &Email,
    ) -> Result<(), StoreError> {
        let rules = &self.limits.code_sends;
        self.give_back(purpose.sent_bucket(), to.as_ref(), rules)
            .await?;
        if let Some(mailbox) = to.tagged_mailbox() {
            let rules = &self.limits.mailbox_sends;
            self.give_back(Bucket::MailboxSent, &mailbox, rules).await?;
        }
        Ok(())
    }

    /// Counts a request from `address` that offers a password, and reserves the password try
    /// before the hash is checked: within the username's cap of wrong passwords (which an
    /// address the user signed in from before, `known`, does not pay, so a stranger's guesses
    /// cannot lock the owner out), and past the back-off of this (username, address). The
    /// address and the cap are taken in one statement where the database allows, both or
    /// neither; the try is reserved atomically, so racing tries cannot exceed either. A
    /// refusal says which limit it was: the back-off and the cap are the username's.
    pub async fn reserve_password_try(
        &self,
        username: &str,
        address: &str,
        known: bool,
    ) -> Result<Result<PasswordTry, (CheckedBy, Limited)>, StoreError> {
        self.maybe_prune().await?;
        let capped = !known && !self.limits.password_failures.is_empty();
        let mut takes = vec![(Bucket::Address, address, self.limits.per_address.as_slice())];
        if capped {
            takes.push((
                Bucket::PasswordFailure,
                username,
                &self.limits.password_failures,
            ));
        }
        // A try the cap refuses still counts against the address, as every request does.
        let counted = Some(Bucket::Address);
        if let Err((bucket, limited)) = self.take_together(&takes, counted).await? {
            return Ok(Err((bucket.checked_by(), limited)));
        }
        let cap_ms = i64::try_from(self.limits.backoff_cap.as_millis()).unwrap_or(i64::MAX);
        let wait = limits::reserve_password_try(
            &self.db,
            username,
            address,
            self.limits.backoff_after,
            cap_ms,
            now_ms(),
        )
        .await?;
        if let Some(wait_ms) = wait {
            if capped {
                let rules = &self.limits.password_failures;
                self.give_back(Bucket::PasswordFailure, username, rules)
                    .await?;
            }
            return Ok(Err((CheckedBy::Username, Limited::after_ms(wait_ms))));
        }
        Ok(Ok(PasswordTry {
            username: username.to_owned(),
            address: address.to_owned(),
            capped,
        }))
    }

    /// The reserved try was a right password: it was no failure after all.
    pub async fn password_succeeded(&self, reserved: PasswordTry) -> Result<(), StoreError> {
        let given_back: Vec<_> = if reserved.capped {
            let bucket = Bucket::PasswordFailure;
            let rules = &self.limits.password_failures;
            rules
                .iter()
                .map(|rule| (bucket.row(rule), rule.rate()))
                .collect()
        } else {
            vec![]
        };
        let (username, address) = (&reserved.username, &reserved.address);
        limits::password_succeeded(&self.db, username, address, &given_back, now_ms()).await
    }

    /// Takes one request from every limit, or from none: a refusal gives back what the other
    /// limits took.
    async fn take(&self, bucket: Bucket, key: &str, rules: &[Limit]) -> Checked {
        Ok(self
            .take_together(&[(bucket, key, rules)], None)
            .await?
            .map_err(|(_, limited)| limited))
    }

    /// Takes one request from every rule of every (bucket, key), or from none, in one
    /// statement where the database allows: except that what `counted` took stays counted
    /// when another bucket refused. A refusal names the first bucket that refused, with the
    /// longest wait of the rules that refused.
    async fn take_together(
        &self,
        takes: &[(Bucket, &str, &[Limit])],
        counted: Option<Bucket>,
    ) -> Result<Result<(), (Bucket, Limited)>, StoreError> {
        let buckets: Vec<Bucket> = takes
            .iter()
            .flat_map(|(bucket, _, rules)| rules.iter().map(move |_| *bucket))
            .collect();
        let each: Vec<OwnedTake> = takes
            .iter()
            .flat_map(|(bucket, key, rules)| {
                rules.iter().map(move |rule| OwnedTake {
                    bucket: bucket.row(rule),
                    key: (*key).to_owned(),
                    rate: rule.rate(),
                })
            })
            .collect();
        if each.is_empty() {
            return Ok(Ok(()));
        }
        // A flood from one address costs no statement once it is refused: until one request
        // fits, its refusal would be the answer (refused, nothing taken) anyway.
        let now = now_ms();
        if let Some(until) = self.refused_until(&each, &buckets, now) {
            return Ok(Err((Bucket::Address, Limited::after_ms(until - now))));
        }
        let answers = self
            .batches
            .take_each(&self.db, each.clone(), now_ms)
            .await?;
        let Some(first) = answers.iter().position(Option::is_some) else {
            return Ok(Ok(()));
        };
        let wait_ms = answers.iter().flatten().copied().max().unwrap_or(0);
        // What `counted` took stays taken when another bucket refused.
        let keeps = |bucket: Bucket| counted == Some(bucket) && buckets[first] != bucket;
        for ((take, answer), &bucket) in each.iter().zip(&answers).zip(&buckets) {
            match answer {
                Some(wait_ms) if bucket == Bucket::Address => {
                    self.remember_refused(take, now + wait_ms, now);
                }
                None if !keeps(bucket) => {
                    limits::give_back(&self.db, &take.bucket, &take.key, take.rate).await?;
                }
                _ => {}
            }
        }
        Ok(Err((buckets[first], Limited::after_ms(wait_ms))))
    }

    fn refused_rows(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), i64>> {
        self.refused
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Until when one of the request's per-address rows is known to refuse, if one is.
    fn refused_until(&self, each: &[OwnedTake], buckets: &[Bucket], now: i64) -> Option<i64> {
        if !buckets.contains(&Bucket::Address) {
            return None;
        }
        let refused = self.refused_rows();
        each.iter()
            .zip(buckets)
            .filter(|(_, bucket)| **bucket == Bucket::Address)
            .filter_map(|(take, _)| refused.get(&(take.bucket.clone(), take.key.clone())))
            .copied()
            .filter(|until| *until > now)
            .max()
    }

    /// Remembers a refused per-address row until one request fits it, within a bound.
    fn remember_refused(&self, take: &OwnedTake, until: i64, now: i64) {
        if until <= now {
            return;
        }
        let mut refused = self.refused_rows();
        if refused.len() >= MOST_REMEMBERED {
            refused.retain(|_, until| *until > now);
        }
        if refused.len() < MOST_REMEMBERED {
            refused.insert((take.bucket.clone(), take.key.clone()), until);
        }
    }

    async fn give_back(
        &self,
        bucket: Bucket,
        key: &str,
        rules: &[Limit],
    ) -> Result<(), StoreError> {
        for rule in rules {
            limits::give_back(&self.db, &bucket.row(rule), key, rule.rate()).await?;
        }
        Ok(())
    }

    /// Now and then, a bounded clean-up: cheaper than a scheduled job, works on Lambda too,
    /// and no request pays for more than `PRUNE_BATCH` rows a table.
    async fn maybe_prune(&self) -> Result<(), StoreError> {
        if rand::random_range(0..PRUNE_ONE_IN) != 0 {
            return Ok(());
        }
        let now = now_ms();
        let ago = |d: Duration| now - i64::try_from(d.as_millis()).unwrap_or(0);
        let stale = limits::Staleness {
            strangers_before_ms: ago(STRANGER_MEMORY),
            known_before_ms: ago(KNOWN_ADDRESS_MEMORY),
        };
        limits::prune(&self.db, now, stale, PRUNE_BATCH).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_from_the_written_form() {
        let limit = |max, secs| Limit {
            max,
            window: Duration::from_secs(secs),
        };
        assert_eq!("30/1m".parse(), Ok(limit(30, 60)));
        assert_eq!(" 5 / 1h ".parse(), Ok(limit(5, 3600)));
        assert_eq!("1/60s".parse(), Ok(limit(1, 60)));
        assert_eq!("20/365d".parse(), Ok(limit(20, 365 * 86400)));
        assert_eq!(
            parse_limits("1/1m,5/1h"),
            Ok(vec![limit(1, 60), limit(5, 3600)])
        );
        assert_eq!(parse_limits("off"), Ok(vec![]));
        for bad in ["", "30", "30/", "x/1m", "30/1w", "0/1m", "30/0s", "-1/1m"] {
            assert!(bad.parse::<Limit>().is_err(), "{bad:?}");
        }
    }
}
