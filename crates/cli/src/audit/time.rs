//! Decision-line timestamps, ordered by instant rather than by text (`12:00:00Z` and
//! `12:00:00.500Z` compare wrongly as strings).

/// An RFC 3339 UTC timestamp (`YYYY-MM-DDTHH:MM:SS[.fraction]Z`): a key that sorts by
/// instant (the seconds, then the fraction padded to nanoseconds), and the text as written.
/// Serialised as written.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Timestamp(#[serde(skip)] String, String);

impl Timestamp {
    /// Parses `text`; `None` unless it is UTC (`Z`) with the exact RFC 3339 layout.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let body = text.strip_suffix(['Z', 'z'])?;
        let (seconds, fraction) = body.split_once('.').unwrap_or((body, ""));
        let layout_ok = seconds.len() == 19
            && seconds.char_indices().all(|(i, c)| match i {
                4 | 7 => c == '-',
                10 => c == 'T' || c == 't',
                13 | 16 => c == ':',
                _ => c.is_ascii_digit(),
            });
        if !layout_ok || fraction.len() > 9 || !fraction.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let key = format!("{}.{fraction:0<9}", seconds.to_ascii_uppercase());
        Some(Timestamp(key, text.to_owned()))
    }

    /// As written in the log.
    pub fn text(&self) -> &str {
        &self.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_by_instant() {
        let a = Timestamp::parse("2026-11-28T12:00:00Z").unwrap();
        let b = Timestamp::parse("2026-11-28T12:00:00.5Z").unwrap();
        let c = Timestamp::parse("2026-11-28T12:00:00.123Z").unwrap();
        assert!(a < c && c < b);
        assert!(Timestamp::parse("2026-11-28 12:00:00Z").is_none());
        assert!(Timestamp::parse("2026-11-28T12:00:00+01:00").is_none());
        assert!(Timestamp::parse("yesterday").is_none());
    }
}
