//! Opening log inputs (files or `-`, gzip detected by its magic bytes) and reading them line
//! by line with a bounded line buffer, so one enormous or endless line cannot exhaust memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};

use flate2::bufread::MultiGzDecoder;

/// The longest line kept; longer lines are skipped (and counted) rather than buffered.
/// Logpush caps `Logs` at 16,384 characters per event, so real lines stay far below this.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// The two magic bytes that start every gzip member (RFC 1952).
/// Read buffer size, before and after decompression.
const BUFFER_BYTES: usize = 64 * 1024;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Opens `name` (`-` is standard input) and transparently decompresses gzip, detected by
/// content rather than by file name because exports are often renamed.
pub fn open(name: &str) -> io::Result<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if name == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(File::open(name)?)
    };
    decompressing(raw)
}

/// `raw`, decompressed when it is gzip.
pub fn decompressing<'a>(raw: Box<dyn Read + 'a>) -> io::Result<Box<dyn BufRead + 'a>> {
    let mut reader = BufReader::with_capacity(BUFFER_BYTES, raw);
    if !reader.fill_buf()?.starts_with(&GZIP_MAGIC) {
        return Ok(Box::new(reader));
    }
    let unzipped = MultiGzDecoder::new(reader);
    Ok(Box::new(BufReader::with_capacity(BUFFER_BYTES, unzipped)))
}

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum LineRead {
    /// End of input; nothing was read.
    Eof,
    /// A line (without its `\n`) is in the buffer.
    Line,
    /// The line was longer than the limit; it was consumed and discarded.
    TooLong,
}

/// Reads one line into `buf` (cleared first), keeping at most `limit` bytes of it.
///
/// A final line without `\n` counts as a line. A trailing `\r` is removed (CRLF exports).
pub fn read_line(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    limit: usize,
) -> io::Result<LineRead> {
    buf.clear();
    let most = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    if reader.take(most).read_until(b'\n', buf)? == 0 {
        return Ok(LineRead::Eof);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if buf.len() > limit {
        // The rest of the line is consumed without being kept.
        reader.skip_until(b'\n')?;
        buf.clear();
        return Ok(LineRead::TooLong);
    }
    if buf.last() == Some(&b'\r') {
        buf.pop();
    }
    Ok(LineRead::Line)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], limit: usize) -> Vec<(LineRead, Vec<u8>)> {
        let mut reader: &[u8] = input;
        let mut out = Vec::new();
        let mut buf = Vec::new();
        loop {
            let r = read_line(&mut reader, &mut buf, limit).unwrap();
            if r == LineRead::Eof {
                return out;
            }
            out.push((r, buf.clone()));
        }
    }

    #[test]
    fn splits_lines_and_strips_crlf() {
        let got = lines(b"a\r\nbb\n\nlast", 10);
        let texts: Vec<&[u8]> = got.iter().map(|(_, b)| b.as_slice()).collect();
        assert_eq!(texts, vec![&b"a"[..], b"bb", b"", b"last"]);
    }

    #[test]
    fn skips_overlong_lines_and_resumes() {
        let got = lines(b"0123456789abc\nok\n", 5);
        assert_eq!(got[0].0, LineRead::TooLong);
        assert_eq!(got[1], (LineRead::Line, b"ok".to_vec()));
    }
}
