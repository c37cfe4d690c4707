//! §4.1, §4.2, §5.1, §5.2, §5.2.1, §13.2: parsing and validation of
//! request headers, query and path (a bad value is an `ApiError` 400).

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Uri};
use percent_encoding::percent_decode_str;

use super::error::ApiError;
use super::names::*;
use crate::store::content_type;
use crate::store::offsets::{Offset, ReadFrom};
use crate::store::producer::{self, ProducerRef};
use crate::store::ttl::{self, Expiry};
use crate::store::ForkRequest;

/// A header's value as UTF-8 text; non-UTF-8 values are a 400, and so is
/// a header sent twice (each protocol header is a single value, and taking
/// either copy would be a guess).
pub fn text<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Result<Option<&'a str>, ApiError> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    single_text(name, first, first.is_some() && values.next().is_some())
}

/// [`text`]'s rule on a header's first value and whether it came again.
fn single_text<'a>(
    name: &HeaderName,
    first: Option<&'a HeaderValue>,
    repeated: bool,
) -> Result<Option<&'a str>, ApiError> {
    let Some(v) = first else {
        return Ok(None);
    };
    if repeated {
        return Err(ApiError::bad(format!("{name} given more than once")));
    }
    std::str::from_utf8(v.as_bytes())
        .map(|s| Some(s.trim()))
        .map_err(|_| ApiError::bad(format!("{name} is not valid UTF-8")))
}

const APPEND_HEADER_COUNT: usize = 5;

/// The headers an append reads besides `Content-Type` and `Content-Length`:
/// the one list of them. [`AppendHeaders::gather`] takes each one's values
/// from one pass over the request's headers, a plain append is one where
/// it found none of them, and the append's extractors read what it found
/// (never the map), so a header is seen by both or by neither.
static APPEND_HEADERS: [HeaderName; APPEND_HEADER_COUNT] = [
    STREAM_CLOSED,
    STREAM_SEQ,
    PRODUCER_ID,
    PRODUCER_EPOCH,
    PRODUCER_SEQ,
];

/// One append header's values in a request.
#[derive(Clone, Copy, Debug, Default)]
struct Found<'a> {
    first: Option<&'a HeaderValue>,
    repeated: bool,
}

/// The [`APPEND_HEADERS`] of one request.
#[derive(Debug)]
pub struct AppendHeaders<'a> {
    found: [Found<'a>; APPEND_HEADER_COUNT],
    any: bool,
}

impl<'a> AppendHeaders<'a> {
    /// One pass over the request's header names.
    pub fn gather(headers: &'a HeaderMap) -> AppendHeaders<'a> {
        let mut found = [Found::default(); APPEND_HEADER_COUNT];
        let mut any = false;
        for (name, value) in headers {
            if let Some(i) = APPEND_HEADERS.iter().position(|n| n == name) {
                let f = &mut found[i];
                match f.first {
                    None => f.first = Some(value),
                    Some(_) => f.repeated = true,
                }
                any = true;
            }
        }
        AppendHeaders { found, any }
    }

    /// Whether none of [`APPEND_HEADERS`] was sent (a plain append).
    pub fn is_plain(&self) -> bool {
        !self.any
    }

    /// What was found for `name`, which must be one of [`APPEND_HEADERS`]
    /// (tests fail here otherwise).
    fn get(&self, name: &HeaderName) -> Found<'a> {
        match APPEND_HEADERS.iter().position(|n| n == name) {
            Some(i) => self.found[i],
            None => {
                debug_assert!(false, "{name} is read but not in APPEND_HEADERS");
                Found::default()
            }
        }
    }

    fn text(&self, name: &HeaderName) -> Result<Option<&'a str>, ApiError> {
        let f = self.get(name);
        single_text(name, f.first, f.repeated)
    }

    /// [`closed_flag`]'s rule.
    pub fn closed(&self) -> bool {
        self.get(&STREAM_CLOSED).first.is_some_and(is_true)
    }

    /// §5.2.1: all three producer headers or none.
    pub fn producer(&self) -> Result<Option<ProducerRef>, ApiError> {
        let id = self.text(&PRODUCER_ID)?;
        let epoch = self.text(&PRODUCER_EPOCH)?;
        let seq = self.text(&PRODUCER_SEQ)?;
        match (id, epoch, seq) {
            (None, None, None) => Ok(None),
            (Some(id), Some(epoch), Some(seq)) => {
                if id.is_empty() {
                    return Err(ApiError::bad("Producer-Id must not be empty"));
                }
                let int = |v: &str, name: &str| {
                    safe_integer(v).ok_or_else(|| {
                        ApiError::bad(format!("{name} must be an integer in 0..=2^53-1"))
                    })
                };
                Ok(Some(ProducerRef {
                    id: id.to_string(),
                    epoch: int(epoch, "Producer-Epoch")?,
                    seq: int(seq, "Producer-Seq")?,
                }))
            }
            _ => Err(ApiError::bad(
                "Producer-Id, Producer-Epoch and Producer-Seq must be sent together",
            )),
        }
    }

    /// §5.2 `Stream-Seq`: an opaque non-empty string.
    pub fn stream_seq(&self) -> Result<Option<String>, ApiError> {
        match self.text(&STREAM_SEQ)? {
            Some("") => Err(ApiError::bad("Stream-Seq must not be empty")),
            other => Ok(other.map(str::to_string)),
        }
    }
}

/// §4.1: `Stream-Closed` counts only when it is `true` (any case); any other
/// value, even a malformed one, is as if absent.
pub fn closed_flag(headers: &HeaderMap) -> bool {
    headers.get(&STREAM_CLOSED).is_some_and(is_true)
}

fn is_true(v: &HeaderValue) -> bool {
    v.as_bytes().trim_ascii().eq_ignore_ascii_case(b"true")
}

/// `Content-Type` as `(value, essence)`; malformed → 400.
pub fn content_type(headers: &HeaderMap) -> Result<Option<(&str, String)>, ApiError> {
    match text(headers, &CONTENT_TYPE)? {
        None => Ok(None),
        Some(v) => match content_type::essence(v) {
            Some(e) => Ok(Some((v, e))),
            None => Err(ApiError::bad("malformed Content-Type")),
        },
    }
}

/// §5.1 `Stream-TTL` / `Stream-Expires-At`; both at once is a 400.
pub fn expiry(headers: &HeaderMap) -> Result<Expiry, ApiError> {
    let ttl = text(headers, &STREAM_TTL)?;
    let at = text(headers, &STREAM_EXPIRES_AT)?;
    match (ttl, at) {
        (Some(_), Some(_)) => Err(ApiError::bad(
            "Stream-TTL and Stream-Expires-At are mutually exclusive",
        )),
        (Some(t), None) => decimal(t).map(Expiry::Ttl).ok_or_else(|| {
            ApiError::bad("Stream-TTL must be a non-negative integer without leading zeros")
        }),
        (None, Some(a)) => ttl::parse_expires_at(a)
            .map(Expiry::At)
            .ok_or_else(|| ApiError::bad("Stream-Expires-At must be an RFC 3339 timestamp")),
        (None, None) => Ok(Expiry::Never),
    }
}

/// The protocol's integers (`Stream-TTL`, producer epoch and seq, fork
/// sub-offset): digits, no sign, no leading zero except `0` itself (§5.1).
fn decimal(value: &str) -> Option<u64> {
    let canonical = match value.as_bytes() {
        [] => false,
        [b'0'] => true,
        [first, rest @ ..] => (b'1'..=b'9').contains(first) && rest.iter().all(u8::is_ascii_digit),
    };
    if canonical {
        value.parse().ok()
    } else {
        None
    }
}

/// §5.2.1: a decimal of at most 2^53 - 1 (JavaScript-safe).
fn safe_integer(value: &str) -> Option<u64> {
    decimal(value).filter(|v| *v <= producer::MAX_VALUE)
}

/// §4.2 fork headers. Offset or sub-offset without `Stream-Forked-From` is
/// a 400, as is a non-zero sub-offset without an explicit offset.
pub fn fork(headers: &HeaderMap) -> Result<Option<ForkRequest>, ApiError> {
    let from = text(headers, &STREAM_FORKED_FROM)?;
    let offset = text(headers, &STREAM_FORK_OFFSET)?;
    let sub = text(headers, &STREAM_FORK_SUB_OFFSET)?;
    let Some(from) = from else {
        if offset.is_some() || sub.is_some() {
            return Err(ApiError::bad(
                "Stream-Fork-Offset and Stream-Fork-Sub-Offset require Stream-Forked-From",
            ));
        }
        return Ok(None);
    };
    let source_path = source_path(from)?;
    let offset = match offset {
        None => None,
        Some(o) => Some(
            Offset::parse(o)
                .map_err(|_| ApiError::bad("malformed Stream-Fork-Offset"))?
                .0,
        ),
    };
    let sub_offset = match sub {
        None => 0,
        Some(s) => safe_integer(s).ok_or_else(|| {
            ApiError::bad("Stream-Fork-Sub-Offset must be a non-negative integer")
        })?,
    };
    if sub_offset > 0 && offset.is_none() {
        return Err(ApiError::bad(
            "Stream-Fork-Sub-Offset requires Stream-Fork-Offset",
        ));
    }
    Ok(Some(ForkRequest {
        source_path,
        offset,
        sub_offset,
    }))
}

/// The stream key for a request path: percent-decoded when that yields
/// UTF-8, else the raw path.
pub fn stream_path(uri: &Uri) -> String {
    decode_path(uri.path())
}

fn decode_path(raw: &str) -> String {
    // Nothing escaped (the usual case): the path is its own key, without
    // a decoding pass and a UTF-8 check over it.
    if !raw.contains('%') {
        return raw.to_string();
    }
    match percent_decode_str(raw).decode_utf8() {
        Ok(p) => p.into_owned(),
        Err(_) => raw.to_string(),
    }
}

/// `Stream-Forked-From`: a path on this server (an absolute URL's path is
/// accepted too).
fn source_path(value: &str) -> Result<String, ApiError> {
    let mut v = value;
    if let Some(rest) = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"))
    {
        v = rest.find('/').map_or("/", |i| &rest[i..]);
    }
    let v = v.split(['?', '#']).next().unwrap_or("");
    if !v.starts_with('/') {
        return Err(ApiError::bad(
            "Stream-Forked-From must be a path starting with /",
        ));
    }
    Ok(decode_path(v))
}

/// Read mode from the `live` parameter (§5.6-§5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    No,
    LongPoll,
    Sse,
}

/// Parsed read query. Unknown parameters are ignored (§11.1).
#[derive(Debug, Clone)]
pub struct ReadQuery {
    pub offset: Option<ReadFrom>,
    pub live: Live,
    pub cursor: Option<String>,
}

impl ReadQuery {
    pub fn parse(query: Option<&str>) -> Result<ReadQuery, ApiError> {
        let mut offset = None;
        let mut live = None;
        let mut cursor = None;
        for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match k.as_ref() {
                "offset" => {
                    if offset.is_some() {
                        return Err(ApiError::bad("offset given more than once"));
                    }
                    let parsed =
                        ReadFrom::parse(&v).map_err(|_| ApiError::bad("malformed offset"))?;
                    offset = Some(parsed);
                }
                "live" => {
                    if live.is_some() {
                        return Err(ApiError::bad("live given more than once"));
                    }
                    live = Some(match v.as_ref() {
                        "long-poll" => Live::LongPoll,
                        "sse" => Live::Sse,
                        _ => return Err(ApiError::bad("live must be long-poll or sse")),
                    });
                }
                "cursor" => cursor = Some(v.into_owned()),
                _ => {}
            }
        }
        Ok(ReadQuery {
            offset,
            live: live.unwrap_or(Live::No),
            cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_headers_see_each_header_an_append_reads() {
        let mut plain = HeaderMap::new();
        plain.insert("host", HeaderValue::from_static("h"));
        plain.insert("content-type", HeaderValue::from_static("text/plain"));
        plain.insert("content-length", HeaderValue::from_static("3"));
        plain.insert("x-stream-closed", HeaderValue::from_static("true"));
        plain.insert("stream-ttl", HeaderValue::from_static("1"));
        assert!(AppendHeaders::gather(&plain).is_plain());
        for name in &APPEND_HEADERS {
            let mut h = plain.clone();
            h.insert(name.clone(), HeaderValue::from_static("1"));
            let found = AppendHeaders::gather(&h);
            assert!(!found.is_plain(), "{name}");
            assert_eq!(found.text(name).unwrap(), Some("1"), "{name}");
            h.append(name.clone(), HeaderValue::from_static("2"));
            assert!(
                AppendHeaders::gather(&h).text(name).is_err(),
                "{name} twice"
            );
        }
    }

    /// Each extractor of an append reads its header (through the table).
    #[test]
    fn append_extractors_read_their_headers() {
        let found = |pairs: &[(HeaderName, &str)]| {
            let h = map(pairs);
            let a = AppendHeaders::gather(&h);
            (a.closed(), a.stream_seq().unwrap(), a.producer().unwrap())
        };
        assert_eq!(found(&[]), (false, None, None));
        let (closed, seq, producer) = found(&[
            (STREAM_CLOSED, "true"),
            (STREAM_SEQ, "s1"),
            (PRODUCER_ID, "p"),
            (PRODUCER_EPOCH, "3"),
            (PRODUCER_SEQ, "4"),
        ]);
        assert!(closed);
        assert_eq!(seq.as_deref(), Some("s1"));
        let p = producer.unwrap();
        assert_eq!((p.id.as_str(), p.epoch, p.seq), ("p", 3, 4));
        // The first of two Stream-Closed values counts, as with `closed_flag`.
        let mut h = map(&[(STREAM_CLOSED, "true")]);
        h.append(STREAM_CLOSED, HeaderValue::from_static("false"));
        assert!(AppendHeaders::gather(&h).closed());
        assert!(closed_flag(&h));
    }

    #[test]
    fn stream_paths_are_percent_decoded_when_utf8() {
        let p = |s: &str| stream_path(&s.parse::<Uri>().unwrap());
        assert_eq!(p("/v1/stream/plain-name_1"), "/v1/stream/plain-name_1");
        assert_eq!(p("/v1/stream/a%20b/%C3%A9"), "/v1/stream/a b/\u{e9}");
        // Not UTF-8 once decoded: the raw path is the key.
        assert_eq!(p("/v1/stream/%FF"), "/v1/stream/%FF");
    }

    fn map(pairs: &[(HeaderName, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(k.clone(), HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn integer_syntax_and_bounds() {
        assert_eq!(decimal("0"), Some(0));
        assert_eq!(decimal("3600"), Some(3600));
        assert_eq!(safe_integer("9007199254740991"), Some(producer::MAX_VALUE));
        assert_eq!(safe_integer("9007199254740992"), None);
        assert_eq!(
            decimal("9007199254740992"),
            Some(1 << 53),
            "a TTL may be larger"
        );
        for bad in [
            "",
            "-1",
            "+1",
            "01",
            "03600",
            "1.0",
            "1e3",
            "3.6e3",
            " 1",
            "1 ",
            "abc",
            "99999999999999999999",
        ] {
            assert_eq!(decimal(bad), None, "{bad:?}");
            assert_eq!(safe_integer(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn repeated_headers_are_refused() {
        let mut h = map(&[(PRODUCER_SEQ, "1")]);
        h.append(PRODUCER_SEQ, HeaderValue::from_static("1"));
        assert!(text(&h, &PRODUCER_SEQ).is_err());
        assert!(AppendHeaders::gather(&h).producer().is_err());
        h.append(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(content_type(&h).is_err());
        assert_eq!(text(&h, &STREAM_SEQ).unwrap(), None);
    }

    #[test]
    fn closed_flag_only_for_true() {
        assert!(closed_flag(&map(&[(STREAM_CLOSED, "TRUE")])));
        assert!(closed_flag(&map(&[(STREAM_CLOSED, "true")])));
        for v in ["false", "yes", "1", ""] {
            assert!(!closed_flag(&map(&[(STREAM_CLOSED, v)])));
        }
    }

    #[test]
    fn producer_headers_all_or_none() {
        let producer = |pairs: &[(HeaderName, &str)]| AppendHeaders::gather(&map(pairs)).producer();
        assert!(producer(&[]).unwrap().is_none());
        assert!(producer(&[(PRODUCER_ID, "p"), (PRODUCER_EPOCH, "0")]).is_err());
        assert!(producer(&[
            (PRODUCER_ID, ""),
            (PRODUCER_EPOCH, "0"),
            (PRODUCER_SEQ, "0")
        ])
        .is_err());
        let p = producer(&[
            (PRODUCER_ID, "p"),
            (PRODUCER_EPOCH, "1"),
            (PRODUCER_SEQ, "2"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!((p.epoch, p.seq), (1, 2));
    }
    #[test]
    fn fork_header_rules() {
        assert!(fork(&map(&[(STREAM_FORK_SUB_OFFSET, "0")])).is_err());
        assert!(fork(&map(&[
            (STREAM_FORKED_FROM, "/a"),
            (STREAM_FORK_SUB_OFFSET, "2")
        ]))
        .is_err());
        assert!(fork(&map(&[
            (STREAM_FORKED_FROM, "/a"),
            (STREAM_FORK_OFFSET, "x")
        ]))
        .is_err());
        let f = fork(&map(&[(STREAM_FORKED_FROM, "http://h:1/a%20b?x=1")]))
            .unwrap()
            .unwrap();
        assert_eq!(f.source_path, "/a b");
    }

    #[test]
    fn query_rules() {
        assert!(ReadQuery::parse(Some("offset=a&offset=b")).is_err());
        assert!(ReadQuery::parse(Some("offset=")).is_err());
        assert!(ReadQuery::parse(Some("live=bogus")).is_err());
        let q = ReadQuery::parse(Some("offset=now&live=sse&x=1")).unwrap();
        assert_eq!((q.offset, q.live), (Some(ReadFrom::Now), Live::Sse));
    }
}
