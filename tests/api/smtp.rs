//! `MAILER=smtp`: the same messages over SMTP, to a real server the test runs (aiosmtpd, from
//! the test venv, storing what it receives in a Maildir), with the headers of an automatic
//! mail; an unreachable server is a 502 with the code withdrawn, as with SES.
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use otp_login::mail::{Sender, SmtpMailer, Templates};
use secrecy::SecretString;

use crate::helpers::*;

/// An SMTP server on a free port that keeps every message in `maildir/new/`.
struct SmtpServer {
    process: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    fn start() -> Self {
        let python = std::env::var("TEST_PYTHON")
            .expect("TEST_PYTHON names a Python with aiosmtpd; run through scripts/test");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = tempfile::tempdir().unwrap();
        let process = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "aiosmtpd did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            process,
            port,
            maildir,
        }
    }

    fn url(&self) -> SecretString {
        // Credentials-free and plain: a local catcher, as the README shows.
        SecretString::from(format!("smtp://127.0.0.1:{}", self.port))
    }

    /// Every message received, as raw bytes, oldest first.
    fn received(&self) -> Vec<Vec<u8>> {
        let new = self.maildir.path().join("mail").join("new");
        let mut files: Vec<PathBuf> = std::fs::read_dir(&new)
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort_by_key(|path| modified(path));
        files
            .iter()
            .map(|path| std::fs::read(path).unwrap())
            .collect()
    }
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path).and_then(|m| m.modified()).unwrap()
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn smtp_mailer(url: &SecretString) -> SmtpMailer {
    let sender = Sender::new("noreply@login.example.com", "otp-login").unwrap();
    SmtpMailer::new(
        url,
        Duration::from_secs(3),
        Templates::compiled_in(),
        sender,
    )
    .unwrap()
}

#[tokio::test]
async fn a_german_user_gets_german_mail_over_smtp_with_the_headers_of_an_automatic_mail() {
    let server = SmtpServer::start();
    let app = test_app().mailer(smtp_mailer(&server.url())).spawn().await;
    let email = unique_email();
    app.register_speaking(&email, "de-CH, de;q=0.9, en;q=0.5")
        .await;
    assert_status(app.login(&email, PASSWORD).await, 200).await;

    let received = server.received();
    assert_eq!(received.len(), 1);
    let code = assert_a_german_code_mail(&received[0], &email, "login.example.com");
    assert_status(app.verify(&email, &code).await, 200).await;
}

#[tokio::test]
async fn an_smtp_server_out_of_reach_answers_502_and_leaves_no_valid_code() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = SecretString::from(format!(
        "smtp://user:hunter2@127.0.0.1:{}",
        closed.local_addr().unwrap().port()
    ));
    drop(closed);
    let app = test_app().mailer(smtp_mailer(&url)).spawn().await;
    let email = unique_email();
    assert_status(app.register(&email, PASSWORD).await, 201).await;
    let refused = app.login(&email, PASSWORD).await;
    assert_answer(refused, 502, "Could not send the code; try again later").await;
    assert_eq!(app.count_rows("one_time_codes").await, 0);
}
