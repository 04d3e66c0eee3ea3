//! No dangling references: every `docs/...` path named anywhere in the repository (README,
//! template, samconfig, scripts, source, the docs themselves) exists, and every relative link in a
//! Markdown file points at a file that exists and, with `#anchor`, at a heading it has. The
//! shipped alarm's description sends an on-call engineer to a runbook: it must be there.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use alb_keepalive_tests::repo_root;

/// Folders that are not the repository's own text: build output, tool environments, git.
fn skipped_dir(name: &str) -> bool {
    matches!(name, "target" | ".git" | ".aws-sam" | "bench-data" | "node_modules" | "__pycache__")
        || name.starts_with(".venv")
}

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if path.is_dir() {
            if !skipped_dir(name) {
                text_files(&path, out);
            }
        } else if path.metadata().is_ok_and(|m| m.len() <= 4 << 20) {
            out.push(path);
        }
    }
}

fn path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '#')
}

/// Every `docs/...` path in `text`: `docs/` not preceded by a path character (so not inside
/// a URL or `mydocs/`), up to the first character that cannot be in a path; trailing sentence
/// punctuation is dropped. An `#anchor` is kept.
fn docs_paths(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (start, _) in text.match_indices("docs/") {
        let before = text[..start].chars().next_back();
        if before.is_some_and(|c| path_char(c) || c == ':') {
            continue;
        }
        let rest = &text[start..];
        let end = rest.find(|c: char| !path_char(c)).unwrap_or(rest.len());
        found.push(rest[..end].trim_end_matches(['.', '-', '#']).to_string());
    }
    found
}

/// Relative Markdown link targets, `[text](target)`, that are not URLs or mail addresses.
fn markdown_links(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (start, _) in text.match_indices("](") {
        let rest = &text[start + 2..];
        let Some(end) = rest.find(')') else { continue };
        let target = rest[..end].trim();
        if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
            continue;
        }
        found.push(target.to_string());
    }
    found
}

/// GitHub's heading anchors: lowercase, punctuation other than `-` and `_` dropped, spaces to `-`.
fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut in_code = false;
    let mut set = BTreeSet::new();
    for line in markdown.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code || !line.starts_with('#') {
            continue;
        }
        let heading = line.trim_start_matches('#').trim();
        let slug: String = heading
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        set.insert(slug);
    }
    set
}

/// Problems with `target` (a path relative to the repository root, maybe with `#anchor`).
fn check_target(root: &Path, target: &str) -> Option<String> {
    let (file, anchor) = match target.split_once('#') {
        Some((file, anchor)) => (file, Some(anchor)),
        None => (target, None),
    };
    let path = root.join(file);
    if !path.exists() {
        return Some("does not exist".to_string());
    }
    let anchor = anchor.filter(|a| !a.is_empty())?;
    if path.extension().is_some_and(|e| e == "md") {
        let text = std::fs::read_to_string(&path).expect("a Markdown file is text");
        if !anchors(&text).contains(anchor) {
            return Some(format!("has no heading with anchor #{anchor}"));
        }
    }
    None
}

#[test]
fn every_docs_path_and_relative_markdown_link_in_the_repository_exists() {
    let root = repo_root().canonicalize().expect("repository root");
    let mut files = Vec::new();
    text_files(&root, &mut files);
    let mut checked = 0;
    let mut problems = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else { continue }; // binary
        let shown = file.strip_prefix(&root).unwrap_or(file).display().to_string();
        for target in docs_paths(&text) {
            checked += 1;
            if let Some(problem) = check_target(&root, &target) {
                problems.push(format!("{shown}: {target} {problem}"));
            }
        }
        if file.extension().is_some_and(|e| e == "md") {
            let dir = file.parent().expect("a file has a folder");
            for link in markdown_links(&text) {
                checked += 1;
                let (path, anchor) = link.split_once('#').unwrap_or((&link, ""));
                let resolved = if path.is_empty() { file.clone() } else { dir.join(path) };
                let Ok(resolved) = resolved.canonicalize() else {
                    problems.push(format!("{shown}: link {link} does not exist"));
                    continue;
                };
                let Ok(relative) = resolved.strip_prefix(&root) else {
                    problems.push(format!("{shown}: link {link} leaves the repository"));
                    continue;
                };
                let target = format!("{}#{anchor}", relative.display());
                if let Some(problem) = check_target(&root, &target) {
                    problems.push(format!("{shown}: link {link} {problem}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "dangling references:\n{}", problems.join("\n"));
    assert!(checked >= 5, "the alarm, samconfig, README and docs name docs paths: found {checked}");
}

#[test]
fn the_alarm_and_samconfig_point_at_documents_that_exist() {
    let root = repo_root();
    for (file, expected) in [
        ("template.yaml", "docs/runbook-failure-alarm.md"),
        ("samconfig.toml", "docs/deploying.md"),
        ("README.md", "docs/deploying.md"),
    ] {
        let text = std::fs::read_to_string(root.join(file)).expect(file);
        assert!(docs_paths(&text).iter().any(|p| p == expected), "{file} names {expected}");
        assert!(root.join(expected).is_file(), "{expected} exists");
    }
}

#[test]
fn the_scanners_find_what_a_reader_would_follow() {
    let docs = "docs";
    let text = format!(
        "see ({docs}/runbook.md, \"Failures\"), `{docs}/deploying.md#5-check-that-it-works`. \
         Also {docs}/a_b-c.md. Not https://example.com/{docs}/x.md nor my{docs}/y.md."
    );
    assert_eq!(
        docs_paths(&text),
        [
            format!("{docs}/runbook.md"),
            format!("{docs}/deploying.md#5-check-that-it-works"),
            format!("{docs}/a_b-c.md")
        ]
    );
    let markdown =
        "[a](deploying.md#1-prerequisites) [b](https://x.org/y) [c](#top) [d](mailto:x@y)";
    assert_eq!(markdown_links(markdown), ["deploying.md#1-prerequisites", "#top"]);
    let headings = anchors(
        "# Title\n## 4. Point the ALB's access logs at the bucket\n```\n# not a heading\n```\n",
    );
    assert_eq!(
        headings.into_iter().collect::<Vec<_>>(),
        ["4-point-the-albs-access-logs-at-the-bucket", "title"]
    );
    let root = repo_root();
    assert!(check_target(&root, &format!("{docs}/no-such-file.md")).is_some());
    assert!(check_target(&root, "README.md#no-such-heading").is_some());
    assert!(check_target(&root, "README.md#quick-start").is_none());
}
