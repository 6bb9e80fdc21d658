//! The floor `scripts/bench-cold-start` compares otp-login's Lambda init with: a bare
//! poem-lambda app with one route, built with the same release profile.
use poem::{get, handler, Route};

#[handler]
fn health() -> &'static str {
    "ok"
}

#[tokio::main]
async fn main() -> Result<(), poem_lambda::Error> {
    poem_lambda::run(Route::new().at("/health", get(health))).await
}
