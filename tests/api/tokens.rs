//! Access tokens as a verifier elsewhere sees them: RS256 with `kid`, every claim, the published
//! key set and discovery document, what is refused, rotation, and the first key made once.
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use migration::{Migrator, MigratorTrait};
use otp_login::auth::keys::{self, KeyRing, Rotated, Sealer};
use otp_login::store::signing_keys::{self, KeyState};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::helpers::*;

const ISSUER: &str = "http://localhost:0";
const TTL: Duration = Duration::from_secs(900);

async fn get(app: &TestApp, path: &str) -> reqwest::Response {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response
}

async fn key_set(app: &TestApp) -> (JwkSet, Option<String>) {
    let response = get(app, "/.well-known/jwks.json").await;
    let cache = response
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    (response.json().await.unwrap(), cache)
}

/// Verifies `token` as an outside verifier does: the key its `kid` names in the published set,
/// RS256, our issuer and audience, `exp` and `nbf`, and `token_use`.
async fn verify_outside(app: &TestApp, token: &str) -> jsonwebtoken::errors::Result<Value> {
    let (set, _) = key_set(app).await;
    let kid = jsonwebtoken::decode_header(token)?.kid.expect("kid");
    let jwk = set.find(&kid).expect("the kid is published");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&["otp-login"]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    let claims = jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk)?, &validation)?;
    // As docs/api.md asks of verifiers: only access tokens open an API.
    match claims.claims["token_use"].as_str() {
        Some("access") => Ok(claims.claims),
        _ => Err(jsonwebtoken::errors::ErrorKind::InvalidToken.into()),
    }
}

fn is_hex_id(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[tokio::test]
async fn an_access_token_carries_every_claim_and_verifies_with_the_published_keys_alone() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        let token = app.sign_in(&email).await;
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);

        let discovery = get(&app, "/.well-known/openid-configuration").await;
        let cache = discovery.headers().get("cache-control").cloned();
        assert_eq!(cache.unwrap(), "public, max-age=600");
        let discovery: Value = discovery.json().await.unwrap();
        assert_eq!(discovery["issuer"], ISSUER);
        assert_eq!(
            discovery["jwks_uri"],
            format!("{ISSUER}/.well-known/jwks.json")
        );
        assert_eq!(
            discovery["id_token_signing_alg_values_supported"],
            json!(["RS256"])
        );
        let (set, cache) = key_set(&app).await;
        assert_eq!(cache.as_deref(), Some("public, max-age=600"));
        let jwk = serde_json::to_value(&set.keys[0]).unwrap();
        for field in ["kty", "use", "alg", "kid", "n", "e"] {
            assert!(jwk.get(field).is_some(), "{field} in {jwk}");
        }
        assert_eq!(
            (jwk["kty"].as_str(), jwk["use"].as_str()),
            (Some("RSA"), Some("sig"))
        );
        assert_eq!(jwk["kid"].as_str(), header.kid.as_deref());
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert!(n.len() * 8 >= 2048, "a {}-bit key", n.len() * 8);

        let claims = verify_outside(&app, &token).await.unwrap();
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], "otp-login");
        assert_eq!(claims["email"], email.as_str());
        assert_eq!(claims["token_use"], "access");
        for id in ["sub", "sid", "jti"] {
            assert!(is_hex_id(&claims[id]), "{id}: {claims}");
        }
        let conn = app.connect_db().await;
        let stored = conn
            .query_one(sea_orm::Statement::from_sql_and_values(
                conn.get_database_backend(),
                "SELECT public_id FROM users WHERE username = ?",
                [email.clone().into()],
            ))
            .await
            .unwrap()
            .unwrap()
            .try_get_by_index::<String>(0)
            .unwrap();
        assert_eq!(claims["sub"], stored.as_str());
        let (iat, nbf, exp) = (&claims["iat"], &claims["nbf"], &claims["exp"]);
        let now = jsonwebtoken::get_current_timestamp();
        assert!(iat.as_u64().unwrap().abs_diff(now) < 60);
        assert_eq!(nbf, iat);
        assert_eq!(exp.as_u64().unwrap(), iat.as_u64().unwrap() + TTL.as_secs());
    }
}

/// The real signing key, as someone who stole it from the database and `JWT_SECRET` would
/// hold it: to make tokens that are well signed but wrong in one claim.
async fn stolen_key(app: &TestApp) -> (String, EncodingKey) {
    let stored = signing_keys::list(&app.connect_db().await).await.unwrap();
    let active = stored.iter().find(|k| k.state == KeyState::Active).unwrap();
    let pkcs8 = Sealer::new(JWT_SECRET.as_bytes())
        .open(&active.kid, &active.sealed_private_key)
        .unwrap();
    (active.kid.clone(), keys::encoding_key(&pkcs8).unwrap())
}

fn segment(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[tokio::test]
async fn forged_and_wrong_tokens_are_refused() {
    let app = spawn_app().await;
    let token = app.sign_in(&unique_email()).await;
    assert_status(app.me(&token).await, 200).await;
    let claims = verify_outside(&app, &token).await.unwrap();
    let (kid, real) = stolen_key(&app).await;
    let rs256 = |kid: &str| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        header
    };
    let signed = |claims: &Value, key: &EncodingKey| {
        jsonwebtoken::encode(&rs256(&kid), claims, key).unwrap()
    };
    let with = |name: &str, value: Value| {
        let mut claims = claims.clone();
        claims[name] = value;
        claims
    };
    let now = jsonwebtoken::get_current_timestamp();
    let other = keys::generate().unwrap();
    let other_key = keys::encoding_key(&other.pkcs8).unwrap();
    let (set, _) = key_set(&app).await;
    let public = URL_SAFE_NO_PAD
        .decode(
            serde_json::to_value(&set.keys[0]).unwrap()["n"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let hs256 = |secret: &[u8]| {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(secret).unwrap()).unwrap()
    };
    let jwks_text = serde_json::to_string(&set).unwrap();
    let refused = [
        ("signed by another key pair", signed(&claims, &other_key)),
        (
            "a forged kid",
            jsonwebtoken::encode(
                &rs256("0123456789abcdef0123456789abcdef"),
                &claims,
                &other_key,
            )
            .unwrap(),
        ),
        ("HS256 keyed with the public modulus", hs256(&public)),
        ("HS256 keyed with the key set", hs256(jwks_text.as_bytes())),
        (
            "alg none",
            format!(
                "{}.{}.",
                segment(&json!({"alg": "none", "typ": "JWT", "kid": kid})),
                segment(&claims)
            ),
        ),
        (
            "a wrong aud",
            signed(&with("aud", json!("someone-else")), &real),
        ),
        (
            "a wrong iss",
            signed(&with("iss", json!("https://evil.example")), &real),
        ),
        (
            "an expired token",
            signed(&with("exp", json!(now - 3600)), &real),
        ),
        (
            "a not-yet-valid token",
            signed(&with("nbf", json!(now + 600)), &real),
        ),
        (
            "not an access token",
            signed(&with("token_use", json!("refresh")), &real),
        ),
    ];
    for (what, forged) in refused {
        assert_status(app.me(&forged).await, 401).await;
        assert!(verify_outside_or_unknown(&app, &forged).await, "{what}");
    }
    // The same claims, well signed, pass: the refusals above are each for their one flaw.
    assert_status(app.me(&signed(&claims, &real)).await, 200).await;
}

/// Whether an outside verifier refuses `token` too (a token naming no published key counts).
async fn verify_outside_or_unknown(app: &TestApp, token: &str) -> bool {
    let (set, _) = key_set(app).await;
    let known = jsonwebtoken::decode_header(token)
        .ok()
        .and_then(|h| h.kid)
        .is_some_and(|kid| set.find(&kid).is_some());
    !known || verify_outside(app, token).await.is_err()
}

#[tokio::test]
async fn an_hs256_token_from_before_the_upgrade_is_refused_with_the_usual_401() {
    let app = spawn_app().await;
    let email = unique_email();
    let token = app.sign_in(&email).await;
    let sid = verify_outside(&app, &token).await.unwrap()["sid"].clone();
    let now = jsonwebtoken::get_current_timestamp();
    // What 0.4.0 issued: HS256 under JWT_SECRET, `sub` the email, for a session still live.
    let old = json!({"sub": email, "sid": sid, "iss": "otp-login", "iat": now, "exp": now + 3600});
    let old = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &old,
        &EncodingKey::from_secret(JWT_SECRET.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_answer(app.me(&old).await, 401, "Invalid or expired session").await;
    assert_status(app.me(&token).await, 200).await;
}

#[tokio::test]
async fn tokens_issued_before_a_rotation_keep_working_through_both_steps() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        let before = app.sign_in(&email).await;
        let db = app.connect_db().await;
        let first = jsonwebtoken::decode_header(&before).unwrap().kid.unwrap();

        let staged = keys::rotate(&db, JWT_SECRET.as_bytes(), TTL, Duration::ZERO).await;
        let Ok(Rotated::Staged { standby }) = staged else {
            panic!("{staged:?}")
        };
        // Too early to sign with the standby: verifiers may not have fetched it yet.
        let early = keys::rotate(
            &db,
            JWT_SECRET.as_bytes(),
            TTL,
            keys::PUBLISH_BEFORE_SIGNING,
        );
        assert!(early.await.is_err());

        // An instance started now publishes the standby before it signs anything.
        let later = test_app().sharing(&app.db).spawn().await;
        let (set, _) = key_set(&later).await;
        assert!(set.find(&standby).is_some() && set.find(&first).is_some());
        assert_status(later.me(&before).await, 200).await;

        let promoted = keys::rotate(&db, JWT_SECRET.as_bytes(), TTL, Duration::ZERO).await;
        let Ok(Rotated::Promoted {
            active, retired, ..
        }) = promoted
        else {
            panic!("{promoted:?}")
        };
        assert_eq!(
            (active.as_str(), retired.as_str()),
            (standby.as_str(), first.as_str())
        );
        let last = test_app().sharing(&app.db).spawn().await;
        let after = last.sign_in_again(&email).await;
        assert_eq!(
            jsonwebtoken::decode_header(&after).unwrap().kid.as_deref(),
            Some(standby.as_str())
        );
        for instance in [&app, &later, &last] {
            assert_status(instance.me(&before).await, 200).await;
        }
        for token in [&before, &after] {
            assert!(verify_outside(&last, token).await.is_ok());
        }
        // The next step stages again; the retired key stays published until its tokens expire.
        let again = keys::rotate(&db, JWT_SECRET.as_bytes(), TTL, Duration::ZERO).await;
        assert!(matches!(again, Ok(Rotated::Staged { .. })), "{again:?}");
        let fresh = test_app().sharing(&app.db).spawn().await;
        assert_eq!(key_set(&fresh).await.0.keys.len(), 3);
        assert_status(fresh.me(&before).await, 200).await;
    }
}

#[tokio::test]
async fn instances_starting_at_once_make_one_active_key() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let db = TestDb::new(backend).await;
        Migrator::up(&db.connect().await, None).await.unwrap();
        let mut starts = vec![];
        for _ in 0..4 {
            let conn = db.connect().await;
            starts.push(tokio::spawn(async move {
                let set = KeyRing::shared(conn, JWT_SECRET.as_bytes())
                    .current()
                    .await
                    .unwrap();
                set.signing.kid.clone()
            }));
        }
        let mut kids = vec![];
        for start in starts {
            kids.push(start.await.unwrap());
        }
        kids.dedup();
        assert_eq!(kids.len(), 1, "{kids:?}");
        let stored = signing_keys::list(&db.connect().await).await.unwrap();
        assert_eq!(stored.len(), 1, "{stored:?}");
        assert_eq!(stored[0].state, KeyState::Active);
    }
}

async fn public_ids(conn: &sea_orm::DatabaseConnection) -> Vec<Option<String>> {
    let sql = "SELECT public_id FROM users ORDER BY id";
    let statement = sea_orm::Statement::from_string(conn.get_database_backend(), sql);
    let rows = conn.query_all(statement).await.unwrap();
    rows.iter()
        .map(|row| row.try_get_by_index::<Option<String>>(0).unwrap())
        .collect()
}

#[tokio::test]
async fn the_migration_gives_every_existing_user_an_id_of_their_own() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let db = TestDb::new(backend).await;
        let conn = db.connect().await;
        let before = Migrator::migrations()
            .iter()
            .position(|m| m.name() == "m20261201_000011_user_public_ids")
            .expect("the public id migration") as u32;
        Migrator::up(&conn, Some(before)).await.unwrap();
        conn.execute_unprepared(
            "INSERT INTO users (username, password, created_at, updated_at, failed_codes) VALUES \
             ('a@example.com', 'x', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0), \
             ('b@example.com', 'x', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 0)",
        )
        .await
        .unwrap();
        Migrator::up(&conn, None).await.unwrap();
        let ids = public_ids(&conn).await;
        assert!(ids.iter().all(|id| is_hex_id(&json!(id))), "{ids:?}");
        assert_ne!(ids[0], ids[1]);
    }
}

#[tokio::test]
async fn a_user_written_by_hand_without_an_id_gets_one_at_sign_in_and_keeps_it() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app().on(backend).spawn().await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        let conn = app.connect_db().await;
        conn.execute_unprepared("UPDATE users SET public_id = NULL")
            .await
            .unwrap();
        let first = app.sign_in_again(&email).await;
        let sub = verify_outside(&app, &first).await.unwrap()["sub"].clone();
        assert!(is_hex_id(&sub), "{sub}");
        assert_eq!(public_ids(&conn).await, [sub.as_str().map(str::to_owned)]);
        let second = app.sign_in_again(&email).await;
        assert_eq!(verify_outside(&app, &second).await.unwrap()["sub"], sub);
        assert_status(app.me(&first).await, 200).await;
    }
}
