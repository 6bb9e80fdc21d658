//! The owner's record of their account: what each security event is called, and how a page of
//! them is asked for.
use std::fmt;

/// A security event of an account, as its owner's activity list names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Registered,
    /// A code was mailed; the detail says what for (`sign_in`, `password_reset`,
    /// `email_change`).
    CodeSent,
    WrongPassword,
    WrongCode,
    /// A limit held a request back; the detail names the limit.
    Limited,
    SignedIn,
    /// A session ended; the detail says which (`current`, `one`, `all`, or `operator`).
    SignedOut,
    PasswordReset,
    PasswordChanged,
    /// Sign-in by code locked after too many wrong codes.
    Locked,
    /// A refresh token was presented again after it was spent; its session ended.
    RefreshTokenReused,
    /// A change of address was asked for; a code went to the new address.
    EmailChangeRequested,
    EmailChanged,
    /// The operator disabled, enabled or unlocked the account.
    Disabled,
    Enabled,
    Unlocked,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::CodeSent => "code_sent",
            Self::WrongPassword => "wrong_password",
            Self::WrongCode => "wrong_code",
            Self::Limited => "limited",
            Self::SignedIn => "signed_in",
            Self::SignedOut => "signed_out",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::Locked => "locked",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::EmailChangeRequested => "email_change_requested",
            Self::EmailChanged => "email_changed",
            Self::Disabled => "disabled",
            Self::Enabled => "enabled",
            Self::Unlocked => "unlocked",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How many events a page holds: 1 to `PageSize::MAX`, `PageSize::DEFAULT` when not asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Limit must be between 1 and 100")]
pub struct PageSizeError;

impl PageSize {
    pub const MAX: u32 = 100;
    pub const DEFAULT: u32 = 20;

    pub fn parse(asked: Option<u32>) -> Result<Self, PageSizeError> {
        match asked.unwrap_or(Self::DEFAULT) {
            size @ 1..=Self::MAX => Ok(Self(size)),
            _ => Err(PageSizeError),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// Where a page starts: after the event the previous page ended with. Opaque to clients; it
/// names that event, in up to 18 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid cursor")]
pub struct CursorError;

impl Cursor {
    pub fn parse(raw: &str) -> Result<Self, CursorError> {
        let digits = raw.trim();
        if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CursorError);
        }
        match digits.parse::<i64>() {
            Ok(id) if id > 0 => Ok(Self(id)),
            _ => Err(CursorError),
        }
    }

    pub fn after(event_id: i64) -> Self {
        Self(event_id)
    }

    /// The event the page starts after.
    pub fn event_id(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_holds_one_to_a_hundred_events_and_twenty_unless_asked() {
        assert_eq!(PageSize::parse(None).map(PageSize::get), Ok(20));
        assert_eq!(PageSize::parse(Some(1)).map(PageSize::get), Ok(1));
        assert_eq!(PageSize::parse(Some(100)).map(PageSize::get), Ok(100));
        assert_eq!(PageSize::parse(Some(0)), Err(PageSizeError));
        assert_eq!(PageSize::parse(Some(101)), Err(PageSizeError));
    }

    #[test]
    fn a_cursor_is_what_a_page_answered_and_nothing_else() {
        let cursor = Cursor::after(42);
        assert_eq!(Cursor::parse(&cursor.to_string()), Ok(cursor));
        for bad in ["", "0", "-1", "1.5", "abc", "1234567890123456789", "٤٢"] {
            assert_eq!(Cursor::parse(bad), Err(CursorError), "{bad:?}");
        }
    }
}
