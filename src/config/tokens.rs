//! The access-token settings: issuer, audiences and lifetime.
use std::time::Duration;

use super::{ConfigError, Environment};
use crate::auth::TokenPolicy;

pub(super) fn tokens(env: &Environment, on_lambda: bool) -> Result<TokenPolicy, ConfigError> {
    if !(60..=86_400).contains(&env.token_ttl_seconds) {
        return Err(ConfigError(format!(
            "TOKEN_TTL_SECONDS must be between 60 and 86400, got {}",
            env.token_ttl_seconds
        )));
    }
    Ok(TokenPolicy {
        issuer: issuer(env, on_lambda)?,
        audiences: audiences(&env.token_audience)?,
        ttl: Duration::from_secs(env.token_ttl_seconds),
    })
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
