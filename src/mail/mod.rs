//! Delivering mail: the `Mailer` trait, the code message and the account notices, the SES
//! mailer, and the development mailer.
mod dev;
mod ses;

use std::time::Duration;

pub use dev::{DevMailer, SentMessage};
pub use ses::SesMailer;

use crate::auth::{CodePurpose, Email, OneTimeCode};

/// A code on its way to a user: to sign in, or to reset the password.
#[derive(Debug, Clone)]
pub struct CodeMessage {
    pub to: Email,
    pub code: OneTimeCode,
    pub valid_for: Duration,
    pub purpose: CodePurpose,
    /// For a reset code: a link to the reset page that works without the code, so that the
    /// owner can always reset, whoever asked for the mail.
    pub link: Option<String>,
}

pub const SUBJECT: &str = "Your sign-in code";
pub const RESET_SUBJECT: &str = "Your password reset code";
pub const EMAIL_CHANGE_SUBJECT: &str = "Confirm your new address";

impl CodeMessage {
    /// What the code is, and what to do if it was not asked for.
    fn wording(&self) -> (&'static str, &'static str) {
        match self.purpose {
            CodePurpose::SignIn => (
                "Your sign-in code is",
                "If you did not try to sign in, ignore this email: nobody can sign in without \
                 the code.",
            ),
            CodePurpose::PasswordReset => (
                "Your password reset code is",
                "If you did not ask to reset your password, ignore this email: your password \
                 stays as it is, and nobody can change it without the code.",
            ),
            CodePurpose::EmailChange => (
                "To make this the address of your otp-login account, enter this code",
                "If you did not ask for this, ignore this email: nothing changes without the \
                 code.",
            ),
        }
    }

    fn minutes(&self) -> String {
        match self.valid_for.as_secs().div_ceil(60) {
            1 => "1 minute".to_owned(),
            n => format!("{n} minutes"),
        }
    }

    pub fn subject(&self) -> &'static str {
        match self.purpose {
            CodePurpose::SignIn => SUBJECT,
            CodePurpose::PasswordReset => RESET_SUBJECT,
            CodePurpose::EmailChange => EMAIL_CHANGE_SUBJECT,
        }
    }

    pub fn text_body(&self) -> String {
        let (lead, ignore) = self.wording();
        let link = match &self.link {
            Some(link) => format!("Or open this link to choose a new password:\n{link}\n\n"),
            None => String::new(),
        };
        format!(
            "{lead} {code}\n\n\
             It expires in {minutes} and can be used once.\n\n\
             {link}\
             {ignore}\n",
            code = self.code.expose(),
            minutes = self.minutes(),
        )
    }

    pub fn html_body(&self) -> String {
        let (lead, ignore) = self.wording();
        let link = match &self.link {
            Some(link) => format!(
                "<p><a href=\"{href}\">Choose a new password</a> (the link works once, \
                 in the same time)</p>",
                href = escape_attribute(link)
            ),
            None => String::new(),
        };
        format!(
            "<!doctype html><html><body style=\"font-family:sans-serif\">\
             <p>{lead}</p>\
             <p style=\"font-size:28px;font-weight:bold;letter-spacing:4px\">{code}</p>\
             <p>It expires in {minutes} and can be used once.</p>\
             {link}\
             <p style=\"color:#666\">{ignore}</p>\
             </body></html>",
            code = self.code.expose(),
            minutes = self.minutes(),
        )
    }
}

/// The link is ours (a configured base, a percent-encoded address and a hex secret), but an
/// attribute value is escaped all the same.
fn escape_attribute(raw: &str) -> String {
    raw.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Why a code could not be handed over for delivery.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The mail service refused the message (unverified sender, sandboxed recipient…).
    #[error("mail rejected ({code}): {detail}")]
    Rejected { code: String, detail: String },
    /// The mail service is throttling us.
    #[error("mail throttled ({code})")]
    Throttled { code: String },
    /// The mail service could not be reached or did not answer in time.
    #[error("mail service unreachable: {0}")]
    Unreachable(String),
}

/// A message about the account that carries no code.
#[derive(Debug, Clone)]
pub struct Notice {
    pub to: Email,
    pub subject: &'static str,
    pub text: String,
}

impl Notice {
    /// The password was changed while signed in (`reset` false) or reset by emailed code or
    /// link (`reset` true), `at` from `client`. `reset_page` is where a new one is set.
    pub fn password_changed(
        to: Email,
        reset: bool,
        at: chrono::DateTime<chrono::Utc>,
        client: &str,
        reset_page: Option<&str>,
    ) -> Self {
        let when = at.format("%-d %B %Y at %H:%M UTC");
        let how = if reset {
            "reset with a code sent to this address"
        } else {
            "changed by someone signed in to it"
        };
        let whom = if reset {
            "someone can read this mailbox: secure it first (its password, its sessions), then \
             reset your password again"
        } else {
            "someone else knows your password: reset it now, and sign out everywhere"
        };
        let page = reset_page.map_or_else(
            || "Use \"Forgot your password?\" on the sign-in page".to_owned(),
            |page| format!("Reset it at {page}"),
        );
        Self {
            to,
            subject: if reset {
                "Your password was reset"
            } else {
                "Your password was changed"
            },
            text: format!(
                "The password of your otp-login account was {how} on {when}, from {client}. \
                 Your other sessions were signed out.\n\n\
                 If that was you, there is nothing to do.\n\n\
                 If it was not you, {whom}. {page}; the reset code is sent to this address.\n"
            ),
        }
    }

    /// The account was deleted at its owner's request, `at` from `client`.
    pub fn account_deleted(to: Email, at: chrono::DateTime<chrono::Utc>, client: &str) -> Self {
        let when = at.format("%-d %B %Y at %H:%M UTC");
        Self {
            to,
            subject: "Your account was deleted",
            text: format!(
                "Your otp-login account for this address was deleted on {when}, at the request \
                 of someone signed in from {client} who gave its password. Everything the \
                 service kept about the account is gone: its password, its sessions and its \
                 history.\n\n\
                 You can register again with this address at any time.\n\n\
                 If it was not you, someone else knew your password: register again with a new \
                 password, and change it wherever else you used the old one.\n"
            ),
        }
    }

    /// The account's address was changed to `new` (this notice goes to the old one), `at` from
    /// `client`. `reset_page` is where the password is reset.
    pub fn email_changed(
        to: Email,
        new: &Email,
        at: chrono::DateTime<chrono::Utc>,
        client: &str,
        reset_page: Option<&str>,
    ) -> Self {
        let when = at.format("%-d %B %Y at %H:%M UTC");
        let page = reset_page.map_or_else(
            || "\"Forgot your password?\" on the sign-in page".to_owned(),
            |page| page.to_owned(),
        );
        Self {
            to,
            subject: "Your account's address was changed",
            text: format!(
                "The address of your otp-login account was changed from this one to {new} on \
                 {when}, by someone signed in from {client} who gave its password and a code \
                 sent to the new address. Sign-in codes now go there, and your other sessions \
                 were signed out.\n\n\
                 If that was you, there is nothing to do.\n\n\
                 If it was not you, someone else knows your password and now holds the account. \
                 Contact the service's operator with this mail; resetting the password at \
                 {page} needs the new address.\n",
                new = new.as_ref(),
            ),
        }
    }

    /// A sign-in, `at` from `client`, an address the account never signed in from before.
    pub fn new_sign_in_address(
        to: Email,
        at: chrono::DateTime<chrono::Utc>,
        client: &str,
        reset_page: Option<&str>,
    ) -> Self {
        let when = at.format("%-d %B %Y at %H:%M UTC");
        let page = reset_page.map_or_else(
            || "Use \"Forgot your password?\" on the sign-in page".to_owned(),
            |page| format!("Reset it at {page}"),
        );
        Self {
            to,
            subject: "A sign-in from a new address",
            text: format!(
                "Someone signed in to your otp-login account on {when} from {client}, an \
                 address it had not signed in from before, with your password and a code sent \
                 to this address.\n\n\
                 If that was you, there is nothing to do.\n\n\
                 If it was not you, someone knows your password and can read this mailbox: \
                 secure the mailbox first, then reset your password, which signs out every \
                 session. {page}.\n"
            ),
        }
    }

    /// Sign-in by code was locked after `failures` wrong codes in a row.
    pub fn code_sign_in_locked(to: Email, failures: u32) -> Self {
        Self {
            to,
            subject: "Sign-in to your account is locked",
            text: format!(
                "Someone typed {failures} wrong sign-in codes in a row for your account, so \
                 signing in with a code is now locked.\n\n\
                 Only someone who knows your password can ask for a code: if that was not you, \
                 your password is known to someone else. Reset your password to unlock \
                 sign-in; the reset code is sent to this address.\n"
            ),
        }
    }
}

#[async_trait::async_trait]
pub trait Mailer: Send + Sync {
    async fn send_code(&self, message: &CodeMessage) -> Result<(), MailError>;
    async fn send_notice(&self, notice: &Notice) -> Result<(), MailError>;
    /// Does the work of sending `message` without delivering it to anyone: what a reset
    /// request for an unknown account does, so that it takes as long as one for a known
    /// account however slow the mail service is. SES sends it to its mailbox simulator.
    async fn send_decoy(&self, message: &CodeMessage) -> Result<(), MailError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(secs: u64) -> CodeMessage {
        CodeMessage {
            to: Email::parse("bob@example.com").unwrap(),
            code: OneTimeCode::parse("031337").unwrap(),
            valid_for: Duration::from_secs(secs),
            purpose: CodePurpose::SignIn,
            link: None,
        }
    }

    #[test]
    fn a_reset_link_is_in_both_parts_and_escaped_in_html() {
        let m = CodeMessage {
            purpose: CodePurpose::PasswordReset,
            link: Some("https://pages.example/reset.html#username=a%40b.c&token=ab".into()),
            ..message(300)
        };
        assert!(m
            .text_body()
            .contains("https://pages.example/reset.html#username=a%40b.c&token=ab"));
        assert!(m
            .html_body()
            .contains("href=\"https://pages.example/reset.html#username=a%40b.c&amp;token=ab\""));
        assert!(!message(300).text_body().contains("link"));
    }

    #[test]
    fn a_reset_code_has_its_own_subject_and_words() {
        let m = CodeMessage {
            purpose: CodePurpose::PasswordReset,
            ..message(300)
        };
        assert_eq!(m.subject(), "Your password reset code");
        for body in [m.text_body(), m.html_body()] {
            assert!(body.contains("Your password reset code is"), "{body}");
            assert!(body.contains("031337"), "{body}");
            assert!(body.contains("If you did not ask to reset your password"));
            assert!(!body.contains("sign-in code"), "{body}");
        }
    }

    #[test]
    fn both_parts_carry_the_code_lifetime_and_the_ignore_line() {
        let m = message(300);
        assert_eq!(m.subject(), "Your sign-in code");
        for body in [m.text_body(), m.html_body()] {
            assert!(body.contains("031337"), "{body}");
            assert!(body.contains("expires in 5 minutes"), "{body}");
            assert!(body.contains("If you did not try to sign in, ignore this email"));
        }
        assert!(m.html_body().starts_with("<!doctype html>"));
    }

    #[test]
    fn lifetime_rounds_up_to_whole_minutes() {
        assert!(message(60).text_body().contains("expires in 1 minute "));
        assert!(message(90).text_body().contains("expires in 2 minutes"));
        assert!(message(600).text_body().contains("expires in 10 minutes"));
    }
}
