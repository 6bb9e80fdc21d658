//! Logging: human-readable lines locally (coloured only on a terminal), JSON lines for
//! CloudWatch on Lambda, where the function's logging configuration (`AWS_LAMBDA_LOG_FORMAT`,
//! `AWS_LAMBDA_LOG_LEVEL`) is honoured.
use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

/// What to log, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    pub json: bool,
    pub filter: String,
}

/// Quiet by default about the database driver's own chatter.
const DEFAULT_FILTER: &str = "info,sqlx=warn,sea_orm=warn";

impl LogSettings {
    /// From the environment: `RUST_LOG` wins; on Lambda the function's log level and format
    /// apply (JSON unless the function asks for text).
    pub fn from_env(on_lambda: bool, var: impl Fn(&str) -> Option<String>) -> Self {
        let lambda_level = on_lambda
            .then(|| var("AWS_LAMBDA_LOG_LEVEL"))
            .flatten()
            .and_then(|level| lambda_level(&level));
        let filter = var("RUST_LOG")
            .filter(|f| !f.trim().is_empty())
            .or_else(|| lambda_level.map(|level| format!("{level},sqlx=warn,sea_orm=warn")))
            .unwrap_or_else(|| DEFAULT_FILTER.to_owned());
        let json = on_lambda
            && !var("AWS_LAMBDA_LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("text"));
        Self { json, filter }
    }
}

/// Lambda's levels (TRACE, DEBUG, INFO, WARN, ERROR, FATAL) as tracing's.
fn lambda_level(level: &str) -> Option<&'static str> {
    Some(match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "INFO" => "info",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        _ => return None,
    })
}

/// Installs the log (filtered as `settings` say) and, beside it, the layer that counts the
/// events the metrics are made of (unfiltered: hiding a line must not hide a figure).
pub fn init(on_lambda: bool) {
    let settings = LogSettings::from_env(on_lambda, |name| std::env::var(name).ok());
    let filter =
        EnvFilter::try_new(&settings.filter).unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    // Escape codes belong on a terminal, not in a file, a pipe or CloudWatch.
    let lines = fmt::layer()
        .with_target(false)
        .with_ansi(!settings.json && std::io::stdout().is_terminal());
    let subscriber = tracing_subscriber::registry().with(crate::metrics::counting_layer());
    // A second initialisation (tests) is harmless; keep the first.
    let _ = if settings.json {
        subscriber
            .with(lines.json().flatten_event(true).with_filter(filter))
            .try_init()
    } else {
        subscriber.with(lines.with_filter(filter)).try_init()
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(on_lambda: bool, vars: &[(&str, &str)]) -> LogSettings {
        LogSettings::from_env(on_lambda, |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn lambda_log_level_and_format_are_honoured() {
        let s = settings(true, &[]);
        assert!(s.json);
        assert_eq!(s.filter, DEFAULT_FILTER);
        let s = settings(
            true,
            &[
                ("AWS_LAMBDA_LOG_LEVEL", "DEBUG"),
                ("AWS_LAMBDA_LOG_FORMAT", "Text"),
            ],
        );
        assert!(!s.json);
        assert!(s.filter.starts_with("debug,"), "{}", s.filter);
        assert!(settings(true, &[("AWS_LAMBDA_LOG_LEVEL", "FATAL")])
            .filter
            .starts_with("error,"));
        assert!(settings(true, &[("AWS_LAMBDA_LOG_FORMAT", "JSON")]).json);
    }

    #[test]
    fn rust_log_wins_and_lambda_variables_mean_nothing_locally() {
        let s = settings(
            true,
            &[("AWS_LAMBDA_LOG_LEVEL", "ERROR"), ("RUST_LOG", "trace")],
        );
        assert_eq!(s.filter, "trace");
        let s = settings(
            false,
            &[
                ("AWS_LAMBDA_LOG_LEVEL", "ERROR"),
                ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
            ],
        );
        assert!(!s.json);
        assert_eq!(s.filter, DEFAULT_FILTER);
    }
}
