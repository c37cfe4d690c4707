//! §5.2 appends: 204 with the new tail, byte order and exactness, large
//! bodies, empty bodies, missing streams.

use crate::case::{case, register, CaseResult};
use crate::cases::support::{append, binary_payload, create};
use crate::client::Ctx;
use crate::{check, check_eq};

/// A successful append answers 204 whose Stream-Next-Offset is the new
/// tail (as HEAD and a full read report it).
#[case("APPEND-204")]
pub async fn append_is_204_with_tail(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "text/plain", "CREATE-NEW-201").await?;
    let r = ctx.post("s").ct("text/plain").body("abc").send().await?;
    r.expect(204, "APPEND-204")?;
    let tail = r.next_offset("APPEND-204")?;
    check!(
        !r.closed(),
        "APPEND-204",
        "a plain append answered Stream-Closed: true"
    );
    let h = ctx.head("s").send().await?;
    check_eq!(
        h.next_offset("HEAD-200")?,
        tail,
        "APPEND-204",
        "HEAD tail vs the append's Stream-Next-Offset"
    );
    let all = ctx.read_all("s", "-1", "APPEND-204").await?;
    check_eq!(all.text(), "abc", "APPEND-204", "content");
    check_eq!(
        all.tail(),
        Some(tail.as_str()),
        "APPEND-204",
        "read tail vs the append's Stream-Next-Offset"
    );
    Ok(())
}

/// Appends read back concatenated in acknowledgement order, byte-exact
/// (NUL, CR/LF, high bytes, leading spaces).
#[case("STREAM-ORDER", "CT-BYTES-OPAQUE")]
pub async fn order_preserved(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "application/octet-stream", "CREATE-NEW-201").await?;
    let parts: Vec<Vec<u8>> = vec![
        b"one\n".to_vec(),
        b"\0\r\n\r\n".to_vec(),
        vec![0xff, 0xfe, 0x80, 0x00, 0x7f],
        b"  leading spaces".to_vec(),
        binary_payload(777, 3),
        b"last".to_vec(),
    ];
    let mut expected = Vec::new();
    for p in &parts {
        append(
            &ctx,
            "s",
            "application/octet-stream",
            p.clone(),
            "APPEND-204",
        )
        .await?;
        expected.extend_from_slice(p);
    }
    let all = ctx.read_all("s", "-1", "STREAM-ORDER").await?;
    check!(
        all.bytes == expected,
        "STREAM-ORDER",
        "content differs from the appends in order ({} bytes read, {} appended)",
        all.bytes.len(),
        expected.len()
    );
    Ok(())
}

/// Several 200 KiB appends read back whole (across however many chunks
/// the server uses), and reading from each append's returned offset gives
/// exactly the later appends.
#[case("STREAM-ORDER", "OFFSET-STABLE")]
pub async fn large_bodies(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "application/octet-stream", "CREATE-NEW-201").await?;
    let parts: Vec<Vec<u8>> = (0..3)
        .map(|i| binary_payload(200 * 1024 + i * 13, i as u8))
        .collect();
    let mut offsets = Vec::new();
    for p in &parts {
        offsets.push(
            append(
                &ctx,
                "s",
                "application/octet-stream",
                p.clone(),
                "APPEND-204",
            )
            .await?,
        );
    }
    let all = ctx.read_all("s", "-1", "STREAM-ORDER").await?;
    check!(
        all.bytes == parts.concat(),
        "STREAM-ORDER",
        "content differs from the appends ({} bytes read)",
        all.bytes.len()
    );
    for (i, off) in offsets.iter().enumerate() {
        let rest = ctx.read_all("s", off, "OFFSET-STABLE").await?;
        check!(
            rest.bytes == parts[i + 1..].concat(),
            "OFFSET-STABLE",
            "read from the offset returned by append #{i} gave {} bytes, expected the {} bytes appended after it",
            rest.bytes.len(),
            parts[i + 1..].concat().len()
        );
    }
    Ok(())
}

/// An empty POST without Stream-Closed is 400 and leaves the tail as is.
#[case("APPEND-EMPTY-BODY-400")]
pub async fn empty_body_is_400(ctx: Ctx) -> CaseResult {
    let tail = create(&ctx, "s", "text/plain", "CREATE-NEW-201")
        .await?
        .next_offset("CREATE-NEW-201")?;
    ctx.post("s")
        .ct("text/plain")
        .send()
        .await?
        .expect(400, "APPEND-EMPTY-BODY-400")?;
    let h = ctx.head("s").send().await?;
    check_eq!(
        h.next_offset("HEAD-200")?,
        tail,
        "APPEND-EMPTY-BODY-400",
        "tail after the rejected empty POST"
    );
    check!(
        !h.closed(),
        "APPEND-EMPTY-BODY-400",
        "the empty POST closed the stream"
    );
    Ok(())
}

/// POST to a URL with no stream is 404 and does not create one.
#[case("APPEND-404")]
pub async fn missing_stream_is_404(ctx: Ctx) -> CaseResult {
    ctx.post("nothing-here")
        .ct("text/plain")
        .body("x")
        .send()
        .await?
        .expect(404, "APPEND-404")?;
    ctx.head("nothing-here")
        .send()
        .await?
        .expect(404, "APPEND-404")?;
    Ok(())
}

/// SHOULD: a streamed (chunked, no Content-Length) append body is stored
/// whole. Sent with the raw HTTP client, so it is noted in the transcript.
#[case("APPEND-CHUNKED")]
pub async fn chunked_body_is_accepted(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "text/plain", "CREATE-NEW-201").await?;
    let pieces: Vec<Result<bytes::Bytes, std::io::Error>> =
        ["first piece, ", "second piece, ", "last piece"]
            .iter()
            .map(|p| Ok(bytes::Bytes::from(*p)))
            .collect();
    let t = ctx.target();
    let mut req = t
        .http
        .post(ctx.url("s"))
        .header("Content-Type", "text/plain");
    for (k, v) in &t.headers {
        req = req.header(k, v);
    }
    ctx.note(format!(
        "POST {} with a chunked body (3 pieces, no Content-Length)",
        ctx.url("s")
    ));
    let resp = req
        .body(reqwest::Body::wrap_stream(futures::stream::iter(pieces)))
        .timeout(std::time::Duration::from_secs(15))
        .send()
        .await
        .map_err(|e| crate::case::Failure::no_answer(format!("chunked POST failed: {e}")))?;
    let status = resp.status().as_u16();
    ctx.note(format!("  -> {status}"));
    check_eq!(status, 204, "APPEND-CHUNKED", "status of a chunked append");
    let all = ctx.read_all("s", "-1", "APPEND-CHUNKED").await?;
    check_eq!(
        all.text(),
        "first piece, second piece, last piece",
        "APPEND-CHUNKED",
        "content after a chunked append"
    );
    Ok(())
}

register![
    append_is_204_with_tail,
    order_preserved,
    large_bodies,
    chunked_body_is_accepted,
    empty_body_is_400,
    missing_stream_is_404,
];
