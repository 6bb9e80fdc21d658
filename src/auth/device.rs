//! What a session's owner is shown of the program that opened it: `Firefox 120 on Linux`, read
//! from its `User-Agent` with woothee for a browser, or the header itself, cut short, for any
//! other program (`curl/8.5.0`).
use std::sync::LazyLock;

use woothee::parser::Parser;

static PARSER: LazyLock<Parser> = LazyLock::new(Parser::new);
/// woothee's word for what it could not tell.
const UNKNOWN: &str = "UNKNOWN";
/// The longest description kept, in characters.
pub const MAX_CHARS: usize = 64;

/// A short description of `user_agent`, or none when it says nothing.
pub fn describe(user_agent: &str) -> Option<String> {
    let agent: String = user_agent.chars().filter(|c| !c.is_control()).collect();
    let agent = agent.trim();
    if agent.is_empty() {
        return None;
    }
    // A browser or device woothee knows; a program (a crawler, an HTTP library) is better
    // named by its own header.
    let known = PARSER.parse(agent).filter(|found| {
        matches!(
            found.category,
            "pc" | "smartphone" | "mobilephone" | "appliance"
        )
    });
    let text = match known {
        Some(found) => {
            let mut text = found.name.to_owned();
            let major = found.version.split('.').next().unwrap_or_default();
            if !major.is_empty() && major != UNKNOWN {
                text = format!("{text} {major}");
            }
            if found.os != UNKNOWN {
                text = format!("{text} on {}", found.os);
            }
            text
        }
        None => agent.to_owned(),
    };
    Some(text.chars().take(MAX_CHARS).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_browser_is_named_with_its_major_version_and_system() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
        assert_eq!(describe(firefox).unwrap(), "Firefox 120 on Linux");
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 \
                      (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
        assert_eq!(describe(chrome).unwrap(), "Chrome 120 on Windows 10");
    }

    #[test]
    fn an_unknown_program_keeps_its_header_cut_short_and_clean() {
        assert_eq!(describe("curl/8.5.0").unwrap(), "curl/8.5.0");
        let long = format!("tool/1.0 {}", "x".repeat(200));
        assert_eq!(describe(&long).unwrap().chars().count(), MAX_CHARS);
        assert_eq!(describe("bad\u{7}\nagent").unwrap(), "badagent");
        assert_eq!(describe(" \t "), None);
        assert_eq!(describe(""), None);
    }
}
