//! The command line of the binary a user deploys.
use std::process::{Command, Output};

use crate::helpers::*;

fn otp_login(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_otp-login"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn help_lists_every_command_and_version_names_the_release() {
    let help = otp_login(&["--help"], &[]);
    assert!(help.status.success());
    for command in [
        "serve",
        "migrate",
        "openapi",
        "config-schema",
        "hash-password",
    ] {
        assert!(
            stdout(&help).contains(command),
            "{command}: {}",
            stdout(&help)
        );
    }
    let version = otp_login(&["--version"], &[]);
    assert_eq!(
        stdout(&version).trim(),
        format!("otp-login {}", env!("CARGO_PKG_VERSION"))
    );
    let migrate_help = otp_login(&["migrate", "--help"], &[]);
    for action in ["up", "down", "status", "fresh"] {
        assert!(stdout(&migrate_help).contains(action), "{action}");
    }
    let unknown = otp_login(&["launch"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[tokio::test]
async fn migrate_goes_up_and_down_and_reports_its_status_on_mariadb() {
    let db = TestDb::new(Backend::MariaDb).await;
    let env = [("DATABASE_URL", db.url.as_str())];
    let status = |output: &Output| {
        assert!(output.status.success(), "{output:?}");
        stdout(output)
            .lines()
            .map(|line| line.split_whitespace().next().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    let before = status(&otp_login(&["migrate", "status"], &env));
    assert!(
        !before.is_empty() && before.iter().all(|s| s == "pending"),
        "{before:?}"
    );
    let after = status(&otp_login(&["migrate"], &env));
    assert!(after.iter().all(|s| s == "applied"), "{after:?}");
    let down = status(&otp_login(&["migrate", "down", "-n", "2"], &env));
    assert_eq!(
        down.iter().filter(|s| *s == "pending").count(),
        2,
        "{down:?}"
    );
    let up = status(&otp_login(&["migrate", "up"], &env));
    assert!(up.iter().all(|s| s == "applied"), "{up:?}");
}

#[test]
fn env_example_lists_every_setting_with_its_default() {
    let example = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example"));
    let listed: std::collections::HashMap<&str, &str> = example
        .lines()
        .map(|line| line.trim_start_matches('#').trim())
        .filter_map(|line| line.split_once('='))
        .filter(|(name, _)| {
            name.chars()
                .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
        })
        .collect();
    let schema = otp_login::config::Settings::json_schema();
    for (name, property) in schema["properties"].as_object().unwrap() {
        let value = listed
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{name} is missing from .env.example"));
        match &property["default"] {
            serde_json::Value::Null => {}
            serde_json::Value::String(default) => assert_eq!(value, default, "{name}"),
            default => assert_eq!(*value, default.to_string(), "{name}"),
        }
    }
}

#[test]
fn a_database_password_never_reaches_the_log() {
    for url in [
        "mysql://root:hunter2-secret@127.0.0.1:1/otp",
        "postgres://root:hunter2-secret@127.0.0.1:1/otp",
    ] {
        let output = otp_login(&["serve"], &[("DATABASE_URL", url), ("PORT", "0")]);
        assert!(!output.status.success());
        let log = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
        assert!(
            log.contains("database") || log.contains("DATABASE_URL"),
            "{log}"
        );
        assert!(!log.contains("hunter2"), "{log}");
    }
}

#[test]
fn a_log_written_to_a_file_has_no_colour_codes() {
    // Output is captured, as when the log is redirected to a file or collected by a service.
    let output = otp_login(
        &["serve"],
        &[("DATABASE_URL", "mysql://x@127.0.0.1:1/x"), ("PORT", "0")],
    );
    let log = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("ERROR"), "{log}");
    assert!(!log.contains("\u{1b}["), "{log:?}");
}
