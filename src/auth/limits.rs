//! Rate limits: the rules (sliding windows, exponential back-off for wrong passwords) and the
//! limiter that applies them to the state kept in the database, shared by every instance.
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::store::{self, limits, Db, StoreError};
use chrono::{DateTime, Utc};

/// At most `max` events per `window`, written `30/1m`, `5/1h` or `1/60s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

impl FromStr for Limit {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let invalid = || format!("{raw:?} is not a limit like 30/1m, 5/1h or 10/30s");
        let (max, window) = raw.trim().split_once('/').ok_or_else(invalid)?;
        let max: u32 = max.trim().parse().map_err(|_| invalid())?;
        let window = window.trim();
        let (number, unit) = window.split_at(window.len().saturating_sub(1));
        let seconds = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
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
    /// Requests to `/register`, `/login` and `/verify` per client address.
    pub per_address: Vec<Limit>,
    /// Codes sent per username.
    pub code_sends: Vec<Limit>,
    /// Codes checked per username (the 5 tries per code come on top).
    pub code_verifies: Vec<Limit>,
    /// Wrong passwords per username, whatever the back-off.
    pub password_failures: Vec<Limit>,
    /// Consecutive wrong passwords before the back-off starts.
    pub backoff_after: u32,
    pub backoff_cap: Duration,
}

/// Wait imposed after `failures` consecutive wrong passwords: 2^(n - after) seconds once `n`
/// reaches `after`, capped.
pub fn backoff(failures: u32, after: u32, cap: Duration) -> Duration {
    if after == 0 || failures < after {
        return Duration::ZERO;
    }
    let exponent = (failures - after).min(63);
    Duration::from_secs(1u64 << exponent).min(cap)
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
}

#[derive(Debug, Clone, Copy)]
enum Bucket {
    Address,
    CodeSent,
    CodeVerify,
    PasswordFailure,
}

impl Bucket {
    fn name(self) -> &'static str {
        match self {
            Bucket::Address => "address",
            Bucket::CodeSent => "code_sent",
            Bucket::CodeVerify => "code_verify",
            Bucket::PasswordFailure => "password_failure",
        }
    }
}

/// Whole seconds, at least one: what `Retry-After` can say.
fn until(moment: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    let seconds = (moment - now).num_seconds().max(1);
    Duration::from_secs(seconds as u64)
}

#[derive(Clone)]
pub struct RateLimiter {
    db: Db,
    limits: RateLimits,
}

pub type Checked = Result<Result<(), Limited>, StoreError>;

impl RateLimiter {
    pub fn new(db: Db, limits: RateLimits) -> Self {
        Self { db, limits }
    }

    /// Counts this request for the address, then refuses it if the window is over its limit.
    /// Refused requests count too, so hammering does not reopen the window.
    pub async fn hit_from_address(&self, address: &str) -> Checked {
        self.hit(Bucket::Address, address, &self.limits.per_address)
            .await
    }

    /// Counts a code check for the username and refuses it past the hourly cap.
    pub async fn hit_code_verify(&self, username: &str) -> Checked {
        self.hit(Bucket::CodeVerify, username, &self.limits.code_verifies)
            .await
    }

    /// Whether a wrong-password back-off or the failure cap holds the username now.
    pub async fn password_allowed(&self, username: &str) -> Checked {
        let now = store::now();
        if let Some((failures, last)) = limits::failures(&self.db, username).await? {
            let wait = backoff(failures, self.limits.backoff_after, self.limits.backoff_cap);
            let open_at = last + wait;
            if !wait.is_zero() && open_at > now {
                return Ok(Err(Limited {
                    retry_after: until(open_at, now),
                }));
            }
        }
        self.within(
            Bucket::PasswordFailure,
            username,
            &self.limits.password_failures,
            now,
        )
        .await
    }

    pub async fn password_failed(&self, username: &str) -> Result<(), StoreError> {
        let now = store::now();
        limits::record_failure(&self.db, username, now).await?;
        if !self.limits.password_failures.is_empty() {
            limits::record_hit(&self.db, Bucket::PasswordFailure.name(), username, now).await?;
        }
        Ok(())
    }

    pub async fn password_succeeded(&self, username: &str) -> Result<(), StoreError> {
        limits::clear_failures(&self.db, username).await
    }

    /// Whether another code may be sent to the username now.
    pub async fn code_send_allowed(&self, username: &str) -> Checked {
        self.within(
            Bucket::CodeSent,
            username,
            &self.limits.code_sends,
            store::now(),
        )
        .await
    }

    pub async fn code_sent(&self, username: &str) -> Result<(), StoreError> {
        if self.limits.code_sends.is_empty() {
            return Ok(());
        }
        limits::record_hit(&self.db, Bucket::CodeSent.name(), username, store::now()).await
    }

    async fn hit(&self, bucket: Bucket, subject: &str, rules: &[Limit]) -> Checked {
        if rules.is_empty() {
            return Ok(Ok(()));
        }
        let now = store::now();
        limits::record_hit(&self.db, bucket.name(), subject, now).await?;
        self.maybe_prune(now).await?;
        // The hit just recorded is in the window: allow while the count stays within max.
        self.over(bucket, subject, rules, now, 1).await
    }

    async fn within(
        &self,
        bucket: Bucket,
        subject: &str,
        rules: &[Limit],
        now: DateTime<Utc>,
    ) -> Checked {
        self.over(bucket, subject, rules, now, 0).await
    }

    /// Refuses when `count - slack >= max` in any window (`slack` 1 when the current request is
    /// already counted), telling when the oldest hit that matters leaves the window.
    async fn over(
        &self,
        bucket: Bucket,
        subject: &str,
        rules: &[Limit],
        now: DateTime<Utc>,
        slack: u64,
    ) -> Checked {
        let mut wait: Option<Duration> = None;
        for rule in rules {
            let since = now - rule.window;
            let max = u64::from(rule.max);
            let (count, _) = limits::hits_since(&self.db, bucket.name(), subject, since, 0).await?;
            if count < max + slack {
                continue;
            }
            // Room for one more request means at most max - 1 hits left in the window: the
            // (count - max)-th oldest hit (0-based) is the last that must age out.
            let nth = count - max;
            let (_, freed_by) =
                limits::hits_since(&self.db, bucket.name(), subject, since, nth).await?;
            let retry = freed_by.map_or(rule.window, |at| until(at + rule.window, now));
            wait = Some(wait.map_or(retry, |w| w.max(retry)));
        }
        Ok(match wait {
            Some(retry_after) => Err(Limited { retry_after }),
            None => Ok(()),
        })
    }

    /// Now and then, drop hits no window can see any more; cheaper than a scheduled job and
    /// enough to keep the table small.
    async fn maybe_prune(&self, now: DateTime<Utc>) -> Result<(), StoreError> {
        if rand::random_range(0..100) != 0 {
            return Ok(());
        }
        let longest = [
            &self.limits.per_address,
            &self.limits.code_sends,
            &self.limits.code_verifies,
            &self.limits.password_failures,
        ]
        .into_iter()
        .flatten()
        .map(|l| l.window)
        .max()
        .unwrap_or_default();
        limits::prune_hits(&self.db, now - longest)
            .await
            .map(|_| ())
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
        assert_eq!(
            parse_limits("1/1m,5/1h"),
            Ok(vec![limit(1, 60), limit(5, 3600)])
        );
        assert_eq!(parse_limits("off"), Ok(vec![]));
        for bad in ["", "30", "30/", "x/1m", "30/1d", "0/1m", "30/0s", "-1/1m"] {
            assert!(bad.parse::<Limit>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn backoff_doubles_from_the_fifth_failure_and_is_capped() {
        let cap = Duration::from_secs(900);
        let secs = |n| backoff(n, 5, cap).as_secs();
        assert_eq!([secs(0), secs(4)], [0, 0]);
        assert_eq!([secs(5), secs(6), secs(7), secs(10)], [1, 2, 4, 32]);
        assert_eq!([secs(15), secs(40), secs(u32::MAX)], [900, 900, 900]);
    }
}
