//! What the first argon2 hash after a quiet spell costs next to a warm one, for
//! `scripts/bench`: the hasher as the service builds it off Lambda (working memory handed back
//! after `KEEP_WARM` unused) and on Lambda (one block kept however long the quiet).
//!
//! `cargo run --release --example hash_costs -- [RUNS]` prints one JSON object: for each kind,
//! the median milliseconds of RUNS warm hashes (one after another) and of RUNS cold ones (each
//! after a pause longer than `KEEP_WARM`); default 5.
use std::time::{Duration, Instant};

use otp_login::auth::password::working_memory::KEEP_WARM;
use otp_login::auth::{NewPassword, PasswordHasher};
use serde_json::json;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let runs: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse()?,
        None => 5,
    };
    anyhow::ensure!(runs > 0, "RUNS must be at least 1");
    let password = NewPassword::parse("a password of some length".into())
        .map_err(|err| anyhow::anyhow!("{err}"))?;
    let mut figures = serde_json::Map::new();
    for (kind, hasher) in [
        ("off_lambda", PasswordHasher::with_permits(1)),
        (
            "on_lambda",
            PasswordHasher::with_permits(1).keeping_a_block_warm(),
        ),
    ] {
        let timed = || async {
            let started = Instant::now();
            hasher.hash(&password).await.map(|_| ms(started.elapsed()))
        };
        // The process's first hash maps fresh memory in either kind: not what is compared.
        timed().await?;
        let mut warm = Vec::with_capacity(runs);
        for _ in 0..runs {
            warm.push(timed().await?);
        }
        let mut cold = Vec::with_capacity(runs);
        for _ in 0..runs {
            tokio::time::sleep(KEEP_WARM + Duration::from_millis(300)).await;
            cold.push(timed().await?);
        }
        let (warm, cold) = (median(warm), median(cold));
        figures.insert(
            kind.into(),
            json!({"warm_ms": warm, "cold_ms": cold, "cold_over_warm": cold / warm}),
        );
    }
    figures.insert("runs".into(), runs.into());
    println!("{}", serde_json::Value::Object(figures));
    Ok(())
}

fn ms(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
