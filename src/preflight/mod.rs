//! `otp-login check`: the pre-flight an operator runs before a deploy. It reads the settings as
//! `serve` does, then asks the database, the server keys and SES whether they will work, and
//! answers one finding per question, never a secret.
mod database;
mod keys;
mod mail;

use serde::Serialize;

use crate::config::Settings;

/// How a finding bears on the deploy: only an error makes `check` fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warning,
    Error,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

/// One answer: which check, how it went, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub level: Level,
    pub check: &'static str,
    pub message: String,
}

impl Finding {
    fn new(level: Level, check: &'static str, message: impl Into<String>) -> Self {
        // Whatever error chain a message quotes, a database password stays out of it.
        let message = crate::redact::credentials(&message.into());
        Self {
            level,
            check,
            message,
        }
    }

    pub fn ok(check: &'static str, message: impl Into<String>) -> Self {
        Self::new(Level::Ok, check, message)
    }

    pub fn warning(check: &'static str, message: impl Into<String>) -> Self {
        Self::new(Level::Warning, check, message)
    }

    pub fn error(check: &'static str, message: impl Into<String>) -> Self {
        Self::new(Level::Error, check, message)
    }
}

/// Runs every check against the settings `vars` describe (the process environment, as
/// `serve` reads it). Set by AWS Lambda itself, `AWS_LAMBDA_RUNTIME_API` is missing where an
/// operator checks a function's settings: `AWS_LAMBDA_FUNCTION_NAME` then says "these are for
/// Lambda", and the settings are read with Lambda's rules.
pub async fn run(vars: Vec<(String, String)>) -> Vec<Finding> {
    let is_set = |name: &str| vars.iter().any(|(n, v)| n == name && !v.is_empty());
    let for_lambda = is_set("AWS_LAMBDA_FUNCTION_NAME") && !is_set("AWS_LAMBDA_RUNTIME_API");
    let mut vars = vars;
    if for_lambda {
        vars.push(("AWS_LAMBDA_RUNTIME_API".into(), "check".into()));
    }
    let settings = match Settings::from_vars(vars) {
        Ok(settings) => settings,
        // Every other check needs the settings: this one finding is all there is to say.
        Err(err) => return vec![Finding::error("settings", err.to_string())],
    };
    let mut findings = vec![Finding::ok(
        "settings",
        match settings.on_lambda {
            true => "the settings are valid, read with Lambda's rules",
            false => "the settings are valid",
        },
    )];
    let (mut found, jwt) = keys::check(&settings.keys).await;
    findings.append(&mut found);
    findings.append(&mut database::check(&settings, jwt.as_ref()).await);
    findings.append(&mut mail::check(&settings).await);
    findings.extend(lambda(&settings));
    findings
}

/// What matters only on Lambda. The function's reserved concurrency is not asked for: that
/// takes the Lambda API, whose SDK crate otp-login does not carry.
fn lambda(settings: &Settings) -> Option<Finding> {
    if !settings.on_lambda || !settings.cors.enabled {
        return None;
    }
    Some(match settings.cors.allowed_origins.is_empty() {
        true => Finding::warning(
            "cors",
            "CORS_ALLOWED_ORIGINS allows any origin (`*`): on Lambda, name the pages' origin \
             so that no other site's scripts can call the API with a user's browser",
        ),
        false => Finding::ok(
            "cors",
            format!("CORS allows {}", settings.cors.allowed_origins.join(", ")),
        ),
    })
}

/// Whether any finding stops the deploy.
pub fn failed(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.level == Level::Error)
}

/// One line per finding: `level: check: message`.
pub fn lines(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("{}: {}: {}\n", f.level.as_str(), f.check, f.message))
        .collect()
}

/// The findings as a JSON array of `{level, check, message}`.
pub fn json(findings: &[Finding]) -> String {
    serde_json::to_string_pretty(findings).expect("findings are valid JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn a_settings_error_is_the_one_finding() {
        let findings = run(vars(&[("PORT", "eighty")])).await;
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].level, Level::Error);
        assert_eq!(findings[0].check, "settings");
        assert!(failed(&findings));
    }

    #[tokio::test]
    async fn a_function_name_reads_the_settings_with_lambdas_rules() {
        let findings = run(vars(&[("AWS_LAMBDA_FUNCTION_NAME", "otp-login")])).await;
        assert_eq!(findings[0].level, Level::Error, "{findings:?}");
        assert!(
            findings[0].message.contains("on AWS Lambda"),
            "{findings:?}"
        );
    }

    #[test]
    fn lines_carry_the_level_and_json_the_three_fields() {
        let findings = [
            Finding::ok("database", "reachable"),
            Finding::error("database", "mysql://u:hunter2@h/x refused"),
        ];
        assert_eq!(
            lines(&findings),
            "ok: database: reachable\nerror: database: mysql://u:***@h/x refused\n"
        );
        let parsed: serde_json::Value = serde_json::from_str(&json(&findings)).unwrap();
        assert_eq!(parsed[1]["level"], "error");
        assert_eq!(parsed[1]["check"], "database");
        assert!(failed(&findings));
        assert!(!failed(&findings[..1]));
    }
}
