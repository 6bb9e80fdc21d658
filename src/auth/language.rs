//! The languages an account's mail is written in: English, German, Spanish and French. A user's language is
//! taken from `Accept-Language` at registration, kept on the account, and changeable.
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Language {
    #[default]
    En,
    De,
    Es,
    Fr,
}

impl Language {
    pub const ALL: [Language; 4] = [Self::En, Self::De, Self::Es, Self::Fr];

    /// The BCP 47 tag: `en`, `de`, `es`, `fr`.
    pub fn tag(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::De => "de",
            Self::Es => "es",
            Self::Fr => "fr",
        }
    }

    /// A language tag whose primary subtag is one of ours (`de`, `de-AT`, `FR-ca`…).
    pub fn parse(tag: &str) -> Option<Self> {
        let primary = tag.trim().split(['-', '_']).next()?;
        Self::ALL
            .into_iter()
            .find(|language| primary.eq_ignore_ascii_case(language.tag()))
    }

    /// The language a request's `Accept-Language` prefers most among ours: ranges by their
    /// `q` (1 when left out; 0 means "not this one"), the first listed winning a tie; English
    /// when none of them is ours or the header is missing or unreadable.
    pub fn from_accept_language(header: Option<&str>) -> Self {
        let Some(header) = header else {
            return Self::default();
        };
        let mut best: Option<(u16, Self)> = None;
        for range in header.split(',') {
            let mut parts = range.split(';');
            let Some(language) = parts.next().and_then(Self::parse) else {
                continue;
            };
            let quality = parts
                .find_map(|param| {
                    let (name, value) = param.split_once('=')?;
                    (name.trim() == "q").then(|| quality(value.trim()))
                })
                .unwrap_or(Some(1000));
            let Some(quality) = quality.filter(|q| *q > 0) else {
                continue;
            };
            if best.is_none_or(|(top, _)| quality > top) {
                best = Some((quality, language));
            }
        }
        best.map_or_else(Self::default, |(_, language)| language)
    }
}

/// A `q` value (`0` to `1`, at most three decimals) in thousandths; none if unreadable.
fn quality(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{fraction:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_wanted_of_our_languages_wins_and_english_is_the_fallback() {
        let cases = [
            (Some("de"), Language::De),
            (Some("de-AT,de;q=0.9,en;q=0.8"), Language::De),
            (Some("fr-CA, en;q=0.5"), Language::Fr),
            (Some("en;q=0.4, es;q=0.9"), Language::Es),
            (Some("ja, es;q=0.2"), Language::Es),
            (Some("es;q=0, fr;q=0.1"), Language::Fr),
            (Some("de;q=0.5, fr;q=0.5"), Language::De),
            (Some("ja, zh-CN"), Language::En),
            (Some("*"), Language::En),
            (Some("de;q=2, fr;q=0.1"), Language::Fr),
            (Some(""), Language::En),
            (None, Language::En),
        ];
        for (header, expected) in cases {
            assert_eq!(
                Language::from_accept_language(header),
                expected,
                "{header:?}"
            );
        }
    }

    #[test]
    fn a_tag_names_its_language_by_the_primary_subtag() {
        assert_eq!(Language::parse("DE-ch"), Some(Language::De));
        assert_eq!(Language::parse("es_MX"), Some(Language::Es));
        assert_eq!(Language::parse("english"), None);
        for language in Language::ALL {
            assert_eq!(Language::parse(language.tag()), Some(language));
        }
    }
}
