//! A username is an email address: trimmed, lower-cased, at most 254 characters.
use std::fmt;

const MAX_LEN: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Username is required")]
    Empty,
    #[error("Username must be at most 254 characters")]
    TooLong,
    #[error("Username must be a valid email address")]
    Invalid,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().count() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        // The parser accepts display names and quoted local parts ("Bob <bob@x>"); an address
        // we can send to and compare is the bare `local@domain` form only.
        let parsed = email_address::EmailAddress::parse_with_options(
            trimmed,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        )
        .map_err(|_| EmailError::Invalid)?;
        let domain = parsed.domain();
        let bare = parsed.email() == trimmed && !parsed.local_part().starts_with('"');
        if !bare || !domain.contains('.') || trimmed.chars().any(char::is_control) {
            return Err(EmailError::Invalid);
        }
        Ok(Self(trimmed.to_lowercase()))
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn trims_and_lowercases() {
        let email = Email::parse("  Alice@Example.COM \n").unwrap();
        assert_eq!(email.as_ref(), "alice@example.com");
    }

    #[test]
    fn rejects_what_is_not_a_plain_address() {
        for raw in [
            "student",
            "@example.com",
            "alice@",
            "alice@localhost",
            "a b@example.com",
            "Alice <alice@example.com>",
            "alice@[127.0.0.1]",
            "\"a\"@example.com",
            "alice@example.com\u{0}",
        ] {
            assert_eq!(Email::parse(raw), Err(EmailError::Invalid), "{raw:?}");
        }
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
    }

    #[test]
    fn length_limit_is_254_characters() {
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(57)
        );
        let at_limit = format!("{}@{domain}", "l".repeat(64));
        assert_eq!(at_limit.len(), 254);
        assert!(Email::parse(&at_limit).is_ok());
        let over = format!("{}@x{domain}", "l".repeat(64));
        assert_eq!(Email::parse(&over), Err(EmailError::TooLong));
    }

    proptest! {
        #[test]
        fn accepted_addresses_are_normalised(local in "[a-zA-Z0-9._%+-]{1,40}", host in "[a-z0-9]{1,20}") {
            let raw = format!(" {local}@{host}.Example.org ");
            if let Ok(email) = Email::parse(&raw) {
                prop_assert_eq!(email.as_ref(), raw.trim().to_lowercase());
                prop_assert!(email.as_ref().len() <= 254);
            }
        }

        #[test]
        fn parsing_never_panics(raw in any::<String>()) {
            let _ = Email::parse(&raw);
        }
    }
}
