//! Reading a list file in its format (`domains` or `hosts`) into a [`DomainTable`], every
//! problem reported with its line and column in the list file (up to a cap).

use std::net::IpAddr;
use std::ops::Range;

use crate::diagnostic::{Code, Diagnostic, diag};
use crate::host_pattern::SPECIAL_USE_TLDS;
use crate::limits::{MAX_LIST_ENTRIES, MAX_LIST_FILE_ERRORS};

use super::entry::{EntryError, canonical_entry};
use super::table::DomainTable;
use super::{ListFormat, ListMatch};

/// Names that hosts files map to loopback for the machine itself: never a blocked domain.
const HOSTS_FILE_LOCAL_NAMES: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
    "0.0.0.0",
];

/// Whether a hosts-file blocklist line points its names nowhere: the unspecified address
/// (`0.0.0.0`, `::`) or loopback (`127.0.0.0/8`, `::1`), an IPv4-mapped IPv6 spelling
/// (`::ffff:0.0.0.0`) read as the IPv4 address.
fn is_blackhole_address(address: IpAddr) -> bool {
    let address = address.to_canonical();
    address.is_unspecified() || address.is_loopback()
}

/// What reading a list file gave: the table when there was no error, and every diagnostic
/// (spans into the list file's text; the caller sets the file).
pub(crate) type ReadList = (Option<DomainTable>, Vec<Diagnostic>);

/// Collects the names and the errors of one list file.
#[derive(Default)]
struct Reader {
    staging: String,
    spans: Vec<(u32, u32)>,
    errors: usize,
    diagnostics: Vec<Diagnostic>,
    /// More names than [`MAX_LIST_ENTRIES`], or more bytes than 32-bit offsets reach.
    too_large: bool,
    /// The first single-label name under `match = "subdomains"`, and how many there are.
    tld_wide: Option<(Range<usize>, String)>,
    tld_wide_count: usize,
}

impl Reader {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.errors += 1;
        if self.errors <= MAX_LIST_FILE_ERRORS {
            self.diagnostics.push(diagnostic);
        }
    }

    fn entry(&mut self, token: &str, span: Range<usize>, matching: ListMatch) {
        match canonical_entry(token) {
            Ok(name) => {
                if self.spans.len() >= MAX_LIST_ENTRIES {
                    self.too_large = true;
                    return;
                }
                let start = self.staging.len();
                self.staging.push_str(&name);
                match (u32::try_from(start), u32::try_from(self.staging.len())) {
                    (Ok(start), Ok(end)) => self.spans.push((start, end)),
                    _ => self.too_large = true,
                }
                if matching == ListMatch::Subdomains
                    && !name.contains('.')
                    && !SPECIAL_USE_TLDS.contains(&name.as_ref())
                {
                    self.tld_wide_count += 1;
                    self.tld_wide.get_or_insert((span, name.into_owned()));
                }
            }
            Err(e) => self.error(entry_diagnostic(token, &e).with_span(span)),
        }
    }
}

/// Reads `text` as a list in `format`. Comments (`#` to the end of the line) and blank lines
/// are skipped; `\r\n` line ends and a leading byte order mark are accepted.
pub(crate) fn read_list(text: &str, format: ListFormat, matching: ListMatch) -> ReadList {
    let mut reader = Reader {
        staging: String::with_capacity(text.len()),
        spans: Vec::with_capacity(text.len() / 16),
        ..Reader::default()
    };
    // Spans stay offsets into the whole text, byte order mark included.
    let (body, mut offset) = match text.strip_prefix('\u{feff}') {
        Some(rest) => (rest, text.len() - rest.len()),
        None => (text, 0),
    };
    for raw_line in body.split_inclusive('\n') {
        let line_start = offset;
        offset += raw_line.len();
        let line = raw_line.split('#').next().unwrap_or("");
        let mut tokens = tokens(line, line_start);
        let Some((first, first_span)) = tokens.next() else {
            continue;
        };
        match format {
            ListFormat::Domains => {
                if let Some((_, extra)) = tokens.next() {
                    reader.error(diag!(ListSyntax: "expected one domain on this line, found more")
                        .at(extra, "a second word")
                        .with_hint("a `domains` list holds one domain a line (comments start with `#`); for `ADDRESS NAME...` lines use `format = \"hosts\"`"));
                    continue;
                }
                reader.entry(first, first_span, matching);
            }
            ListFormat::Hosts => {
                let Some(address) = hosts_address(first) else {
                    reader.error(diag!(ListSyntax: "expected an IP address at the start of the line, found `{first}`")
                        .at(first_span, "not an address")
                        .with_hint("a `hosts` list holds lines like `0.0.0.0 evil.com`; for one domain a line use `format = \"domains\"`"));
                    continue;
                };
                let mut names = tokens.peekable();
                if names.peek().is_none() {
                    reader.error(
                        diag!(ListSyntax: "no host name after the address")
                            .at(first_span, "an address alone")
                            .with_hint("write `ADDRESS NAME...`, or remove the line"),
                    );
                    continue;
                }
                let local = |name: &str| {
                    HOSTS_FILE_LOCAL_NAMES
                        .iter()
                        .any(|local| local.eq_ignore_ascii_case(name))
                };
                if !is_blackhole_address(address) {
                    // The machine's own mappings (`255.255.255.255 broadcasthost`) are hosts-file
                    // noise; any other name pointed at a real address is neither a block nor
                    // silently dropped.
                    if let Some((_, span)) = names.find(|(name, _)| !local(name)) {
                        reader.error(diag!(ListNonBlackholeAddress: "`{first}` is not a blackhole address: the names on this line would not be blocked")
                            .at(first_span.start..span.end, "a name mapped to a real address")
                            .with_hint("point blocked names at `0.0.0.0`, `::` or a loopback address; remove lines that map names to real addresses (a hosts file's own entries, not blocks)"));
                    }
                    continue;
                }
                for (name, span) in names {
                    if !local(name) {
                        reader.entry(name, span, matching);
                    }
                }
            }
        }
    }
    finish(reader)
}

fn finish(mut reader: Reader) -> ReadList {
    let diagnostics = &mut reader.diagnostics;
    if reader.errors > MAX_LIST_FILE_ERRORS {
        let more = reader.errors - MAX_LIST_FILE_ERRORS;
        diag!(ListErrorsOmitted: "and {more} more errors in this list file").push_to(diagnostics);
    }
    if let Some((span, name)) = reader.tld_wide {
        let more = match reader.tld_wide_count - 1 {
            0 => String::new(),
            n => format!(" (and {n} more such names)"),
        };
        diag!(TldWidePattern: "list entry `{name}` with `match = \"subdomains\"` covers a whole top-level domain")
            .at(span, format!("every host under `.{name}`{more}"))
            .with_hint("name registrable domains; a single-label name blocks a whole top-level domain")
            .push_to(diagnostics);
    }
    if reader.too_large {
        diag!(TooManyListEntries: "the list has more than {MAX_LIST_ENTRIES} names")
            .with_hint("split the feed into several lists")
            .push_to(diagnostics);
    }
    let table = if reader.errors > 0 || reader.too_large {
        None
    } else {
        DomainTable::from_staging(&reader.staging, reader.spans)
            .map_err(|e| diagnostics.push(Diagnostic::new(Code::TooManyListEntries, e)))
            .ok()
    };
    (table, reader.diagnostics)
}

/// The whitespace-separated words of `line`, with their byte spans in the whole text.
fn tokens(line: &str, line_start: usize) -> impl Iterator<Item = (&str, Range<usize>)> {
    // Every separator is one ASCII byte: a piece starts one byte after the previous one ends.
    (line.split(|c: char| c.is_ascii_whitespace()))
        .scan(line_start, |at, word| {
            let start = *at;
            *at += word.len() + 1;
            Some((word, start..start + word.len()))
        })
        .filter(|(word, _)| !word.is_empty())
}

/// The address at the start of a hosts-file line; a zone (`fe80::1%lo0`) is ignored.
fn hosts_address(word: &str) -> Option<IpAddr> {
    word.split('%').next()?.parse().ok()
}

fn entry_diagnostic(token: &str, error: &EntryError) -> Diagnostic {
    let shown: String = token.chars().take(80).collect();
    match error {
        EntryError::Wildcard => diag!(ListWildcard: "list entry `{shown}` is a wildcard")
            .with_label("wildcards are not list syntax")
            .with_hint("list the domain itself; `match = \"subdomains\"` covers its subdomains"),
        EntryError::IpAddress => diag!(ListIpAddress: "list entry `{shown}` is an IP address")
            .with_label("not a domain name")
            .with_hint("lists hold domain names; block addresses with IP or CIDR patterns in a rule's `hosts`"),
        EntryError::Invalid(why) => {
            diag!(InvalidListDomain: "list entry `{shown}` is not a valid domain name").with_label(*why)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str, format: ListFormat) -> Vec<String> {
        let (table, diagnostics) = read_list(text, format, ListMatch::Exact);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        table.unwrap().iter().collect()
    }

    fn errors(text: &str, format: ListFormat) -> Vec<(&'static str, String)> {
        let (table, diagnostics) = read_list(text, format, ListMatch::Exact);
        assert!(table.is_none());
        diagnostics
            .iter()
            .map(|d| {
                let span = d.span.clone().unwrap_or(0..0);
                (d.code.as_str(), text.get(span).unwrap_or("").to_owned())
            })
            .collect()
    }

    #[test]
    fn domains_format() {
        let text =
            "# feed\n\nEvil.com\r\n  b.example.  # trailing comment\nevil.com\n\tbücher.example\n";
        assert_eq!(
            names(text, ListFormat::Domains),
            ["b.example", "evil.com", "xn--bcher-kva.example"]
        );
        assert_eq!(names("", ListFormat::Domains), Vec::<String>::new());
        assert_eq!(names("last.example", ListFormat::Domains), ["last.example"]);
    }

    #[test]
    fn hosts_format() {
        let text = "\
127.0.0.1 localhost
127.0.0.1 localhost.localdomain
255.255.255.255 broadcasthost
::1 localhost ip6-localhost ip6-loopback
fe80::1%lo0 localhost
0.0.0.0 0.0.0.0
# blocked
0.0.0.0 evil.com
127.0.0.1 a.com b.com # two names
:: six.example
::1\tseven.example
ff02::1 ip6-allnodes
";
        assert_eq!(
            names(text, ListFormat::Hosts),
            ["a.com", "b.com", "evil.com", "seven.example", "six.example"]
        );
    }

    /// Issue 14, item 6: a line pointing names at another address is never dropped in
    /// silence. Other loopback addresses and IPv4-mapped spellings of a blackhole block their
    /// names; a real address is an error at the line.
    #[test]
    fn hosts_lines_to_other_addresses_are_not_dropped() {
        let text =
            "127.0.0.2 two.example\n::ffff:0.0.0.0 mapped.example\n::ffff:127.0.0.1 m2.example\n";
        assert_eq!(
            names(text, ListFormat::Hosts),
            ["m2.example", "mapped.example", "two.example"]
        );
        let text =
            "0.0.0.0 ok.example\n10.0.0.5 intranet.example\n192.168.1.1 localhost router.lan\n";
        assert_eq!(
            errors(text, ListFormat::Hosts),
            [
                (
                    "list-non-blackhole-address",
                    "10.0.0.5 intranet.example".to_owned()
                ),
                (
                    "list-non-blackhole-address",
                    "192.168.1.1 localhost router.lan".to_owned()
                ),
            ]
        );
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_line() {
        assert_eq!(
            names("\u{feff}0.0.0.0 evil.com\n", ListFormat::Hosts),
            ["evil.com"]
        );
        let text = "\u{feff}*.evil.com\n";
        assert_eq!(
            errors(text, ListFormat::Domains),
            [("list-wildcard", "*.evil.com".to_owned())]
        );
    }

    #[test]
    fn errors_point_at_the_word() {
        let text = "ok.com\n*.wild.com\n10.0.0.1\nbad..name\ntwo words\n";
        assert_eq!(
            errors(text, ListFormat::Domains),
            [
                ("list-wildcard", "*.wild.com".to_owned()),
                ("list-ip-address", "10.0.0.1".to_owned()),
                ("invalid-list-domain", "bad..name".to_owned()),
                ("list-syntax", "words".to_owned()),
            ]
        );
        let hosts = "evil.com\n0.0.0.0\n0.0.0.0 ok.com 1.2.3.4\n";
        assert_eq!(
            errors(hosts, ListFormat::Hosts),
            [
                ("list-syntax", "evil.com".to_owned()),
                ("list-syntax", "0.0.0.0".to_owned()),
                ("list-ip-address", "1.2.3.4".to_owned()),
            ]
        );
    }

    #[test]
    fn errors_are_capped() {
        let text = "bad..name\n".repeat(MAX_LIST_FILE_ERRORS + 5);
        let (_, diagnostics) = read_list(&text, ListFormat::Domains, ListMatch::Exact);
        assert_eq!(diagnostics.len(), MAX_LIST_FILE_ERRORS + 1);
        let last = diagnostics.last().unwrap();
        assert_eq!(last.code.as_str(), "list-errors-omitted");
        assert_eq!(last.message, "and 5 more errors in this list file");
    }

    #[test]
    fn single_labels_under_subdomains_warn_once() {
        let (table, diagnostics) = read_list(
            "com\norg\nlocalhost\na.com\n",
            ListFormat::Domains,
            ListMatch::Subdomains,
        );
        assert!(table.is_some());
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].code.as_str(), "tld-wide-pattern");
        assert_eq!(diagnostics[0].span, Some(0..3));
        let (_, exact) = read_list("com\n", ListFormat::Domains, ListMatch::Exact);
        assert!(exact.is_empty());
    }
}
