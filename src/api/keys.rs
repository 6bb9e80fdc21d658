//! `GET /.well-known/jwks.json` and `GET /.well-known/openid-configuration`: what a verifier
//! elsewhere needs to check an access token without asking otp-login.
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde::Serialize;

use super::objects::ApiMessage;
use super::spec::ApiTags;
use crate::auth::keys::{KeySet, JWKS_MAX_AGE};
use crate::auth::AuthService;

/// Every key that may still verify a live token (RFC 7517 JWK Set).
#[derive(Debug, Clone, Object, Serialize)]
#[oai(example)]
pub struct JwkSet {
    pub keys: Vec<Jwk>,
}

/// One RSA public key (RFC 7517, RFC 7518 §6.3).
#[derive(Debug, Clone, Object, Serialize)]
#[oai(example)]
pub struct Jwk {
    /// Always `RSA`.
    pub kty: String,
    /// Always `sig`.
    #[oai(rename = "use")]
    #[serde(rename = "use")]
    pub key_use: String,
    /// Always `RS256`.
    pub alg: String,
    /// The `kid` a token's header names.
    pub kid: String,
    /// The modulus, base64url.
    pub n: String,
    /// The public exponent, base64url.
    pub e: String,
}

/// What a verifier reads to find the keys (OpenID Connect Discovery 1.0 §3, only the fields
/// that hold for otp-login).
#[derive(Debug, Clone, Object, Serialize)]
#[oai(example)]
pub struct Discovery {
    /// The `iss` of every token; this document is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    /// Where the key set is.
    pub jwks_uri: String,
    /// Tokens are signed RS256 only.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `sub` is the same opaque id for every audience.
    pub subject_types_supported: Vec<String>,
    /// The claims an access token carries.
    pub claims_supported: Vec<String>,
}

// The examples Swagger UI and generated SDK docs show (the modulus shortened).
impl Example for Jwk {
    fn example() -> Self {
        Self {
            kty: "RSA".into(),
            key_use: "sig".into(),
            alg: "RS256".into(),
            kid: "3f1a9c0e7b2d4e68".into(),
            n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into(),
            e: "AQAB".into(),
        }
    }
}

impl Example for JwkSet {
    fn example() -> Self {
        Self {
            keys: vec![Jwk::example()],
        }
    }
}

impl Example for Discovery {
    fn example() -> Self {
        discovery("https://auth.example.com")
    }
}

/// The key set as published.
pub fn jwks(set: &KeySet) -> JwkSet {
    JwkSet {
        keys: set
            .published
            .iter()
            .map(|key| Jwk {
                kty: "RSA".into(),
                key_use: "sig".into(),
                alg: "RS256".into(),
                kid: key.kid.clone(),
                n: key.jwk.n.clone(),
                e: key.jwk.e.clone(),
            })
            .collect(),
    }
}

/// The discovery document for tokens issued under `policy`.
pub fn discovery(issuer: &str) -> Discovery {
    let strings = |values: &[&str]| values.iter().map(|v| v.to_string()).collect();
    Discovery {
        issuer: issuer.to_owned(),
        jwks_uri: format!("{issuer}/.well-known/jwks.json"),
        id_token_signing_alg_values_supported: strings(&["RS256"]),
        subject_types_supported: strings(&["public"]),
        claims_supported: strings(&[
            "iss",
            "aud",
            "sub",
            "email",
            "sid",
            "iat",
            "nbf",
            "exp",
            "jti",
            "token_use",
        ]),
    }
}

fn cache_control() -> String {
    format!("public, max-age={}", JWKS_MAX_AGE.as_secs())
}

pub struct KeysApi;

#[OpenApi(tag = "ApiTags::Keys")]
impl KeysApi {
    /// The token signing keys
    ///
    /// Every public key that may still verify a live access token: the active one, a standby
    /// about to sign, and retired ones until their last token has expired. Cache it as
    /// `Cache-Control` says; fetch it again when a token names a `kid` it lacks.
    #[oai(path = "/.well-known/jwks.json", method = "get", operation_id = "jwks")]
    async fn jwks(&self, auth: Data<&AuthService>) -> JwksResponse {
        match auth.key_set().await {
            Ok(set) => JwksResponse::Ok(Json(jwks(&set)), cache_control()),
            Err(err) => {
                tracing::error!(error = %format!("{err:#}"), "could not read the key set");
                JwksResponse::Unavailable(Json(ApiMessage::failure(
                    "Service temporarily unavailable",
                )))
            }
        }
    }

    /// Where to find the keys
    ///
    /// The issuer and the key set's URL, for verifiers that are given only the issuer.
    #[oai(
        path = "/.well-known/openid-configuration",
        method = "get",
        operation_id = "openidConfiguration"
    )]
    async fn discovery(&self, auth: Data<&AuthService>) -> DiscoveryResponse {
        DiscoveryResponse::Ok(
            Json(discovery(&auth.token_policy().issuer)),
            cache_control(),
        )
    }
}

#[derive(ApiResponse)]
pub enum JwksResponse {
    /// The key set.
    #[oai(status = 200)]
    Ok(Json<JwkSet>, #[oai(header = "Cache-Control")] String),
    /// The keys could not be read from the database.
    #[oai(status = 503)]
    Unavailable(Json<ApiMessage>),
}

#[derive(ApiResponse)]
pub enum DiscoveryResponse {
    /// The discovery document.
    #[oai(status = 200)]
    Ok(Json<Discovery>, #[oai(header = "Cache-Control")] String),
}
