//! Delivery through any SMTP server (`MAILER=smtp`, `SMTP_URL`): TLS (`smtps://`), STARTTLS
//! (`smtp://…?tls=required`) or plain for a local catcher (`smtp://localhost:1025`), with the
//! same timeout and failure rules as SES. The URL's credentials never reach a log: errors are
//! told by their kind and the server's reply, never by the URL.
use std::sync::Arc;
use std::time::Duration;

use lettre::transport::smtp::Error as SmtpError;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};

use super::{CodeMessage, MailError, Mailer, Notice, Rendered, Sender, Templates};

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    templates: Arc<Templates>,
    sender: Sender,
}

/// Why `SMTP_URL` cannot be used, without repeating it.
#[derive(Debug, thiserror::Error)]
#[error("SMTP_URL is not a usable smtp:// or smtps:// URL ({0})")]
pub struct SmtpUrlError(String);

impl SmtpMailer {
    /// A transport for `url` whose every send is cut off after `timeout`. Connects lazily.
    pub fn new(
        url: &SecretString,
        timeout: Duration,
        templates: Arc<Templates>,
        sender: Sender,
    ) -> Result<Self, SmtpUrlError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .map_err(|err| SmtpUrlError(kind_of(&err)))?
            .timeout(Some(timeout))
            .build();
        Ok(Self {
            transport,
            templates,
            sender,
        })
    }

    /// Whether the server answers (and takes the credentials), without sending anything.
    pub async fn reachable(&self) -> Result<(), MailError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(MailError::Unreachable(
                "the server did not answer NOOP".into(),
            )),
            Err(err) => Err(classify(&err)),
        }
    }

    async fn send(&self, to: &str, rendered: &Rendered, what: &str) -> Result<(), MailError> {
        let message = self.sender.compose(to, rendered)?;
        match self.transport.send(message).await {
            Ok(response) => {
                tracing::info!(code = %response.code(), "the SMTP server accepted the {what}");
                Ok(())
            }
            Err(err) => Err(classify(&err)),
        }
    }
}

#[async_trait::async_trait]
impl Mailer for SmtpMailer {
    async fn send_code(&self, message: &CodeMessage) -> Result<(), MailError> {
        let rendered = message.render(&self.templates)?;
        self.send(message.to.as_ref(), &rendered, "code").await
    }

    async fn send_notice(&self, notice: &Notice) -> Result<(), MailError> {
        let rendered = notice.render(&self.templates)?;
        self.send(notice.to.as_ref(), &rendered, "notice").await
    }

    /// SMTP has no mailbox simulator: the decoy's work is the rendering, and nothing is sent.
    async fn send_decoy(&self, message: &CodeMessage) -> Result<(), MailError> {
        message.render(&self.templates).map(|_| ())
    }
}

/// A transient reply (4xx) asks to try later, like an SES throttle; a permanent one (5xx) is a
/// refusal; anything else (no connection, TLS, a timeout) means the server is out of reach.
fn classify(err: &SmtpError) -> MailError {
    let code = err
        .status()
        .map_or_else(|| "none".to_owned(), |code| code.to_string());
    if err.is_transient() {
        MailError::Throttled { code }
    } else if err.is_permanent() {
        MailError::Rejected {
            detail: kind_of(err),
            code,
        }
    } else {
        MailError::Unreachable(kind_of(err))
    }
}

/// What went wrong, with the server's reply, and nothing of the URL's credentials.
fn kind_of(err: &SmtpError) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_tls() {
        "TLS failed"
    } else if err.is_client() {
        "the URL or the message was refused by the client"
    } else if err.is_transient() {
        "transient reply"
    } else if err.is_permanent() {
        "permanent reply"
    } else if err.is_response() {
        "unreadable reply"
    } else {
        "connection failed"
    };
    format!("{kind}: {}", crate::redact::credentials(&err.to_string()))
}
