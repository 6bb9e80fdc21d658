//! Delivery through Amazon SES v2 `SendEmail`: the whole MIME message (text and HTML, with its
//! headers) as raw content, from a verified sender. The client is built once per process and shared by every request: at
//! start-up, or (on Lambda) when the first message goes out, so that a cold start does not
//! load the AWS configuration and the TLS roots before its first event.
use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};

use super::{CodeMessage, MailError, Mailer, Notice, Rendered, Sender, Templates};
use crate::config::SesSettings;

pub struct SesMailer {
    client: tokio::sync::OnceCell<aws_sdk_sesv2::Client>,
    settings: SesSettings,
    templates: Arc<Templates>,
    sender: Sender,
}

impl SesMailer {
    /// Builds the client now from an AWS configuration (region, credentials, endpoint).
    pub fn new(
        aws: &SdkConfig,
        settings: &SesSettings,
        templates: Arc<Templates>,
        sender: Sender,
    ) -> Self {
        Self {
            client: tokio::sync::OnceCell::new_with(Some(client(aws, settings))),
            settings: settings.clone(),
            templates,
            sender,
        }
    }

    /// Builds the client from the process's shared AWS configuration when the first message
    /// goes out.
    pub fn on_first_send(
        settings: &SesSettings,
        templates: Arc<Templates>,
        sender: Sender,
    ) -> Self {
        Self {
            client: tokio::sync::OnceCell::new(),
            settings: settings.clone(),
            templates,
            sender,
        }
    }

    async fn client(&self) -> &aws_sdk_sesv2::Client {
        self.client
            .get_or_init(|| async { client(crate::aws::shared_config().await, &self.settings) })
            .await
    }

    /// The whole message for `to`, as SES raw content.
    fn content(&self, to: &str, rendered: &Rendered) -> Result<EmailContent, MailError> {
        let message = self.sender.compose(to, rendered)?;
        let raw = RawMessage::builder()
            .data(Blob::new(message.formatted()))
            .build()
            .map_err(|e| MailError::Rejected {
                code: "InvalidContent".into(),
                detail: e.to_string(),
            })?;
        Ok(EmailContent::builder().raw(raw).build())
    }

    async fn send(&self, to: &str, content: EmailContent, what: &str) -> Result<(), MailError> {
        let sent = self
            .client()
            .await
            .send_email()
            .from_email_address(self.sender.address().to_string())
            .destination(Destination::builder().to_addresses(to).build())
            .content(content)
            .set_configuration_set_name(self.settings.configuration_set.clone())
            .send()
            .await;
        match sent {
            Ok(output) => {
                tracing::info!(message_id = output.message_id(), "SES accepted the {what}");
                Ok(())
            }
            Err(err) => Err(classify(err)),
        }
    }
}

#[async_trait::async_trait]
impl Mailer for SesMailer {
    async fn send_code(&self, message: &CodeMessage) -> Result<(), MailError> {
        let to = message.to.as_ref();
        let content = self.content(to, &message.render(&self.templates)?)?;
        self.send(to, content, "code").await
    }

    async fn send_notice(&self, notice: &Notice) -> Result<(), MailError> {
        let to = notice.to.as_ref();
        let content = self.content(to, &notice.render(&self.templates)?)?;
        self.send(to, content, "notice").await
    }

    /// The same message, to the SES mailbox simulator: a real send that reaches nobody and
    /// costs the sender's reputation nothing.
    async fn send_decoy(&self, message: &CodeMessage) -> Result<(), MailError> {
        let Some(decoy) = &self.settings.decoy else {
            return Ok(());
        };
        let content = self.content(decoy, &message.render(&self.templates)?)?;
        self.send(decoy, content, "decoy").await
    }
}

/// The SES client for these settings, bounding each send by the timeout so that a hung SES
/// cannot hold a request (or a Lambda) until it dies.
fn client(aws: &SdkConfig, settings: &SesSettings) -> aws_sdk_sesv2::Client {
    let timeout = settings.timeout;
    let config = aws_sdk_sesv2::config::Builder::from(aws)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(timeout.min(Duration::from_secs(2)))
                .operation_timeout(timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .build();
    aws_sdk_sesv2::Client::from_conf(config)
}

/// Sorts SES failures into "throttled" (503, try later), "rejected" and "unreachable" (502).
fn classify<R: std::fmt::Debug>(err: SdkError<SendEmailError, R>) -> MailError {
    match err {
        SdkError::ServiceError(service) => {
            let err = service.into_err();
            let code = err.code().unwrap_or("Unknown").to_owned();
            match err {
                SendEmailError::TooManyRequestsException(_)
                | SendEmailError::LimitExceededException(_) => MailError::Throttled { code },
                other => MailError::Rejected {
                    detail: other.message().unwrap_or_default().to_owned(),
                    code,
                },
            }
        }
        SdkError::TimeoutError(_) => MailError::Unreachable("timed out".into()),
        other => MailError::Unreachable(format!(
            "{}",
            aws_sdk_sesv2::error::DisplayErrorContext(other)
        )),
    }
}
