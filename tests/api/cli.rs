//! The command line of the binary a user deploys.
use std::process::{Command, Output};

use crate::helpers::*;

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
        "jwks",
        "discovery",
        "keys",
        "check",
        "users",
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

fn hash_passwords(input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_otp-login"))
        .arg("hash-password")
        .env_clear()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn hash_password_prints_one_phc_string_per_line_in_order() {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let passwords = [
        "correct horse battery",
        "a second passphrase",
        "third, with CRLF",
    ];
    let output = hash_passwords(&format!(
        "{}\n{}\n{}\r\n",
        passwords[0], passwords[1], passwords[2]
    ));
    assert!(output.status.success(), "{output:?}");
    let hashes: Vec<String> = stdout(&output).lines().map(str::to_owned).collect();
    assert_eq!(hashes.len(), 3, "{hashes:?}");
    for (password, hash) in passwords.iter().zip(&hashes) {
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        let parsed = PasswordHash::new(hash).unwrap();
        assert!(argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok());
    }
    assert_ne!(hashes[0], hashes[1]);

    let refused = hash_passwords("correct horse battery\nshort\n");
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stdout(&refused).is_empty(),
        "nothing is hashed when a line is refused"
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("line 2: Password must be at least"),
        "{refused:?}"
    );
    let empty = hash_passwords("");
    assert_eq!(empty.status.code(), Some(1));
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

#[tokio::test]
async fn the_key_commands_stage_a_rotation_and_print_what_the_service_publishes() {
    for backend in [Backend::MariaDb, Backend::Sqlite] {
        let db = TestDb::new(backend).await;
        let env = [
            ("DATABASE_URL", db.url.as_str()),
            ("JWT_SECRET", JWT_SECRET),
            ("OTP_SECRET", OTP_SECRET),
            ("TOKEN_ISSUER", "https://auth.example.com/"),
        ];
        let jwks = otp_login(&["jwks"], &env);
        assert!(jwks.status.success(), "{jwks:?}");
        let jwks: serde_json::Value = serde_json::from_slice(&jwks.stdout).unwrap();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1, "{jwks}");
        let first = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();

        let staged = otp_login(&["keys", "rotate"], &env);
        assert!(stdout(&staged).contains("standby key"), "{staged:?}");
        let early = otp_login(&["keys", "rotate"], &env);
        assert!(
            !early.status.success(),
            "promoted a standby nobody could have fetched"
        );
        let promoted = otp_login(&["keys", "rotate", "--now"], &env);
        assert!(
            stdout(&promoted).contains(&format!("{first} is retired")),
            "{promoted:?}"
        );

        let list = stdout(&otp_login(&["keys", "list"], &env));
        assert_eq!(list.lines().count(), 3, "{list}");
        assert!(list.contains(&format!("{first} retired  yes")), "{list}");
        assert!(
            !list.contains("sealed") && !list.contains("PRIVATE"),
            "{list}"
        );

        let discovery = otp_login(&["discovery"], &env);
        let discovery: serde_json::Value = serde_json::from_slice(&discovery.stdout).unwrap();
        assert_eq!(discovery["issuer"], "https://auth.example.com");
        assert_eq!(
            discovery["jwks_uri"],
            "https://auth.example.com/.well-known/jwks.json"
        );
        // Without JWT_SECRET the keys cannot be opened, nor sealed.
        let refused = otp_login(&["keys", "rotate"], &[("DATABASE_URL", db.url.as_str())]);
        assert!(!refused.status.success());
    }
}
