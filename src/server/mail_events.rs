//! The mail-events function (`FUNCTION_ROLE=mail-events`): SNS invokes it with the bounce and
//! complaint events SES publishes, and it records each undeliverable address before it
//! returns. Only the configured topic's records are read; a failure (the database away) is
//! returned to Lambda, which tries the delivery again and then hands it to the dead-letter
//! queue.
use aws_lambda_events::sns::SnsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use serde::Serialize;

use crate::auth::{AuthError, AuthService};
use crate::mail::events::read_sns_event;

/// What one delivery changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Handled {
    pub undeliverable: usize,
    pub refused: usize,
    pub ignored: usize,
}

/// Reads one SNS delivery and records what it reports.
pub async fn handle(
    auth: &AuthService,
    topic_arn: &str,
    event: &SnsEvent,
) -> Result<Handled, AuthError> {
    let events = read_sns_event(event, topic_arn);
    let undeliverable = auth.take_mail_events(&events).await?;
    Ok(Handled {
        undeliverable,
        refused: events.refused,
        ignored: events.ignored,
    })
}

/// Serves SNS deliveries until Lambda stops the instance.
pub async fn run(auth: AuthService, topic_arn: String) -> anyhow::Result<()> {
    tracing::info!("reading mail events from the SNS topic");
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SnsEvent>| {
        let (auth, topic_arn) = (auth.clone(), topic_arn.clone());
        async move {
            handle(&auth, &topic_arn, &event.payload)
                .await
                .map_err(|err| {
                    // The log has the cause; Lambda sees only that the delivery failed.
                    tracing::error!(event = "mail_event_failed", error = %err, "mail events not recorded");
                    lambda_runtime::Error::from("mail events not recorded")
                })
        }
    }))
    .await
    .map_err(|err| anyhow::anyhow!("Lambda runtime failed: {err}"))
}
