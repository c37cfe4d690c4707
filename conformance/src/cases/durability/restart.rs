//! §4, §4.1, §4.2, §5.2, §5.2.1, §8: state written before a restart is all
//! there after it, byte for byte and offset for offset.

use crate::case::{case, register, CaseResult};
use crate::cases::support::{append, create, create_with, rfc3339_in};
use crate::client::Ctx;
use crate::{check, check_eq};

/// Every minted offset, re-read: same bytes from each position.
async fn snapshot(
    ctx: &Ctx,
    name: &str,
    offsets: &[String],
    req: &str,
) -> Result<Vec<Vec<u8>>, crate::Failure> {
    let mut out = Vec::new();
    for o in std::iter::once("-1").chain(offsets.iter().map(String::as_str)) {
        out.push(ctx.read_all(name, o, req).await?.bytes);
    }
    Ok(out)
}

/// Acknowledged bytes and every minted offset read back identically.
#[case("DUR-DATA", "DUR-OFFSETS")]
pub async fn data_and_offsets_survive(ctx: Ctx) -> CaseResult {
    let r = create_with(
        &ctx,
        "s",
        "application/octet-stream",
        vec![0u8, 1, 2, 255],
        "DUR-DATA",
    )
    .await?;
    let mut offsets = vec![r.next_offset("DUR-DATA")?];
    for i in 0..5u8 {
        let body: Vec<u8> = (0..=255u8).map(|b| b ^ i).collect();
        offsets.push(append(&ctx, "s", "application/octet-stream", body, "DUR-DATA").await?);
    }
    let before = snapshot(&ctx, "s", &offsets, "DUR-DATA").await?;
    ctx.restart().await?;
    let after = snapshot(&ctx, "s", &offsets, "DUR-OFFSETS").await?;
    check!(
        before == after,
        "DUR-DATA",
        "reads differ after restart (from -1: {} bytes before, {} after)",
        before[0].len(),
        after[0].len()
    );
    let tail = ctx.head("s").send().await?.next_offset("DUR-OFFSETS")?;
    check_eq!(
        tail,
        offsets[offsets.len() - 1],
        "DUR-OFFSETS",
        "tail offset after restart"
    );
    // The stream still accepts appends after the recovered tail.
    let next = append(
        &ctx,
        "s",
        "application/octet-stream",
        b"after".to_vec(),
        "DUR-DATA",
    )
    .await?;
    check!(
        next > tail,
        "DUR-OFFSETS",
        "offset minted after restart {next:?} is not greater than the recovered tail {tail:?}"
    );
    let all = ctx.read_all("s", &tail, "DUR-DATA").await?;
    check_eq!(
        all.bytes,
        b"after".to_vec(),
        "DUR-DATA",
        "bytes appended after restart"
    );
    Ok(())
}

/// JSON message boundaries survive: one array with the same messages.
#[case("DUR-DATA")]
pub async fn json_messages_survive(ctx: Ctx) -> CaseResult {
    create_with(
        &ctx,
        "j",
        "application/json",
        r#"[{"a":1},{"b":[1,2]}]"#,
        "DUR-DATA",
    )
    .await?;
    let mid = append(&ctx, "j", "application/json", r#"[[3],"four"]"#, "DUR-DATA").await?;
    append(&ctx, "j", "application/json", r#"{"five":5}"#, "DUR-DATA").await?;
    let before = ctx.read_all("j", "-1", "DUR-DATA").await?.messages;
    let before_mid = ctx.read_all("j", &mid, "DUR-DATA").await?.messages;
    ctx.restart().await?;
    check_eq!(
        ctx.read_all("j", "-1", "DUR-DATA").await?.messages,
        before,
        "DUR-DATA",
        "messages from -1 after restart"
    );
    check_eq!(
        ctx.read_all("j", &mid, "DUR-DATA").await?.messages,
        before_mid,
        "DUR-DATA",
        "messages from a middle offset after restart"
    );
    Ok(())
}

/// A closed stream stays closed: reads report EOF, appends are refused.
#[case("DUR-CLOSED")]
pub async fn closure_survives(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "c", "text/plain", "final", "DUR-CLOSED").await?;
    let r = ctx.post("c").closed().send().await?;
    r.expect(204, "DUR-CLOSED")?;
    let tail = r.next_offset("DUR-CLOSED")?;
    ctx.restart().await?;
    let h = ctx.head("c").send().await?;
    h.expect(200, "DUR-CLOSED")?;
    check!(
        h.closed(),
        "DUR-CLOSED",
        "HEAD after restart lacks Stream-Closed: true"
    );
    let all = ctx.read_all("c", "-1", "DUR-CLOSED").await?;
    check!(
        all.closed,
        "DUR-CLOSED",
        "read to the tail after restart does not signal Stream-Closed"
    );
    check_eq!(
        all.text(),
        "final",
        "DUR-CLOSED",
        "closed stream content after restart"
    );
    let r = ctx.post("c").ct("text/plain").body("more").send().await?;
    r.expect(409, "DUR-CLOSED")?;
    check!(
        r.closed(),
        "DUR-CLOSED",
        "409 on the closed stream lacks Stream-Closed: true"
    );
    check_eq!(
        r.header("stream-next-offset"),
        Some(tail),
        "DUR-CLOSED",
        "final offset on the 409"
    );
    Ok(())
}

/// Content type, TTL and Expires-At read back unchanged on HEAD.
#[case("DUR-CONFIG")]
pub async fn config_survives(ctx: Ctx) -> CaseResult {
    ctx.put("t")
        .ct("text/csv")
        .ttl(3600)
        .send()
        .await?
        .expect(201, "DUR-CONFIG")?;
    let at = rfc3339_in(3600);
    ctx.put("e")
        .ct("application/x-thing")
        .expires_at(&at)
        .send()
        .await?
        .expect(201, "DUR-CONFIG")?;
    let (t0, e0) = (ctx.head("t").send().await?, ctx.head("e").send().await?);
    ctx.restart().await?;
    let (t1, e1) = (ctx.head("t").send().await?, ctx.head("e").send().await?);
    t1.expect(200, "DUR-CONFIG")?;
    e1.expect(200, "DUR-CONFIG")?;
    for h in ["content-type", "stream-ttl", "stream-next-offset"] {
        check_eq!(
            t1.header(h),
            t0.header(h),
            "DUR-CONFIG",
            "{h} of the TTL stream after restart"
        );
    }
    for h in ["content-type", "stream-expires-at", "stream-next-offset"] {
        check_eq!(
            e1.header(h),
            e0.header(h),
            "DUR-CONFIG",
            "{h} of the Expires-At stream after restart"
        );
    }
    Ok(())
}

/// Producer (epoch, seq) state survives: a retry of the last batch is a
/// duplicate, a gap is still a gap, a fenced epoch stays fenced.
#[case("DUR-PRODUCER", "DUR-DATA")]
pub async fn producer_state_survives(ctx: Ctx) -> CaseResult {
    create(&ctx, "p", "text/plain", "DUR-PRODUCER").await?;
    for (seq, body) in [(0, "a"), (1, "b")] {
        ctx.post("p")
            .ct("text/plain")
            .body(body)
            .producer("w", 1, seq)
            .send()
            .await?
            .expect(200, "DUR-PRODUCER")?;
    }
    ctx.restart().await?;
    let dup = ctx
        .post("p")
        .ct("text/plain")
        .body("b")
        .producer("w", 1, 1)
        .send()
        .await?;
    dup.expect(204, "DUR-PRODUCER")?;
    let gap = ctx
        .post("p")
        .ct("text/plain")
        .body("d")
        .producer("w", 1, 3)
        .send()
        .await?;
    gap.expect(409, "DUR-PRODUCER")?;
    let stale = ctx
        .post("p")
        .ct("text/plain")
        .body("z")
        .producer("w", 0, 0)
        .send()
        .await?;
    stale.expect(403, "DUR-PRODUCER")?;
    ctx.post("p")
        .ct("text/plain")
        .body("c")
        .producer("w", 1, 2)
        .send()
        .await?
        .expect(200, "DUR-PRODUCER")?;
    check_eq!(
        ctx.read_all("p", "-1", "DUR-DATA").await?.text(),
        "abc",
        "DUR-DATA",
        "content after restart and retries"
    );
    Ok(())
}

/// The last Stream-Seq is remembered: a regression after restart is 409.
#[case("DUR-SEQ")]
pub async fn stream_seq_survives(ctx: Ctx) -> CaseResult {
    create(&ctx, "q", "text/plain", "DUR-SEQ").await?;
    ctx.post("q")
        .ct("text/plain")
        .body("1")
        .seq("0005")
        .send()
        .await?
        .expect_any(&[200, 204], "DUR-SEQ")?;
    ctx.restart().await?;
    ctx.post("q")
        .ct("text/plain")
        .body("2")
        .seq("0004")
        .send()
        .await?
        .expect(409, "DUR-SEQ")?;
    ctx.post("q")
        .ct("text/plain")
        .body("3")
        .seq("0005")
        .send()
        .await?
        .expect(409, "DUR-SEQ")?;
    ctx.post("q")
        .ct("text/plain")
        .body("4")
        .seq("0006")
        .send()
        .await?
        .expect_any(&[200, 204], "DUR-SEQ")?;
    Ok(())
}

/// A fork and its soft-deleted source survive: the source path answers 410
/// and stays blocked, the fork reads its inherited data and its own.
#[case("DUR-FORKS")]
pub async fn forks_and_soft_delete_survive(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "src", "text/plain", "abc", "DUR-FORKS").await?;
    let point = append(&ctx, "src", "text/plain", "def", "DUR-FORKS").await?;
    append(&ctx, "src", "text/plain", "NOT-IN-FORK", "DUR-FORKS").await?;
    ctx.put("fork")
        .fork_of("src")
        .fork_offset(&point)
        .send()
        .await?
        .expect(201, "DUR-FORKS")?;
    append(&ctx, "fork", "text/plain", "xyz", "DUR-FORKS").await?;
    ctx.delete("src").send().await?.expect(204, "DUR-FORKS")?;
    ctx.restart().await?;
    ctx.head("src").send().await?.expect(410, "DUR-FORKS")?;
    ctx.put("src")
        .ct("text/plain")
        .send()
        .await?
        .expect(409, "DUR-FORKS")?;
    check_eq!(
        ctx.read_all("fork", "-1", "DUR-FORKS").await?.text(),
        "abcdefxyz",
        "DUR-FORKS",
        "fork content after restart"
    );
    check_eq!(
        ctx.read_all("fork", &point, "DUR-FORKS").await?.text(),
        "xyz",
        "DUR-FORKS",
        "fork's own data after restart"
    );
    Ok(())
}

/// A deleted stream does not come back.
#[case("DUR-DELETE")]
pub async fn deleted_stays_deleted(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "d", "text/plain", "gone", "DUR-DELETE").await?;
    ctx.delete("d").send().await?.expect(204, "DUR-DELETE")?;
    ctx.restart().await?;
    ctx.head("d").send().await?.expect(404, "DUR-DELETE")?;
    ctx.get("d")
        .offset("-1")
        .send()
        .await?
        .expect(404, "DUR-DELETE")?;
    Ok(())
}

register![
    data_and_offsets_survive,
    json_messages_survive,
    closure_survives,
    config_survives,
    producer_state_survives,
    stream_seq_survives,
    forks_and_soft_delete_survive,
    deleted_stays_deleted,
];
