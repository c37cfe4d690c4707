//! §4 Durability: the binary encoding of events (the journal's records). Hand-written rather than
//! serde_json so that data is stored verbatim (no base64 or escaping): the
//! codec reports where each data part lies inside the payload, and a reader
//! can `pread` exactly those bytes later without decoding anything.
//!
//! Layout: `[version u8][tag u8][fields]`, integers little-endian, strings
//! and parts as `[len u32][bytes]`, a part list as `[count u32][part]*`,
//! options as `[0|1][value]`.

use bytes::Bytes;
use time::OffsetDateTime;

use crate::durable::Loc;
use crate::store::event::{Append, Close, Create, Event, ForkPoint};
use crate::store::producer::ProducerRef;
use crate::store::ttl::{from_ms, ms, parse_expires_at, Expiry};

const VERSION: u8 = 1;

const CREATE: u8 = 1;
const APPEND: u8 = 2;
const CLOSE: u8 = 3;
const TOUCH: u8 = 4;
/// Written by earlier versions for a delete that left forks behind; `apply`
/// tells the two apart itself, so it reads as `DELETE`.
const SOFT_DELETE: u8 = 5;
const DELETE: u8 = 6;

/// A record's payload plus the `(offset, len)` of each data part inside it,
/// in record order (a fork's prefix first, then the initial body).
#[derive(Debug, Default)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub parts: Vec<(u32, u32)>,
}

impl Encoded {
    /// Disk locations of the data parts, given where the payload landed.
    pub fn part_locs(parts: &[(u32, u32)], payload: Loc) -> Vec<Loc> {
        parts
            .iter()
            .map(|&(o, l)| payload.slice(o, o + l))
            .collect()
    }
}

pub fn encode(event: &Event) -> Encoded {
    let mut e = Encoded::default();
    e.bytes.push(VERSION);
    match event {
        Event::Create(c) => {
            e.u8(CREATE);
            e.str(&c.path);
            e.str(&c.content_type);
            e.bool(c.json);
            e.expiry(&c.requested_expiry);
            e.expiry(&c.expiry);
            e.time(c.at);
            e.bool(c.closed);
            match &c.fork {
                None => e.u8(0),
                Some(f) => {
                    e.u8(1);
                    e.str(&f.source);
                    e.u64(f.offset);
                    e.u64(f.sub_offset);
                    e.parts(&f.prefix);
                }
            }
            e.parts(&c.initial);
        }
        Event::Append(a) => {
            e.u8(APPEND);
            e.str(&a.path);
            e.u64(a.tail);
            e.producer(&a.producer);
            e.opt_str(&a.stream_seq);
            e.bool(a.close);
            e.time(a.at);
            e.parts(&a.parts);
        }
        Event::Close(c) => {
            e.u8(CLOSE);
            e.str(&c.path);
            e.producer(&c.producer);
            e.opt_str(&c.stream_seq);
            e.time(c.at);
        }
        Event::Touch { path, at } => {
            e.u8(TOUCH);
            e.str(path);
            e.time(*at);
        }
        Event::Delete { path } => {
            e.u8(DELETE);
            e.str(path);
        }
    }
    e
}

impl Encoded {
    fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    fn bool(&mut self, v: bool) {
        self.bytes.push(u8::from(v));
    }
    fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    /// Milliseconds since the Unix epoch.
    fn time(&mut self, t: OffsetDateTime) {
        self.i64(ms(t));
    }
    fn blob(&mut self, b: &[u8]) -> (u32, u32) {
        let len = u32::try_from(b.len()).expect("part larger than 4 GiB");
        self.u32(len);
        let at = self.bytes.len() as u32;
        self.bytes.extend_from_slice(b);
        (at, len)
    }
    fn str(&mut self, s: &str) {
        self.blob(s.as_bytes());
    }
    fn opt_str(&mut self, s: &Option<String>) {
        match s {
            None => self.u8(0),
            Some(s) => {
                self.u8(1);
                self.str(s);
            }
        }
    }
    fn parts(&mut self, parts: &[Bytes]) {
        self.u32(parts.len() as u32);
        for p in parts {
            let loc = self.blob(p);
            self.parts.push(loc);
        }
    }
    fn expiry(&mut self, x: &Expiry) {
        match x {
            Expiry::Never => self.u8(0),
            Expiry::Ttl(s) => {
                self.u8(1);
                self.u64(*s);
            }
            Expiry::At(d) => {
                self.u8(2);
                self.str(&d.text);
            }
        }
    }
    fn producer(&mut self, p: &Option<ProducerRef>) {
        match p {
            None => self.u8(0),
            Some(p) => {
                self.u8(1);
                self.str(&p.id);
                self.u64(p.epoch);
                self.u64(p.seq);
            }
        }
    }
}

/// A payload that is not a record this version wrote.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("undecodable record at byte {at}: {what}")]
pub struct DecodeError {
    pub at: usize,
    pub what: &'static str,
}

/// Decodes a payload; data parts are zero-copy slices of `payload`. Also
/// returns the parts' `(offset, len)` as `encode` reported them.
pub fn decode(payload: &Bytes) -> Result<(Event, Vec<(u32, u32)>), DecodeError> {
    let mut d = Decoder {
        buf: payload,
        pos: 0,
        parts: Vec::new(),
    };
    if d.u8()? != VERSION {
        return Err(d.err("unknown format version"));
    }
    let event = match d.u8()? {
        CREATE => {
            let path = d.str()?;
            let content_type = d.str()?;
            let json = d.bool()?;
            let requested_expiry = d.expiry()?;
            let expiry = d.expiry()?;
            let at = d.time()?;
            let closed = d.bool()?;
            let fork = if d.bool()? {
                Some(ForkPoint {
                    source: d.str()?,
                    offset: d.u64()?,
                    sub_offset: d.u64()?,
                    prefix: d.parts()?,
                })
            } else {
                None
            };
            Event::Create(Create {
                path,
                content_type,
                json,
                requested_expiry,
                expiry,
                at,
                closed,
                fork,
                initial: d.parts()?,
            })
        }
        APPEND => {
            let path = d.str()?;
            let tail = d.u64()?;
            let producer = d.producer()?;
            let stream_seq = d.opt_str()?;
            let close = d.bool()?;
            let at = d.time()?;
            Event::Append(Append {
                path,
                parts: d.parts()?,
                tail,
                producer,
                stream_seq,
                close,
                at,
            })
        }
        CLOSE => Event::Close(Close {
            path: d.str()?,
            producer: d.producer()?,
            stream_seq: d.opt_str()?,
            at: d.time()?,
        }),
        TOUCH => Event::Touch {
            path: d.str()?,
            at: d.time()?,
        },
        SOFT_DELETE | DELETE => Event::Delete { path: d.str()? },
        _ => return Err(d.err("unknown record tag")),
    };
    if d.pos != payload.len() {
        return Err(d.err("trailing bytes"));
    }
    Ok((event, d.parts))
}

struct Decoder<'a> {
    buf: &'a Bytes,
    pos: usize,
    parts: Vec<(u32, u32)>,
}

impl Decoder<'_> {
    fn err(&self, what: &'static str) -> DecodeError {
        DecodeError { at: self.pos, what }
    }
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.buf.len() - self.pos < n {
            return Err(self.err("truncated field"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.err("invalid flag")),
        }
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
    fn time(&mut self) -> Result<OffsetDateTime, DecodeError> {
        self.i64().map(from_ms)
    }
    fn blob(&mut self) -> Result<(usize, usize), DecodeError> {
        let len = self.u32()? as usize;
        let at = self.pos;
        self.take(len)?;
        Ok((at, len))
    }
    fn str(&mut self) -> Result<String, DecodeError> {
        let (at, len) = self.blob()?;
        String::from_utf8(self.buf[at..at + len].to_vec()).map_err(|_| self.err("invalid UTF-8"))
    }
    fn opt_str(&mut self) -> Result<Option<String>, DecodeError> {
        if self.bool()? {
            self.str().map(Some)
        } else {
            Ok(None)
        }
    }
    fn parts(&mut self) -> Result<Vec<Bytes>, DecodeError> {
        let n = self.u32()? as usize;
        // Each part needs at least its 4-byte length: bounds a bogus count.
        if n > (self.buf.len() - self.pos) / 4 {
            return Err(self.err("part count exceeds record"));
        }
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let (at, len) = self.blob()?;
            self.parts.push((at as u32, len as u32));
            out.push(self.buf.slice(at..at + len));
        }
        Ok(out)
    }
    fn expiry(&mut self) -> Result<Expiry, DecodeError> {
        match self.u8()? {
            0 => Ok(Expiry::Never),
            1 => Ok(Expiry::Ttl(self.u64()?)),
            2 => {
                let text = self.str()?;
                Ok(parse_expires_at(&text).map_or_else(
                    || {
                        tracing::warn!("unparsable Expires-At {text:?} in the data directory");
                        Expiry::Never
                    },
                    Expiry::At,
                ))
            }
            _ => Err(self.err("invalid expiry kind")),
        }
    }
    fn producer(&mut self) -> Result<Option<ProducerRef>, DecodeError> {
        if !self.bool()? {
            return Ok(None);
        }
        Ok(Some(ProducerRef {
            id: self.str()?,
            epoch: self.u64()?,
            seq: self.u64()?,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    pub(crate) fn samples() -> Vec<Event> {
        let b = |s: &'static str| Bytes::from_static(s.as_bytes());
        let t = datetime!(2030-01-01 0:00:00.123 UTC);
        vec![
            Event::Create(Create {
                path: "/a".into(),
                content_type: "text/plain; charset=utf-8".into(),
                json: false,
                requested_expiry: Expiry::Ttl(60),
                expiry: Expiry::Ttl(60),
                at: t,
                closed: false,
                fork: None,
                initial: vec![b("hello")],
            }),
            Event::Create(Create {
                path: "/f".into(),
                content_type: "application/json".into(),
                json: true,
                requested_expiry: Expiry::Never,
                expiry: Expiry::At(parse_expires_at("2030-01-01T02:00:00+02:00").unwrap()),
                at: datetime!(1969-12-31 23:59:59.995 UTC),
                closed: true,
                fork: Some(ForkPoint {
                    source: "/j".into(),
                    offset: 3,
                    sub_offset: 2,
                    prefix: vec![b("{\"a\":1}"), b("[2]")],
                }),
                initial: vec![],
            }),
            Event::Append(Append {
                path: "/a".into(),
                parts: vec![b(" world")],
                tail: 11,
                producer: Some(ProducerRef {
                    id: "p-1".into(),
                    epoch: 3,
                    seq: (1 << 53) - 1,
                }),
                stream_seq: Some("0042".into()),
                close: true,
                at: t,
            }),
            Event::Close(Close {
                path: "/a".into(),
                producer: None,
                stream_seq: None,
                at: t,
            }),
            Event::Touch {
                path: "/ü".into(),
                at: t,
            },
            Event::Delete { path: "/a".into() },
        ]
    }

    #[test]
    fn every_event_round_trips_and_parts_point_at_the_data() {
        for ev in samples() {
            let e = encode(&ev);
            let payload = Bytes::from(e.bytes.clone());
            let (back, parts) = decode(&payload).unwrap();
            assert_eq!(back, ev);
            assert_eq!(parts, e.parts);
            if let (Event::Create(a), Event::Create(b)) = (&back, &ev) {
                // An absolute expiry keeps the text the client sent.
                assert_eq!(format!("{:?}", a.expiry), format!("{:?}", b.expiry));
            }
            let at: Vec<&[u8]> = parts
                .iter()
                .map(|&(o, l)| &e.bytes[o as usize..(o + l) as usize])
                .collect();
            let data: Vec<&[u8]> = ev.parts().map(|b| &b[..]).collect();
            assert_eq!(at, data);
        }
    }

    #[test]
    fn an_earlier_versions_soft_delete_reads_as_a_delete() {
        let mut e = encode(&Event::Delete { path: "/a".into() });
        e.bytes[1] = SOFT_DELETE;
        let (back, _) = decode(&Bytes::from(e.bytes)).unwrap();
        assert_eq!(back, Event::Delete { path: "/a".into() });
    }

    #[test]
    fn garbage_is_rejected_not_panicked_on() {
        for ev in samples() {
            let bytes = encode(&ev).bytes;
            for cut in 0..bytes.len() {
                assert!(decode(&Bytes::copy_from_slice(&bytes[..cut])).is_err());
            }
            let mut extra = bytes.clone();
            extra.push(0);
            assert!(decode(&Bytes::from(extra)).is_err());
        }
        assert!(decode(&Bytes::from_static(&[2, 1])).is_err());
        assert!(decode(&Bytes::from_static(&[1, 99])).is_err());
    }
}
