//! The docs hold together: every relative link in README.md, SECURITY.md, CHANGELOG.md and
//! docs/*.md names a file or folder that exists, and every `#anchor` a heading of its target.
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A link as written in a document.
#[derive(Debug, PartialEq, Eq)]
struct Link {
    line: usize,
    target: String,
}

/// The documents the check reads, relative to the repository root.
fn documents(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "SECURITY.md", "CHANGELOG.md"]
        .iter()
        .map(PathBuf::from)
        .collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.expect("docs/ is readable").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .map(|path| path.strip_prefix(root).unwrap().to_path_buf())
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// The text with every inline code span blanked out, so `` `[a](b)` `` is not a link.
fn without_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|&&c| c == '`').count();
        // The span ends at the next run of exactly as many backticks.
        let mut j = i + run;
        let mut end = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let other = chars[j..].iter().take_while(|&&c| c == '`').count();
                if other == run {
                    end = Some(j + other);
                    break;
                }
                j += other;
            } else {
                j += 1;
            }
        }
        match end {
            Some(end) => {
                out.extend(std::iter::repeat_n(' ', end - i));
                i = end;
            }
            None => {
                out.extend(&chars[i..i + run]);
                i += run;
            }
        }
    }
    out
}

/// The lines outside fenced code blocks, numbered from 1.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fence: Option<String> = None;
    let mut lines = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker: String = trimmed
            .chars()
            .take_while(|&c| c == '`' || c == '~')
            .collect();
        let opens =
            marker.len() >= 3 && marker.chars().all(|c| c == marker.chars().next().unwrap());
        match &fence {
            Some(open) if opens && marker.starts_with(open.as_str()) => fence = None,
            Some(_) => {}
            None if opens => fence = Some(marker),
            None => lines.push((number + 1, line)),
        }
    }
    lines
}

/// Inline links and images `[text](target)` and reference definitions `[label]: target`.
fn links(text: &str) -> Vec<Link> {
    let mut found = Vec::new();
    for (line, raw) in prose_lines(text) {
        let prose = without_code_spans(raw);
        let trimmed = prose.trim_start();
        if let Some(label) = trimmed.strip_prefix('[') {
            let definition = label
                .split_once(']')
                .and_then(|(_, rest)| rest.strip_prefix(':'));
            if let Some(rest) = definition {
                if let Some(target) = rest.split_whitespace().next() {
                    found.push(Link {
                        line,
                        target: target.trim_matches(['<', '>']).to_owned(),
                    });
                    continue;
                }
            }
        }
        let mut rest = prose.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            // The target runs to the parenthesis that closes the one opened, then drops a title.
            let mut depth = 0usize;
            let end = after
                .char_indices()
                .find(|&(_, c)| match c {
                    '(' => {
                        depth += 1;
                        false
                    }
                    ')' if depth == 0 => true,
                    ')' => {
                        depth -= 1;
                        false
                    }
                    _ => false,
                })
                .map_or(after.len(), |(i, _)| i);
            let inside = after[..end].trim();
            let target = if let Some(angled) = inside.strip_prefix('<') {
                angled.split('>').next().unwrap_or_default()
            } else {
                inside.split_whitespace().next().unwrap_or_default()
            };
            if !target.is_empty() {
                found.push(Link {
                    line,
                    target: target.to_owned(),
                });
            }
            rest = &after[end.min(after.len())..];
        }
    }
    found
}

/// A link that leaves the repository: a URL scheme (`https:`, `mailto:`…).
fn is_external(target: &str) -> bool {
    let scheme: String = target
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "+-.".contains(*c))
        .collect();
    !scheme.is_empty()
        && scheme.chars().next().unwrap().is_ascii_alphabetic()
        && target[scheme.len()..].starts_with(':')
}

/// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor a document offers: its headings' slugs (a repeated one gets `-1`, `-2`…) and
/// any `id="…"` or `name="…"` of its HTML.
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    for (_, line) in prose_lines(text) {
        let trimmed = line.trim_start();
        let hashes = trimmed.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&hashes) && trimmed[hashes..].starts_with(' ') {
            let heading = trimmed[hashes..].trim().trim_end_matches('#');
            // Only a link's text shows in the heading: `[text](target)` slugs as `text`.
            let mut text = String::new();
            let mut rest = heading;
            while let Some(open) = rest.find('[') {
                match rest[open..].find("](") {
                    Some(mid) => {
                        text.push_str(&rest[..open]);
                        text.push_str(&rest[open + 1..open + mid]);
                        let after = &rest[open + mid + 2..];
                        rest = after.split_once(')').map_or("", |(_, tail)| tail);
                    }
                    None => break,
                }
            }
            text.push_str(rest);
            let base = slug(&text);
            let mut candidate = base.clone();
            let mut n = 0;
            while seen.contains(&candidate) {
                n += 1;
                candidate = format!("{base}-{n}");
            }
            seen.insert(candidate);
        }
        for attribute in ["id=\"", "name=\""] {
            let mut rest = line;
            while let Some(at) = rest.find(attribute) {
                let value = &rest[at + attribute.len()..];
                if let Some((anchor, tail)) = value.split_once('"') {
                    seen.insert(anchor.to_owned());
                    rest = tail;
                } else {
                    break;
                }
            }
        }
    }
    seen
}

/// `%20` and friends, as a browser would read them in a path.
fn percent_decoded(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What is wrong with each relative link of `document` (a path under `root`), one line each.
fn broken_links(root: &Path, document: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(root.join(document))
        .unwrap_or_else(|e| panic!("{}: {e}", document.display()));
    let here = root.join(document).parent().unwrap().to_path_buf();
    let mut problems = Vec::new();
    for Link { line, target } in links(&text) {
        if is_external(&target) {
            continue;
        }
        let (path, fragment) = match target.split_once('#') {
            Some((path, fragment)) => (path, Some(fragment)),
            None => (target.as_str(), None),
        };
        let path = path.split('?').next().unwrap_or_default();
        let resolved = if path.is_empty() {
            root.join(document)
        } else if let Some(from_root) = path.strip_prefix('/') {
            root.join(percent_decoded(from_root))
        } else {
            here.join(percent_decoded(path))
        };
        let at = format!("{}:{line}: ({target})", document.display());
        if !resolved.exists() {
            problems.push(format!("{at} points nowhere"));
            continue;
        }
        let Some(fragment) = fragment.filter(|f| !f.is_empty()) else {
            continue;
        };
        if resolved.extension().is_some_and(|ext| ext == "md") {
            let target_text = std::fs::read_to_string(&resolved).unwrap_or_default();
            if !anchors(&target_text).contains(&percent_decoded(fragment).to_lowercase()) {
                problems.push(format!("{at} names no heading of its file"));
            }
        }
    }
    problems
}

fn repository_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let root = repository_root();
    let problems: Vec<String> = documents(&root)
        .iter()
        .flat_map(|document| broken_links(&root, document))
        .collect();
    assert!(
        problems.is_empty(),
        "broken links in the docs:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_docs_folder_is_read_whole() {
    let root = repository_root();
    let documents = documents(&root);
    for needed in ["README.md", "SECURITY.md", "CHANGELOG.md"] {
        assert!(documents.contains(&PathBuf::from(needed)), "{needed}");
    }
    assert!(
        documents.iter().any(|d| d.starts_with("docs")),
        "no docs/*.md was read: {documents:?}"
    );
}

#[test]
fn a_missing_file_and_a_missing_heading_are_both_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    std::fs::write(
        dir.path().join("docs/guide.md"),
        "# A guide\n\n## Adding an operation: the checklist\n\nSee [the top](#a-guide).\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("README.md"),
        "# Front door\n\
         \n\
         [fine](docs/guide.md#adding-an-operation-the-checklist), ![image](docs/guide.md),\n\
         [web](https://example.com/nowhere), [mail](mailto:a@example.com), [here](#front-door)\n\
         [gone](docs/gone.md) and [wrong place](docs/guide.md#no-such-heading)\n\
         `[in code](nowhere.md)` [self](#nothing-here)\n\
         \n\
         ```md\n\
         [in a fence](nowhere.md)\n\
         ```\n\
         \n\
         [label]: docs/missing-too.md\n",
    )
    .unwrap();
    let problems = broken_links(dir.path(), Path::new("README.md"));
    assert_eq!(
        problems,
        [
            "README.md:5: (docs/gone.md) points nowhere",
            "README.md:5: (docs/guide.md#no-such-heading) names no heading of its file",
            "README.md:6: (#nothing-here) names no heading of its file",
            "README.md:12: (docs/missing-too.md) points nowhere",
        ]
    );
    assert!(broken_links(dir.path(), Path::new("docs/guide.md")).is_empty());
}

#[test]
fn anchors_follow_github_slugs() {
    let text = "# otp-login\n## What the request schemas state\n## `POST /logout`: sign-out\n\
                ## Versions\n## Versions\n### [Link](x.md) in a heading\n```\n# not a heading\n```\n";
    let found = anchors(text);
    for expected in [
        "otp-login",
        "what-the-request-schemas-state",
        "post-logout-sign-out",
        "versions",
        "versions-1",
        "link-in-a-heading",
    ] {
        assert!(found.contains(expected), "{expected} in {found:?}");
    }
    assert!(!found.contains("not-a-heading"));
}
