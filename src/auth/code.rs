//! One-time codes: six digits from a CSPRNG, stored only as a keyed hash, alive for a few
//! minutes and a few tries; and what each purpose (sign-in, password reset) means for them.
use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::{ExposeSecret, SecretSlice};
use sha2::Sha256;

use super::limits::{Bucket, Limit, RateLimits};
use super::AuthError;
use crate::store::codes::Purpose;

/// What a code unlocks. A code of one purpose never passes for the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    SignIn,
    PasswordReset,
    /// Proves the mailbox of the address a signed-in user moves to.
    EmailChange,
}

// Everything that differs between the purposes is answered here, so a flow never asks which
// purpose it holds.
impl CodePurpose {
    /// The `purpose` column's value for codes of this purpose.
    pub fn column(self) -> Purpose {
        match self {
            Self::SignIn => Purpose::SignIn,
            Self::PasswordReset => Purpose::PasswordReset,
            Self::EmailChange => Purpose::EmailChange,
        }
    }

    /// The purpose as the owner's activity names it: as the column does.
    pub fn name(self) -> &'static str {
        self.column().as_str()
    }

    /// The one refusal for every failure of a code of this purpose: the answer never says
    /// whether the code was wrong, used, expired or out of tries.
    pub fn refusal(self) -> AuthError {
        match self {
            Self::SignIn => AuthError::InvalidCode,
            Self::PasswordReset => AuthError::InvalidResetCode,
            Self::EmailChange => AuthError::InvalidAddressCode,
        }
    }

    /// Whether a wrong code counts toward locking sign-in by code. A wrong reset code does
    /// not: resetting the password is the way out of that lock.
    pub fn counts_wrong_codes(self) -> bool {
        match self {
            Self::SignIn => true,
            Self::PasswordReset | Self::EmailChange => false,
        }
    }

    /// The limit on sending codes, as a `limited` log event names it.
    pub fn send_limit(self) -> &'static str {
        match self {
            Self::SignIn => "code_send",
            Self::PasswordReset => "reset_code_send",
            Self::EmailChange => "email_code_send",
        }
    }

    /// The limit on checking codes, as a `limited` log event names it.
    pub fn check_limit(self) -> &'static str {
        match self {
            Self::SignIn => "code_check",
            Self::PasswordReset => "reset_code_check",
            Self::EmailChange => "email_code_check",
        }
    }

    /// The rate-limit rows that count the codes sent.
    pub(super) fn sent_bucket(self) -> Bucket {
        match self {
            Self::SignIn => Bucket::CodeSent,
            Self::PasswordReset => Bucket::ResetCodeSent,
            Self::EmailChange => Bucket::EmailCodeSent,
        }
    }

    /// The rate-limit rows that count the codes checked.
    pub(super) fn checked_bucket(self) -> Bucket {
        match self {
            Self::SignIn => Bucket::CodeCheck,
            Self::PasswordReset => Bucket::ResetCodeCheck,
            Self::EmailChange => Bucket::EmailCodeCheck,
        }
    }

    /// The limits on checking codes of this purpose.
    pub(super) fn check_rules(self, limits: &RateLimits) -> &[Limit] {
        match self {
            // A change-of-address code is checked by a signed-in user, as a sign-in code is
            // by a password holder.
            Self::SignIn | Self::EmailChange => &limits.code_verifies,
            Self::PasswordReset => &limits.reset_code_checks,
        }
    }

    /// Whether every check counts against the name asked for, before anything is looked up,
    /// known account or not. Anyone can have a reset code mailed, so reset checks are counted
    /// so (and a limit tells nothing); only a password holder can have a sign-in code mailed,
    /// so a sign-in check counts only once it reaches the code.
    pub fn limits_every_check(self) -> bool {
        match self {
            Self::SignIn => false,
            // Only the signed-in user can check a change-of-address code: every check counts.
            Self::PasswordReset | Self::EmailChange => true,
        }
    }

    /// Whether checks from an address the user signed in from are counted apart from the
    /// rest, so that strangers spending the budget on their own codes do not hold back the
    /// owner at home.
    pub(super) fn spares_known_addresses(self) -> bool {
        self == Self::PasswordReset
    }

    /// Whether the mail also carries a link that works without the code: the owner's way to
    /// reset, whoever asked for the mail and whatever budget strangers spent.
    pub fn mails_a_link(self) -> bool {
        match self {
            Self::SignIn | Self::EmailChange => false,
            Self::PasswordReset => true,
        }
    }
}

/// A six-digit code. `Debug` hides the digits so a code never lands in a log by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Code must be 6 digits")]
pub struct CodeFormatError;

impl OneTimeCode {
    /// A fresh code from the thread-local CSPRNG (ChaCha, seeded from the OS).
    pub fn generate() -> Self {
        Self(format!("{:06}", rand::rng().random_range(0..1_000_000u32)))
    }

    pub fn parse(raw: &str) -> Result<Self, CodeFormatError> {
        let trimmed = raw.trim();
        if trimmed.len() == 6 && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(CodeFormatError)
        }
    }

    /// The digits, for the message that delivers them.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(******)")
    }
}

/// How long a code lives, how many wrong tries kill it, and how many wrong codes in a row,
/// across codes, lock sign-in by code until the password is reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePolicy {
    pub ttl: Duration,
    pub max_attempts: u32,
    pub lock_after: u32,
}

impl CodePolicy {
    /// Long enough to read a mail, short enough that a code is not a password.
    pub const TTL_SECONDS: RangeInclusive<u64> = 60..=600;
    /// NIST SP 800-63B allows at most 100 consecutive failed attempts on one account.
    pub const LOCK_AFTER: RangeInclusive<u32> = 1..=100;

    /// Checks each value against its bound; the error names the rule broken.
    pub fn new(
        ttl_seconds: u64,
        max_attempts: u32,
        lock_after: u32,
    ) -> Result<Self, CodePolicyError> {
        if !Self::TTL_SECONDS.contains(&ttl_seconds) {
            return Err(CodePolicyError::Lifetime(ttl_seconds));
        }
        if max_attempts == 0 {
            return Err(CodePolicyError::NoAttempts);
        }
        if !Self::LOCK_AFTER.contains(&lock_after) {
            return Err(CodePolicyError::LockAfter(lock_after));
        }
        Ok(Self {
            ttl: Duration::from_secs(ttl_seconds),
            max_attempts,
            lock_after,
        })
    }

    /// Whether this many wrong codes in a row lock sign-in by code.
    pub fn locks(&self, failed_codes: u32) -> bool {
        failed_codes >= self.lock_after
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodePolicyError {
    #[error(
        "must be between {min} and {max} seconds, got {0}",
        min = CodePolicy::TTL_SECONDS.start(),
        max = CodePolicy::TTL_SECONDS.end()
    )]
    Lifetime(u64),
    #[error("must be at least 1")]
    NoAttempts,
    #[error(
        "must be between {min} and {max}, got {0}",
        min = CodePolicy::LOCK_AFTER.start(),
        max = CodePolicy::LOCK_AFTER.end()
    )]
    LockAfter(u32),
}

/// HMAC-SHA-256 of (user id, code) under a server secret: a stolen table does not give the
/// codes away, and the same digits hash differently for different users.
#[derive(Clone)]
pub struct CodeHasher {
    key: SecretSlice<u8>,
}

impl CodeHasher {
    pub fn new(key: &[u8]) -> Self {
        Self {
            key: key.to_vec().into(),
        }
    }

    fn mac(&self, user_id: i32, code: &OneTimeCode) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.expose_secret())
            .expect("HMAC takes a key of any length");
        mac.update(&user_id.to_be_bytes());
        mac.update(code.0.as_bytes());
        mac
    }

    /// 64 hex characters for the `code_hash` column.
    pub fn hash(&self, user_id: i32, code: &OneTimeCode) -> String {
        hex::encode(self.mac(user_id, code).finalize().into_bytes())
    }

    /// Constant-time comparison with a stored hash.
    pub fn verify(&self, user_id: i32, code: &OneTimeCode, stored_hex: &str) -> bool {
        match hex::decode(stored_hex) {
            Ok(stored) => self.mac(user_id, code).verify_slice(&stored).is_ok(),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn generated_codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<_> =
            (0..50).map(|_| OneTimeCode::generate().0).collect();
        assert!(codes.iter().all(|c| OneTimeCode::parse(c).is_ok()));
        assert!(
            codes.len() > 40,
            "50 draws from a million should rarely collide"
        );
    }

    #[test]
    fn policy_bounds_the_lifetime_the_tries_and_the_lock() {
        let policy = CodePolicy::new(300, 5, 100).unwrap();
        assert_eq!(policy.ttl, Duration::from_secs(300));
        assert!(!policy.locks(99) && policy.locks(100));
        assert!(CodePolicy::new(60, 1, 1).is_ok() && CodePolicy::new(600, 1, 1).is_ok());
        for (ttl, tries, lock, err) in [
            (59, 5, 100, CodePolicyError::Lifetime(59)),
            (601, 5, 100, CodePolicyError::Lifetime(601)),
            (300, 0, 100, CodePolicyError::NoAttempts),
            (300, 5, 0, CodePolicyError::LockAfter(0)),
            (300, 5, 101, CodePolicyError::LockAfter(101)),
        ] {
            assert_eq!(CodePolicy::new(ttl, tries, lock), Err(err));
        }
    }

    #[test]
    fn debug_hides_the_digits() {
        let code = OneTimeCode::parse("123456").unwrap();
        assert!(!format!("{code:?}").contains("123456"));
    }

    #[test]
    fn parse_accepts_exactly_six_ascii_digits() {
        assert_eq!(OneTimeCode::parse(" 012345 ").unwrap().expose(), "012345");
        for bad in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", "12 456"] {
            assert_eq!(OneTimeCode::parse(bad), Err(CodeFormatError), "{bad:?}");
        }
    }

    #[test]
    fn hash_is_keyed_and_bound_to_the_user() {
        let code = OneTimeCode::parse("424242").unwrap();
        let a = CodeHasher::new(b"secret-a");
        let b = CodeHasher::new(b"secret-b");
        let stored = a.hash(7, &code);
        assert_eq!(stored.len(), 64);
        assert!(a.verify(7, &code, &stored));
        assert!(!a.verify(8, &code, &stored));
        assert!(!b.verify(7, &code, &stored));
        assert!(!a.verify(7, &OneTimeCode::parse("424243").unwrap(), &stored));
        assert!(!a.verify(7, &code, "not hex"));
    }

    proptest! {
        #[test]
        fn parse_never_panics(raw in any::<String>()) {
            let _ = OneTimeCode::parse(&raw);
        }
    }
}
