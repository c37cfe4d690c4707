//! §5.6: catch-up reads from `-1`, from an omitted offset and from offsets
//! the server minted; bodies compared byte for byte.

use crate::case::{case, register, CaseResult};
use crate::cases::support::{append, binary_payload, create, create_with};
use crate::client::Ctx;
use crate::{check, check_eq};

/// `offset=-1` returns the stream from its first byte; followed to the
/// tail it is all the data, ending up to date at the last append's offset.
#[case("READ-FROM-OFFSET", "READ-UP-TO-DATE", "READ-NEXT-OFFSET")]
pub async fn from_minus_one(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "first ", "READ-FROM-OFFSET").await?;
    let tail = append(&ctx, "s", "text/plain", "second", "READ-FROM-OFFSET").await?;
    let r = ctx.get("s").offset("-1").send().await?;
    r.expect(200, "READ-FROM-OFFSET")?;
    check!(
        !r.body.is_empty() && b"first second".starts_with(&r.body),
        "READ-FROM-OFFSET",
        "GET offset=-1 does not start at the first byte: {:?}",
        r.text()
    );
    let all = ctx.read_all("s", "-1", "READ-UP-TO-DATE").await?;
    check_eq!(
        all.text(),
        "first second",
        "READ-FROM-OFFSET",
        "stream read from offset=-1"
    );
    check_eq!(
        all.tail(),
        Some(tail.as_str()),
        "READ-NEXT-OFFSET",
        "Stream-Next-Offset at the end of the read vs the last append's"
    );
    Ok(())
}

/// A GET without `offset` is the same read as `offset=-1`: same body and
/// same `Stream-Next-Offset`.
#[case("READ-OFFSET-DEFAULT")]
pub async fn omitted_offset_reads_from_start(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "alpha", "READ-OFFSET-DEFAULT").await?;
    append(&ctx, "s", "text/plain", "beta", "READ-OFFSET-DEFAULT").await?;
    let explicit = ctx.get("s").offset("-1").send().await?;
    explicit.expect(200, "READ-FROM-OFFSET")?;
    let r = ctx.get("s").send().await?;
    r.expect(200, "READ-OFFSET-DEFAULT")?;
    check_eq!(
        r.text(),
        explicit.text(),
        "READ-OFFSET-DEFAULT",
        "body of GET without offset vs offset=-1"
    );
    check_eq!(
        r.next_offset("READ-OFFSET-DEFAULT")?,
        explicit.next_offset("READ-NEXT-OFFSET")?,
        "READ-OFFSET-DEFAULT",
        "Stream-Next-Offset of GET without offset vs offset=-1"
    );
    Ok(())
}

/// Reading from each offset an append returned yields exactly the bytes
/// appended after it; from the tail, nothing.
#[case("READ-FROM-OFFSET", "READ-NEXT-OFFSET")]
pub async fn from_minted_offsets(ctx: Ctx) -> CaseResult {
    let o0 = create(&ctx, "s", "text/plain", "READ-FROM-OFFSET")
        .await?
        .next_offset("READ-NEXT-OFFSET")?;
    let parts = ["one|", "two|", "three"];
    let mut offsets = vec![o0];
    for p in parts {
        offsets.push(append(&ctx, "s", "text/plain", p, "READ-FROM-OFFSET").await?);
    }
    for (i, from) in offsets.iter().enumerate() {
        let expected: String = parts[i..].concat();
        let all = ctx.read_all("s", from, "READ-FROM-OFFSET").await?;
        check_eq!(
            all.text(),
            expected,
            "READ-FROM-OFFSET",
            "bytes read from offset {from:?}"
        );
        check_eq!(
            all.tail(),
            Some(offsets[3].as_str()),
            "READ-NEXT-OFFSET",
            "final Stream-Next-Offset reading from {from:?}"
        );
    }
    Ok(())
}

/// Binary content (every byte value, NUL, invalid UTF-8) comes back
/// unchanged, both from the create body and from appends.
#[case("READ-FROM-OFFSET")]
pub async fn binary_bytes_exact(ctx: Ctx) -> CaseResult {
    let ct = "application/octet-stream";
    let first: Vec<u8> = (0..=255u8).collect();
    let second: Vec<u8> = (0..=255u8)
        .rev()
        .chain(binary_payload(4096, 0x5a))
        .collect();
    let mid = create_with(&ctx, "s", ct, first.clone(), "READ-FROM-OFFSET")
        .await?
        .next_offset("READ-NEXT-OFFSET")?;
    append(&ctx, "s", ct, second.clone(), "READ-FROM-OFFSET").await?;
    let all = ctx.read_all("s", "-1", "READ-FROM-OFFSET").await?;
    let expected = [first, second.clone()].concat();
    check!(
        all.bytes == expected,
        "READ-FROM-OFFSET",
        "binary read differs from what was written ({} bytes read, {} written; first difference at byte {:?})",
        all.bytes.len(),
        expected.len(),
        first_difference(&all.bytes, &expected)
    );
    let rest = ctx.read_all("s", &mid, "READ-FROM-OFFSET").await?;
    check!(
        rest.bytes == second,
        "READ-FROM-OFFSET",
        "binary read from the create's tail differs from the append (first difference at byte {:?})",
        first_difference(&rest.bytes, &second)
    );
    Ok(())
}

/// Text with CR, CRLF, NUL, tabs and multi-byte UTF-8 is stored and read
/// back byte for byte (no newline or charset normalisation).
#[case("READ-FROM-OFFSET")]
pub async fn text_control_bytes_exact(ctx: Ctx) -> CaseResult {
    let body = "a\r\nb\rc\n\n\0\t  lead\u{e9}\u{1f600}\r\n"
        .as_bytes()
        .to_vec();
    create_with(
        &ctx,
        "s",
        "text/plain; charset=utf-8",
        body.clone(),
        "READ-FROM-OFFSET",
    )
    .await?;
    let all = ctx.read_all("s", "-1", "READ-FROM-OFFSET").await?;
    check!(
        all.bytes == body,
        "READ-FROM-OFFSET",
        "text read differs from what was written:\n  expected: {:?}\n  actual:   {:?}",
        String::from_utf8_lossy(&body),
        all.text()
    );
    Ok(())
}

/// Index of the first differing byte (or the shorter length).
pub(super) fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    if a == b {
        return None;
    }
    Some(
        a.iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len())),
    )
}

register![
    from_minus_one,
    omitted_offset_reads_from_start,
    from_minted_offsets,
    binary_bytes_exact,
    text_control_bytes_exact,
];
