//! Passwords as the domain takes them: the policy for a new one and the bound on one offered at
//! sign-in. `hasher` stores and checks them with argon2id (`argon2id`) off the async executor,
//! in memory that `working_memory` keeps warm between hashes.
mod argon2id;
mod hasher;
pub mod working_memory;

use std::collections::HashSet;
use std::sync::LazyLock;

use secrecy::SecretString;

pub use hasher::{HashError, PasswordHasher, Verdict};

/// Fewest characters a new password may have.
pub const MIN_NEW: usize = 8;
/// Most characters a new password may have.
pub const MAX_NEW: usize = 128;
/// Longest password a sign-in accepts: legacy rows may hold up to 255 characters.
pub const MAX_LOGIN: usize = 1024;

/// A password chosen at registration, checked against the policy.
#[derive(Debug)]
pub struct NewPassword(SecretString);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("Password is required")]
    Empty,
    #[error("Password must be at least {} characters", MIN_NEW)]
    TooShort,
    #[error("Password must be at most {} characters", MAX_NEW)]
    TooLong,
    /// Sign-in has its own, wider bound (`MAX_LOGIN`): old accounts may have long passwords.
    #[error("Password must be at most {} characters", MAX_LOGIN)]
    TooLongToSignIn,
    #[error("Password must not contain control characters")]
    ControlCharacter,
    #[error("Password is too common; choose one that is harder to guess")]
    TooCommon,
}

/// The most common passwords the length policy would otherwise accept, lower-cased.
static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("common-passwords.txt")
        .lines()
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

impl NewPassword {
    /// Lengths count characters, not bytes, so a Unicode password is judged as a person sees it.
    /// Breached-list lookups ignore case: `Password123` is as guessable as `password123`.
    pub fn parse(raw: String) -> Result<Self, PasswordError> {
        match raw.chars().count() {
            0 => return Err(PasswordError::Empty),
            n if n < MIN_NEW => return Err(PasswordError::TooShort),
            n if n > MAX_NEW => return Err(PasswordError::TooLong),
            _ => {}
        }
        if raw.chars().any(char::is_control) {
            return Err(PasswordError::ControlCharacter);
        }
        if COMMON.contains(raw.to_lowercase().as_str()) {
            return Err(PasswordError::TooCommon);
        }
        Ok(Self(raw.into()))
    }
}

/// A password offered at sign-in. No policy beyond presence and a sane bound: accounts from the
/// old service may have passwords shorter than today's minimum.
#[derive(Debug)]
pub struct LoginPassword(SecretString);

impl LoginPassword {
    pub fn parse(raw: String) -> Result<Self, PasswordError> {
        match raw.chars().count() {
            0 => Err(PasswordError::Empty),
            n if n > MAX_LOGIN => Err(PasswordError::TooLongToSignIn),
            _ => Ok(Self(raw.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_counts_characters_not_bytes() {
        assert_eq!(
            NewPassword::parse("".into()).unwrap_err(),
            PasswordError::Empty
        );
        assert_eq!(
            NewPassword::parse("1234567".into()).unwrap_err(),
            PasswordError::TooShort
        );
        assert!(NewPassword::parse("k7#mQ2!x".into()).is_ok());
        // Eight characters, 24 bytes.
        assert!(NewPassword::parse("日本語のパスワ".to_owned() + "ド").is_ok());
        assert!(NewPassword::parse("é".repeat(128)).is_ok());
        assert_eq!(
            NewPassword::parse("é".repeat(129)).unwrap_err(),
            PasswordError::TooLong
        );
    }

    #[test]
    fn common_passwords_and_control_characters_are_refused() {
        assert!(COMMON.len() >= 10_000, "{}", COMMON.len());
        for common in ["password", "12345678", "Baseball", "TRUSTNO1", "iloveyou"] {
            assert_eq!(
                NewPassword::parse(common.into()).unwrap_err(),
                PasswordError::TooCommon,
                "{common}"
            );
        }
        for control in ["pass\u{0}word!", "line\nbreak1", "tab\tbed12"] {
            assert_eq!(
                NewPassword::parse(control.into()).unwrap_err(),
                PasswordError::ControlCharacter
            );
        }
        assert!(NewPassword::parse("correct horse battery".into()).is_ok());
    }
}
