//! The words of every message: a minijinja template pair per message and language, the text
//! part (`.txt`, with a `subject` and a `body` block) and the HTML part (`.html`, autoescaped,
//! extending `layout.html`), compiled in. A folder (`MAIL_TEMPLATES_DIR`) may replace any of
//! them; every template is parsed and rendered with sample values when the service starts, so
//! a broken or incomplete one stops it with its file and line, never a send.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use minijinja::{Environment, UndefinedBehavior, Value};

use super::Language;

/// Every message the service sends, by its templates' name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SignInCode,
    PasswordResetCode,
    EmailChangeCode,
    PasswordChanged,
    PasswordReset,
    EmailChanged,
    NewSignInAddress,
    CodeSignInLocked,
    AccountDeleted,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Self::SignInCode,
        Self::PasswordResetCode,
        Self::EmailChangeCode,
        Self::PasswordChanged,
        Self::PasswordReset,
        Self::EmailChanged,
        Self::NewSignInAddress,
        Self::CodeSignInLocked,
        Self::AccountDeleted,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::SignInCode => "sign_in_code",
            Self::PasswordResetCode => "password_reset_code",
            Self::EmailChangeCode => "email_change_code",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
            Self::EmailChanged => "email_changed",
            Self::NewSignInAddress => "new_sign_in_address",
            Self::CodeSignInLocked => "code_sign_in_locked",
            Self::AccountDeleted => "account_deleted",
        }
    }

    /// The variables this message's templates are given besides the ones every message has
    /// (`site_name`, `site_url`, `to`, `language`, and `subject` in the HTML part), with the
    /// sample values start-up renders them with. Optional ones may be none.
    fn samples(self) -> Vec<(&'static str, Value)> {
        let code = [("code", Value::from("123456")), ("minutes", Value::from(5))];
        let notice = [
            ("at", Value::from("2026-12-04 09:30 UTC")),
            ("client", Value::from("198.51.100.7")),
            (
                "reset_page",
                Value::from("https://login.example.com/reset.html"),
            ),
        ];
        let mut samples: Vec<_> = match self {
            Self::SignInCode | Self::EmailChangeCode => code.to_vec(),
            Self::PasswordResetCode => {
                let mut samples = code.to_vec();
                let link = "https://login.example.com/reset.html#username=a%40example.com&token=0f";
                samples.push(("link", Value::from(link)));
                samples
            }
            _ => notice.to_vec(),
        };
        match self {
            Self::EmailChanged => samples.push(("new_address", Value::from("new@example.org"))),
            Self::CodeSignInLocked => samples.push(("failures", Value::from(5))),
            _ => {}
        }
        samples
    }

    /// The variables that may be none.
    fn optional(name: &str) -> bool {
        matches!(name, "link" | "reset_page")
    }
}

/// What the messages say about the service itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// `MAIL_SITE_NAME`: how messages name the service.
    pub name: String,
    /// Where the pages are, if known (`PAGES_URL`).
    pub url: Option<String>,
}

impl Default for Site {
    fn default() -> Self {
        Self {
            name: "otp-login".to_owned(),
            url: None,
        }
    }
}

/// A message ready to send: its subject, both parts, and their language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub language: Language,
}

/// Why the templates cannot be used: the file and line, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mail template {0}")]
pub struct TemplateError(String);

/// The compiled-in pair of each message in each language, and the layout.
macro_rules! pairs_of {
    ($lang:literal: $($kind:literal),*) => {
        [$(
            (
                concat!($lang, "/", $kind, ".txt"),
                include_str!(concat!("templates/", $lang, "/", $kind, ".txt")),
            ),
            (
                concat!($lang, "/", $kind, ".html"),
                include_str!(concat!("templates/", $lang, "/", $kind, ".html")),
            ),
        )*]
    };
}

macro_rules! language {
    ($lang:literal) => {
        pairs_of!($lang: "sign_in_code", "password_reset_code", "email_change_code",
            "password_changed", "password_reset", "email_changed", "new_sign_in_address",
            "code_sign_in_locked", "account_deleted")
    };
}

const LAYOUT: (&str, &str) = ("layout.html", include_str!("templates/layout.html"));
const EN: [(&str, &str); 18] = language!("en");
const DE: [(&str, &str); 18] = language!("de");
const ES: [(&str, &str); 18] = language!("es");
const FR: [(&str, &str); 18] = language!("fr");

fn compiled_in_sources() -> impl Iterator<Item = (&'static str, &'static str)> {
    std::iter::once(LAYOUT)
        .chain(EN)
        .chain(DE)
        .chain(ES)
        .chain(FR)
}

static COMPILED_IN: LazyLock<Arc<Templates>> = LazyLock::new(|| {
    Arc::new(
        Templates::load(None, Site::default())
            .expect("the compiled-in templates are checked by the tests"),
    )
});

/// The messages' templates, checked, with what they say about the site.
pub struct Templates {
    env: Environment<'static>,
    site: Site,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("site", &self.site)
            .finish()
    }
}

impl Templates {
    /// The compiled-in templates, for the development mailer and tests.
    pub fn compiled_in() -> Arc<Self> {
        COMPILED_IN.clone()
    }

    /// The compiled-in templates, each replaced by the file of the same name under
    /// `overrides` (`layout.html`, `de/sign_in_code.txt`…), then every message in every
    /// language rendered once with sample values: a file that does not parse, names a
    /// variable its message does not have, lacks a block, or is not one of the templates
    /// answers an error naming the file and line.
    pub fn load(overrides: Option<&Path>, site: Site) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in compiled_in_sources() {
            env.add_template(name, source)
                .map_err(|err| located(None, name, &err))?;
        }
        if let Some(dir) = overrides {
            for (name, source) in read_overrides(dir)? {
                let fallback = name.clone();
                env.add_template_owned(name, source)
                    .map_err(|err| located(Some(dir), &fallback, &err))?;
            }
        }
        let templates = Self { env, site };
        templates.check(overrides)?;
        Ok(templates)
    }

    /// Renders every message in every language, with each optional variable given and not.
    fn check(&self, dir: Option<&Path>) -> Result<(), TemplateError> {
        for language in Language::ALL {
            for kind in Kind::ALL {
                let samples = kind.samples();
                let without: Vec<_> = samples
                    .iter()
                    .map(|(name, value)| {
                        let value = if Kind::optional(name) {
                            Value::from(())
                        } else {
                            value.clone()
                        };
                        (*name, value)
                    })
                    .collect();
                // A block that is missing is missing from the text part.
                let text = format!("{}/{}.txt", language.tag(), kind.name());
                for variables in [samples, without] {
                    self.render(kind, language, "someone@example.com", variables)
                        .map_err(|err| located(dir, &text, &err))?;
                }
            }
        }
        Ok(())
    }

    /// Renders `kind` in `language` for `to`, with its variables.
    pub fn render(
        &self,
        kind: Kind,
        language: Language,
        to: &str,
        variables: Vec<(&'static str, Value)>,
    ) -> Result<Rendered, minijinja::Error> {
        let mut context: BTreeMap<&str, Value> = variables.into_iter().collect();
        context.insert("site_name", Value::from(self.site.name.as_str()));
        context.insert(
            "site_url",
            self.site
                .url
                .as_deref()
                .map_or_else(|| Value::from(()), Value::from),
        );
        context.insert("to", Value::from(to));
        context.insert("language", Value::from(language.tag()));
        let text_name = format!("{}/{}.txt", language.tag(), kind.name());
        let text = self.env.get_template(&text_name)?;
        let mut captured = text.render_captured(&context)?;
        let (subject, body) = captured.with_state_mut(|state| {
            Ok::<_, minijinja::Error>((state.render_block("subject")?, state.render_block("body")?))
        })?;
        let subject = one_line(&text_name, &subject)?;
        context.insert("subject", Value::from(subject.as_str()));
        let html_name = format!("{}/{}.html", language.tag(), kind.name());
        let html = self.env.get_template(&html_name)?.render(&context)?;
        Ok(Rendered {
            subject,
            text: body.trim_start_matches('\n').to_owned(),
            html,
            language,
        })
    }
}

/// A subject is one line of words.
fn one_line(name: &str, subject: &str) -> Result<String, minijinja::Error> {
    let subject = subject.trim();
    if subject.is_empty() || subject.contains(['\n', '\r']) {
        return Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("the subject block of {name} must be one line of text"),
        ));
    }
    Ok(subject.to_owned())
}

/// The templates the folder holds, by their names; anything else in it is an error, so a
/// misspelt file cannot be silently ignored.
fn read_overrides(dir: &Path) -> Result<Vec<(String, String)>, TemplateError> {
    let known: Vec<&str> = compiled_in_sources().map(|(name, _)| name).collect();
    let mut found = vec![];
    let mut pending: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder)
            .map_err(|err| TemplateError(format!("folder {}: {err}", folder.display())))?;
        for entry in entries {
            let path = entry
                .map_err(|err| TemplateError(format!("folder {}: {err}", folder.display())))?
                .path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let name = path
                .strip_prefix(dir)
                .ok()
                .and_then(Path::to_str)
                .map(|name| name.replace(std::path::MAIN_SEPARATOR, "/"))
                .unwrap_or_default();
            if !known.contains(&name.as_str()) {
                return Err(TemplateError(format!(
                    "{}: not a template of this service (they are named like \
                     en/sign_in_code.txt and layout.html; see docs/mail.md)",
                    path.display()
                )));
            }
            let source = std::fs::read_to_string(&path)
                .map_err(|err| TemplateError(format!("{}: {err}", path.display())))?;
            found.push((name, source));
        }
    }
    Ok(found)
}

/// `dir/name:line: what is wrong`, from minijinja's error; `fallback` names the file when the
/// error does not.
fn located(dir: Option<&Path>, fallback: &str, err: &minijinja::Error) -> TemplateError {
    let name = err.name().unwrap_or(fallback);
    let file = match dir {
        Some(dir) => dir.join(name).display().to_string(),
        None => format!("(compiled in) {name}"),
    };
    let line = err
        .line()
        .map(|line| format!(":{line}"))
        .unwrap_or_default();
    let what = err
        .detail()
        .map_or_else(|| err.kind().to_string(), str::to_owned);
    TemplateError(format!("{file}{line}: {what}"))
}
