//! The development mailer: writes the code to the log for the developer, and keeps the latest
//! messages, rendered as they would be sent, in memory for tests. Never chosen when running on
//! Lambda.
use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::{CodeMessage, Language, MailError, Mailer, Notice, Rendered, Templates};

const KEEP: usize = 100;

/// What the development mailer "sent".
#[derive(Debug, Clone)]
pub struct SentMessage {
    pub to: String,
    pub subject: String,
    /// The code, or empty for a notice.
    pub code: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
    pub language: Language,
    /// The reset link, if the message has one.
    pub link: Option<String>,
}

pub struct DevMailer {
    sent: Mutex<VecDeque<SentMessage>>,
    decoys: AtomicUsize,
    templates: Arc<Templates>,
}

impl Default for DevMailer {
    /// With the compiled-in templates.
    fn default() -> Self {
        Self::new(Templates::compiled_in())
    }
}

impl DevMailer {
    pub fn new(templates: Arc<Templates>) -> Self {
        Self {
            sent: Mutex::default(),
            decoys: AtomicUsize::default(),
            templates,
        }
    }

    /// The code most recently sent to `to`, if any.
    pub fn last_code_for(&self, to: &str) -> Option<String> {
        self.messages_to(to)
            .into_iter()
            .rev()
            .find(|m| !m.code.is_empty())
            .map(|m| m.code)
    }

    /// How many decoys were "sent" (reset requests for accounts that do not exist).
    pub fn decoys(&self) -> usize {
        self.decoys.load(Ordering::Relaxed)
    }

    /// Every kept message, oldest first.
    pub fn sent(&self) -> Vec<SentMessage> {
        let sent = self.sent.lock().expect("mailer lock poisoned");
        sent.iter().cloned().collect()
    }

    /// Every kept message sent to `to`, oldest first.
    pub fn messages_to(&self, to: &str) -> Vec<SentMessage> {
        let to = to.trim().to_lowercase();
        self.sent
            .lock()
            .expect("mailer lock poisoned")
            .iter()
            .filter(|m| m.to == to)
            .cloned()
            .collect()
    }
}

impl DevMailer {
    fn keep(&self, message: SentMessage) {
        let mut sent = self.sent.lock().expect("mailer lock poisoned");
        if sent.len() == KEEP {
            sent.pop_front();
        }
        sent.push_back(message);
    }
}

#[async_trait::async_trait]
impl Mailer for DevMailer {
    async fn send_code(&self, message: &CodeMessage) -> Result<(), MailError> {
        let rendered = message.render(&self.templates)?;
        // Showing the code is this mailer's whole purpose; no other code path logs one.
        tracing::info!(
            to = %message.to,
            code = %message.code.expose(),
            purpose = ?message.purpose,
            "development mailer: code (not emailed)"
        );
        let code = message.code.expose().to_owned();
        self.keep(sent(
            message.to.to_string(),
            rendered,
            code,
            message.link.clone(),
        ));
        Ok(())
    }

    async fn send_decoy(&self, message: &CodeMessage) -> Result<(), MailError> {
        message.render(&self.templates)?;
        self.decoys.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    async fn send_notice(&self, notice: &Notice) -> Result<(), MailError> {
        let rendered = notice.render(&self.templates)?;
        tracing::info!(to = %notice.to, subject = rendered.subject, "development mailer: notice (not emailed)");
        self.keep(sent(notice.to.to_string(), rendered, String::new(), None));
        Ok(())
    }
}

fn sent(to: String, rendered: Rendered, code: String, link: Option<String>) -> SentMessage {
    SentMessage {
        to,
        subject: rendered.subject,
        code,
        text: rendered.text,
        html: rendered.html,
        language: rendered.language,
        link,
    }
}
