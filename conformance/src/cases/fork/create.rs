//! §4.2 "Fork creation headers", "Closed stream forking", §5.1: forks that
//! succeed — default and explicit fork offsets, inherited content type.

use super::util::{answers, fork, reads, source};
use crate::case::{case, register, CaseResult};
use crate::client::Ctx;
use crate::{check, check_eq};

/// Without `Stream-Fork-Offset` the fork point is the source's tail: the
/// fork's `Stream-Next-Offset` is the source tail and it inherits everything.
#[case("FORK-CREATE", "FORK-DEFAULT-OFFSET")]
pub async fn default_offset_is_source_tail(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", "text/plain", &[b"abc", b"def"], "FORK-CREATE").await?;
    let r = fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    check_eq!(
        r.next_offset("FORK-DEFAULT-OFFSET")?,
        s.tail().to_string(),
        "FORK-DEFAULT-OFFSET",
        "fork PUT Stream-Next-Offset vs the source's tail"
    );
    let h = ctx.head("f").send().await?;
    h.expect(200, "FORK-CREATE")?;
    check_eq!(
        h.next_offset("FORK-DEFAULT-OFFSET")?,
        s.tail().to_string(),
        "FORK-DEFAULT-OFFSET",
        "HEAD on the fork: tail vs the source's tail"
    );
    reads(
        &ctx,
        "f",
        "-1",
        b"abcdef",
        "FORK-CREATE",
        "fork read from -1",
    )
    .await?;
    Ok(())
}

/// An explicit fork offset inherits exactly the data before it (up to but
/// not including the offset), and is the fork's tail.
#[case("FORK-CREATE", "FORK-OFFSET-EXCLUSIVE")]
pub async fn explicit_offset_inherits_prefix(ctx: Ctx) -> CaseResult {
    let s = source(
        &ctx,
        "s",
        "text/plain",
        &[b"one|", b"two|", b"three|"],
        "FORK-CREATE",
    )
    .await?;
    let r = fork(&ctx, "f", "s", Some(&s.offsets[2]), "FORK-CREATE").await?;
    check_eq!(
        r.next_offset("FORK-OFFSET-EXCLUSIVE")?,
        s.offsets[2].clone(),
        "FORK-OFFSET-EXCLUSIVE",
        "fork PUT Stream-Next-Offset vs the fork offset"
    );
    reads(
        &ctx,
        "f",
        "-1",
        b"one|two|",
        "FORK-OFFSET-EXCLUSIVE",
        "fork at the offset after the 2nd append",
    )
    .await?;
    Ok(())
}

/// Forking at the offset the source's create returned inherits nothing;
/// the fork still starts at that offset and takes appends after it.
#[case("FORK-OFFSET-EXCLUSIVE", "FORK-INDEPENDENT")]
pub async fn fork_at_start_inherits_nothing(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", "text/plain", &[b"abc"], "FORK-CREATE").await?;
    let r = fork(&ctx, "f", "s", Some(&s.offsets[0]), "FORK-CREATE").await?;
    check_eq!(
        r.next_offset("FORK-OFFSET-EXCLUSIVE")?,
        s.offsets[0].clone(),
        "FORK-OFFSET-EXCLUSIVE",
        "fork tail vs the fork offset"
    );
    reads(
        &ctx,
        "f",
        "-1",
        b"",
        "FORK-OFFSET-EXCLUSIVE",
        "fork at the source's first offset",
    )
    .await?;
    super::util::append(&ctx, "f", "text/plain", b"xyz", "FORK-INDEPENDENT").await?;
    reads(
        &ctx,
        "f",
        "-1",
        b"xyz",
        "FORK-INDEPENDENT",
        "fork after its own append",
    )
    .await?;
    Ok(())
}

/// An empty source can be forked; the fork is empty and appendable.
#[case("FORK-DEFAULT-OFFSET", "FORK-INDEPENDENT")]
pub async fn fork_of_empty_source(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", "text/plain", &[], "FORK-CREATE").await?;
    let r = fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    check_eq!(
        r.next_offset("FORK-DEFAULT-OFFSET")?,
        s.tail().to_string(),
        "FORK-DEFAULT-OFFSET",
        "fork of an empty source: tail"
    );
    super::util::append(&ctx, "f", "text/plain", b"own", "FORK-INDEPENDENT").await?;
    reads(
        &ctx,
        "f",
        "-1",
        b"own",
        "FORK-INDEPENDENT",
        "fork of an empty source",
    )
    .await?;
    reads(
        &ctx,
        "s",
        "-1",
        b"",
        "FORK-INDEPENDENT",
        "source after the fork's append",
    )
    .await?;
    Ok(())
}

/// Content-Type omitted: the fork inherits the source's type, visible on
/// the PUT response and on HEAD, and it behaves as that type (JSON mode).
#[case("FORK-CT-INHERIT")]
pub async fn content_type_omitted_is_inherited(ctx: Ctx) -> CaseResult {
    source(
        &ctx,
        "s",
        "application/json",
        &[br#"{"a":1}"#],
        "FORK-CREATE",
    )
    .await?;
    let r = fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    check_eq!(
        r.media_type(),
        Some("application/json".to_string()),
        "FORK-CT-INHERIT",
        "Content-Type of the fork PUT response"
    );
    let h = ctx.head("f").send().await?;
    h.expect(200, "FORK-CREATE")?;
    check_eq!(
        h.media_type(),
        Some("application/json".to_string()),
        "FORK-CT-INHERIT",
        "Content-Type on HEAD of the fork"
    );
    let a = ctx
        .post("f")
        .ct("application/json")
        .body(r#"[{"b":2},{"c":3}]"#)
        .send()
        .await?;
    a.expect_any(&[200, 204], "FORK-CT-INHERIT")?;
    let all = ctx.read_all("f", "-1", "FORK-CT-INHERIT").await?;
    check_eq!(
        all.messages,
        vec![
            serde_json::json!({"a":1}),
            serde_json::json!({"b":2}),
            serde_json::json!({"c":3})
        ],
        "FORK-CT-INHERIT",
        "fork read as JSON messages (inherited + flattened own batch)"
    );
    Ok(())
}

/// A Content-Type equal to the source's is accepted.
#[case("FORK-CT-MATCH")]
pub async fn content_type_equal_is_accepted(ctx: Ctx) -> CaseResult {
    source(&ctx, "s", "text/plain", &[b"abc"], "FORK-CREATE").await?;
    let r = answers(
        ctx.put("f").ct("text/plain").fork_of("s"),
        201,
        "FORK-CT-MATCH",
        "fork PUT with the source's Content-Type",
    )
    .await?;
    check_eq!(
        r.media_type(),
        Some("text/plain".to_string()),
        "FORK-CT-MATCH",
        "Content-Type of the fork"
    );
    reads(&ctx, "f", "-1", b"abc", "FORK-CREATE", "fork read").await?;
    Ok(())
}

/// A closed source can be forked and the fork starts open: no
/// `Stream-Closed` on PUT or HEAD, it accepts appends, the source stays closed.
#[case("FORK-CLOSED-SOURCE", "FORK-INDEPENDENT")]
pub async fn closed_source_gives_open_fork(ctx: Ctx) -> CaseResult {
    let r = ctx
        .put("s")
        .ct("text/plain")
        .closed()
        .body("final")
        .send()
        .await?;
    r.expect(201, "FORK-CREATE")?;
    let r = answers(
        ctx.put("f").fork_of("s"),
        201,
        "FORK-CLOSED-SOURCE",
        "fork of a closed source",
    )
    .await?;
    check!(
        !r.closed(),
        "FORK-CLOSED-SOURCE",
        "the fork PUT response says Stream-Closed: true"
    );
    let h = ctx.head("f").send().await?;
    h.expect(200, "FORK-CLOSED-SOURCE")?;
    check!(
        !h.closed(),
        "FORK-CLOSED-SOURCE",
        "HEAD on the fork of a closed source says Stream-Closed: true"
    );
    let a = ctx.post("f").ct("text/plain").body("+more").send().await?;
    a.expect_any(&[200, 204], "FORK-CLOSED-SOURCE")?;
    let all = reads(
        &ctx,
        "f",
        "-1",
        b"final+more",
        "FORK-CLOSED-SOURCE",
        "fork of a closed source",
    )
    .await?;
    check!(
        !all.closed,
        "FORK-CLOSED-SOURCE",
        "reading the fork reports it closed"
    );
    let h = ctx.head("s").send().await?;
    h.expect(200, "FORK-INDEPENDENT")?;
    check!(
        h.closed(),
        "FORK-INDEPENDENT",
        "the closed source no longer reports Stream-Closed after being forked"
    );
    reads(
        &ctx,
        "s",
        "-1",
        b"final",
        "FORK-INDEPENDENT",
        "closed source after the fork's append",
    )
    .await?;
    Ok(())
}

/// A body on the fork PUT is the fork's first own data: it follows the
/// inherited data (and a sub-offset's inherited prefix).
#[case("FORK-INITIAL-BODY")]
pub async fn initial_body_follows_inherited(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", "text/plain", &[b"abc|", b"def|"], "FORK-CREATE").await?;
    answers(
        ctx.put("f")
            .fork_of("s")
            .fork_offset(&s.offsets[1])
            .body("XY"),
        201,
        "FORK-INITIAL-BODY",
        "fork PUT with a body",
    )
    .await?;
    reads(
        &ctx,
        "f",
        "-1",
        b"abc|XY",
        "FORK-INITIAL-BODY",
        "fork created with a body",
    )
    .await?;
    reads(
        &ctx,
        "f",
        &s.offsets[1],
        b"XY",
        "FORK-INITIAL-BODY",
        "fork read from its fork point",
    )
    .await?;
    answers(
        ctx.put("g")
            .fork_of("s")
            .fork_offset(&s.offsets[1])
            .fork_sub_offset(2)
            .body("XY"),
        201,
        "FORK-INITIAL-BODY",
        "fork PUT with a sub-offset and a body",
    )
    .await?;
    reads(
        &ctx,
        "g",
        "-1",
        b"abc|deXY",
        "FORK-INITIAL-BODY",
        "sub-offset fork created with a body",
    )
    .await?;
    Ok(())
}

register![
    default_offset_is_source_tail,
    explicit_offset_inherits_prefix,
    fork_at_start_inherits_nothing,
    fork_of_empty_source,
    content_type_omitted_is_inherited,
    content_type_equal_is_accepted,
    closed_source_gives_open_fork,
    initial_body_follows_inherited,
];
