//! §4 Durability: the on-disk frame of one record, `[len u32][crc32 u32][payload]`
//! (little-endian, the CRC covering the payload), and the reader that stops
//! at the first frame that is incomplete or fails its checksum.

use std::io::{self, Read};

/// Bytes of the frame header before the payload.
pub const HEADER: usize = 8;

/// Largest payload a frame may carry; a larger length field can only be a
/// torn or corrupt header.
pub const MAX_PAYLOAD: usize = 1 << 30;

/// Appends one framed record to `out`.
pub fn encode_into(out: &mut Vec<u8>, payload: &[u8]) {
    assert!(
        !payload.is_empty() && payload.len() <= MAX_PAYLOAD,
        "record payload of {} bytes",
        payload.len()
    );
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What the next frame of a segment turned out to be.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// A complete frame with a valid checksum; its payload is in the buffer.
    Record,
    /// Clean end of the segment, exactly at a frame boundary.
    End,
    /// A header of zero bytes (possibly cut short by the end of the file):
    /// the start of a segment's preallocated, never written space. No
    /// frame has a zero length (empty payloads are refused), so this is
    /// never a record.
    Zeroes,
    /// An incomplete or corrupt frame: nothing from here on can be trusted.
    Bad(&'static str),
}

/// Reads the next frame from `r` into `payload`. `remaining` is the number
/// of bytes left in the segment, so a garbage length never causes a huge
/// allocation.
pub fn read_next(r: &mut impl Read, remaining: u64, payload: &mut Vec<u8>) -> io::Result<Next> {
    let mut header = [0u8; HEADER];
    match read_full(r, &mut header)? {
        0 => return Ok(Next::End),
        n if header[..n].iter().all(|&b| b == 0) => return Ok(Next::Zeroes),
        n if n < HEADER => return Ok(Next::Bad("torn frame header")),
        _ => {}
    }
    let len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
    if len == 0 || len > MAX_PAYLOAD {
        return Ok(Next::Bad("invalid frame length"));
    }
    if (len + HEADER) as u64 > remaining {
        return Ok(Next::Bad("torn frame payload"));
    }
    payload.clear();
    payload.resize(len, 0);
    if read_full(r, payload)? < len {
        return Ok(Next::Bad("torn frame payload"));
    }
    if crc32fast::hash(payload) != crc {
        return Ok(Next::Bad("checksum mismatch"));
    }
    Ok(Next::Record)
}

/// Fills `buf` as far as the reader allows; returns how much was read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match r.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(payloads: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for p in payloads {
            encode_into(&mut out, p);
        }
        out
    }

    fn scan(bytes: &[u8]) -> (Vec<Vec<u8>>, Next) {
        let mut r = bytes;
        let mut got = Vec::new();
        let mut buf = Vec::new();
        loop {
            let remaining = r.len() as u64;
            match read_next(&mut r, remaining, &mut buf).unwrap() {
                Next::Record => got.push(buf.clone()),
                other => return (got, other),
            }
        }
    }

    #[test]
    fn round_trip() {
        let bytes = frames(&[b"a", b"hello", &[7u8; 300]]);
        let (got, end) = scan(&bytes);
        assert_eq!(end, Next::End);
        assert_eq!(got, vec![b"a".to_vec(), b"hello".to_vec(), vec![7u8; 300]]);
    }

    #[test]
    fn every_cut_of_the_last_frame_is_detected() {
        let bytes = frames(&[b"first", b"second record"]);
        let first_len = HEADER + 5;
        for cut in first_len + 1..bytes.len() {
            let (got, end) = scan(&bytes[..cut]);
            assert_eq!(got, vec![b"first".to_vec()], "cut at {cut}");
            assert!(matches!(end, Next::Bad(_)), "cut at {cut}: {end:?}");
        }
    }

    #[test]
    fn flipped_bits_fail_the_checksum() {
        let bytes = frames(&[b"first", b"second record"]);
        for i in HEADER + 5 + 4..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            let (got, end) = scan(&b);
            assert_eq!(got.len(), 1, "flip at {i}");
            assert!(matches!(end, Next::Bad(_)), "flip at {i}");
        }
    }

    #[test]
    fn zeroed_tail_is_not_a_record() {
        // crc32 of an empty payload is 0, so a zero header must never be
        // taken for an (empty) record.
        assert_eq!(crc32fast::hash(&[]), 0);
        for zeros in [1, 7, 8, 64] {
            let mut bytes = frames(&[b"x"]);
            bytes.extend(std::iter::repeat_n(0u8, zeros));
            let (got, end) = scan(&bytes);
            assert_eq!(got.len(), 1);
            assert_eq!(end, Next::Zeroes, "{zeros} zero bytes");
        }
        // A zero length with a non-zero checksum is still corrupt.
        let mut bytes = frames(&[b"x"]);
        bytes.extend_from_slice(&[0, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(scan(&bytes).1, Next::Bad("invalid frame length"));
    }

    #[test]
    #[should_panic(expected = "record payload of 0 bytes")]
    fn an_empty_payload_is_never_framed() {
        encode_into(&mut Vec::new(), b"");
    }
}
