//! The truth when mail cannot arrive: SES's bounce and complaint events (recorded payloads, as
//! SNS delivers them to the mail-events function) mark the address; the owner's next sign-in
//! says so after a right password and sends nothing, until the operator clears the address.
//! Events from another topic, transient bounces and deliveries change nothing.
use aws_lambda_events::sns::SnsEvent;
use otp_login::server::mail_events::{handle, Handled};
use serde_json::json;

use crate::helpers::*;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:otp-login-mail-events";
const UNDELIVERABLE: &str = "Mail to your address cannot be delivered";

/// A recorded SNS delivery from `tests/api/fixtures/ses-events/`, about `address`.
fn recorded(name: &str, address: &str) -> SnsEvent {
    let path = format!(
        "{}/tests/api/fixtures/ses-events/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text.replace("ADDRESS_PLACEHOLDER", address)).unwrap()
}

async fn deliver(app: &TestApp, name: &str, address: &str) -> Handled {
    handle(&app.auth, TOPIC, &recorded(name, address))
        .await
        .unwrap()
}

fn mails(app: &TestApp, email: &str) -> usize {
    app.mailer().messages_to(email).len()
}

#[tokio::test]
async fn a_recorded_hard_bounce_makes_the_next_sign_in_say_so_and_sends_nothing() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        app.sign_in(&email).await;
        let handled = deliver(&app, "permanent-bounce", &email).await;
        assert_eq!(
            handled,
            Handled {
                undeliverable: 1,
                refused: 0,
                ignored: 0
            }
        );
        let sent = mails(&app, &email);

        let told = assert_status(app.login(&email, PASSWORD).await, 422).await;
        let message = told["message"].as_str().unwrap();
        assert!(message.starts_with(UNDELIVERABLE), "{message}");
        assert!(
            message.contains("2026-12-04") && message.contains("operator"),
            "{message}"
        );
        assert_eq!(told["success"], false);
        // A wrong password learns nothing of it.
        assert_status(app.login(&email, "not the password").await, 401).await;
        // A reset request answers as ever, and sends nothing either.
        assert_status(app.request_reset(&email).await, 200).await;
        assert_eq!(mails(&app, &email), sent, "{backend:?}: nothing went out");

        let shown = stdout(&users(&app, &["show", &email], &[]));
        assert!(
            shown.contains("undeliverable: a bounce on 2026-12-04"),
            "{shown}"
        );
        let cleared = users(&app, &["clear-mail", &email], &[]);
        assert!(cleared.status.success(), "{cleared:?}");
        assert!(stdout(&cleared).contains("again"), "{}", stdout(&cleared));
        assert_status(app.login(&email, PASSWORD).await, 200).await;
        assert_eq!(mails(&app, &email), sent + 1, "codes go out again");
        let shown = stdout(&users(&app, &["show", &email], &[]));
        assert!(
            shown.contains("no bounce or complaint on record"),
            "{shown}"
        );
    }
}

#[tokio::test]
async fn a_complaint_or_an_identity_notification_stops_mail_and_a_soft_bounce_or_delivery_does_not()
{
    let app = test_app().spawn().await;
    let (complained, noticed, soft) = (unique_email(), unique_email(), unique_email());
    for email in [&complained, &noticed, &soft] {
        assert_status(app.register(email, PASSWORD).await, 201).await;
    }
    assert_eq!(
        deliver(&app, "complaint", &complained).await.undeliverable,
        1
    );
    assert_eq!(
        deliver(&app, "identity-bounce", &noticed)
            .await
            .undeliverable,
        1
    );
    for name in ["transient-bounce", "delivery"] {
        let handled = deliver(&app, name, &soft).await;
        assert_eq!((handled.undeliverable, handled.ignored), (0, 1), "{name}");
    }
    for email in [&complained, &noticed] {
        assert_status(app.login(email, PASSWORD).await, 422).await;
    }
    assert_status(app.login(&soft, PASSWORD).await, 200).await;
}

#[tokio::test]
async fn events_from_another_topic_are_refused_and_change_nothing() {
    let app = test_app().spawn().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let handled = deliver(&app, "forged-topic", &email).await;
    assert_eq!((handled.undeliverable, handled.refused), (0, 1));
    // Nor a record that is no SNS notification, or whose message is not an SES event.
    let mut event = recorded("permanent-bounce", &email);
    event.records[0].event_source = "aws:sqs".into();
    let not_sns = handle(&app.auth, TOPIC, &event).await.unwrap();
    assert_eq!(not_sns.refused, 1);
    let mut event = recorded("permanent-bounce", &email);
    event.records[0].sns.message = json!({"hello": "world"}).to_string();
    assert_eq!(
        handle(&app.auth, TOPIC, &event)
            .await
            .unwrap()
            .undeliverable,
        0
    );
    assert_status(app.login(&email, PASSWORD).await, 200).await;
}

#[tokio::test]
async fn a_new_address_that_bounced_is_refused_for_a_change_of_address() {
    let app = test_app().spawn().await;
    let (email, bounced) = (unique_email(), unique_email());
    let token = app.sign_in(&email).await;
    deliver(&app, "permanent-bounce", &bounced).await;
    let asked = app.change_email(&token, &bounced, PASSWORD).await;
    assert_answer(
        asked,
        422,
        "Mail to that address cannot be delivered; choose another",
    )
    .await;
    assert_eq!(mails(&app, &bounced), 0);
}
