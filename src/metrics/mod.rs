//! The service's figures, for alarms and dashboards: requests, server errors and latency per
//! operation, and what happened in them — sign-ins, wrong passwords, wrong codes, limited
//! requests, mails sent and failed, the database unreachable. Operations are the spec's
//! `operationId`s (a bounded set); no figure carries a user, an address or a client.
//!
//! The events are counted from the log lines the service already writes (their `event` field),
//! by a tracing layer, so the log and the figures cannot disagree. On Lambda each request
//! writes one CloudWatch Embedded Metric Format line (`emf`); off Lambda the running totals are
//! served in Prometheus text format on a separate listener when `METRICS_ADDR` is set
//! (`listener`).
mod emf;
mod listener;

use std::cell::Cell;
use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::{filter_fn, FilterFn};
use tracing_subscriber::layer::{Context, Layer};

pub use emf::emf_line;
pub use listener::{prometheus_text, MetricsListener};

/// What is counted, each from the log event of that meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    SignIns,
    WrongPasswords,
    WrongCodes,
    Limited,
    MailsSent,
    MailFailures,
    DatabaseUnavailable,
}

impl Figure {
    pub const ALL: [Figure; 7] = [
        Figure::SignIns,
        Figure::WrongPasswords,
        Figure::WrongCodes,
        Figure::Limited,
        Figure::MailsSent,
        Figure::MailFailures,
        Figure::DatabaseUnavailable,
    ];

    /// The figure a log line's `event` counts towards, if any.
    pub fn of_event(event: &str) -> Option<Self> {
        Some(match event {
            "signed_in" => Self::SignIns,
            "wrong_password" => Self::WrongPasswords,
            "wrong_code" => Self::WrongCodes,
            "limited" => Self::Limited,
            "code_sent" => Self::MailsSent,
            "mail_failed" | "mail_throttled" => Self::MailFailures,
            "database_unavailable" => Self::DatabaseUnavailable,
            _ => return None,
        })
    }

    /// Its CloudWatch metric name.
    pub fn name(self) -> &'static str {
        match self {
            Self::SignIns => "SignIns",
            Self::WrongPasswords => "WrongPasswords",
            Self::WrongCodes => "WrongCodes",
            Self::Limited => "LimitedRequests",
            Self::MailsSent => "MailsSent",
            Self::MailFailures => "MailFailures",
            Self::DatabaseUnavailable => "DatabaseUnavailable",
        }
    }

    /// Its Prometheus name (before the `otp_login_` prefix and `_total` suffix) and help.
    fn prometheus(self) -> (&'static str, &'static str) {
        match self {
            Self::SignIns => ("sign_ins", "Sign-ins finished with a right code"),
            Self::WrongPasswords => ("wrong_passwords", "Sign-ins refused for a wrong password"),
            Self::WrongCodes => ("wrong_codes", "Codes refused as wrong"),
            Self::Limited => ("limited_requests", "Requests refused by a rate limit"),
            Self::MailsSent => ("mails_sent", "Codes mailed"),
            Self::MailFailures => ("mail_failures", "Mails the mailer refused or timed out"),
            Self::DatabaseUnavailable => (
                "database_unavailable",
                "Requests failed because the database could not be reached",
            ),
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What a request is counted under when it is not an operation of the spec.
pub const OTHER: &str = "other";
/// What an event is counted under when it happens outside any request (a clean-up).
pub const BACKGROUND: &str = "background";

/// The operation a request is counted under: the spec's `operationId` for its method and
/// path, `preflight` for a CORS preflight, `other` for anything else (pages, unknown paths) —
/// never the path itself, which a client chooses.
pub fn operation(method: &str, path: &str) -> &'static str {
    if let Some(id) = crate::api::spec::operation_id(method, path) {
        return id;
    }
    if method == "OPTIONS" {
        return "preflight";
    }
    OTHER
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabel {
    operation: &'static str,
}

/// The running totals of this process, as the Prometheus listener serves them.
struct Totals {
    registry: Registry,
    requests: Family<OperationLabel, Counter>,
    server_errors: Family<OperationLabel, Counter>,
    latency: Family<OperationLabel, Histogram, fn() -> Histogram>,
    counted: Vec<Family<OperationLabel, Counter>>,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

static TOTALS: LazyLock<Totals> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("otp_login");
    let requests = Family::default();
    registry.register(
        "requests",
        "Requests answered, by operation",
        requests.clone(),
    );
    let server_errors = Family::default();
    registry.register(
        "server_errors",
        "Requests answered with a 5xx status",
        server_errors.clone(),
    );
    let latency = Family::<OperationLabel, Histogram, fn() -> Histogram>::new_with_constructor(
        latency_histogram,
    );
    registry.register_with_unit(
        "request_duration",
        "Time from a request's arrival to its answer",
        prometheus_client::registry::Unit::Seconds,
        latency.clone(),
    );
    let counted = Figure::ALL
        .iter()
        .map(|figure| {
            let family = Family::default();
            let (name, help) = figure.prometheus();
            registry.register(name, help, family.clone());
            family
        })
        .collect();
    Totals {
        registry,
        requests,
        server_errors,
        latency,
        counted,
    }
});

/// What one request's events added up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts([u32; Figure::ALL.len()]);

impl Counts {
    pub fn get(&self, figure: Figure) -> u32 {
        self.0[figure.index()]
    }
}

struct RequestFigures {
    operation: &'static str,
    counts: [Cell<u32>; Figure::ALL.len()],
}

tokio::task_local! {
    static REQUEST: RequestFigures;
}

/// Runs `request` as one request of `operation`, and answers what it returns with the events
/// it logged on the way, counted.
pub async fn measure<F: Future>(operation: &'static str, request: F) -> (F::Output, Counts) {
    let figures = RequestFigures {
        operation,
        counts: Default::default(),
    };
    REQUEST
        .scope(figures, async move {
            let output = request.await;
            let counts = REQUEST.with(|figures| Counts(figures.counts.each_ref().map(Cell::get)));
            (output, counts)
        })
        .await
}

/// One event of `figure`, in the running totals and in the request it belongs to, if any.
pub fn count(figure: Figure) {
    let operation = REQUEST
        .try_with(|figures| {
            let cell = &figures.counts[figure.index()];
            cell.set(cell.get().saturating_add(1));
            figures.operation
        })
        .unwrap_or(BACKGROUND);
    TOTALS.counted[figure.index()]
        .get_or_create(&OperationLabel { operation })
        .inc();
}

/// Where one request's figures go once it is answered: the running totals always, and an EMF
/// line on standard output when `emf_namespace` is set.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    emf_namespace: Option<String>,
}

impl Recorder {
    pub fn new(settings: &crate::config::MetricsSettings) -> Self {
        Self {
            emf_namespace: settings.emf.then(|| settings.namespace.clone()),
        }
    }

    /// Records a request of `operation` answered with `status` after `elapsed`.
    pub fn answered(
        &self,
        operation: &'static str,
        status: u16,
        elapsed: Duration,
        counts: Counts,
    ) {
        let label = OperationLabel { operation };
        TOTALS.requests.get_or_create(&label).inc();
        if status >= 500 {
            TOTALS.server_errors.get_or_create(&label).inc();
        }
        TOTALS
            .latency
            .get_or_create(&label)
            .observe(elapsed.as_secs_f64());
        if let Some(namespace) = &self.emf_namespace {
            let at = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let line = emf_line(namespace, operation, status, elapsed, &counts, at);
            emf::write_line(&line);
        }
    }
}

/// The tracing layer that counts the events with a figure. It sees only call sites with an
/// `event` field, whatever the log filter lets through, so `RUST_LOG=warn` hides the lines
/// but not the figures.
pub fn counting_layer<S>() -> impl Layer<S>
where
    S: Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    CountEvents.with_filter(has_event_field())
}

fn has_event_field() -> FilterFn<impl Fn(&tracing::Metadata<'_>) -> bool> {
    filter_fn(|metadata| metadata.is_event() && metadata.fields().field("event").is_some())
}

struct CountEvents;

impl<S: Subscriber> Layer<S> for CountEvents {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut name = EventName(None);
        event.record(&mut name);
        if let Some(figure) = name.0.as_deref().and_then(Figure::of_event) {
            count(figure);
        }
    }
}

struct EventName(Option<String>);

impl Visit for EventName {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "event" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "event" && self.0.is_none() {
            self.0 = Some(format!("{value:?}").trim_matches('"').to_owned());
        }
    }
}

#[cfg(test)]
mod tests;
