//! The token settings: issuer, audiences, the access token's lifetime, and how refresh tokens
//! renew a session.
use std::ops::RangeInclusive;
use std::time::Duration;

use super::{ConfigError, Environment};
use crate::auth::{RefreshPolicy, TokenPolicy};

const DAY: u64 = 86_400;

pub(super) fn tokens(env: &Environment, on_lambda: bool) -> Result<TokenPolicy, ConfigError> {
    let ttl = seconds("TOKEN_TTL_SECONDS", env.token_ttl_seconds, 300..=DAY)?;
    let idle = seconds(
        "REFRESH_IDLE_SECONDS",
        env.refresh_idle_seconds,
        3600..=365 * DAY,
    )?;
    let max_age = seconds(
        "REFRESH_MAX_AGE_SECONDS",
        env.refresh_max_age_seconds,
        env.refresh_idle_seconds..=3650 * DAY,
    )?;
    let reuse_grace = seconds(
        "REFRESH_REUSE_GRACE_SECONDS",
        env.refresh_reuse_grace_seconds,
        0..=RefreshPolicy::MAX_GRACE.as_secs(),
    )?;
    Ok(TokenPolicy {
        issuer: issuer(env, on_lambda)?,
        audiences: audiences(&env.token_audience)?,
        ttl,
        refresh: RefreshPolicy {
            idle,
            max_age,
            reuse_grace,
        },
    })
}

fn seconds(name: &str, value: u64, allowed: RangeInclusive<u64>) -> Result<Duration, ConfigError> {
    if !allowed.contains(&value) {
        return Err(ConfigError(format!(
            "{name} must be between {} and {}, got {value}",
            allowed.start(),
            allowed.end()
        )));
    }
    Ok(Duration::from_secs(value))
}

/// `TOKEN_ISSUER` without a trailing `/` (verifiers compare `iss` byte for byte, and append
/// `/.well-known/openid-configuration`); by default the local server's own URL. On Lambda the
/// function cannot know the URL it is reached by, so it must be set.
fn issuer(env: &Environment, on_lambda: bool) -> Result<String, ConfigError> {
    let Some(raw) = env.token_issuer.as_deref().map(str::trim) else {
        if on_lambda {
            return Err(ConfigError(
                "TOKEN_ISSUER is required on AWS Lambda (the URL the service is reached at)".into(),
            ));
        }
        return Ok(format!("http://localhost:{}", env.port));
    };
    if !(raw.starts_with("https://") || raw.starts_with("http://")) || raw.contains(['#', '?']) {
        return Err(ConfigError(format!(
            "TOKEN_ISSUER must be an http(s) URL without a query or fragment, got {raw:?}"
        )));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

fn audiences(raw: &str) -> Result<Vec<String>, ConfigError> {
    let audiences: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    if audiences.is_empty() {
        return Err(ConfigError(
            "TOKEN_AUDIENCE must name at least one audience".into(),
        ));
    }
    Ok(audiences)
}
