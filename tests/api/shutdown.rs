//! Stopping: a request in flight when the stop comes still gets its answer, and the binary
//! stops on SIGTERM.
use std::sync::Arc;
use std::time::Duration;

use otp_login::mail::DevMailer;

use crate::helpers::*;

#[tokio::test]
async fn a_request_in_flight_when_the_server_stops_still_gets_its_answer() {
    let delivered = Arc::new(DevMailer::default());
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let mut app = test_app()
        .mailer(SlowMailer {
            delivered: delivered.clone(),
            delay: Duration::from_millis(1500),
        })
        .stop_on(stopped)
        .spawn()
        .await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;

    let in_flight = tokio::spawn({
        let (client, url, email) = (app.client.clone(), app.url("/login"), email.clone());
        async move {
            let body = serde_json::json!({"username": email, "password": PASSWORD});
            client.post(url).json(&body).send().await
        }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.send(()).unwrap();

    let answer = in_flight
        .await
        .unwrap()
        .expect("an answer, not a dropped connection");
    assert_answer(answer, 200, "OTP sent to email").await;
    tokio::time::timeout(Duration::from_secs(10), &mut app.server)
        .await
        .expect("the server stops once the request is answered")
        .unwrap()
        .expect("a clean stop");
    // Consistent: the code that was mailed is the one stored.
    assert!(delivered.last_code_for(&email).is_some());
    assert_eq!(app.count_rows("one_time_codes").await, 1);
    // And nothing new is accepted.
    let late = reqwest::Client::new().get(app.url("/health")).send().await;
    assert!(late.is_err(), "{late:?}");
}

#[tokio::test]
async fn the_binary_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = std::process::Command::new(env!("CARGO_BIN_EXE_otp-login"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}/stop.db?mode=rwc", dir.path().display()),
        )
        .env("PORT", "0")
        .env("FRONTEND_DIR", "/nonexistent")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Give it time to start, then ask it to stop as Lambda or systemd would.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = server.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still running after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let output = server.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    assert!(status.success(), "{status}: {log}");
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}
