//! What SES says of mail that cannot arrive: its bounce and complaint events, as a
//! configuration set's event destination (`eventType`) or an identity's notifications
//! (`notificationType`) publish them to SNS, which delivers them to the mail-events function.
//! Only records from the one expected topic are read; a permanent bounce or a complaint makes
//! the address undeliverable, a transient bounce (a full mailbox, a slow server) does not.
use aws_lambda_events::sns::SnsEvent;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::auth::Email;

/// An address mail cannot reach, as SES reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undeliverable {
    /// As usernames are stored (SES reports the address as it was sent).
    pub address: String,
    pub kind: UndeliverableKind,
    /// The receiving server's diagnostic, or the bounce's or complaint's type.
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UndeliverableKind {
    /// A permanent bounce: the address does not exist, or refuses mail for good.
    Bounce,
    /// The recipient marked a message as spam.
    Complaint,
}

impl UndeliverableKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bounce => "bounce",
            Self::Complaint => "complaint",
        }
    }
}

/// What one SNS delivery held: the addresses reported, and the records refused (another
/// topic, not SNS, or a message that is not an SES event).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MailEvents {
    pub undeliverable: Vec<Undeliverable>,
    pub refused: usize,
    /// SES events of other kinds (deliveries, sends, transient bounces), read and passed over.
    pub ignored: usize,
}

/// Reads an SNS delivery, taking only records from `topic_arn`.
pub fn read_sns_event(event: &SnsEvent, topic_arn: &str) -> MailEvents {
    let mut read = MailEvents::default();
    for record in &event.records {
        if record.event_source != "aws:sns"
            || record.sns.topic_arn != topic_arn
            || record.sns.sns_message_type != "Notification"
        {
            read.refused += 1;
            continue;
        }
        match serde_json::from_str::<SesEvent>(&record.sns.message) {
            Ok(ses) => {
                let found = ses.undeliverable(record.sns.timestamp);
                if found.is_empty() {
                    read.ignored += 1;
                }
                read.undeliverable.extend(found);
            }
            Err(_) => read.refused += 1,
        }
    }
    read
}

/// The parts of an SES event read here.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SesEvent {
    /// Set by event publishing; identity notifications say `notificationType`.
    event_type: Option<String>,
    notification_type: Option<String>,
    bounce: Option<Bounce>,
    complaint: Option<Complaint>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Bounce {
    bounce_type: String,
    bounce_sub_type: Option<String>,
    #[serde(default)]
    bounced_recipients: Vec<Recipient>,
    timestamp: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Complaint {
    #[serde(default)]
    complained_recipients: Vec<Recipient>,
    complaint_feedback_type: Option<String>,
    timestamp: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Recipient {
    email_address: String,
    diagnostic_code: Option<String>,
}

impl SesEvent {
    fn undeliverable(self, published: DateTime<Utc>) -> Vec<Undeliverable> {
        let kind = self.event_type.or(self.notification_type);
        match (kind.as_deref(), self.bounce, self.complaint) {
            (Some("Bounce"), Some(bounce), _) if bounce.bounce_type == "Permanent" => {
                let at = bounce.timestamp.unwrap_or(published);
                let sub_type = bounce.bounce_sub_type;
                bounce
                    .bounced_recipients
                    .into_iter()
                    .map(|recipient| Undeliverable {
                        address: stored_form(&recipient.email_address),
                        kind: UndeliverableKind::Bounce,
                        reason: recipient.diagnostic_code.or_else(|| sub_type.clone()),
                        at,
                    })
                    .collect()
            }
            (Some("Complaint"), _, Some(complaint)) => {
                let at = complaint.timestamp.unwrap_or(published);
                let reason = complaint.complaint_feedback_type;
                complaint
                    .complained_recipients
                    .into_iter()
                    .map(|recipient| Undeliverable {
                        address: stored_form(&recipient.email_address),
                        kind: UndeliverableKind::Complaint,
                        reason: reason.clone(),
                        at,
                    })
                    .collect()
            }
            _ => vec![],
        }
    }
}

/// The address as a username is stored, so that it finds the account it belongs to.
fn stored_form(reported: &str) -> String {
    // SES may report `Name <address>`.
    let bare = reported
        .rsplit_once('<')
        .and_then(|(_, rest)| rest.strip_suffix('>'))
        .unwrap_or(reported);
    Email::parse(bare).map_or_else(
        |_| bare.trim().to_lowercase(),
        |email| email.as_ref().to_owned(),
    )
}
