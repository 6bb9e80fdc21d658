//! Taking credentials out of text bound for a log: a database URL's password must never land
//! there, whichever error chain happens to quote the URL.

/// `scheme://user:password@host` becomes `scheme://user:***@host`, wherever it appears.
pub fn credentials(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("://") {
        let (before, after) = rest.split_at(start + 3);
        out.push_str(before);
        // The authority runs to the first '/', whitespace or quote; its userinfo to the last '@'.
        let end = after
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, _password)) => out.push_str(&format!("{user}:***")),
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked_and_the_rest_kept() {
        assert_eq!(
            credentials(
                "could not connect to mysql://admin:s3cr%40t@db.example.com:3306/user_id: refused"
            ),
            "could not connect to mysql://admin:***@db.example.com:3306/user_id: refused"
        );
        assert_eq!(
            credentials("a=\"postgres://u:p@h/x\" b=sqlite://otp-login.db?mode=rwc"),
            "a=\"postgres://u:***@h/x\" b=sqlite://otp-login.db?mode=rwc"
        );
        assert_eq!(credentials("no url here"), "no url here");
        assert_eq!(
            credentials("mysql://root@127.0.0.1/x"),
            "mysql://root@127.0.0.1/x"
        );
    }
}
