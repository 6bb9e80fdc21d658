//! `otp-login users …`: the operator's view of accounts and actions on them, as tables for a
//! person or JSON for a script. Each action is logged as a security event on standard error.
use std::process::ExitCode;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::json;

use crate::auth::admin::{AccountAdmin, AccountView, AdminError, ListFilter};
use crate::config::Settings;
use crate::startup;

#[derive(Debug, Args)]
pub struct UsersCommand {
    /// Print JSON instead of a table (one document; actions print {action, username, …}).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    action: UsersAction,
}

#[derive(Debug, Subcommand)]
enum UsersAction {
    /// One account: ids, when it was made, whether its address is proven, the last sign-in,
    /// live sessions, locks and back-offs, and whether it is disabled.
    Show { email: String },
    /// Accounts by id, a page at a time; the filters combine.
    List {
        /// Only accounts locked out: sign-in by code locked, or a wrong-password back-off
        /// running.
        #[arg(long)]
        locked: bool,
        /// Only disabled accounts.
        #[arg(long)]
        disabled: bool,
        /// Only accounts whose address no code has proven.
        #[arg(long)]
        unverified: bool,
        /// At most this many.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: u32,
        /// Start after this id (the last id of the previous page).
        #[arg(long, default_value_t = 0)]
        after: i32,
    },
    /// Refuse every sign-in and token of the account, and end its sessions and codes. The
    /// account answers as if the password or code were wrong; the log says why.
    Disable { email: String },
    /// Let a disabled account sign in again.
    Enable { email: String },
    /// End every session of the account, and with them its refresh tokens.
    SignOut { email: String },
    /// Let a locked-out owner back in: clears the lock after wrong codes, the wrong-password
    /// back-offs and the cap on wrong passwords.
    Unlock { email: String },
    /// Let mail reach the address again, once its mailbox works: clears what a bounce or a
    /// complaint reported (sign-in by code then mails codes there again).
    ClearMail { email: String },
    /// Delete the account and everything keyed to it; the address can register again.
    Delete {
        email: String,
        /// Confirm: the account cannot be brought back.
        #[arg(long)]
        yes: bool,
    },
}

impl UsersCommand {
    pub async fn run(self) -> ExitCode {
        let settings = match Settings::from_env() {
            Ok(settings) => settings,
            Err(err) => return fail(&err.to_string()),
        };
        init_logging();
        if let UsersAction::Delete { yes: false, email } = &self.action {
            return fail(&format!(
                "deleting {email} cannot be undone: run again with --yes"
            ));
        }
        let admin = match startup::account_admin(&settings).await {
            Ok(admin) => admin,
            Err(err) => return fail(&crate::redact::credentials(&format!("{err:#}"))),
        };
        match self.act(&admin).await {
            Ok(output) => {
                print!("{output}");
                ExitCode::SUCCESS
            }
            Err(AdminError::NoSuchAccount(name)) => fail(&format!("no account is named {name}")),
            Err(AdminError::Store(err)) => fail(&crate::redact::credentials(&err.to_string())),
        }
    }

    /// Runs the action and answers what to print.
    async fn act(&self, admin: &AccountAdmin) -> Result<String, AdminError> {
        let json = self.json;
        let done = |action: &str, email: &str, fields: serde_json::Value, line: String| {
            if json {
                let mut document = json!({ "action": action, "username": email });
                if let (Some(document), Some(fields)) =
                    (document.as_object_mut(), fields.as_object())
                {
                    document.extend(fields.clone());
                }
                format!("{document:#}\n")
            } else {
                format!("{line}\n")
            }
        };
        Ok(match &self.action {
            UsersAction::Show { email } => {
                let view = admin.show(email).await?;
                if json {
                    format!("{:#}\n", serde_json::to_value(&view).unwrap_or_default())
                } else {
                    show(&view)
                }
            }
            UsersAction::List {
                locked,
                disabled,
                unverified,
                limit,
                after,
            } => {
                let filter = ListFilter {
                    locked: *locked,
                    disabled: *disabled,
                    unverified: *unverified,
                };
                let views = admin.list(filter, *after, *limit).await?;
                if json {
                    format!("{:#}\n", serde_json::to_value(&views).unwrap_or_default())
                } else {
                    let next = (views.len() == *limit as usize)
                        .then(|| views.last().map(|view| view.id))
                        .flatten();
                    table(&views, next)
                }
            }
            UsersAction::Disable { email } => {
                let changed = admin.disable(email).await?;
                let line = if changed {
                    format!("{email} is disabled; its sessions and codes ended")
                } else {
                    format!("{email} was already disabled")
                };
                done("disable", email, json!({ "changed": changed }), line)
            }
            UsersAction::Enable { email } => {
                let changed = admin.enable(email).await?;
                let line = if changed {
                    format!("{email} is enabled")
                } else {
                    format!("{email} was not disabled")
                };
                done("enable", email, json!({ "changed": changed }), line)
            }
            UsersAction::SignOut { email } => {
                let ended = admin.sign_out(email).await?;
                let line = format!("{email}: {ended} session(s) ended");
                done("sign-out", email, json!({ "sessions_ended": ended }), line)
            }
            UsersAction::Unlock { email } => {
                let unlocked = admin.unlock(email).await?;
                let line = format!(
                    "{email} is unlocked: {} wrong code(s) and {} back-off(s) cleared",
                    unlocked.wrong_codes, unlocked.back_offs
                );
                let fields = json!({
                    "wrong_codes_cleared": unlocked.wrong_codes,
                    "back_offs_cleared": unlocked.back_offs,
                });
                done("unlock", email, fields, line)
            }
            UsersAction::ClearMail { email } => {
                let cleared = admin.clear_mail(email).await?;
                let line = if cleared {
                    format!("mail may reach {email} again")
                } else {
                    format!("{email} was not marked undeliverable; nothing changed")
                };
                done("clear-mail", email, json!({ "cleared": cleared }), line)
            }
            UsersAction::Delete { email, .. } => {
                admin.delete(email).await?;
                let line = format!("{email} is deleted, with everything keyed to it");
                done("delete", email, json!({ "deleted": true }), line)
            }
        })
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("otp-login: {message}");
    ExitCode::FAILURE
}

/// The security events go to standard error, leaving standard output to the answer.
fn init_logging() {
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|filter| tracing_subscriber::EnvFilter::try_new(filter).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
}

fn time(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(
        || "-".to_owned(),
        |at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    )
}

fn show(view: &AccountView) -> String {
    let proven = view
        .email_verified_at
        .map_or_else(|| "no".to_owned(), |at| format!("yes, {}", time(Some(at))));
    let last = match (&view.last_sign_in_at, &view.last_sign_in_from) {
        (None, _) => "never".to_owned(),
        (at, from) => format!("{} from {}", time(*at), from.as_deref().unwrap_or("?")),
    };
    let locked = if view.code_sign_in_locked {
        " (sign-in by code locked)"
    } else {
        ""
    };
    let back_offs = match view.back_offs.as_deref() {
        None | Some([]) => "none".to_owned(),
        Some(back_offs) => back_offs
            .iter()
            .map(|b| {
                format!(
                    "{} ({} failures, until {})",
                    b.address,
                    b.failures,
                    time(Some(b.until))
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
    };
    let disabled = view.disabled_at.map_or_else(
        || "no".to_owned(),
        |at| format!("yes, since {}", time(Some(at))),
    );
    let mail = view.mail_undeliverable.as_ref().map_or_else(
        || "no bounce or complaint on record".to_owned(),
        |found| {
            format!(
                "undeliverable: a {} on {} (users clear-mail clears it)",
                found.kind,
                time(Some(found.since))
            )
        },
    );
    let rows = [
        ("id", view.id.to_string()),
        ("username", view.username.clone()),
        (
            "public id",
            view.public_id.clone().unwrap_or_else(|| "-".into()),
        ),
        ("created", time(Some(view.created_at))),
        ("address proven", proven),
        ("last sign-in", last),
        ("live sessions", view.live_sessions.to_string()),
        ("wrong codes", format!("{}{locked}", view.wrong_codes)),
        ("password back-offs", back_offs),
        ("disabled", disabled),
        ("mail", mail),
    ];
    rows.iter()
        .map(|(name, value)| format!("{name:<19} {value}\n"))
        .collect()
}

fn table(views: &[AccountView], next: Option<i32>) -> String {
    let width = views
        .iter()
        .map(|view| view.username.chars().count())
        .max()
        .unwrap_or(0)
        .max("username".len());
    let mut out = format!(
        "{:>6} {:width$} {:20} {:6} {:20} {:8} {:11} {}\n",
        "id",
        "username",
        "created",
        "proven",
        "last sign-in",
        "sessions",
        "code-locked",
        "disabled"
    );
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    for view in views {
        out.push_str(&format!(
            "{:>6} {:width$} {:20} {:6} {:20} {:8} {:11} {}\n",
            view.id,
            view.username,
            time(Some(view.created_at)),
            yes_no(view.email_verified_at.is_some()),
            time(view.last_sign_in_at),
            view.live_sessions,
            yes_no(view.code_sign_in_locked),
            yes_no(view.disabled_at.is_some()),
        ));
    }
    if let Some(last) = next {
        out.push_str(&format!("(more: --after {last})\n"));
    }
    out
}
