//! One request's figures as a CloudWatch Embedded Metric Format document: the metric values
//! at the root, and an `_aws` block telling CloudWatch which root members are metrics (with
//! their units) and which one is the dimension (`Operation`).
use std::io::Write;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::{Counts, Figure};

/// The EMF document of one request of `operation` answered with `status` after `elapsed`, at
/// `at` (since the Unix epoch), as one line of JSON.
pub fn emf_line(
    namespace: &str,
    operation: &str,
    status: u16,
    elapsed: Duration,
    counts: &Counts,
    at: Duration,
) -> String {
    let mut root = Map::new();
    let mut metrics = Vec::new();
    let mut metric = |name: &str, unit: &str, value: Value| {
        metrics.push(json!({"Name": name, "Unit": unit}));
        root.insert(name.to_owned(), value);
    };
    metric("Requests", "Count", json!(1));
    metric("ServerErrors", "Count", json!(u8::from(status >= 500)));
    // Microseconds kept, as milliseconds with three decimals.
    let latency_ms = (elapsed.as_secs_f64() * 1_000_000.0).round() / 1000.0;
    metric("Latency", "Milliseconds", json!(latency_ms));
    for figure in Figure::ALL {
        metric(figure.name(), "Count", json!(counts.get(figure)));
    }
    root.insert("Operation".to_owned(), json!(operation));
    root.insert(
        "_aws".to_owned(),
        json!({
            "Timestamp": u64::try_from(at.as_millis()).unwrap_or(u64::MAX),
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Operation"]],
                "Metrics": metrics,
            }],
        }),
    );
    Value::Object(root).to_string()
}

/// Writes `line` whole on standard output, where the Lambda runtime hands it to CloudWatch
/// Logs; the lock keeps a log line from landing inside it.
pub(super) fn write_line(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed standard output loses the figures, not the request.
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
