//! How events become figures: counted per request and in the totals, whatever the log filter,
//! and written as EMF and Prometheus text without anything of a user.
use std::time::Duration;

use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

use super::*;

/// A subscriber like the service's: the counting layer beside a log that shows only warnings.
fn subscriber() -> impl Subscriber + Send + Sync {
    tracing_subscriber::registry().with(counting_layer()).with(
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::sink)
            .with_filter(tracing_subscriber::filter::LevelFilter::WARN),
    )
}

fn total(name: &str, operation: &str) -> f64 {
    let prefix = format!("otp_login_{name}{{operation=\"{operation}\"}} ");
    prometheus_text()
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .map_or(0.0, |value| value.parse().unwrap())
}

#[tokio::test]
async fn events_count_in_their_request_and_the_totals_even_when_the_log_hides_them() {
    let _guard = tracing::subscriber::set_default(subscriber());
    // An operation name no other test uses, so the totals are this test's alone.
    let operation = "metricsUnitTest";
    let before = total("wrong_passwords_total", operation);
    let ((), counts) = measure(operation, async {
        tracing::info!(
            event = "wrong_password",
            "hidden by the log filter, counted anyway"
        );
        tracing::info!(event = "wrong_password", "twice");
        tracing::warn!(event = "limited", "rate limited");
        tracing::info!(event = "registered", "an event with no figure");
        tracing::info!("no event at all");
    })
    .await;
    assert_eq!(counts.get(Figure::WrongPasswords), 2);
    assert_eq!(counts.get(Figure::Limited), 1);
    assert_eq!(counts.get(Figure::SignIns), 0);
    assert_eq!(total("wrong_passwords_total", operation) - before, 2.0);

    // Outside a request, an event still counts, under `background`.
    let background = total("mail_failures_total", BACKGROUND);
    tracing::error!(event = "mail_failed", "a clean-up's mail");
    assert_eq!(total("mail_failures_total", BACKGROUND) - background, 1.0);
}

#[test]
fn every_figure_has_an_event_and_distinct_names() {
    let events = [
        "signed_in",
        "wrong_password",
        "wrong_code",
        "limited",
        "code_sent",
        "mail_failed",
        "database_unavailable",
    ];
    let figures: Vec<Figure> = events.iter().filter_map(|e| Figure::of_event(e)).collect();
    assert_eq!(figures, Figure::ALL);
    assert_eq!(
        Figure::of_event("mail_throttled"),
        Some(Figure::MailFailures)
    );
    let mut names: Vec<&str> = Figure::ALL.iter().map(|f| f.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Figure::ALL.len());
}

#[test]
fn requests_are_counted_by_operation_id_never_by_path() {
    assert_eq!(operation("POST", "/login"), "login");
    assert_eq!(operation("GET", "/me"), "getCurrentUser");
    assert_eq!(operation("OPTIONS", "/login"), "preflight");
    assert_eq!(operation("GET", "/login"), OTHER);
    assert_eq!(operation("GET", "/alice@example.com"), OTHER);
}

#[test]
fn an_answered_request_adds_to_the_totals_and_a_5xx_to_the_server_errors() {
    let recorder = Recorder::default();
    let before = (
        total("requests_total", "health"),
        total("server_errors_total", "health"),
        total("request_duration_seconds_count", "health"),
    );
    recorder.answered("health", 200, Duration::from_millis(3), Counts::default());
    recorder.answered("health", 503, Duration::from_millis(7), Counts::default());
    assert_eq!(total("requests_total", "health") - before.0, 2.0);
    assert_eq!(total("server_errors_total", "health") - before.1, 1.0);
    assert_eq!(
        total("request_duration_seconds_count", "health") - before.2,
        2.0
    );
    let text = prometheus_text();
    assert!(
        text.contains("# TYPE otp_login_request_duration_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE otp_login_requests_total counter"),
        "{text}"
    );
}

#[test]
fn an_emf_line_names_its_metrics_and_dimension_and_carries_their_values() {
    let mut counts = Counts::default();
    counts.0[Figure::SignIns.index()] = 1;
    let line = emf_line(
        "otp-login/test",
        "verify",
        200,
        Duration::from_micros(12_345),
        &counts,
        Duration::from_millis(1_700_000_000_123),
    );
    assert!(!line.contains('\n'));
    let doc: Value = serde_json::from_str(&line).unwrap();
    let directive = &doc["_aws"]["CloudWatchMetrics"][0];
    assert_eq!(doc["_aws"]["Timestamp"], 1_700_000_000_123u64);
    assert_eq!(directive["Namespace"], "otp-login/test");
    assert_eq!(directive["Dimensions"], serde_json::json!([["Operation"]]));
    assert_eq!(doc["Operation"], "verify");
    assert_eq!(doc["Latency"], 12.345);
    assert_eq!(doc["SignIns"], 1);
    assert_eq!(doc["ServerErrors"], 0);
    for metric in directive["Metrics"].as_array().unwrap() {
        let name = metric["Name"].as_str().unwrap();
        assert!(doc[name].is_number(), "{name} has a value");
    }
    let names = directive["Metrics"].as_array().unwrap().len();
    // The root holds the metrics, the dimension and `_aws`, nothing else.
    assert_eq!(doc.as_object().unwrap().len(), names + 2);
}
