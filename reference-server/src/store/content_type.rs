//! §5.1 / §5.2 / §12.4 content types: syntax check and the matching rule.
//!
//! Rule: two content types match when their media types (`type/subtype`,
//! before any `;`) are equal ignoring ASCII case and surrounding whitespace.
//! Parameters such as `charset` are ignored for matching; the stream keeps
//! and returns the exact value it was created with.

/// Media type essence, lower-cased, or `None` when malformed.
pub fn essence(value: &str) -> Option<String> {
    let media = value.split(';').next().unwrap_or("").trim();
    let (ty, sub) = media.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+*'`|~".contains(&b))
    };
    (token(ty) && token(sub)).then(|| media.to_ascii_lowercase())
}

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
    fn modes() {
        assert!(is_json("application/json"));
        assert!(!is_json("application/ndjson"));
        assert!(is_sse_text("text/csv"));
        assert!(is_sse_text("application/json"));
        assert!(!is_sse_text("application/octet-stream"));
    }
}
