//! Opaque 128-bit secrets the service hands out: the challenge that binds a code to the
//! request that asked for it, the secret in a reset mail's link, and the refresh token that
//! renews a session. Only their SHA-256 is stored, and `Debug` hides them.
use std::fmt;

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const HEX_LEN: usize = 32;

macro_rules! opaque_secret {
    ($(#[$doc:meta])* $name:ident, $error:ident, $message:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error($message)]
        pub struct $error;

        impl $name {
            /// 128 bits from the thread-local CSPRNG, as 32 hex digits.
            pub fn generate() -> Self {
                Self(hex::encode(rand::rng().random::<[u8; 16]>()))
            }

            pub fn parse(raw: &str) -> Result<Self, $error> {
                let raw = raw.trim();
                if raw.len() == HEX_LEN && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(Self(raw.to_ascii_lowercase()))
                } else {
                    Err($error)
                }
            }

            /// The secret, for the answer or the mail that carries it.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// What is stored: the hex SHA-256.
            pub fn digest(&self) -> String {
                hex::encode(Sha256::digest(self.0.as_bytes()))
            }

            /// Whether this is the secret whose digest was stored, compared in constant time.
            pub fn matches(&self, stored_digest: &str) -> bool {
                bool::from(self.digest().as_bytes().ct_eq(stored_digest.as_bytes()))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(******)"))
            }
        }
    };
}

opaque_secret!(
    /// Answered by `/login` and `/request-password-reset`; the code that request made works
    /// only with it (or from the address that asked).
    Challenge,
    ChallengeFormatError,
    "Challenge must be 32 hexadecimal characters"
);

opaque_secret!(
    /// The secret in a reset mail's link: proof of the mailbox on its own, so no lock or
    /// limit on reset codes ever blocks it.
    ResetToken,
    ResetTokenFormatError,
    "Token must be 32 hexadecimal characters"
);

opaque_secret!(
    /// Answered by `/verify` and `/refresh` beside the access token; spent by the next
    /// `/refresh`, which answers the one after it.
    RefreshToken,
    RefreshTokenFormatError,
    "Refresh token must be 32 hexadecimal characters"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_parse_back_and_differ() {
        let a = Challenge::generate();
        assert_eq!(Challenge::parse(a.expose()), Ok(a.clone()));
        assert_ne!(a, Challenge::generate());
        assert_eq!(ResetToken::generate().expose().len(), 32);
    }

    #[test]
    fn parse_accepts_32_hex_digits_in_either_case() {
        let upper = "0123456789ABCDEF0123456789ABCDEF";
        assert_eq!(
            Challenge::parse(upper).unwrap().expose(),
            upper.to_lowercase()
        );
        for bad in ["", "0123", &"g".repeat(32), &"a".repeat(33), "٠١٢٣"] {
            assert_eq!(Challenge::parse(bad), Err(ChallengeFormatError), "{bad:?}");
        }
    }

    #[test]
    fn only_the_secret_matches_its_digest() {
        let secret = ResetToken::generate();
        let stored = secret.digest();
        assert_eq!(stored.len(), 64);
        assert!(secret.matches(&stored));
        assert!(!ResetToken::generate().matches(&stored));
        assert!(!secret.matches(""));
    }

    #[test]
    fn debug_hides_the_secret() {
        let secret = Challenge::generate();
        assert!(!format!("{secret:?}").contains(secret.expose()));
    }
}
