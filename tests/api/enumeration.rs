//! Whether an account exists must not show, in the answer or in its timing.
use std::time::{Duration, Instant};

use crate::helpers::*;

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn spread(times: &[Duration]) -> Duration {
    // Sorted by `median`: the interquartile range, the noise of one side.
    times[times.len() * 3 / 4] - times[times.len() / 4]
}

#[tokio::test]
async fn login_takes_as_long_for_an_unknown_user_as_for_a_wrong_password() {
    let app = spawn_app().await;
    let known = unique_email();
    assert_status(app.register(&known, PASSWORD).await, 201).await;
    // One untimed round each, so one-off costs (the dummy hash, pool connections) are paid.
    app.login(&known, "wrong password").await;
    app.login(&unique_email(), "wrong password").await;

    let (mut existing, mut unknown) = (vec![], vec![]);
    for _ in 0..30 {
        // Interleaved, so drift in the machine's load falls on both sides alike.
        let started = Instant::now();
        assert_status(app.login(&known, "wrong password").await, 401).await;
        existing.push(started.elapsed());
        let started = Instant::now();
        assert_status(app.login(&unique_email(), "wrong password").await, 401).await;
        unknown.push(started.elapsed());
    }
    let (known_median, unknown_median) = (median(&mut existing), median(&mut unknown));
    let noise = spread(&existing).max(spread(&unknown));
    let difference = known_median.abs_diff(unknown_median);
    eprintln!(
        "login medians over 30 tries: existing user {known_median:?}, unknown user \
         {unknown_median:?}, difference {difference:?}, noise (IQR) {noise:?}"
    );
    // Without the dummy hash the unknown user would answer in a fraction of the time.
    let allowed = noise + known_median.min(unknown_median) / 4 + Duration::from_millis(5);
    assert!(
        difference <= allowed,
        "timing reveals whether the user exists: {difference:?} > {allowed:?}"
    );
}
