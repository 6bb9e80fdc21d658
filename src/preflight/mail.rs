//! The mailer: the templates (overrides parse and render); with SES, whether the account may
//! send (and to whom) and whether the sender is verified; with SMTP, whether the server
//! answers; with the development mailer, that codes stay in the log.
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::get_account::GetAccountOutput;
use aws_sdk_sesv2::operation::get_email_identity::GetEmailIdentityError;
use aws_sdk_sesv2::types::VerificationStatus;
use aws_sdk_sesv2::Client;

use super::Finding;
use crate::config::{MailerChoice, SesSettings, Settings, SmtpSettings};
use crate::mail::{SmtpMailer, Templates};
use crate::startup::{sender_for, templates_for};

/// Whether the SMTP server answers, as `serve` would reach it (the URL's credentials stay
/// out of the finding).
async fn smtp_server(settings: &Settings, smtp: &SmtpSettings) -> Finding {
    let sender = match sender_for(settings, &smtp.sender) {
        Ok(sender) => sender,
        Err(err) => return Finding::error("mailer", err),
    };
    let mailer = match SmtpMailer::new(&smtp.url, smtp.timeout, Templates::compiled_in(), sender) {
        Ok(mailer) => mailer,
        Err(err) => return Finding::error("mailer", err.to_string()),
    };
    match mailer.reachable().await {
        Ok(()) => Finding::ok("mailer", format!("SMTP sends as {}", smtp.sender)),
        Err(err) => Finding::error("mailer", format!("the SMTP server: {err}")),
    }
}

pub async fn check(settings: &Settings) -> Vec<Finding> {
    let mut findings = vec![templates(settings)];
    findings.append(&mut mailer(settings).await);
    findings
}

/// The templates `serve` would load, overrides included.
fn templates(settings: &Settings) -> Finding {
    let dir = settings.mail_templates.dir.as_deref();
    match templates_for(settings) {
        Ok(_) => Finding::ok(
            "mail templates",
            match dir {
                Some(dir) => format!(
                    "every message renders, with the overrides in {}",
                    dir.display()
                ),
                None => "every message renders (compiled in)".to_owned(),
            },
        ),
        Err(err) => Finding::error("mail templates", err.to_string()),
    }
}

async fn mailer(settings: &Settings) -> Vec<Finding> {
    let ses = match &settings.mail {
        MailerChoice::Ses(ses) => ses,
        MailerChoice::Smtp(smtp) => return vec![smtp_server(settings, smtp).await],
        MailerChoice::Development => {
            return vec![Finding::warning(
                "mailer",
                "the development mailer writes codes to the log instead of mailing them: \
                 fine locally, never on Lambda (set SENDER_EMAIL to send with SES)",
            )]
        }
    };
    let aws = crate::aws::shared_config().await;
    if aws.region().is_none() {
        return vec![Finding::error(
            "mailer",
            "AWS_REGION is required to send with SES",
        )];
    }
    let client = client(aws, ses);
    vec![
        Finding::ok("mailer", format!("SES sends as {}", ses.sender)),
        account(&client).await,
        sender(&client, &ses.sender).await,
    ]
}

/// The client `serve` would send with: bounded by `SES_TIMEOUT_SECONDS`, one retry.
fn client(aws: &aws_config::SdkConfig, ses: &SesSettings) -> Client {
    let config = aws_sdk_sesv2::config::Builder::from(aws)
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(ses.timeout)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .build();
    Client::from_conf(config)
}

/// `GetAccount`: sending enabled, and out of the sandbox.
async fn account(client: &Client) -> Finding {
    let account = match client.get_account().send().await {
        Ok(account) => account,
        // moto (5.2.5) has no GetAccount in its SES v2 (its only answer to the sandbox question
        // is SES v1's GetSendQuota, which would take a second SDK crate): an endpoint that
        // does not know the operation leaves the question open rather than failing the check.
        Err(SdkError::ServiceError(err))
            if err.raw().status().as_u16() == 404 && err.err().code().is_none() =>
        {
            return Finding::warning(
                "ses-account",
                "this SES endpoint does not answer GetAccount: whether the account is in the \
                 sandbox (mail only to verified addresses) is unknown",
            )
        }
        Err(err) => {
            return Finding::error(
                "ses-account",
                format!(
                    "could not ask SES for the account: {}",
                    DisplayErrorContext(err)
                ),
            )
        }
    };
    judged(&account)
}

fn judged(account: &GetAccountOutput) -> Finding {
    if !account.sending_enabled() {
        return Finding::error(
            "ses-account",
            "sending is disabled for this SES account in this region: no code would go out",
        );
    }
    if !account.production_access_enabled() {
        return Finding::warning(
            "ses-account",
            "the SES account is in the sandbox: mail goes only to verified addresses until \
             AWS grants production access",
        );
    }
    Finding::ok(
        "ses-account",
        "the SES account has production access and may send",
    )
}

/// `GetEmailIdentity` for the sender's address, else for its domain (either lets SES send).
async fn sender(client: &Client, sender: &str) -> Finding {
    // `otp-login <noreply@example.com>` sends from the address between the brackets.
    let address = match (sender.rfind('<'), sender.rfind('>')) {
        (Some(open), Some(close)) if open < close => &sender[open + 1..close],
        _ => sender,
    };
    let domain = address.rsplit_once('@').map_or("", |(_, domain)| domain);
    for identity in [address, domain] {
        let found = match client
            .get_email_identity()
            .email_identity(identity)
            .send()
            .await
        {
            Ok(found) => found,
            Err(SdkError::ServiceError(err))
                if matches!(err.err(), GetEmailIdentityError::NotFoundException(_)) =>
            {
                continue
            }
            Err(err) => {
                return Finding::error(
                    "ses-sender",
                    format!(
                        "could not ask SES about {identity}: {}",
                        DisplayErrorContext(err)
                    ),
                )
            }
        };
        // AWS sets both together; moto sets only VerificationStatus.
        let verified = found.verified_for_sending_status()
            || found.verification_status() == Some(&VerificationStatus::Success);
        return match verified {
            true => Finding::ok(
                "ses-sender",
                format!("the SES identity {identity} is verified for sending"),
            ),
            false => Finding::error(
                "ses-sender",
                format!("the SES identity {identity} is not verified yet: SES refuses to send as {address}"),
            ),
        };
    }
    Finding::error(
        "ses-sender",
        format!(
            "SES knows neither {address} nor {domain}: verify one of them as an identity \
             before SES sends as {address}"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preflight::Level;

    fn account(sending: bool, production: bool) -> GetAccountOutput {
        GetAccountOutput::builder()
            .sending_enabled(sending)
            .production_access_enabled(production)
            .build()
    }

    #[test]
    fn a_sandboxed_account_warns_and_a_disabled_one_fails() {
        assert_eq!(judged(&account(true, true)).level, Level::Ok);
        let sandbox = judged(&account(true, false));
        assert_eq!(sandbox.level, Level::Warning);
        assert!(sandbox.message.contains("only to verified addresses"));
        assert_eq!(judged(&account(false, true)).level, Level::Error);
        assert_eq!(judged(&account(false, false)).level, Level::Error);
    }
}
