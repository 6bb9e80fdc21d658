use std::time::Duration;

use super::*;

const CODE: &str = "031337";
const LINK: &str = "https://pages.example/reset.html#username=a%40b.c&token=ab";

fn code_message(purpose: CodePurpose, language: Language, secs: u64) -> CodeMessage {
    CodeMessage {
        to: Email::parse("bob@example.com").unwrap(),
        code: OneTimeCode::parse(CODE).unwrap(),
        valid_for: Duration::from_secs(secs),
        purpose,
        link: (purpose == CodePurpose::PasswordReset).then(|| LINK.to_owned()),
        language,
    }
}

fn notices(language: Language) -> Vec<Notice> {
    let at = "2026-12-04T09:30:00Z".parse().unwrap();
    let to = || Email::parse("bob@example.com").unwrap();
    let new = Email::parse("robert@example.org").unwrap();
    [
        About::PasswordChanged,
        About::PasswordReset,
        About::EmailChanged { new },
        About::NewSignInAddress,
        About::CodeSignInLocked { failures: 5 },
        About::AccountDeleted,
    ]
    .into_iter()
    .map(|about| {
        Notice::new(to(), language, about, at, "198.51.100.7")
            .with_reset_page(Some("https://pages.example/reset.html".into()))
    })
    .collect()
}

/// The HTML part parses as markup whose every element is closed, and its text holds `needle`.
fn assert_html_holds(html: &str, needle: &str) {
    let body = html.trim_start_matches("<!DOCTYPE html>").trim_start();
    let document = roxmltree::Document::parse(body).unwrap_or_else(|err| panic!("{err}: {html}"));
    let text: String = document
        .descendants()
        .filter_map(|node| node.text())
        .collect();
    assert!(text.contains(needle), "{needle} not in {html}");
}

/// The target of the HTML part's first link, as a browser reads it.
fn href_of(html: &str) -> Option<String> {
    let body = html.trim_start_matches("<!DOCTYPE html>").trim_start();
    let document = roxmltree::Document::parse(body).ok()?;
    document
        .descendants()
        .find(|node| node.has_tag_name("a"))
        .and_then(|node| node.attribute("href").map(str::to_owned))
}

#[test]
fn every_code_message_renders_in_every_language_with_the_code_in_both_parts() {
    let templates = Templates::compiled_in();
    for language in Language::ALL {
        for purpose in [
            CodePurpose::SignIn,
            CodePurpose::PasswordReset,
            CodePurpose::EmailChange,
        ] {
            let rendered = code_message(purpose, language, 300)
                .render(&templates)
                .unwrap();
            assert_eq!(rendered.language, language);
            assert!(rendered.text.contains(CODE), "{language} {purpose:?}");
            assert!(
                rendered.text.contains('5'),
                "the minutes: {}",
                rendered.text
            );
            assert_html_holds(&rendered.html, CODE);
            assert!(rendered.html.contains(&format!("lang=\"{language}\"")));
            if purpose == CodePurpose::PasswordReset {
                assert!(rendered.text.contains(LINK), "{}", rendered.text);
                assert_eq!(href_of(&rendered.html).as_deref(), Some(LINK));
            }
        }
    }
}

#[test]
fn every_notice_renders_in_every_language_with_when_and_where_and_no_code() {
    let templates = Templates::compiled_in();
    for language in Language::ALL {
        for notice in notices(language) {
            let rendered = notice.render(&templates).unwrap();
            for part in [&rendered.text, &rendered.html] {
                assert!(part.contains("2026-12-04 09:30 UTC"), "{language}: {part}");
                assert!(part.contains("198.51.100.7"), "{language}: {part}");
            }
            assert_html_holds(&rendered.html, "198.51.100.7");
            if let About::EmailChanged { new } = &notice.about {
                assert!(rendered.text.contains(new.as_ref()));
            }
        }
    }
}

#[test]
fn each_language_has_words_of_its_own() {
    let templates = Templates::compiled_in();
    let english = code_message(CodePurpose::SignIn, Language::En, 300)
        .render(&templates)
        .unwrap();
    assert_eq!(english.subject, "Your sign-in code");
    for language in [Language::De, Language::Es, Language::Fr] {
        for notice in notices(language) {
            let theirs = notice.render(&templates).unwrap();
            let ours = Notice {
                language: Language::En,
                ..notice.clone()
            }
            .render(&templates)
            .unwrap();
            assert_ne!(theirs.subject, ours.subject, "{language}");
            assert_ne!(theirs.text, ours.text, "{language}");
        }
    }
    let german = code_message(CodePurpose::SignIn, Language::De, 60)
        .render(&templates)
        .unwrap();
    assert!(german.text.contains("1 Minute "), "{}", german.text);
}

#[test]
fn lifetime_rounds_up_to_whole_minutes() {
    let templates = Templates::compiled_in();
    let text = |secs| {
        code_message(CodePurpose::SignIn, Language::En, secs)
            .render(&templates)
            .unwrap()
            .text
    };
    assert!(text(60).contains("expires in 1 minute "));
    assert!(text(90).contains("expires in 2 minutes"));
    assert!(text(600).contains("expires in 10 minutes"));
}

#[test]
fn a_reset_mail_without_pages_has_no_link_line() {
    let templates = Templates::compiled_in();
    let message = CodeMessage {
        link: None,
        ..code_message(CodePurpose::PasswordReset, Language::En, 300)
    };
    let rendered = message.render(&templates).unwrap();
    assert!(!rendered.text.contains("Or open this link"));
    assert!(!rendered.html.contains("href"));
}

fn write(dir: &std::path::Path, name: &str, source: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, source).unwrap();
}

#[test]
fn an_override_folder_changes_the_words_of_the_files_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "de/sign_in_code.txt",
        "{% block subject %}Ihr Code für {{ site_name }}{% endblock %}\
         {% block body %}Code: {{ code }} ({{ minutes }} Min.){% endblock %}",
    );
    let site = Site {
        name: "Beispiel".into(),
        url: None,
    };
    let templates = Templates::load(Some(dir.path()), site).unwrap();
    let german = code_message(CodePurpose::SignIn, Language::De, 300)
        .render(&templates)
        .unwrap();
    assert_eq!(german.subject, "Ihr Code für Beispiel");
    assert_eq!(german.text, format!("Code: {CODE} (5 Min.)"));
    // The HTML part and the other languages are the compiled-in ones.
    assert_html_holds(&german.html, CODE);
    let english = code_message(CodePurpose::SignIn, Language::En, 300)
        .render(&templates)
        .unwrap();
    assert_eq!(english.subject, "Your sign-in code");
}

#[test]
fn a_broken_override_is_refused_with_its_file_and_line() {
    let cases = [
        (
            "en/sign_in_code.html",
            "{% extends \"layout.html\" %}\n{% block content %}\n<p>{{ code }</p>\n{% endblock %}",
            ":3:",
        ),
        (
            "fr/account_deleted.txt",
            "{% block subject %}Supprimé{% endblock %}\n{% block body %}\n{{ cod }}\n{% endblock %}",
            ":3:",
        ),
        ("es/sign_in_code.txt", "{% block body %}{{ code }}{% endblock %}", "subject"),
        ("en/sign_in_code.txt.bak", "anything", "not a template"),
        (
            "en/password_changed.txt",
            "{% block subject %}Two\nlines{% endblock %}{% block body %}x{% endblock %}",
            "one line",
        ),
    ];
    for (name, source, says) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), name, source);
        let err = Templates::load(Some(dir.path()), Site::default())
            .unwrap_err()
            .to_string();
        let file = name.trim_end_matches(".bak").to_owned();
        assert!(err.contains(&file), "{name}: {err}");
        assert!(err.contains(says), "{name}: {err}");
    }
}

#[test]
fn the_message_carries_the_headers_of_an_automatic_mail() {
    let templates = Templates::compiled_in();
    let rendered = code_message(CodePurpose::SignIn, Language::De, 300)
        .render(&templates)
        .unwrap();
    let sender = Sender::new("noreply@login.example.com", "otp-login").unwrap();
    let raw = sender
        .compose("bob@example.com", &rendered)
        .unwrap()
        .formatted();
    let message = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(message.subject(), Some(rendered.subject.as_str()));
    assert!(message.date().is_some());
    assert!(message
        .message_id()
        .is_some_and(|id| id.ends_with("@login.example.com")));
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|value| value.trim().to_owned())
    };
    assert_eq!(header("Auto-Submitted").as_deref(), Some("auto-generated"));
    assert_eq!(header("Content-Language").as_deref(), Some("de"));
    let from = message.from().and_then(|from| from.first()).unwrap();
    assert_eq!(from.name(), Some("otp-login"));
    assert_eq!(from.address(), Some("noreply@login.example.com"));
    assert!(message.body_text(0).unwrap().contains(CODE));
    assert!(message.body_html(0).unwrap().contains(CODE));
}
