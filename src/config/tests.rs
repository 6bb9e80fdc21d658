//! How the environment becomes settings, and how each mistake is named.
use std::time::Duration;

use secrecy::ExposeSecret;

use super::*;

fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    Settings::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
}

fn error(vars: &[(&str, &str)]) -> String {
    settings(vars).unwrap_err().to_string()
}

#[test]
fn defaults_to_embedded_sqlite_on_port_3000() {
    let s = settings(&[]).unwrap();
    assert_eq!(s.database.url.expose_secret(), DEFAULT_DATABASE_URL);
    assert_eq!((s.server.bind.as_str(), s.server.port), ("127.0.0.1", 3000));
    assert_eq!(s.codes.ttl, Duration::from_secs(300));
    assert_eq!(s.codes.max_attempts, 5);
    assert_eq!(s.database.max_connections, 10);
    assert!(s.database.run_migrations && !s.on_lambda);
    assert!(s.cors.enabled && s.cors.allowed_origins.is_empty());
}

#[test]
fn builds_mysql_url_from_the_old_services_variables() {
    let s = settings(&[
        ("DB_HOST", "db.example.com"),
        ("DB_USER", "admin"),
        ("DB_PASSWORD", "p@ss:w/rd"),
        ("DB_NAME", "user_id"),
    ])
    .unwrap();
    assert_eq!(
        s.database.url.expose_secret(),
        "mysql://admin:p%40ss%3Aw%2Frd@db.example.com:3306/user%5Fid"
    );
}

#[test]
fn database_url_wins_over_db_host() {
    let s = settings(&[("DATABASE_URL", "mysql://a@b/c"), ("DB_HOST", "x")]).unwrap();
    assert_eq!(s.database.url.expose_secret(), "mysql://a@b/c");
}

#[test]
fn an_unknown_database_scheme_is_refused_without_echoing_the_url() {
    let message = error(&[("DATABASE_URL", "postgres://admin:hunter2-secret@db/x")]);
    assert!(message.contains("DATABASE_URL"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
}

#[test]
fn errors_name_the_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("PORT", "eighty")], "PORT"),
        (&[("OTP_TTL_SECONDS", "900")], "OTP_TTL_SECONDS"),
        (&[("OTP_MAX_ATTEMPTS", "0")], "OTP_MAX_ATTEMPTS"),
        (&[("OTP_LOCK_AFTER", "101")], "OTP_LOCK_AFTER"),
        (&[("TOKEN_TTL_SECONDS", "299")], "TOKEN_TTL_SECONDS"),
        (&[("TOKEN_TTL_SECONDS", "86401")], "TOKEN_TTL_SECONDS"),
        (&[("REFRESH_IDLE_SECONDS", "60")], "REFRESH_IDLE_SECONDS"),
        (
            &[("REFRESH_MAX_AGE_SECONDS", "3600")],
            "REFRESH_MAX_AGE_SECONDS",
        ),
        (
            &[("REFRESH_REUSE_GRACE_SECONDS", "11")],
            "REFRESH_REUSE_GRACE_SECONDS",
        ),
        (&[("JWT_SECRET", "short")], "JWT_SECRET"),
        (&[("DB_HOST", "h"), ("DB_NAME", "n")], "DB_USER"),
        (&[("DB_MAX_CONNECTIONS", "0")], "DB_MAX_CONNECTIONS"),
        (&[("RUN_MIGRATIONS", "maybe")], "RUN_MIGRATIONS"),
        (&[("CLIENT_IPV6_PREFIX", "16")], "CLIENT_IPV6_PREFIX"),
    ];
    for (vars, name) in cases {
        let message = error(vars);
        assert!(message.contains(name), "{message:?} should name {name}");
    }
}

#[test]
fn the_same_key_for_tokens_and_codes_is_refused() {
    let key = "k".repeat(32);
    let message = error(&[("JWT_SECRET", &key), ("OTP_SECRET", &key)]);
    assert!(message.contains("must be different"), "{message}");
    let other = "o".repeat(32);
    assert!(settings(&[("JWT_SECRET", &key), ("OTP_SECRET", &other)]).is_ok());
}

#[test]
fn lambda_requires_both_secrets_a_sender_and_skips_migrations() {
    let lambda = ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001");
    let (jwt, otp) = ("j".repeat(32), "o".repeat(32));
    let secrets = [("JWT_SECRET", jwt.as_str()), ("OTP_SECRET", otp.as_str())];
    assert!(error(&[lambda, secrets[1]]).contains("JWT_SECRET"));
    assert!(error(&[lambda, secrets[0], secrets[1]]).contains("SENDER_EMAIL"));
    let sender = ("SENDER_EMAIL", "noreply@example.com");
    assert!(error(&[lambda, secrets[0], secrets[1], sender]).contains("TOKEN_ISSUER"));
    let lambda = [lambda, ("TOKEN_ISSUER", "https://auth.example.com")];
    let s = settings(&[lambda[0], lambda[1], secrets[0], secrets[1], sender]).unwrap();
    assert!(s.on_lambda && !s.database.run_migrations);
    assert_eq!(s.database.max_connections, 2);
    let from_manager = [
        (
            "JWT_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:1:secret:jwt",
        ),
        (
            "OTP_SECRET_ARN",
            "arn:aws:secretsmanager:us-east-1:1:secret:otp",
        ),
    ];
    let s = settings(&[
        lambda[0],
        lambda[1],
        from_manager[0],
        from_manager[1],
        sender,
    ])
    .unwrap();
    assert!(matches!(s.keys.jwt, KeySource::SecretsManager { ref arn } if arn.ends_with(":jwt")));
    assert!(error(&[
        lambda[0],
        lambda[1],
        secrets[0],
        from_manager[0],
        from_manager[1],
        sender
    ])
    .contains("not both"));
    assert!(error(&[
        lambda[0],
        lambda[1],
        secrets[0],
        secrets[1],
        sender,
        ("MAILER", "dev")
    ])
    .contains("SENDER_EMAIL"));
    assert!(matches!(settings(&[]).unwrap().keys.otp, KeySource::Random));
}

#[test]
fn ses_is_chosen_by_a_sender_and_dev_otherwise() {
    assert_eq!(settings(&[]).unwrap().mail, MailerChoice::Development);
    let s = settings(&[("SENDER_EMAIL", " otp <noreply@example.com> ")]).unwrap();
    assert_eq!(
        s.mail,
        MailerChoice::Ses(SesSettings {
            sender: "otp <noreply@example.com>".into(),
            configuration_set: None,
            timeout: Duration::from_secs(5),
            decoy: Some("success@simulator.amazonses.com".into()),
        })
    );
    let no_decoy = settings(&[
        ("SENDER_EMAIL", "a@example.com"),
        ("SES_DECOY_ADDRESS", "off"),
    ]);
    assert!(matches!(
        no_decoy.unwrap().mail,
        MailerChoice::Ses(SesSettings { decoy: None, .. })
    ));
    let forced_dev = settings(&[("SENDER_EMAIL", "a@example.com"), ("MAILER", "dev")]);
    assert_eq!(forced_dev.unwrap().mail, MailerChoice::Development);
    for (vars, name) in [
        (&[("MAILER", "ses")][..], "SENDER_EMAIL"),
        (&[("MAILER", "carrier-pigeon")][..], "MAILER"),
        (&[("SENDER_EMAIL", "nobody")][..], "SENDER_EMAIL"),
        (&[("SES_TIMEOUT_SECONDS", "0")][..], "SES_TIMEOUT_SECONDS"),
        (
            &[("RATE_LIMIT_CODE_SENDS", "1/1m,5/1w")][..],
            "RATE_LIMIT_CODE_SENDS",
        ),
    ] {
        let message = error(vars);
        assert!(message.contains(name), "{message:?} should name {name}");
    }
}

#[test]
fn cors_origins_are_a_list_and_star_means_any() {
    let s = settings(&[(
        "CORS_ALLOWED_ORIGINS",
        "https://a.example, https://b.example",
    )])
    .unwrap();
    assert_eq!(
        s.cors.allowed_origins,
        ["https://a.example", "https://b.example"]
    );
}

#[test]
fn schema_lists_every_variable_with_its_default() {
    let schema = Settings::json_schema();
    let properties = schema["properties"].as_object().unwrap();
    assert!(properties.contains_key("DATABASE_URL"));
    assert_eq!(properties["OTP_TTL_SECONDS"]["default"], 300);
    assert_eq!(properties["RATE_LIMIT_PER_ADDRESS"]["default"], "30/1m");
}

#[test]
fn the_reset_link_points_at_the_pages() {
    let local = settings(&[("PORT", "8081")]).unwrap();
    assert_eq!(local.pages_url.as_deref(), Some("http://localhost:8081/"));
    let set = settings(&[("PAGES_URL", "https://pages.example/app")]).unwrap();
    assert_eq!(set.pages_url.as_deref(), Some("https://pages.example/app/"));
    for bad in [
        "pages.example",
        "https://pages.example/#x",
        "ftp://pages.example/",
    ] {
        assert!(error(&[("PAGES_URL", bad)]).contains("PAGES_URL"), "{bad}");
    }
}

/// The most requests a set of GCRA limits lets through in any span of time: each lets its
/// `max` at once and one more per `window / max` after that.
fn most_in(limits: &[Limit], span: Duration) -> u64 {
    limits
        .iter()
        .map(|l| u64::from(l.max) + span.as_secs() * u64::from(l.max) / l.window.as_secs())
        .min()
        .unwrap_or(u64::MAX)
}

/// SECURITY.md's guessing bound, computed from the defaults it names. Reset codes are the only
/// codes a stranger can reach (a sign-in code answers only with its 128-bit challenge, or from
/// the address that asked for it), so the year's reset checks bound the chance.
#[test]
fn the_defaults_keep_a_strangers_chance_to_guess_a_code_below_one_in_ten_thousand_a_year() {
    let s = settings(&[]).unwrap();
    let limit = |max, secs| Limit {
        max,
        window: Duration::from_secs(secs),
    };
    let year = Duration::from_secs(365 * 86_400);
    assert_eq!(
        s.limits.reset_code_checks,
        vec![limit(10, 3600), limit(20, 365 * 86_400)]
    );
    assert_eq!(s.limits.code_verifies, vec![limit(10, 3600)]);
    assert_eq!(s.limits.code_sends, vec![limit(1, 60), limit(5, 3600)]);
    assert_eq!(s.limits.mailbox_sends, vec![limit(1, 60), limit(5, 3600)]);
    assert_eq!((s.codes.max_attempts, s.codes.lock_after), (5, 100));

    let checks = most_in(&s.limits.reset_code_checks, year);
    assert_eq!(checks, 40);
    // Each check is one try at a code drawn from a million; a code's tries are distinct
    // guesses at most, so each succeeds with at most 1 / (1,000,000 - 4).
    let chance = checks as f64 / (1_000_000.0 - 4.0);
    assert!(chance < 1e-4, "{chance}");
}

#[test]
fn tokens_name_this_server_and_otp_login_unless_told_otherwise() {
    let s = settings(&[("PORT", "8080")]).unwrap();
    assert_eq!(s.tokens.issuer, "http://localhost:8080");
    assert_eq!(s.tokens.audiences, ["otp-login"]);
    assert_eq!(s.tokens.ttl, Duration::from_secs(900));
    let refresh = s.tokens.refresh;
    assert_eq!(refresh.idle, Duration::from_secs(30 * 86_400));
    assert_eq!(refresh.max_age, Duration::from_secs(90 * 86_400));
    assert_eq!(refresh.reuse_grace, Duration::from_secs(10));
    let s = settings(&[
        ("TOKEN_ISSUER", "https://auth.example.com/"),
        ("TOKEN_AUDIENCE", "api, billing ,"),
    ])
    .unwrap();
    assert_eq!(s.tokens.issuer, "https://auth.example.com");
    assert_eq!(s.tokens.audiences, ["api", "billing"]);
    assert!(error(&[("TOKEN_ISSUER", "auth.example.com")]).contains("TOKEN_ISSUER"));
    assert!(error(&[("TOKEN_AUDIENCE", " , ")]).contains("TOKEN_AUDIENCE"));
}

#[test]
fn metrics_go_to_emf_on_lambda_and_to_a_separate_listener_only_when_asked() {
    let local = settings(&[]).unwrap();
    assert_eq!(
        local.metrics,
        MetricsSettings {
            emf: false,
            namespace: "otp-login".into(),
            listen: None
        }
    );
    let s = settings(&[("METRICS_ADDR", "127.0.0.1:9464"), ("METRICS_EMF", "true")]).unwrap();
    assert_eq!(s.metrics.listen, Some("127.0.0.1:9464".parse().unwrap()));
    assert!(s.metrics.emf);
    assert!(error(&[("METRICS_ADDR", "localhost")]).contains("METRICS_ADDR"));
    assert!(error(&[("METRICS_ADDR", "0.0.0.0:3000")]).contains("public port"));
    assert!(error(&[("METRICS_ADDR", "127.0.0.1:8080"), ("PORT", "8080")]).contains("PORT"));
    for bad in ["AWS/Lambda", "otp login", &"n".repeat(256)] {
        assert!(
            error(&[("METRICS_NAMESPACE", bad)]).contains("METRICS_NAMESPACE"),
            "{bad}"
        );
    }
    let (jwt, otp) = ("j".repeat(32), "o".repeat(32));
    let lambda = [
        ("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001"),
        ("JWT_SECRET", jwt.as_str()),
        ("OTP_SECRET", otp.as_str()),
        ("SENDER_EMAIL", "noreply@example.com"),
        ("TOKEN_ISSUER", "https://auth.example.com"),
    ];
    let on_lambda = settings(&lambda).unwrap();
    assert!(on_lambda.metrics.emf && on_lambda.metrics.listen.is_none());
    let mut with_port = lambda.to_vec();
    with_port.push(("METRICS_ADDR", "127.0.0.1:9464"));
    assert!(error(&with_port).contains("no meaning on Lambda"));
    with_port.pop();
    with_port.push(("METRICS_EMF", "false"));
    assert!(!settings(&with_port).unwrap().metrics.emf);
}

#[test]
fn unproven_registrations_lapse_after_a_week_unless_told_otherwise() {
    let week = Some(Duration::from_secs(7 * 86_400));
    assert_eq!(settings(&[]).unwrap().unproven_lapse, week);
    assert_eq!(
        settings(&[("UNPROVEN_ACCOUNT_DAYS", "0")])
            .unwrap()
            .unproven_lapse,
        None
    );
    assert!(error(&[("UNPROVEN_ACCOUNT_DAYS", "366")]).contains("UNPROVEN_ACCOUNT_DAYS"));
}

#[test]
fn activity_is_kept_ninety_days_unless_told_one_day_to_ten_years() {
    let day = 86_400;
    assert_eq!(
        settings(&[]).unwrap().activity_retention,
        Duration::from_secs(90 * day)
    );
    assert_eq!(
        settings(&[("ACTIVITY_RETENTION_DAYS", "1")])
            .unwrap()
            .activity_retention,
        Duration::from_secs(day)
    );
    for bad in ["0", "3651"] {
        assert!(
            error(&[("ACTIVITY_RETENTION_DAYS", bad)]).contains("ACTIVITY_RETENTION_DAYS"),
            "{bad}"
        );
    }
}

#[test]
fn every_notice_is_on_unless_turned_off() {
    assert_eq!(settings(&[]).unwrap().notices, crate::auth::Notices::ALL);
    let off = settings(&[
        ("NOTICE_PASSWORD_CHANGED", "false"),
        ("NOTICE_EMAIL_CHANGED", "false"),
        ("NOTICE_NEW_SIGN_IN", "false"),
        ("NOTICE_CODE_SIGN_IN_LOCKED", "false"),
    ])
    .unwrap();
    assert_eq!(off.notices, crate::auth::Notices::NONE);
}

#[test]
fn smtp_takes_a_sender_and_a_url_whose_secret_no_error_repeats() {
    let s = settings(&[
        ("MAILER", "smtp"),
        ("SENDER_EMAIL", "noreply@example.com"),
        ("SMTP_URL", "smtps://user:hunter2@smtp.example.com:465"),
    ])
    .unwrap();
    let crate::config::MailerChoice::Smtp(smtp) = s.mail else {
        panic!("{:?}", s.mail);
    };
    assert_eq!(smtp.timeout, Duration::from_secs(5));
    assert!(!format!("{smtp:?}").contains("hunter2"));
    for (vars, name) in [
        (
            &[("MAILER", "smtp"), ("SMTP_URL", "smtp://h:25")][..],
            "SENDER_EMAIL",
        ),
        (
            &[("MAILER", "smtp"), ("SENDER_EMAIL", "a@example.com")][..],
            "SMTP_URL",
        ),
        (
            &[
                ("MAILER", "smtp"),
                ("SENDER_EMAIL", "a@example.com"),
                ("SMTP_URL", "http://user:hunter2@h"),
            ][..],
            "SMTP_URL",
        ),
        (
            &[
                ("MAILER", "smtp"),
                ("SENDER_EMAIL", "a@example.com"),
                ("SMTP_URL", "smtp://h:25"),
                ("SMTP_TIMEOUT_SECONDS", "31"),
            ][..],
            "SMTP_TIMEOUT_SECONDS",
        ),
    ] {
        let message = error(vars);
        assert!(message.contains(name), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}

#[test]
fn mail_templates_come_from_a_folder_that_exists_and_the_site_has_a_one_line_name() {
    let s = settings(&[]).unwrap();
    assert_eq!(s.mail_templates.dir, None);
    assert_eq!(s.mail_templates.site_name, "otp-login");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let s = settings(&[
        ("MAIL_TEMPLATES_DIR", path),
        ("MAIL_SITE_NAME", " Example "),
    ])
    .unwrap();
    assert_eq!(s.mail_templates.dir.as_deref(), Some(dir.path()));
    assert_eq!(s.mail_templates.site_name, "Example");
    assert!(
        error(&[("MAIL_TEMPLATES_DIR", "/nonexistent/templates")]).contains("MAIL_TEMPLATES_DIR")
    );
    assert!(error(&[("MAIL_SITE_NAME", " ")]).contains("MAIL_SITE_NAME"));
}
