//! Whether an account exists must not show, in the answer or in its timing.
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use otp_login::mail::DevMailer;

use crate::helpers::*;

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn spread(times: &[Duration]) -> Duration {
    // Sorted by `median`: the interquartile range, the noise of one side.
    times[times.len() * 3 / 4] - times[times.len() / 4]
}

/// Times `rounds` requests about an existing account against as many about unknown ones, and
/// fails when the medians differ by more than the noise, a quarter of the faster median and
/// 5 ms. Each side runs once untimed first, so one-off costs (the dummy hash, pool
/// connections) are paid.
async fn assert_alike_in_time<E, EF, U, UF>(
    what: &str,
    rounds: usize,
    mut existing: E,
    mut unknown: U,
) where
    E: FnMut() -> EF,
    EF: Future<Output = ()>,
    U: FnMut() -> UF,
    UF: Future<Output = ()>,
{
    existing().await;
    unknown().await;
    let (mut known_times, mut unknown_times) = (vec![], vec![]);
    for _ in 0..rounds {
        // Interleaved, so drift in the machine's load falls on both sides alike.
        let started = Instant::now();
        existing().await;
        known_times.push(started.elapsed());
        let started = Instant::now();
        unknown().await;
        unknown_times.push(started.elapsed());
    }
    let (known_median, unknown_median) = (median(&mut known_times), median(&mut unknown_times));
    let noise = spread(&known_times).max(spread(&unknown_times));
    let difference = known_median.abs_diff(unknown_median);
    eprintln!(
        "{what} medians over {rounds} tries: existing user {known_median:?}, unknown user \
         {unknown_median:?}, difference {difference:?}, noise (IQR) {noise:?}"
    );
    let allowed = noise + known_median.min(unknown_median) / 4 + Duration::from_millis(5);
    assert!(
        difference <= allowed,
        "{what}: timing reveals whether the user exists: {difference:?} > {allowed:?}"
    );
}

#[tokio::test]
async fn login_takes_as_long_for_an_unknown_user_as_for_a_wrong_password() {
    let app = spawn_app().await;
    let known = unique_email();
    assert_status(app.register(&known, PASSWORD).await, 201).await;
    let (app, known) = (&app, known.as_str());
    // Without the dummy hash the unknown user would answer in a fraction of the time.
    assert_alike_in_time(
        "login",
        30,
        move || async move {
            assert_status(app.login(known, "wrong password").await, 401).await;
        },
        move || async move {
            assert_status(app.login(&unique_email(), "wrong password").await, 401).await;
        },
    )
    .await;
}

#[tokio::test]
async fn asking_for_a_reset_takes_as_long_for_an_unknown_user() {
    let app = spawn_app().await;
    let known = unique_email();
    assert_status(app.register(&known, PASSWORD).await, 201).await;
    let (app, known) = (&app, known.as_str());
    assert_alike_in_time(
        "request-password-reset",
        15,
        move || async move {
            assert_status(app.request_reset(known).await, 200).await;
        },
        move || async move {
            assert_status(app.request_reset(&unique_email()).await, 200).await;
        },
    )
    .await;
}

#[tokio::test]
async fn asking_for_a_reset_takes_as_long_for_an_unknown_user_when_mail_is_slow() {
    let delay = Duration::from_millis(1200);
    let app = test_app()
        .mailer(SlowMailer {
            delivered: Arc::new(DevMailer::default()),
            delay,
        })
        .spawn()
        .await;
    let known = unique_email();
    assert_status(app.register(&known, PASSWORD).await, 201).await;
    let (app, known) = (&app, known.as_str());
    assert_alike_in_time(
        "request-password-reset with a 1.2 s mail service",
        5,
        move || async move {
            let started = Instant::now();
            assert_status(app.request_reset(known).await, 200).await;
            assert!(started.elapsed() >= delay);
        },
        move || async move {
            let started = Instant::now();
            assert_status(app.request_reset(&unique_email()).await, 200).await;
            assert!(
                started.elapsed() >= delay,
                "the decoy takes as long as a send"
            );
        },
    )
    .await;
}
