//! The synchronous heart of snapshot reading: recognise gzip, inflate every member,
//! split lines under a length limit, and parse records line by line.
//!
//! Everything here works on `std::io` readers so that it can run on a blocking thread
//! beside the async download, read a snapshot saved to disk, or be fuzzed directly.

use std::io::{self, BufRead, BufReader, Cursor, Read};

use flate2::bufread::MultiGzDecoder;
use serde::de::DeserializeOwned;

use crate::error::{Error, SnapshotError, snippet};

/// The two bytes every gzip member starts with.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// How much of the decompressed text is read from the inflater at a time.
const INFLATE_BUFFER: usize = 256 * 1024;

/// An I/O error that carries a crate error through `std::io` plumbing unchanged, so a
/// network failure under the inflater comes out typed, not as a generic I/O error.
#[derive(Debug)]
pub(crate) struct Carried(pub(crate) Error);

impl std::fmt::Display for Carried {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Carried {}

impl Carried {
    pub(crate) fn into_io(error: Error) -> io::Error {
        io::Error::other(Carried(error))
    }
}

/// Turns an error from the inflater or from the reader under it into a crate error.
pub(crate) fn classify_io(error: io::Error) -> Error {
    if error
        .get_ref()
        .is_some_and(|inner| inner.downcast_ref::<Carried>().is_some())
    {
        let inner = error.into_inner().expect("checked above");
        return inner.downcast::<Carried>().expect("checked above").0;
    }
    match error.kind() {
        io::ErrorKind::UnexpectedEof => SnapshotError::Truncated.into(),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            SnapshotError::Corrupt(error.to_string()).into()
        }
        _ => Error::Io(error),
    }
}

/// Checks that `reader` starts a gzip stream and returns a reader of its decompressed
/// content, every member of it.
///
/// # Errors
///
/// [`SnapshotError::Empty`] for an empty body, [`SnapshotError::NotGzip`] (with the start
/// of the body) for anything that does not start with the gzip magic bytes, or the error
/// of the reader underneath.
pub(crate) fn open_gzip<R: Read>(mut reader: R) -> Result<impl BufRead, Error> {
    // Read a little more than the magic so that a refused body can be shown.
    let mut head = Vec::with_capacity(256);
    (&mut reader)
        .take(256)
        .read_to_end(&mut head)
        .map_err(classify_io)?;
    if head.is_empty() {
        return Err(SnapshotError::Empty.into());
    }
    if !head.starts_with(&GZIP_MAGIC) {
        return Err(SnapshotError::NotGzip {
            snippet: snippet(&head),
        }
        .into());
    }
    let compressed = BufReader::with_capacity(64 * 1024, Cursor::new(head).chain(reader));
    Ok(BufReader::with_capacity(
        INFLATE_BUFFER,
        MultiGzDecoder::new(compressed),
    ))
}

/// Splits a decompressed snapshot into lines, refusing lines over a length limit without
/// ever holding more than the limit in memory.
pub(crate) struct LineReader<R> {
    inner: R,
    max_line: usize,
    line: u64,
}

impl<R: BufRead> LineReader<R> {
    pub(crate) fn new(inner: R, max_line: usize) -> Self {
        LineReader {
            inner,
            max_line,
            line: 0,
        }
    }

    /// Appends the next line, without its line break, to `out` and returns its number
    /// (counted from 1), or `None` at the end of the text.
    ///
    /// A line over the limit is skipped to its end and reported as
    /// [`SnapshotError::LineTooLong`]; reading may go on after it.
    pub(crate) fn next_line(&mut self, out: &mut Vec<u8>) -> Result<Option<u64>, Error> {
        let start = out.len();
        let mut too_long = false;
        let mut read_any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(classify_io(e)),
            };
            if available.is_empty() {
                break;
            }
            read_any = true;
            let (chunk, found_end) = match memchr_newline(available) {
                Some(i) => (&available[..i], true),
                None => (available, false),
            };
            if !too_long {
                if out.len() - start + chunk.len() > self.max_line {
                    too_long = true;
                    out.truncate(start);
                } else {
                    out.extend_from_slice(chunk);
                }
            }
            let used = chunk.len() + usize::from(found_end);
            self.inner.consume(used);
            if found_end {
                break;
            }
        }
        if !read_any {
            return Ok(None);
        }
        self.line += 1;
        if too_long {
            return Err(SnapshotError::LineTooLong {
                line: self.line,
                limit: self.max_line,
            }
            .into());
        }
        if out[start..].last() == Some(&b'\r') {
            out.pop();
        }
        Ok(Some(self.line))
    }
}

fn memchr_newline(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', bytes)
}

/// Parses every JSON object on one line of a snapshot.
///
/// A line normally holds one object, but published files have held several objects
/// separated by spaces or by nothing at all (`}{`), and blank lines occur: all of these
/// are read. A value that fails to parse ends the line with one error that names the
/// line and the failing field; the objects before it on the line are kept.
pub(crate) fn parse_line<T: DeserializeOwned>(
    line: &[u8],
    line_no: u64,
    what: &str,
    out: &mut Vec<Result<T, Error>>,
) {
    // One check of the whole line is much cheaper than serde_json checking every string
    // in it, which it does when reading bytes; invalid text still gets its error there.
    match std::str::from_utf8(line) {
        Ok(text) => parse_values(
            serde_json::Deserializer::from_str(text),
            line,
            line_no,
            what,
            out,
        ),
        Err(_) => parse_values(
            serde_json::Deserializer::from_slice(line),
            line,
            line_no,
            what,
            out,
        ),
    }
}

fn parse_values<'a, R, T>(
    de: serde_json::Deserializer<R>,
    line: &[u8],
    line_no: u64,
    what: &str,
    out: &mut Vec<Result<T, Error>>,
) where
    R: serde_json::de::Read<'a>,
    T: DeserializeOwned,
{
    let mut values = de.into_iter::<T>();
    loop {
        let offset = values.byte_offset();
        match values.next() {
            None => return,
            Some(Ok(value)) => out.push(Ok(value)),
            Some(Err(_)) => {
                out.push(Err(describe_failure::<T>(&line[offset..], line_no, what)));
                return;
            }
        }
    }
}

/// Parses the failing value again, this time tracking the path, so the error can name
/// the field. Done only on failure, to keep the common path fast.
fn describe_failure<T: DeserializeOwned>(value: &[u8], line_no: u64, what: &str) -> Error {
    let mut de = serde_json::Deserializer::from_slice(value);
    let (path, message) = match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Ok(_) => (None, "trailing characters after the record".to_owned()),
        Err(err) => {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            ((path != "." && !path.is_empty()).then_some(path), message)
        }
    };
    Error::Decode {
        what: format!("{what} at line {line_no}"),
        path,
        message,
        line: Some(line_no),
    }
}

/// Reads every record of a gzip'd NDJSON snapshot from a reader, such as a file saved by
/// [`Client::download_to_file`](crate::Client::download_to_file).
///
/// Records that fail to parse are yielded as errors and reading goes on; a damaged or
/// truncated gzip stream is yielded as a last error.
pub struct RecordReader<T, R: Read> {
    lines: Option<LineReader<Box<dyn BufRead + Send>>>,
    opening: Option<R>,
    max_line: usize,
    what: &'static str,
    line: Vec<u8>,
    pending: std::collections::VecDeque<Result<T, Error>>,
    parsed: Vec<Result<T, Error>>,
    done: bool,
}

impl<T: DeserializeOwned, R: Read + Send + 'static> RecordReader<T, R> {
    /// Reads records from `reader`, a gzip'd NDJSON snapshot, with lines limited to
    /// `max_line` bytes.
    pub fn new(reader: R, max_line: usize) -> Self {
        RecordReader {
            lines: None,
            opening: Some(reader),
            max_line,
            what: "record",
            line: Vec::new(),
            pending: Default::default(),
            parsed: Vec::new(),
            done: false,
        }
    }
}

impl<T: DeserializeOwned, R: Read + Send + 'static> Iterator for RecordReader<T, R> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            if let Some(reader) = self.opening.take() {
                match open_gzip(reader) {
                    Ok(text) => {
                        let text: Box<dyn BufRead + Send> = Box::new(text);
                        self.lines = Some(LineReader::new(text, self.max_line));
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            }
            let lines = self.lines.as_mut().expect("opened above");
            self.line.clear();
            match lines.next_line(&mut self.line) {
                Ok(Some(line_no)) => {
                    parse_line(&self.line, line_no, self.what, &mut self.parsed);
                    self.pending.extend(self.parsed.drain(..));
                }
                Ok(None) => self.done = true,
                Err(e @ Error::Snapshot(SnapshotError::LineTooLong { .. })) => return Some(Err(e)),
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(text).unwrap();
        encoder.finish().unwrap()
    }

    fn values(body: Vec<u8>) -> Vec<Result<serde_json::Value, Error>> {
        RecordReader::new(Cursor::new(body), 1024).collect()
    }

    #[test]
    fn every_gzip_member_is_read() {
        let mut body = gzip(b"{\"n\":1}\n");
        body.extend(gzip(b"{\"n\":2}\n"));
        let got: Vec<_> = values(body).into_iter().map(Result::unwrap).collect();
        assert_eq!(
            got,
            vec![serde_json::json!({"n":1}), serde_json::json!({"n":2})]
        );
    }

    #[test]
    fn a_cut_body_ends_with_a_truncation_error_after_the_whole_records() {
        let body = gzip(b"{\"n\":1}\n{\"n\":2}\n");
        let cut = body[..body.len() - 10].to_vec();
        let got = values(cut);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].as_ref().unwrap(), &serde_json::json!({"n":1}));
        assert!(
            matches!(got[1], Err(Error::Snapshot(SnapshotError::Truncated))),
            "{got:?}"
        );
    }

    #[test]
    fn bytes_after_the_last_member_are_corruption() {
        let mut body = gzip(b"{\"n\":1}\n");
        body.extend_from_slice(b"<html>oops</html>");
        let got = values(body);
        assert!(got[0].is_ok());
        assert!(matches!(
            got.last(),
            Some(Err(Error::Snapshot(SnapshotError::Corrupt(_))))
        ));
    }

    #[test]
    fn a_body_that_is_not_gzip_is_refused_with_its_start() {
        let got = values(b"<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code></Error>".to_vec());
        match &got[..] {
            [Err(Error::Snapshot(SnapshotError::NotGzip { snippet }))] => {
                assert!(snippet.contains("NoSuchKey"))
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            &values(Vec::new())[..],
            [Err(Error::Snapshot(SnapshotError::Empty))]
        ));
    }

    #[test]
    fn a_line_over_the_limit_is_reported_and_reading_goes_on() {
        let mut text = vec![b'x'; 5000];
        text.extend_from_slice(b"\n{\"n\":2}\n");
        let got = values(gzip(&text));
        assert!(matches!(
            got[0],
            Err(Error::Snapshot(SnapshotError::LineTooLong {
                line: 1,
                limit: 1024
            }))
        ));
        assert_eq!(got[1].as_ref().unwrap(), &serde_json::json!({"n":2}));
    }

    #[test]
    fn concatenated_and_blank_lines_are_all_read() {
        let got = values(gzip(b"{\"n\":1}{\"n\":2} {\"n\":3}\n\n{\"n\":4}\r\n\n"));
        let n: Vec<_> = got
            .into_iter()
            .map(|v| v.unwrap()["n"].as_i64().unwrap())
            .collect();
        assert_eq!(n, vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_bad_record_names_its_line_and_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Rec {
            score: Score,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Score {
            total: u32,
        }
        let body = gzip(b"{\"score\":{\"total\":1}}\n{\"score\":{\"total\":\"x\"}}\n{\"score\":{\"total\":3}}\n");
        let got: Vec<Result<Rec, Error>> = RecordReader::new(Cursor::new(body), 1024).collect();
        assert_eq!(got.len(), 3);
        match &got[1] {
            Err(Error::Decode {
                line, path, what, ..
            }) => {
                assert_eq!(*line, Some(2));
                assert_eq!(path.as_deref(), Some("score.total"));
                assert_eq!(what, "record at line 2");
            }
            other => panic!("{other:?}"),
        }
        assert!(got[2].is_ok());
    }
}
