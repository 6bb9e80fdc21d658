//! A username is an email address SES can deliver to: trimmed, lower-cased, an ASCII local
//! part, the domain in its ASCII (Punycode) form, at most 254 characters.
use std::fmt;

pub const MAX_LEN: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Username is required")]
    Empty,
    #[error("Username must be at most {MAX_LEN} characters")]
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
        let local = parsed.local_part();
        let bare = parsed.email() == trimmed && !local.starts_with('"');
        // SES delivers only to ASCII local parts; a look-alike one must never reach a lookup.
        if !bare || !local.is_ascii() || trimmed.chars().any(char::is_control) {
            return Err(EmailError::Invalid);
        }
        // `exámple.com` and `xn--exmple-qta.com` are one mailbox: keep the form SES sends to,
        // so a Unicode look-alike of a registered domain is simply another (unknown) address.
        let domain =
            idna::domain_to_ascii_strict(parsed.domain()).map_err(|_| EmailError::Invalid)?;
        if !domain.contains('.') {
            return Err(EmailError::Invalid);
        }
        let address = format!("{}@{domain}", local.to_lowercase());
        if address.len() > MAX_LEN {
            return Err(EmailError::TooLong);
        }
        Ok(Self(address))
    }
}

impl Email {
    /// For a sub-address (`name+tag@domain`), the mailbox it is delivered to (`name@domain`):
    /// one person's, however many tags point at it. `None` for an address with no tag.
    pub fn tagged_mailbox(&self) -> Option<String> {
        let (local, domain) = self.0.rsplit_once('@')?;
        let (name, _tag) = local.split_once('+')?;
        Some(format!("{name}@{domain}"))
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
    fn a_sub_address_names_its_mailbox() {
        let mailbox = |raw: &str| Email::parse(raw).unwrap().tagged_mailbox();
        assert_eq!(
            mailbox("Victim+1@Example.com").as_deref(),
            Some("victim@example.com")
        );
        assert_eq!(
            mailbox("victim+a+b@example.com").as_deref(),
            Some("victim@example.com")
        );
        assert_eq!(mailbox("victim@example.com"), None);
    }

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
            "älice@example.com",
            "alice\u{200b}@example.com",
            "alice@exa mple.com",
        ] {
            assert_eq!(Email::parse(raw), Err(EmailError::Invalid), "{raw:?}");
        }
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
    }

    #[test]
    fn unicode_domains_are_kept_in_their_punycode_form() {
        let email = Email::parse("Alice@Exámple.com").unwrap();
        assert_eq!(email.as_ref(), "alice@xn--exmple-qta.com");
        assert_eq!(Email::parse("alice@xn--exmple-qta.com").unwrap(), email);
        assert_ne!(email, Email::parse("alice@example.com").unwrap());
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
                prop_assert!(email.as_ref().len() <= MAX_LEN);
            prop_assert!(email.as_ref().is_ascii());
            }
        }

        #[test]
        fn parsing_never_panics(raw in any::<String>()) {
            let _ = Email::parse(&raw);
        }
    }
}
