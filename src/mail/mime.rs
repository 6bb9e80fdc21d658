//! The message every transport sends: text and HTML as `multipart/alternative` (the text part
//! stands alone), with the headers a mail client expects of an automatic message: `Date`,
//! `Message-ID` (on the sender's domain), `Auto-Submitted: auto-generated` (RFC 3834) and
//! `Content-Language`.
use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::Message;
use rand::Rng;

use super::{MailError, Rendered};

/// Who messages come from: the sender's address, named as the site.
#[derive(Debug, Clone)]
pub struct Sender {
    mailbox: Mailbox,
}

impl Sender {
    /// `SENDER_EMAIL` (`noreply@example.com`, or `Name <noreply@example.com>`), shown as
    /// `name` when it names no one.
    pub fn new(sender: &str, name: &str) -> Result<Self, String> {
        let mut mailbox: Mailbox = sender
            .trim()
            .parse()
            .map_err(|err| format!("SENDER_EMAIL is not an email address: {err}"))?;
        if mailbox.name.is_none() {
            mailbox.name = Some(name.to_owned());
        }
        Ok(Self { mailbox })
    }

    pub fn address(&self) -> &lettre::Address {
        &self.mailbox.email
    }

    /// The whole message for `to`, as it goes on the wire.
    pub fn compose(&self, to: &str, rendered: &Rendered) -> Result<Message, MailError> {
        let invalid = |detail: String| MailError::Rejected {
            code: "InvalidMessage".into(),
            detail,
        };
        let to: lettre::Address = to.parse().map_err(|err| invalid(format!("{err}")))?;
        let id = hex::encode(rand::rng().random::<[u8; 16]>());
        Message::builder()
            .from(self.mailbox.clone())
            .to(Mailbox::new(None, to))
            .subject(rendered.subject.as_str())
            .date_now()
            .message_id(Some(format!("<{id}@{}>", self.mailbox.email.domain())))
            .header(AutoSubmitted)
            .header(ContentLanguage(rendered.language.tag()))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text.clone(),
                rendered.html.clone(),
            ))
            .map_err(|err| invalid(err.to_string()))
    }
}

/// `Auto-Submitted: auto-generated`: no auto-responder answers it (RFC 3834).
#[derive(Debug, Clone, Copy)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".to_owned())
    }
}

/// `Content-Language`: the language the message is written in.
#[derive(Debug, Clone, Copy)]
struct ContentLanguage(&'static str);

impl Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Err("Content-Language is only written".into())
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.to_owned())
    }
}
