//! The docs show what the CLI prints. Every `console` example in docs/deploy.md and
//! docs/policy.md of `egress-policy check`, `compile`, `bundle` or `explain` on the shipped
//! policy (`policy/policy.toml`, named or by default) is run again in a scratch directory
//! holding a copy of the repository's `policy/` and must print what the page shows: the
//! policy's sha256, the artefact's and the bundle's sizes and hashes, rule lines. Only what
//! differs on every run is masked: serials, times and the signing key (the scratch key is a
//! throwaway one). A `...` line in an example stands for any number of lines.
//!
//! Links between the repository's Markdown pages must reach a file that exists and, with a
//! `#fragment`, a heading of it, so restructuring a page cannot strand its readers.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

#[allow(
    dead_code,
    reason = "this file runs the binary in a scratch directory, not through `run`"
)]
mod support;

use std::collections::HashSet;
use std::path::Path;

use regex_lite::Regex;

/// The pages whose CLI examples are run.
const PAGES: [&str; 2] = ["docs/deploy.md", "docs/policy.md"];
/// The commands whose examples are run: those that read the policy and nothing else.
const COMMANDS: [&str; 4] = ["check", "compile", "bundle", "explain"];
/// The shipped policy: an example naming any other policy file is not run.
const SHIPPED: &str = "policy/policy.toml";

/// One `$ egress-policy ...` example: where it is, its words, and the lines it shows.
struct Example {
    at: String,
    words: Vec<String>,
    shown: Vec<String>,
}

#[test]
fn the_docs_show_what_the_cli_prints_for_the_shipped_policy() {
    let scratch = tempfile::tempdir().unwrap();
    copy_dir(
        &support::root().join("policy"),
        &scratch.path().join("policy"),
    );
    std::fs::write(
        scratch.path().join("bundle-signing.pem"),
        support::ed25519_pem(9),
    )
    .unwrap();
    let mut ran = Vec::new();
    for page in PAGES {
        let text = std::fs::read_to_string(support::root().join(page)).unwrap();
        for example in examples(page, &text).into_iter().filter(on_shipped_policy) {
            let output = assert_cmd::cargo::cargo_bin_cmd!("egress-policy")
                .current_dir(scratch.path())
                .args(&example.words[1..])
                .output()
                .unwrap();
            let printed = String::from_utf8(output.stdout).unwrap()
                + &String::from_utf8(output.stderr).unwrap();
            let printed: Vec<String> = printed.lines().map(mask).collect();
            let shown: Vec<String> = example.shown.iter().map(|l| mask(l)).collect();
            assert!(
                matches(&shown, &printed),
                "{}: `{}` prints, now:\n{}\n\nbut the page shows:\n{}\n\n(update the page)",
                example.at,
                example.words.join(" "),
                printed.join("\n"),
                shown.join("\n"),
            );
            ran.push(example.words[1].clone());
        }
    }
    // The figures the deploy guide promises: the shipped policy compiled and bundled, the
    // head's size and what a bundle adds to the artefact, as its prose states them.
    for command in ["compile", "bundle"] {
        assert!(
            ran.iter().any(|c| c == command),
            "no `{command}` example ran: {ran:?}"
        );
    }
    let size = |file: &str| std::fs::metadata(scratch.path().join(file)).unwrap().len();
    let deploy = std::fs::read_to_string(support::root().join("docs/deploy.md")).unwrap();
    let deploy = deploy.split_whitespace().collect::<Vec<_>>().join(" ");
    for said in [
        format!("(`bundle.bin.head`, {} bytes)", size("bundle.bin.head")),
        format!(
            "the compiled artefact plus {} bytes",
            size("bundle.bin") - size("policy.artifact")
        ),
    ] {
        assert!(deploy.contains(&said), "docs/deploy.md should say: {said}");
    }
}

#[test]
fn links_between_the_pages_reach_a_file_and_a_heading() {
    let root = support::root();
    let link = Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    let mut pages: Vec<String> = vec!["README.md".into()];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".md") {
            pages.push(format!("docs/{name}"));
        }
    }
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(root.join(page)).unwrap();
        let dir = Path::new(page).parent().unwrap();
        for target in link.captures_iter(&prose(&text)).map(|c| c[1].to_string()) {
            if target.contains("://") || target.starts_with("mailto:") {
                broken.push(format!("{page}: `{target}` leaves the repository"));
                continue;
            }
            let (file, fragment) = target.split_once('#').unwrap_or((&target, ""));
            let file = if file.is_empty() {
                root.join(page)
            } else {
                root.join(dir).join(file)
            };
            if !file.exists() {
                broken.push(format!("{page}: `{target}`: no such file"));
            } else if !fragment.is_empty() {
                let headings = slugs(&std::fs::read_to_string(&file).unwrap());
                if !headings.contains(fragment) {
                    broken.push(format!("{page}: `{target}`: no such heading"));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The `$ egress-policy ...` examples of a page's `console` blocks, with the lines each shows.
fn examples(page: &str, text: &str) -> Vec<Example> {
    let mut found: Vec<Example> = Vec::new();
    let mut in_console = false;
    let mut continued = false;
    for (number, line) in text.lines().enumerate() {
        if line.starts_with("```") {
            in_console = line == "```console";
            continue;
        }
        if !in_console {
            continue;
        }
        let last = found.last_mut();
        if let Some(command) = line.strip_prefix("$ ") {
            found.push(Example {
                at: format!("{page}:{}", number + 1),
                words: Vec::new(),
                shown: Vec::new(),
            });
            continued = add_words(&mut found.last_mut().unwrap().words, command);
        } else if let Some(example) = last {
            if continued {
                continued = add_words(&mut example.words, line);
            } else {
                example.shown.push(line.trim_end().to_string());
            }
        }
    }
    found
}

/// Adds a command line's words (single quotes group, `#` starts a comment); true when the
/// line ends in `\` and the command goes on.
fn add_words(words: &mut Vec<String>, line: &str) -> bool {
    let line = line.trim_end();
    let (line, continues) = match line.strip_suffix('\\') {
        Some(rest) => (rest, true),
        None => (line, false),
    };
    let mut quoted = false;
    let mut word: Option<String> = None;
    for c in line.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                word.get_or_insert_with(String::new);
            }
            '#' if !quoted && word.is_none() => break,
            c if c.is_whitespace() && !quoted => words.extend(word.take()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    continues
}

/// An example of a policy command on the shipped policy (by name or by default).
fn on_shipped_policy(example: &Example) -> bool {
    let words = &example.words;
    words.first().is_some_and(|w| w == "egress-policy")
        && words.get(1).is_some_and(|c| COMMANDS.contains(&c.as_str()))
        && words[1..]
            .iter()
            .all(|w| !w.ends_with(".toml") || w == SHIPPED)
}

/// A line with what differs on every run masked: serials (16 digits), times, signing keys.
fn mask(line: &str) -> String {
    let serial = Regex::new(r"\b\d{16}\b").unwrap();
    let time = Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z").unwrap();
    let key = Regex::new(r"^(signed by|signer): +\S+$").unwrap();
    let line = serial.replace_all(line.trim_end(), "SERIAL");
    let line = time.replace_all(&line, "TIME");
    key.replace(&line, "$1: KEY").into_owned()
}

/// Whether `printed` is `shown`, where a `...` line of `shown` stands for any lines.
fn matches(shown: &[String], printed: &[String]) -> bool {
    match shown.split_first() {
        None => printed.is_empty(),
        Some((first, rest)) if first.trim() == "..." => {
            (0..=printed.len()).any(|skip| matches(rest, &printed[skip..]))
        }
        Some((first, rest)) => printed
            .split_first()
            .is_some_and(|(line, others)| line == first && matches(rest, others)),
    }
}

/// The text outside code blocks and code spans, where links are links.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            let spans: Vec<&str> = line.split('`').collect();
            out.extend(spans.iter().step_by(2).copied());
            out.push('\n');
        }
    }
    out
}

/// The anchors GitHub gives a page's headings: lower-cased, punctuation dropped, spaces as
/// `-`, a repeated heading suffixed `-1`, `-2`, ...
fn slugs(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        let Some(heading) = line.strip_prefix('#').filter(|_| !fenced) else {
            continue;
        };
        let slug: String = heading
            .trim_start_matches('#')
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let unique = (0..)
            .map(|n| {
                if n == 0 {
                    slug.clone()
                } else {
                    format!("{slug}-{n}")
                }
            })
            .find(|s| !seen.contains(s))
            .unwrap();
        seen.insert(unique);
    }
    seen
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
