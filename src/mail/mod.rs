//! Delivering mail: the `Mailer` trait, the code message and the account notices, their
//! templates and languages, the MIME message every transport sends, and the mailers: SES,
//! SMTP, and the development mailer.
mod dev;
pub mod events;
mod mime;
mod render;
mod ses;
mod smtp;

use std::time::Duration;

use chrono::{DateTime, Utc};
use minijinja::Value;

pub use crate::auth::Language;
pub use dev::{DevMailer, SentMessage};
pub use mime::Sender;
pub use render::{Kind, Rendered, Site, TemplateError, Templates};
pub use ses::SesMailer;
pub use smtp::SmtpMailer;

use crate::auth::{CodePurpose, Email, OneTimeCode};

/// A code on its way to a user: to sign in, to reset the password, or to prove a new address.
#[derive(Debug, Clone)]
pub struct CodeMessage {
    pub to: Email,
    pub code: OneTimeCode,
    pub valid_for: Duration,
    pub purpose: CodePurpose,
    /// For a reset code: a link to the reset page that works without the code, so that the
    /// owner can always reset, whoever asked for the mail.
    pub link: Option<String>,
    /// The language the mail is written in: the account's.
    pub language: Language,
}

impl CodeMessage {
    fn kind(&self) -> Kind {
        match self.purpose {
            CodePurpose::SignIn => Kind::SignInCode,
            CodePurpose::PasswordReset => Kind::PasswordResetCode,
            CodePurpose::EmailChange => Kind::EmailChangeCode,
        }
    }

    /// The message in its language, from `templates`.
    pub fn render(&self, templates: &Templates) -> Result<Rendered, MailError> {
        let mut variables = vec![
            ("code", Value::from(self.code.expose())),
            (
                "minutes",
                Value::from(self.valid_for.as_secs().div_ceil(60)),
            ),
        ];
        if self.purpose == CodePurpose::PasswordReset {
            variables.push(("link", optional(self.link.as_deref())));
        }
        templates
            .render(self.kind(), self.language, self.to.as_ref(), variables)
            .map_err(rendering_failed)
    }
}

/// What a notice tells the owner of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum About {
    /// The password was changed by someone signed in.
    PasswordChanged,
    /// The password was reset with a mailed code or link.
    PasswordReset,
    /// The account moved to `new` (the notice goes to the old address).
    EmailChanged { new: Email },
    /// A sign-in from an address the account never signed in from.
    NewSignInAddress,
    /// Sign-in by code locked after `failures` wrong codes in a row.
    CodeSignInLocked { failures: u32 },
    /// The account was deleted at its owner's request.
    AccountDeleted,
}

/// A message about the account that carries no code: what happened, when and from which
/// client address, and where to reset the password if it was not the owner.
#[derive(Debug, Clone)]
pub struct Notice {
    pub to: Email,
    pub language: Language,
    pub about: About,
    pub at: DateTime<Utc>,
    pub client: String,
    pub reset_page: Option<String>,
}

impl Notice {
    pub fn new(
        to: Email,
        language: Language,
        about: About,
        at: DateTime<Utc>,
        client: &str,
    ) -> Self {
        Self {
            to,
            language,
            about,
            at,
            client: client.to_owned(),
            reset_page: None,
        }
    }

    /// The notice says where to reset the password.
    pub fn with_reset_page(mut self, page: Option<String>) -> Self {
        self.reset_page = page;
        self
    }

    fn kind(&self) -> Kind {
        match self.about {
            About::PasswordChanged => Kind::PasswordChanged,
            About::PasswordReset => Kind::PasswordReset,
            About::EmailChanged { .. } => Kind::EmailChanged,
            About::NewSignInAddress => Kind::NewSignInAddress,
            About::CodeSignInLocked { .. } => Kind::CodeSignInLocked,
            About::AccountDeleted => Kind::AccountDeleted,
        }
    }

    /// The notice in its language, from `templates`.
    pub fn render(&self, templates: &Templates) -> Result<Rendered, MailError> {
        let mut variables = vec![
            (
                "at",
                Value::from(self.at.format("%Y-%m-%d %H:%M UTC").to_string()),
            ),
            ("client", Value::from(self.client.as_str())),
            ("reset_page", optional(self.reset_page.as_deref())),
        ];
        match &self.about {
            About::EmailChanged { new } => {
                variables.push(("new_address", Value::from(new.as_ref())))
            }
            About::CodeSignInLocked { failures } => {
                variables.push(("failures", Value::from(*failures)));
            }
            _ => {}
        }
        templates
            .render(self.kind(), self.language, self.to.as_ref(), variables)
            .map_err(rendering_failed)
    }
}

fn optional(value: Option<&str>) -> Value {
    value.map_or_else(|| Value::from(()), Value::from)
}

/// The templates were checked at start-up with every variable a message has, so a failure
/// here is a bug: refused like a message the mail service would not take.
fn rendering_failed(err: minijinja::Error) -> MailError {
    MailError::Rejected {
        code: "TemplateFailed".into(),
        detail: err.to_string(),
    }
}

/// Why a message could not be handed over for delivery.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The mail service refused the message (unverified sender, sandboxed recipient…).
    #[error("mail rejected ({code}): {detail}")]
    Rejected { code: String, detail: String },
    /// The mail service is throttling us, or asks to try later.
    #[error("mail throttled ({code})")]
    Throttled { code: String },
    /// The mail service could not be reached or did not answer in time.
    #[error("mail service unreachable: {0}")]
    Unreachable(String),
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
mod tests;
