//! Positions in a source text: the engine's [`locate`] (as `position`), and a line's text.

pub use egress_policy_engine::diagnostic::locate as position;

/// The text of 1-based line `line`, without its line ending.
pub fn line_text(text: &str, line: usize) -> Option<&str> {
    text.lines()
        .nth(line.checked_sub(1)?)
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
}
