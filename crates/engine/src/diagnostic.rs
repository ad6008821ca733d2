//! Diagnostics: what `check` reports about a policy file, with source spans and hints.

use std::fmt;
use std::ops::Range;

pub use crate::diagnostic_code::Code;
use crate::domain_list::ListFiles;

/// `diag!(Code: "format", args...)`: a new [`Diagnostic`] of `Code::Code` with a `format!`ted
/// message, for the validators' many checks. Written as its rendered head reads
/// (`error[code]: message`).
macro_rules! diag {
    ($code:ident : $($message:tt)+) => {
        $crate::diagnostic::Diagnostic::new($crate::diagnostic::Code::$code, format!($($message)+))
    };
}
pub(crate) use diag;

/// How serious a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// The policy is rejected.
    Error,
    /// The policy compiles, but something looks wrong.
    Warning,
}

named!(
    /// `error` or `warning`, as printed.
    pub fn as_str for Severity { Error = "error", Warning = "warning" }
);

/// One finding about a policy file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Its code in the catalogue ([`Code`]), printed kebab-case: `non-canonical-host`.
    pub code: Code,
    /// Lower case, no final period, user input in backticks.
    pub message: String,
    /// The list file the diagnostic is about, as the policy's `file` value names it; `None`
    /// for the policy file itself. `span` points into that file's text. Boxed to keep a
    /// diagnostic small: it is the error type of every parser in the engine.
    pub file: Option<Box<String>>,
    /// Byte offsets into the policy text (or the list file's, see `file`).
    pub span: Option<Range<usize>>,
    /// Text shown under the underline.
    pub label: Option<String>,
    /// The `help: ...` line.
    pub hint: Option<String>,
}

/// Every diagnostic of a policy that did not compile: errors and warnings, in source order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for d in &self.0 {
            writeln!(f, "{}[{}]: {}", d.severity.as_str(), d.code, d.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

impl Diagnostic {
    /// A new diagnostic of `code`, with the severity the catalogue gives it.
    pub fn new(code: Code, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: code.severity(),
            code,
            message: message.into(),
            file: None,
            span: None,
            label: None,
            hint: None,
        }
    }

    /// Sets the span.
    pub fn with_span(mut self, span: Range<usize>) -> Diagnostic {
        self.span = Some(span);
        self
    }

    /// Sets the span and the label under its underline.
    pub(crate) fn at(self, span: Range<usize>, label: impl Into<String>) -> Diagnostic {
        self.with_span(span).with_label(label)
    }

    /// Adds the diagnostic to `diags`.
    pub(crate) fn push_to(self, diags: &mut Vec<Diagnostic>) {
        diags.push(self);
    }

    /// Adds the diagnostic to `diags` and yields no value: the end of a check that failed.
    pub(crate) fn fail<T>(self, diags: &mut Vec<Diagnostic>) -> Option<T> {
        diags.push(self);
        None
    }

    /// Points the diagnostic into the list file the policy names `file`.
    pub fn in_file(mut self, file: impl Into<String>) -> Diagnostic {
        self.file = Some(Box::new(file.into()));
        self
    }

    /// Renders the diagnostic against the file it points into: the policy, or one of its
    /// list files.
    pub fn render_with(&self, policy_name: &str, policy_text: &str, lists: &ListFiles) -> String {
        let (name, text) = lists.source_of(self, policy_name, policy_text);
        self.render(name, text)
    }

    /// Sets the label under the underline.
    pub fn with_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.label = Some(label.into());
        self
    }

    /// Sets the help line.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Renders the diagnostic gcc-style (`file:line:col: error[code]: message`) followed by the
    /// offending source line with the span underlined, the label, and the hint.
    pub fn render(&self, file_name: &str, text: &str) -> String {
        let (severity, code, message) = (self.severity.as_str(), self.code, &self.message);
        let head = format!("{severity}[{code}]: {message}");
        let hint = |gutter: &str| (self.hint.as_ref()).map(|h| format!("{gutter} = help: {h}\n"));
        let Some(span) = &self.span else {
            return format!("{file_name}: {head}\n{}", hint(" ").unwrap_or_default());
        };
        let loc = locate(text, span.start);
        let number = loc.line.to_string();
        let gutter = " ".repeat(number.len());
        let line_text = text.get(loc.line_start..loc.line_end).unwrap_or("");
        let shown = line_text.replace('\t', " ");
        let end = span.end.clamp(span.start, loc.line_end);
        let width = (text.get(span.start.min(loc.line_end)..end)).map_or(0, |s| s.chars().count());
        let pad = " ".repeat(loc.column.saturating_sub(1));
        let carets = "^".repeat(width.max(1));
        let label = (self.label.as_ref()).map_or_else(String::new, |l| format!(" {l}"));
        let (line, column, help) = (loc.line, loc.column, hint(&gutter).unwrap_or_default());
        format!(
            "{file_name}:{line}:{column}: {head}\n{gutter} |\n{number} | {shown}\n{gutter} | {pad}{carets}{label}\n{help}"
        )
    }
}

/// A byte offset turned into 1-based line and column (columns count characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Byte offset where the line starts.
    pub line_start: usize,
    /// Byte offset where the line ends (before its newline).
    pub line_end: usize,
}

/// Finds the line and column of byte `offset` in `text` (clamped to the text).
pub fn locate(text: &str, offset: usize) -> Location {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset = offset.saturating_sub(1);
    }
    let before = text.get(..offset).unwrap_or("");
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    let line_end = text
        .get(offset..)
        .and_then(|rest| rest.find('\n'))
        .map_or(text.len(), |i| offset + i);
    let crlf = text.get(..line_end).is_some_and(|s| s.ends_with('\r'));
    let line_end = (line_end - usize::from(crlf)).max(line_start);
    let column = text
        .get(line_start..offset)
        .map_or(0, |s| s.chars().count())
        + 1;
    Location {
        line,
        column,
        line_start,
        line_end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_gcc_style_with_underline() {
        let text = "version = 1\nhosts = [\"Malicious.com\"]\n";
        let start = text.find('"').unwrap();
        let d = Diagnostic::new(
            Code::NonCanonicalHost,
            "host pattern `Malicious.com` is not canonical",
        )
        .with_span(start..start + 15)
        .with_label("not lower case")
        .with_hint("write `malicious.com`");
        assert_eq!(
            d.render("p.toml", text),
            "p.toml:2:10: error[non-canonical-host]: host pattern `Malicious.com` is not canonical\n  |\n2 | hosts = [\"Malicious.com\"]\n  |          ^^^^^^^^^^^^^^^ not lower case\n  = help: write `malicious.com`\n"
        );
    }

    #[test]
    fn locates_multibyte_columns_and_clamps() {
        let text = "a = \"ｍ\"\nb";
        assert_eq!(locate(text, text.len()).line, 2);
        let loc = locate(text, 5);
        assert_eq!((loc.line, loc.column), (1, 6));
        assert_eq!(locate(text, 999).line, 2);
        // Inside a multibyte character: clamps back to its start.
        assert_eq!(locate(text, 6).column, 6);
    }
}
