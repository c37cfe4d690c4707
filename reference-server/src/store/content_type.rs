//! §5.1 / §5.2 / §12.4 content types: syntax check and the matching rule.
//!
//! Rule: two content types match when their media types (`type/subtype`,
//! before any `;`) are equal ignoring ASCII case and surrounding whitespace.
//! Parameters such as `charset` are ignored for matching; the stream keeps
//! and returns the exact value it was created with.

/// Media type essence, lower-cased, or `None` when malformed.
pub fn essence(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let end = bytes.iter().position(|&b| b == b';').unwrap_or(bytes.len());
    let media = value[..end].trim();
    let slash = media.bytes().position(|b| b == b'/')?;
    let (ty, sub) = (&media[..slash], &media[slash + 1..]);
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| TCHAR[b as usize]);
    (token(ty) && token(sub)).then(|| media.to_ascii_lowercase())
}

/// The bytes a type or subtype token may hold (RFC 9110 `tchar` less `%`),
/// as a table: this runs on every append.
static TCHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'&'
                    | b'-'
                    | b'^'
                    | b'_'
                    | b'.'
                    | b'+'
                    | b'*'
                    | b'\''
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    t
};

/// Whether a stream of this type uses JSON mode (§9.1).
pub fn is_json(essence: &str) -> bool {
    essence == "application/json"
}

/// Whether SSE carries this type as UTF-8 text rather than base64 (§5.8).
pub fn is_sse_text(essence: &str) -> bool {
    essence.starts_with("text/") || is_json(essence)
}

pub const DEFAULT: &str = "application/octet-stream";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_ignores_case_whitespace_and_parameters() {
        assert_eq!(
            essence("Application/JSON; charset=utf-8").as_deref(),
            Some("application/json")
        );
        assert_eq!(essence(" text/plain ").as_deref(), Some("text/plain"));
        assert_eq!(essence("text/plain;charset=x"), essence("TEXT/PLAIN"));
        assert_eq!(essence("garbage"), None);
        assert_eq!(essence("/json"), None);
        assert_eq!(essence("text/"), None);
        assert_eq!(essence("te xt/plain"), None);
    }

    #[test]
    fn every_byte_is_judged_as_by_the_token_rule() {
        let listed = |b: u8| b.is_ascii_alphanumeric() || b"!#$&-^_.+*'`|~".contains(&b);
        for b in 0u8..=255 {
            let c = b as char;
            let ty = format!("a{c}b/x");
            let expect = listed(b).then(|| ty.to_ascii_lowercase());
            assert_eq!(essence(&ty), expect, "byte {b:#x} in the type");
            let sub = format!("x/a{c}b");
            let expect = match b {
                b';' => Some("x/a".to_string()),
                _ => listed(b).then(|| sub.to_ascii_lowercase()),
            };
            assert_eq!(essence(&sub), expect, "byte {b:#x} in the subtype");
        }
    }

    #[test]
    fn modes() {
        assert!(is_json("application/json"));
        assert!(!is_json("application/ndjson"));
        assert!(is_sse_text("text/csv"));
        assert!(is_sse_text("application/json"));
        assert!(!is_sse_text("application/octet-stream"));
    }
}
