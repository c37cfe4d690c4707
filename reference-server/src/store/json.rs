//! §9.1 JSON mode: validation, one-level array flattening and the array
//! framing of reads. Messages are kept as the exact text the client sent
//! (slices of the request body), so numbers and strings survive unchanged.

use bytes::Bytes;
use serde_json::value::RawValue;

/// Why a JSON body was refused (both are 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("body is not valid JSON")]
    Invalid,
    #[error("empty JSON array is not a valid append")]
    EmptyArray,
}

/// Splits a body into messages: a top-level array contributes its elements,
/// anything else is one message. `allow_empty` is true for PUT (§9.1.3).
pub fn flatten(body: &Bytes, allow_empty: bool) -> Result<Vec<Bytes>, JsonError> {
    let whole: &RawValue = serde_json::from_slice(body).map_err(|_| JsonError::Invalid)?;
    let text = whole.get();
    if !text.starts_with('[') {
        return Ok(vec![slice_of(body, text)]);
    }
    let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|_| JsonError::Invalid)?;
    if items.is_empty() && !allow_empty {
        return Err(JsonError::EmptyArray);
    }
    Ok(items
        .iter()
        .map(|item| slice_of(body, item.get()))
        .collect())
}

/// Zero-copy slice of `body` for a `&str` that borrows from it (a copy if
/// it somehow does not, rather than a panic).
fn slice_of(body: &Bytes, part: &str) -> Bytes {
    let base = body.as_ptr() as usize;
    let start = (part.as_ptr() as usize).wrapping_sub(base);
    if start <= body.len() && part.len() <= body.len() - start {
        body.slice(start..start + part.len())
    } else {
        Bytes::copy_from_slice(part.as_bytes())
    }
}

/// Wire size of messages framed as one array: brackets plus commas.
pub fn framed_len(messages: &[Bytes]) -> usize {
    2 + messages.iter().map(Bytes::len).sum::<usize>() + messages.len().saturating_sub(1)
}

/// Writes messages as one JSON array.
pub fn frame(messages: &[Bytes]) -> Vec<u8> {
    let mut out = Vec::with_capacity(framed_len(messages));
    out.push(b'[');
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(m);
    }
    out.push(b']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msgs(body: &str, allow_empty: bool) -> Result<Vec<String>, JsonError> {
        flatten(&Bytes::from(body.to_string()), allow_empty).map(|v| {
            v.into_iter()
                .map(|b| String::from_utf8(b.to_vec()).unwrap())
                .collect()
        })
    }

    #[test]
    fn flattens_exactly_one_level() {
        assert_eq!(
            msgs(r#"{"event": "created"}"#, false).unwrap(),
            [r#"{"event": "created"}"#]
        );
        assert_eq!(
            msgs(r#"[{"a":1}, {"b":2}]"#, false).unwrap(),
            [r#"{"a":1}"#, r#"{"b":2}"#]
        );
        assert_eq!(msgs("[[1,2], [3,4]]", false).unwrap(), ["[1,2]", "[3,4]"]);
        assert_eq!(msgs("[[[1,2,3]]]", false).unwrap(), ["[[1,2,3]]"]);
        assert_eq!(
            msgs(" 12345678901234567890123 ", false).unwrap(),
            ["12345678901234567890123"]
        );
    }

    #[test]
    fn empty_arrays_and_invalid_json() {
        assert_eq!(msgs("[]", false), Err(JsonError::EmptyArray));
        assert_eq!(msgs(" [ ] ", true).unwrap(), Vec::<String>::new());
        assert_eq!(msgs("{", false), Err(JsonError::Invalid));
        assert_eq!(msgs("", false), Err(JsonError::Invalid));
        assert_eq!(msgs("[1,]", false), Err(JsonError::Invalid));
        assert_eq!(msgs("1 2", false), Err(JsonError::Invalid));
    }

    #[test]
    fn framing() {
        let m = vec![Bytes::from_static(b"1"), Bytes::from_static(b"{\"a\":2}")];
        assert_eq!(frame(&m), b"[1,{\"a\":2}]");
        assert_eq!(framed_len(&m), frame(&m).len());
        assert_eq!(frame(&[]), b"[]");
    }
}
