//! Framing of an OVSDB byte stream: a sequence of JSON values written one
//! after the other with no delimiter (RFC 7047 section 4), cut into one
//! buffer per top-level value.
//!
//! `FrameDecoder` only finds where each value ends; it never validates JSON
//! (serde does that when a frame is decoded as a message). Its scanner keeps
//! its state between `feed` calls, so a message arriving in many small reads
//! costs time proportional to its size, and it bounds memory: a frame longer
//! than `max_frame`, or nested deeper than `MAX_DEPTH`, is an error, after
//! which the decoder drops its buffer and every further input.
//!
//! This module must never do I/O, and never panic on anything a peer sent.

use bytes::Bytes;
use serde::Serialize;
use thiserror::Error;

/// Nesting deeper than this is refused while framing. OVSDB messages nest a
/// dozen levels at most; the JSON parser refuses far less deep nesting anyway.
pub const MAX_DEPTH: u32 = 1000;

/// Why a stream cannot be cut into frames. After any of these the stream is
/// unusable: the peer must be disconnected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// A top-level value that is neither an object nor an array (OVSDB peers
    /// send objects; anything else is not this protocol).
    #[error("stream byte {offset} is {byte:#04x}, but a message starts with '{{' or '['")]
    NotJson {
        /// The offending byte.
        byte: u8,
        /// Its position in the whole stream.
        offset: u64,
    },
    /// A frame longer than the decoder's limit.
    #[error("message starting at stream byte {offset} exceeds the {limit}-byte limit")]
    TooLarge {
        /// The limit given to `FrameDecoder::new`.
        limit: usize,
        /// Where the frame starts in the whole stream.
        offset: u64,
    },
    /// Brackets nested deeper than `MAX_DEPTH`.
    #[error("message starting at stream byte {offset} nests deeper than {limit} levels")]
    TooDeep {
        /// `MAX_DEPTH`.
        limit: u32,
        /// Where the frame starts in the whole stream.
        offset: u64,
    },
    /// The stream ended in the middle of a message.
    #[error("stream ended inside a message ({buffered} bytes buffered)")]
    TruncatedAtEof {
        /// Bytes of the incomplete message.
        buffered: usize,
    },
    /// A value whose `Serialize` implementation failed (for example a map
    /// with keys that are not strings); nothing was written.
    #[error("cannot encode message: {0}")]
    Encode(String),
}

/// Cuts a byte stream into top-level JSON values. Feed it what the transport
/// reads, then take frames until it answers `Ok(None)`.
///
/// Memory: the buffer grows by doubling while small and by a quarter once
/// large, so a message of hundreds of MB is held with at most a quarter
/// more; a frame that fills the whole buffer is handed over without a copy.
#[derive(Debug)]
pub struct FrameDecoder {
    /// Received bytes; those before `head` are consumed.
    buf: Vec<u8>,
    head: usize,
    max_frame: usize,
    /// Bytes of the current frame already scanned, from `head` (a frame
    /// always starts at `head`: whitespace before it is dropped).
    scanned: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// Stream offset of `buf[head]`, for error messages.
    offset: u64,
    /// Set on the first error; from then on input is dropped.
    failed: Option<FrameError>,
}

/// Above this size the buffer grows by a quarter instead of doubling.
const GENTLE_GROWTH: usize = 1 << 20;

impl FrameDecoder {
    /// The default frame limit, as large as any real OVSDB message.
    pub const DEFAULT_MAX_FRAME: usize = 1 << 30;

    /// A decoder refusing frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> FrameDecoder {
        FrameDecoder {
            buf: Vec::new(),
            head: 0,
            max_frame,
            scanned: 0,
            depth: 0,
            in_string: false,
            escaped: false,
            offset: 0,
            failed: None,
        }
    }

    /// Appends bytes read from the transport. After an error they are
    /// dropped, so a peer sending garbage cannot make the buffer grow.
    pub fn feed(&mut self, data: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.head > 0 && self.head >= self.buf.len() / 2 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        let free = self.buf.capacity() - self.buf.len();
        if free < data.len() {
            let len = self.buf.len();
            let step = if len < GENTLE_GROWTH { len } else { len / 4 };
            self.buf.reserve_exact(step.max(data.len()));
        }
        self.buf.extend_from_slice(data);
    }

    /// The next complete top-level JSON value, or `Ok(None)` if more input is
    /// needed. Once an error is returned, every later call returns it again.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        match self.scan() {
            Ok(Some(len)) => {
                self.offset += len as u64;
                self.scanned = 0;
                if self.head == 0 && len == self.buf.len() {
                    // The frame is the whole buffer: hand it over as it is.
                    return Ok(Some(Bytes::from(std::mem::take(&mut self.buf))));
                }
                let frame = Bytes::copy_from_slice(&self.buf[self.head..self.head + len]);
                self.head += len;
                if self.head == self.buf.len() {
                    self.buf.clear();
                    self.head = 0;
                }
                Ok(Some(frame))
            }
            Ok(None) => Ok(None),
            Err(e) => {
                self.failed = Some(e.clone());
                self.buf = Vec::new();
                self.head = 0;
                Err(e)
            }
        }
    }

    /// Call at end of stream, after `next_frame` answered `Ok(None)`: `Ok` if
    /// nothing but whitespace is left, otherwise the message was cut short.
    pub fn finish(&self) -> Result<(), FrameError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.pending().iter().all(|b| is_whitespace(*b)) {
            Ok(())
        } else {
            Err(FrameError::TruncatedAtEof { buffered: self.buffered() })
        }
    }

    /// Bytes held: an incomplete frame, or frames not yet taken.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.head
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    /// Scans new bytes of the current frame; the frame's length once its
    /// closing bracket is found.
    fn scan(&mut self) -> Result<Option<usize>, FrameError> {
        if self.scanned == 0 {
            let blanks = self.pending().iter().take_while(|b| is_whitespace(**b)).count();
            self.head += blanks;
            self.offset += blanks as u64;
            let Some(&first) = self.pending().first() else {
                return Ok(None);
            };
            if first != b'{' && first != b'[' {
                return Err(FrameError::NotJson { byte: first, offset: self.offset });
            }
        }
        // Never look past `max_frame` bytes: a frame reaching beyond is refused
        // as soon as one more byte than the limit is buffered.
        let pending = &self.buf[self.head..];
        let bytes = &pending[..pending.len().min(self.max_frame)];
        let (mut depth, mut in_string, mut escaped) = (self.depth, self.in_string, self.escaped);
        let mut i = self.scanned;
        while i < bytes.len() {
            if in_string {
                if escaped {
                    escaped = false;
                    i += 1;
                    continue;
                }
                // Strings are most of a big message: skip to what ends them.
                match bytes[i..].iter().position(|&b| b == b'"' || b == b'\\') {
                    Some(n) => {
                        // A backslash escapes the next byte; a quote ends the string.
                        if bytes[i + n] == b'\\' {
                            escaped = true;
                        } else {
                            in_string = false;
                        }
                        i += n + 1;
                    }
                    None => i = bytes.len(),
                }
                continue;
            }
            let b = bytes[i];
            i += 1;
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(FrameError::TooDeep { limit: MAX_DEPTH, offset: self.offset });
                    }
                }
                b'}' | b']' => {
                    depth -= 1;
                    if depth == 0 {
                        (self.depth, self.in_string, self.escaped) = (0, false, false);
                        return Ok(Some(i));
                    }
                }
                _ => {}
            }
        }
        (self.depth, self.in_string, self.escaped) = (depth, in_string, escaped);
        self.scanned = i;
        if self.buffered() > self.max_frame {
            return Err(FrameError::TooLarge { limit: self.max_frame, offset: self.offset });
        }
        Ok(None)
    }
}

impl Default for FrameDecoder {
    fn default() -> FrameDecoder {
        FrameDecoder::new(FrameDecoder::DEFAULT_MAX_FRAME)
    }
}

/// JSON's four whitespace bytes (RFC 8259 section 2).
pub(crate) fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Appends `value` as one compact JSON frame to `out`. On error `out` is left
/// as it was.
pub fn encode_frame(value: &impl Serialize, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = out.len();
    serde_json::to_writer(&mut *out, value).map_err(|e| {
        out.truncate(start);
        FrameError::Encode(e.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(d: &mut FrameDecoder) -> Result<Vec<String>, FrameError> {
        let mut out = Vec::new();
        while let Some(f) = d.next_frame()? {
            out.push(String::from_utf8(f.to_vec()).unwrap());
        }
        Ok(out)
    }

    fn decode_all(input: &[u8]) -> Result<Vec<String>, FrameError> {
        let mut d = FrameDecoder::default();
        d.feed(input);
        let out = frames(&mut d)?;
        d.finish()?;
        Ok(out)
    }

    const STREAM: &str = concat!(
        r#"{"id":1,"method":"echo","params":["a}]\"[{\\",{}]}"#,
        " \n\t\r ",
        r#"[1,[2,{"x":"é€𝄞"}]]"#,
        r#"{"id":null,"method":"update3","params":[null,"\"}",{"T":{}}]}"#,
        "\n",
    );

    fn expected() -> Vec<String> {
        vec![
            r#"{"id":1,"method":"echo","params":["a}]\"[{\\",{}]}"#.to_string(),
            r#"[1,[2,{"x":"é€𝄞"}]]"#.to_string(),
            r#"{"id":null,"method":"update3","params":[null,"\"}",{"T":{}}]}"#.to_string(),
        ]
    }

    #[test]
    fn many_messages_in_one_read() {
        assert_eq!(decode_all(STREAM.as_bytes()).unwrap(), expected());
    }

    #[test]
    fn split_at_every_byte_boundary() {
        let bytes = STREAM.as_bytes();
        for cut in 0..=bytes.len() {
            let mut d = FrameDecoder::default();
            d.feed(&bytes[..cut]);
            let mut got = frames(&mut d).unwrap();
            d.feed(&bytes[cut..]);
            got.extend(frames(&mut d).unwrap());
            d.finish().unwrap();
            assert_eq!(got, expected(), "cut at {cut}");
        }
    }

    #[test]
    fn one_byte_at_a_time() {
        let mut d = FrameDecoder::default();
        let mut got = Vec::new();
        for b in STREAM.as_bytes() {
            d.feed(std::slice::from_ref(b));
            got.extend(frames(&mut d).unwrap());
        }
        d.finish().unwrap();
        assert_eq!(got, expected());
    }

    #[test]
    fn frames_are_cut_without_the_whitespace_around_them() {
        assert_eq!(decode_all(b"  {}\n\n[]  ").unwrap(), vec!["{}", "[]"]);
        assert_eq!(decode_all(b"").unwrap(), Vec::<String>::new());
        assert_eq!(decode_all(b" \r\n\t").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn rejects_what_is_not_an_object_or_array() {
        for (input, byte, offset) in
            [(&b"xyz"[..], b'x', 0), (b"]", b']', 0), (b" 1", b'1', 1), (b"{}\"s\"", b'"', 2), (b"{} \x0c", 0x0c, 3)]
        {
            assert_eq!(decode_all(input), Err(FrameError::NotJson { byte, offset }), "{input:?}");
        }
    }

    #[test]
    fn errors_are_sticky_and_input_after_them_is_dropped() {
        let mut d = FrameDecoder::default();
        d.feed(b"{}xyz");
        assert_eq!(d.next_frame().unwrap().as_deref(), Some(&b"{}"[..]));
        let err = FrameError::NotJson { byte: b'x', offset: 2 };
        assert_eq!(d.next_frame(), Err(err.clone()));
        d.feed(&[b'{'; 4096]);
        assert_eq!(d.buffered(), 0);
        assert_eq!(d.next_frame(), Err(err.clone()));
        assert_eq!(d.finish(), Err(err));
    }

    #[test]
    fn unterminated_string_is_cut_off_at_the_limit() {
        const LIMIT: usize = 1 << 20;
        let mut d = FrameDecoder::new(LIMIT);
        d.feed(b"{\"");
        let chunk = vec![b'a'; 64 * 1024];
        let mut fed = 2;
        let mut failed = None;
        while fed < 2 * LIMIT {
            d.feed(&chunk);
            fed += chunk.len();
            assert!(d.buffered() <= LIMIT + chunk.len());
            if let Err(e) = d.next_frame() {
                failed = Some((e, fed));
                break;
            }
        }
        let (e, at) = failed.expect("a 2 MB unterminated string was accepted");
        assert_eq!(e, FrameError::TooLarge { limit: LIMIT, offset: 0 });
        assert!(at <= LIMIT + chunk.len(), "error only after {at} bytes");
        assert_eq!(d.buffered(), 0);
    }

    #[test]
    fn a_frame_of_exactly_the_limit_passes() {
        let mut d = FrameDecoder::new(4);
        d.feed(b"[11]  [111]");
        assert_eq!(d.next_frame().unwrap().as_deref(), Some(&b"[11]"[..]));
        assert_eq!(d.next_frame(), Err(FrameError::TooLarge { limit: 4, offset: 6 }));
    }

    #[test]
    fn endless_nesting_is_refused() {
        let mut d = FrameDecoder::default();
        d.feed(&vec![b'['; 100_000]);
        assert_eq!(d.next_frame(), Err(FrameError::TooDeep { limit: MAX_DEPTH, offset: 0 }));
        assert_eq!(d.buffered(), 0);
        let mut ok = vec![b'['; MAX_DEPTH as usize];
        ok.extend(vec![b']'; MAX_DEPTH as usize]);
        assert_eq!(decode_all(&ok).unwrap().len(), 1);
    }

    #[test]
    fn eof_inside_a_message() {
        let mut d = FrameDecoder::default();
        d.feed(br#"{"id":1}  {"id":"#);
        assert_eq!(frames(&mut d).unwrap(), vec![r#"{"id":1}"#]);
        assert_eq!(d.finish(), Err(FrameError::TruncatedAtEof { buffered: 6 }));
        let mut d = FrameDecoder::default();
        d.feed(b"[\"]\"");
        assert_eq!(d.next_frame(), Ok(None));
        assert_eq!(d.finish(), Err(FrameError::TruncatedAtEof { buffered: 4 }));
    }

    #[test]
    fn big_message_in_small_reads_scans_each_byte_once() {
        let mut big = br#"{"params":[""#.to_vec();
        big.extend(vec![b'x'; 4 << 20]);
        big.extend(br#""]}"#);
        let mut d = FrameDecoder::default();
        let mut got = None;
        for chunk in big.chunks(4096) {
            d.feed(chunk);
            match d.next_frame().unwrap() {
                Some(f) => got = Some(f),
                // The next call resumes where this one stopped.
                None => assert_eq!(d.scanned, d.buffered()),
            }
        }
        assert_eq!(got.unwrap().len(), big.len());
    }

    #[test]
    fn encode_frame_appends_compact_json() {
        let mut out = b"{}".to_vec();
        encode_frame(&serde_json::json!({"id": 1, "params": ["a b"]}), &mut out).unwrap();
        assert_eq!(out, br#"{}{"id":1,"params":["a b"]}"#);
        let bad: std::collections::HashMap<Vec<u8>, u8> = [(vec![1], 1)].into();
        assert!(matches!(encode_frame(&bad, &mut out), Err(FrameError::Encode(_))));
        assert_eq!(out, br#"{}{"id":1,"params":["a b"]}"#);
    }
}
