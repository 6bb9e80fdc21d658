//! Rate limits, with short windows configured for the test.
use std::time::Duration;

use reqwest::Response;
use serde_json::Value;

use crate::helpers::*;

/// Asserts a 429 with a `Retry-After` header that agrees with the body; returns the seconds.
async fn assert_limited(response: Response) -> u64 {
    let header: u64 = response
        .headers()
        .get("retry-after")
        .expect("Retry-After header")
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = assert_status(response, 429).await;
    assert_eq!(body["retry_after"], header, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("Too many attempts; try again in"),
        "{body}"
    );
    header
}

async fn app_with_limits(limits: &[(&str, &str)]) -> TestApp {
    test_app().env(limits).spawn().await
}

#[tokio::test]
async fn requests_per_client_address_are_limited_across_endpoints() {
    let app = app_with_limits(&[("RATE_LIMIT_PER_ADDRESS", "3/1m")]).await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    assert_status(app.login(&email, "wrong password").await, 401).await;
    assert_status(app.verify(&email, "123456").await, 401).await;
    let wait = assert_limited(app.login(&email, PASSWORD).await).await;
    assert!((1..=60).contains(&wait), "{wait}");
    assert_limited(app.register(&unique_email(), PASSWORD).await).await;
    // /me and /health are not counted.
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_status(health, 200).await;
}

#[tokio::test]
async fn forwarded_for_is_believed_only_when_trusted() {
    let post_from = |app: &TestApp, address: &'static str| {
        app.client
            .post(app.url("/login"))
            .header("x-forwarded-for", format!("198.51.100.1, {address}"))
            .json(&serde_json::json!({"username": unique_email(), "password": PASSWORD}))
            .send()
    };
    let trusting = app_with_limits(&[
        ("RATE_LIMIT_PER_ADDRESS", "1/1m"),
        ("TRUST_FORWARDED_FOR", "true"),
    ])
    .await;
    assert_status(post_from(&trusting, "203.0.113.1").await.unwrap(), 401).await;
    assert_status(post_from(&trusting, "203.0.113.2").await.unwrap(), 401).await;
    assert_limited(post_from(&trusting, "203.0.113.2").await.unwrap()).await;

    // Untrusted, the header is the client's to forge: everything counts against the peer.
    let wary = app_with_limits(&[("RATE_LIMIT_PER_ADDRESS", "1/1m")]).await;
    assert_status(post_from(&wary, "203.0.113.1").await.unwrap(), 401).await;
    assert_limited(post_from(&wary, "203.0.113.2").await.unwrap()).await;
}

#[tokio::test]
async fn codes_sent_per_username_are_limited_in_every_window_without_telling_a_guesser() {
    let app = app_with_limits(&[("RATE_LIMIT_CODE_SENDS", "1/2s,2/1h")]).await;
    let email = unique_email();
    app.register_and_login(&email).await;
    let first = app.code_for(&email);
    // A right password while the send limit holds answers exactly like a send (a 429 would
    // confirm the guess) and sends nothing: the code sent moments ago stays the live one.
    assert_answer(app.login(&email, PASSWORD).await, 200, "OTP sent to email").await;
    assert_eq!(app.mailer().messages_to(&email).len(), 1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_status(app.login(&email, PASSWORD).await, 200).await;
    assert_eq!(app.mailer().messages_to(&email).len(), 2);
    let second = app.code_for(&email);
    assert_ne!(second, first, "the second send replaced the code");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // The hourly window holds, and the refused send took nothing from the two-second one.
    assert_answer(app.login(&email, PASSWORD).await, 200, "OTP sent to email").await;
    assert_eq!(app.mailer().messages_to(&email).len(), 2);
    assert_status(app.verify(&email, &second).await, 200).await;
}

#[tokio::test]
async fn wrong_passwords_back_off_exponentially_alike_for_unknown_users() {
    let app = app_with_limits(&[("PASSWORD_BACKOFF_AFTER", "2")]).await;
    let known = unique_email();
    assert_status(app.register(&known, PASSWORD).await, 201).await;
    let unknown = unique_email();

    let mut answers = vec![];
    for username in [&known, &unknown] {
        let mut seen = vec![];
        for _ in 0..2 {
            seen.push(assert_status(app.login(username, "wrong password").await, 401).await);
        }
        // The second failure starts a 1 s back-off, even for the right password.
        assert_eq!(assert_limited(app.login(username, PASSWORD).await).await, 1);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        seen.push(assert_status(app.login(username, "wrong password").await, 401).await);
        assert_eq!(assert_limited(app.login(username, "x").await).await, 2);
        answers.push(seen);
    }
    assert_eq!(
        answers[0], answers[1],
        "known and unknown users answer alike"
    );

    // A right password after the wait signs in and resets the count.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_status(app.login(&known, PASSWORD).await, 200).await;
    assert_status(app.login(&known, "wrong password").await, 401).await;
    assert_status(app.login(&known, "wrong password").await, 401).await;
}

#[tokio::test]
async fn wrong_passwords_per_hour_are_capped_whatever_the_backoff() {
    let app = app_with_limits(&[("RATE_LIMIT_PASSWORD_FAILURES", "3/1h")]).await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    for _ in 0..3 {
        assert_status(app.login(&email, "wrong password").await, 401).await;
    }
    // 3 an hour: the next try fits once a third of the hour has passed.
    let wait = assert_limited(app.login(&email, PASSWORD).await).await;
    assert!((1000..=1200).contains(&wait), "{wait}");
}

#[tokio::test]
async fn code_checks_per_username_are_capped_counting_only_guesses_at_a_live_code() {
    let app = app_with_limits(&[("RATE_LIMIT_CODE_VERIFIES", "2/1h")]).await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    // With no code pending there is nothing to guess: these cost the owner nothing.
    for _ in 0..5 {
        assert_status(app.verify(&email, "000000").await, 401).await;
    }
    assert_status(app.login(&email, PASSWORD).await, 200).await;
    let code = app.code_for(&email);
    let wrong = other_than(&code);
    for _ in 0..2 {
        assert_status(app.verify(&email, &wrong).await, 401).await;
    }
    assert_limited(app.verify(&email, &code).await).await;
    // Unknown usernames have no code to guess at: always the same 401, never a 429.
    let stranger = unique_email();
    for _ in 0..4 {
        assert_status(app.verify(&stranger, &wrong).await, 401).await;
    }
}

#[tokio::test]
async fn limits_hold_across_instances_sharing_the_database() {
    let db = TestDb::new(Backend::MariaDb).await;
    let limits = [("RATE_LIMIT_PER_ADDRESS", "2/1m")];
    let a = test_app().sharing(&db).env(&limits).spawn().await;
    let b = test_app().sharing(&db).env(&limits).spawn().await;
    assert_status(a.login(&unique_email(), PASSWORD).await, 401).await;
    assert_status(b.login(&unique_email(), PASSWORD).await, 401).await;
    assert_limited(a.login(&unique_email(), PASSWORD).await).await;
    assert_limited(b.login(&unique_email(), PASSWORD).await).await;
}

#[tokio::test]
async fn a_cross_origin_page_can_read_retry_after() {
    let app = app_with_limits(&[("RATE_LIMIT_PER_ADDRESS", "1/1m")]).await;
    let send = || {
        app.client
            .post(app.url("/login"))
            .header("origin", "https://pages.example.com")
            .json(&serde_json::json!({"username": unique_email(), "password": PASSWORD}))
            .send()
    };
    send().await.unwrap();
    let limited = send().await.unwrap();
    let exposed = limited.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap();
    assert!(exposed.contains("retry-after"), "{exposed}");
    assert_limited(limited).await;
}

#[tokio::test]
async fn a_stranger_cannot_lock_the_owner_out_of_signing_in() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        // The default per-username limits; the per-address one is off so the stranger's
        // requests all reach the per-username rules.
        let app = test_app()
            .on(backend)
            .env(&[
                ("TRUST_FORWARDED_FOR", "true"),
                ("RATE_LIMIT_CODE_VERIFIES", "10/1h"),
                ("RATE_LIMIT_PASSWORD_FAILURES", "100/1h"),
                ("PASSWORD_BACKOFF_AFTER", "5"),
            ])
            .spawn()
            .await;
        let (owner, stranger) = ("198.51.100.7", "203.0.113.66");
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        for _ in 0..10 {
            let guess = serde_json::json!({"username": email, "code": "000000"});
            assert_status(app.post_from(stranger, "/verify", &guess).await, 401).await;
        }
        for _ in 0..25 {
            let guess = serde_json::json!({"username": email, "password": "not the password"});
            let status = app.post_from(stranger, "/login", &guess).await.status();
            assert!(status == 401 || status == 429, "{status}");
        }
        let login = serde_json::json!({"username": email, "password": PASSWORD});
        assert_status(app.post_from(owner, "/login", &login).await, 200).await;
        let code = serde_json::json!({"username": email, "code": app.code_for(&email)});
        assert_status(app.post_from(owner, "/verify", &code).await, 200).await;
    }
}

#[tokio::test]
async fn parallel_wrong_passwords_record_no_more_tries_than_the_limit() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app()
            .on(backend)
            .env(&[("RATE_LIMIT_PASSWORD_FAILURES", "3/1h")])
            .spawn()
            .await;
        let email = unique_email();
        assert_status(app.register(&email, PASSWORD).await, 201).await;
        let tries = (0..25).map(|_| app.login(&email, "not the password"));
        let statuses: Vec<u16> = futures::future::join_all(tries)
            .await
            .iter()
            .map(|r| r.status().as_u16())
            .collect();
        let wrong = statuses.iter().filter(|s| **s == 401).count();
        let limited = statuses.iter().filter(|s| **s == 429).count();
        assert_eq!((wrong, limited), (3, 22), "{backend:?}: {statuses:?}");
    }
}

#[tokio::test]
async fn an_address_the_owner_signed_in_from_passes_the_username_cap() {
    let app = test_app()
        .env(&[
            ("TRUST_FORWARDED_FOR", "true"),
            ("RATE_LIMIT_PASSWORD_FAILURES", "2/1h"),
        ])
        .spawn()
        .await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let login = |password: &str| serde_json::json!({"username": email, "password": password});
    let (home, stranger, elsewhere) = ("198.51.100.7", "203.0.113.66", "192.0.2.1");
    assert_status(app.post_from(home, "/login", &login(PASSWORD)).await, 200).await;
    for _ in 0..2 {
        assert_status(app.post_from(stranger, "/login", &login("nope")).await, 401).await;
    }
    // The cap now holds for new addresses, the stranger's and the owner's alike…
    assert_limited(app.post_from(elsewhere, "/login", &login(PASSWORD)).await).await;
    // …but not from where the owner signed in before.
    assert_status(app.post_from(home, "/login", &login(PASSWORD)).await, 200).await;
}

#[tokio::test]
async fn the_limiter_keeps_one_row_per_limit_and_key_however_many_requests() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app()
            .on(backend)
            .env(&[
                ("TRUST_FORWARDED_FOR", "true"),
                // Each request moves a row's time 0.6 s (and 0.72 s) ahead: thirty keep it ahead
                // of the clock however slow the machine, so the clean-up that takes rows behind
                // it (one request in a hundred) leaves these four alone.
                ("RATE_LIMIT_PER_ADDRESS", "100/1m,5000/1h"),
            ])
            .spawn()
            .await;
        for address in ["198.51.100.1", "198.51.100.2"] {
            for _ in 0..30 {
                let body = serde_json::json!({"username": unique_email(), "code": "123456"});
                assert_status(app.post_from(address, "/verify", &body).await, 401).await;
            }
        }
        // Two addresses, two limits each: four rows after sixty requests.
        assert_eq!(app.count_rows("rate_limits").await, 4, "{backend:?}");
    }
}

#[tokio::test]
async fn only_the_proxys_own_forwarded_entry_keys_the_limit() {
    let app = app_with_limits(&[
        ("RATE_LIMIT_PER_ADDRESS", "1/1m"),
        ("TRUST_FORWARDED_FOR", "true"),
    ])
    .await;
    let login = || serde_json::json!({"username": unique_email(), "password": PASSWORD});
    // The proxy writes `ip:port`; the client forges a fresh entry before it each time.
    assert_status(
        app.post_from("198.51.100.1, 203.0.113.2:4711", "/login", &login())
            .await,
        401,
    )
    .await;
    assert_limited(
        app.post_from("198.51.100.99, 203.0.113.2:5822", "/login", &login())
            .await,
    )
    .await;
    // An unreadable last entry falls back to the peer, never to the client's own entry.
    assert_status(
        app.post_from("192.0.2.50, garbage", "/login", &login())
            .await,
        401,
    )
    .await;
    assert_limited(
        app.post_from("192.0.2.51, garbage", "/login", &login())
            .await,
    )
    .await;
}

#[tokio::test]
async fn ipv6_clients_share_a_limit_across_their_prefix() {
    let app = app_with_limits(&[
        ("RATE_LIMIT_PER_ADDRESS", "1/1m"),
        ("TRUST_FORWARDED_FOR", "true"),
    ])
    .await;
    let login = || serde_json::json!({"username": unique_email(), "password": PASSWORD});
    assert_status(
        app.post_from("2001:db8:1:2::a", "/login", &login()).await,
        401,
    )
    .await;
    assert_limited(
        app.post_from("[2001:db8:1:2:ffff::b]:443", "/login", &login())
            .await,
    )
    .await;
    assert_status(
        app.post_from("2001:db8:1:3::a", "/login", &login()).await,
        401,
    )
    .await;
}

/// A database of `backend` with the schema, for the store's own checks.
async fn migrated(backend: Backend) -> (std::sync::Arc<TestDb>, sea_orm::DatabaseConnection) {
    use migration::{Migrator, MigratorTrait};
    let db = TestDb::new(backend).await;
    let conn = db.connect().await;
    Migrator::up(&conn, None).await.unwrap();
    (db, conn)
}

#[tokio::test]
async fn one_statement_takes_from_a_bucket_and_a_refusal_says_when_the_next_fits() {
    use otp_login::store::limits::{take, Rate};
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let (_db, conn) = migrated(backend).await;
        // Three a second… over three seconds.
        let rate = Rate {
            interval_ms: 1_000,
            window_ms: 3_000,
        };
        let t = 1_700_000_000_000;
        for _ in 0..3 {
            assert_eq!(take(&conn, "test", "k", rate, t).await.unwrap(), None);
        }
        assert_eq!(
            take(&conn, "test", "k", rate, t).await.unwrap(),
            Some(1_000),
            "{backend:?}"
        );
        assert_eq!(
            take(&conn, "test", "k", rate, t + 400).await.unwrap(),
            Some(600)
        );
        assert_eq!(
            take(&conn, "test", "k", rate, t + 1_000).await.unwrap(),
            None
        );
        // Another key is its own bucket.
        assert_eq!(take(&conn, "test", "other", rate, t).await.unwrap(), None);

        // Requests racing on a new key: the bucket still holds three, not one per racer.
        let racers = (0..20).map(|_| take(&conn, "test", "raced", rate, t));
        let taken = futures::future::join_all(racers)
            .await
            .into_iter()
            .filter(|r| matches!(r, Ok(None)))
            .count();
        assert_eq!(taken, 3, "{backend:?}");
    }
}

#[tokio::test]
async fn one_statement_reserves_a_password_try_and_says_when_the_back_off_ends() {
    use otp_login::store::limits::reserve_password_try;
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let (_db, conn) = migrated(backend).await;
        let t = 1_700_000_000_000;
        // Back-off from the second failure: 1 s, then 2 s, capped at 60 s.
        let reserve =
            |now| reserve_password_try(&conn, "a@example.com", "192.0.2.1", 2, 60_000, now);
        assert_eq!(
            reserve(t).await.unwrap(),
            None,
            "{backend:?}: the first try"
        );
        assert_eq!(
            reserve(t).await.unwrap(),
            None,
            "{backend:?}: the second try"
        );
        assert_eq!(reserve(t).await.unwrap(), Some(1_000), "{backend:?}");
        assert_eq!(reserve(t + 1_000).await.unwrap(), None, "{backend:?}");
        assert_eq!(
            reserve(t + 1_500).await.unwrap(),
            Some(1_500),
            "{backend:?}"
        );
        // Another address of the same user has its own back-off.
        let elsewhere = reserve_password_try(&conn, "a@example.com", "192.0.2.2", 2, 60_000, t);
        assert_eq!(elsewhere.await.unwrap(), None, "{backend:?}");
    }
}

#[tokio::test]
async fn one_statement_takes_from_several_buckets_and_says_which_refused_and_when() {
    use otp_login::store::limits::{take_each, Rate, Take};
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let (_db, conn) = migrated(backend).await;
        let (one, three) = (
            Rate {
                interval_ms: 60_000,
                window_ms: 60_000,
            },
            Rate {
                interval_ms: 1_000,
                window_ms: 3_000,
            },
        );
        let takes = [
            Take {
                bucket: "a",
                key: "k",
                rate: three,
            },
            Take {
                bucket: "b",
                key: "k",
                rate: one,
            },
            Take {
                bucket: "c",
                key: "other",
                rate: three,
            },
        ];
        let t = 1_700_000_000_000;
        // New rows are taken, and known rows with room.
        let all = take_each(&conn, &takes, t).await.unwrap();
        assert_eq!(all, vec![None, None, None], "{backend:?}");
        // The one-a-minute row is full; the others take theirs, each as `take` would.
        let second = take_each(&conn, &takes, t).await.unwrap();
        assert_eq!(second, vec![None, Some(60_000), None], "{backend:?}");
        let third = take_each(&conn, &takes, t + 500).await.unwrap();
        assert_eq!(third, vec![None, Some(59_500), None], "{backend:?}");
        // Three of three taken in "a" and "c": every row refuses now, each with its wait.
        let fourth = take_each(&conn, &takes, t + 500).await.unwrap();
        assert_eq!(
            fourth,
            vec![Some(500), Some(59_500), Some(500)],
            "{backend:?}"
        );
        // A statement after a refusal starts clean: nothing of the last one's answer stays.
        let later = take_each(&conn, &takes, t + 120_000).await.unwrap();
        assert_eq!(later, vec![None, None, None], "{backend:?}");
    }
}

#[tokio::test]
async fn one_statement_takes_from_several_keys_of_one_bucket() {
    use otp_login::store::limits::{take_each, Rate, Take};
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let (_db, conn) = migrated(backend).await;
        let two = Rate {
            interval_ms: 30_000,
            window_ms: 60_000,
        };
        let take = |key| Take {
            bucket: "address:2/60s",
            key,
            rate: two,
        };
        let takes = [take("192.0.2.1"), take("192.0.2.2"), take("192.0.2.3")];
        let t = 1_700_000_000_000;
        assert_eq!(
            take_each(&conn, &takes, t).await.unwrap(),
            vec![None, None, None],
            "{backend:?}"
        );
        // One key full, the others each on their own count.
        take_each(&conn, &takes[..1], t).await.unwrap();
        assert_eq!(
            take_each(&conn, &takes, t).await.unwrap(),
            vec![Some(30_000), None, None],
            "{backend:?}"
        );
    }
}

/// A pool of one connection, whose statements `statements_so_far` counts.
async fn one_connection(db: &TestDb) -> sea_orm::DatabaseConnection {
    let mut options = sea_orm::ConnectOptions::new(db.url.clone());
    options
        .max_connections(1)
        .min_connections(1)
        .sqlx_logging(false);
    sea_orm::Database::connect(options).await.unwrap()
}

#[tokio::test]
async fn takes_of_concurrent_requests_share_a_statement_and_each_is_decided_as_alone() {
    use std::sync::Arc;

    use otp_login::store::limit_batches::{LimitBatches, OwnedTake};
    use otp_login::store::limits::Rate;
    let (db, _) = migrated(Backend::MariaDb).await;
    let conn = one_connection(&db).await;
    let batches = Arc::new(LimitBatches::default());
    let five = Rate {
        interval_ms: 12_000,
        window_ms: 60_000,
    };
    let request = |bucket: &str, key: String| {
        let (batches, conn) = (batches.clone(), conn.clone());
        let takes = vec![OwnedTake {
            bucket: bucket.to_owned(),
            key,
            rate: five,
        }];
        async move {
            let now = || chrono::Utc::now().timestamp_millis();
            batches.take_each(&conn, takes, now).await.unwrap()[0]
        }
    };
    // Thirty requests at once, each from an address of its own: all taken, in a few
    // statements rather than thirty.
    let before = statements_so_far(&conn).await;
    let answers = futures::future::join_all(
        (0..30).map(|i| request("address:5/60s", format!("198.51.100.{i}"))),
    )
    .await;
    let spent = statements_so_far(&conn).await - before - 1;
    assert!(answers.iter().all(Option::is_none), "{answers:?}");
    assert!(spent <= 5, "30 takes cost {spent} statements");
    // Twelve at once on one key that allows five: five taken, as one by one, and the
    // others told to wait.
    let answers =
        futures::future::join_all((0..12).map(|_| request("address:5/60s", "203.0.113.9".into())))
            .await;
    assert_eq!(answers.iter().filter(|a| a.is_none()).count(), 5);
    assert!(
        answers.iter().flatten().all(|wait| *wait > 0),
        "{answers:?}"
    );
}

#[tokio::test]
async fn a_password_try_the_cap_refuses_still_counts_against_the_address() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let app = test_app()
            .on(backend)
            .env(&[
                ("TRUST_FORWARDED_FOR", "true"),
                ("RATE_LIMIT_PER_ADDRESS", "4/1h"),
                ("RATE_LIMIT_PASSWORD_FAILURES", "1/1h"),
            ])
            .spawn()
            .await;
        let (email, stranger) = (unique_email(), "198.51.100.44");
        let owner = "203.0.113.44";
        let account = serde_json::json!({"username": email, "password": PASSWORD});
        assert_status(app.post_from(owner, "/register", &account).await, 201).await;
        let guess = serde_json::json!({"username": email, "password": "not the password"});
        let first = app.post_from(stranger, "/login", &guess).await;
        assert_status(first, 401).await;
        for _ in 0..3 {
            let capped = app.post_from(stranger, "/login", &guess).await;
            assert_status(capped, 429).await;
        }
        // Four requests from the stranger's address: its budget is spent, whatever refused them.
        let other = serde_json::json!({"username": unique_email(), "password": PASSWORD});
        let more = app.post_from(stranger, "/register", &other).await;
        assert_status(more, 429).await;
        assert_eq!(app.count_rows("users").await, 1, "{backend:?}");
    }
}
