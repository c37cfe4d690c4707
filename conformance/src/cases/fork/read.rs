//! §4.2 (reads stitch inherited and own data), §8 "Offsets and forked
//! streams", §9.1 "JSON mode and forked streams": reading a fork from -1,
//! from every source offset up to the fork point, from the fork point and
//! from its own offsets; chunked reads across the boundary; chains.

use serde_json::json;

use super::util::{answers, append, fork, reads, same_bytes, source};
use crate::case::{case, register, CaseResult};
use crate::cases::support::binary_payload;
use crate::client::Ctx;
use crate::{check, check_eq};

const CT: &str = "text/plain";

/// From -1 a fork returns the inherited bytes then its own, byte-exact.
#[case("FORK-READ-STITCH")]
pub async fn from_start(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", CT, &[b"a1|", b"b22|", b"c333|"], "FORK-CREATE").await?;
    fork(&ctx, "f", "s", Some(&s.offsets[2]), "FORK-CREATE").await?;
    append(&ctx, "f", CT, b"x|", "FORK-INDEPENDENT").await?;
    append(&ctx, "f", CT, b"yy|", "FORK-INDEPENDENT").await?;
    reads(
        &ctx,
        "f",
        "-1",
        b"a1|b22|x|yy|",
        "FORK-READ-STITCH",
        "fork read from -1",
    )
    .await?;
    Ok(())
}

/// Every offset the source minted up to the fork point means the same
/// position on the fork: reading the fork there returns the source's data
/// from there up to the fork point, then the fork's own data.
#[case("FORK-OFFSETS-SHARED")]
pub async fn from_every_source_offset(ctx: Ctx) -> CaseResult {
    let s = source(
        &ctx,
        "s",
        CT,
        &[b"p0|", b"p1|", b"p2|", b"p3|", b"p4|"],
        "FORK-CREATE",
    )
    .await?;
    let k = 4;
    fork(&ctx, "f", "s", Some(&s.offsets[k]), "FORK-CREATE").await?;
    append(&ctx, "f", CT, b"own|", "FORK-INDEPENDENT").await?;
    append(&ctx, "s", CT, b"later|", "FORK-INDEPENDENT").await?;
    for i in 0..=k {
        let mut want = s.between(i, k);
        want.extend_from_slice(b"own|");
        reads(
            &ctx,
            "f",
            &s.offsets[i],
            &want,
            "FORK-OFFSETS-SHARED",
            &format!("fork read from the source's offset #{i}"),
        )
        .await?;
    }
    Ok(())
}

/// Forking at every offset the source minted inherits exactly the prefix
/// before it, and each fork's tail is that offset.
#[case("FORK-OFFSET-EXCLUSIVE")]
pub async fn fork_at_every_source_offset(ctx: Ctx) -> CaseResult {
    let s = source(
        &ctx,
        "s",
        CT,
        &[b"a", b"bb", b"ccc", b"dddd"],
        "FORK-CREATE",
    )
    .await?;
    for (i, o) in s.offsets.iter().enumerate() {
        let name = format!("f{i}");
        let r = fork(&ctx, &name, "s", Some(o), "FORK-CREATE").await?;
        check_eq!(
            r.next_offset("FORK-OFFSET-EXCLUSIVE")?,
            o.clone(),
            "FORK-OFFSET-EXCLUSIVE",
            "tail of the fork at offset #{i}"
        );
        reads(
            &ctx,
            &name,
            "-1",
            &s.between(0, i),
            "FORK-OFFSET-EXCLUSIVE",
            &format!("fork at offset #{i}"),
        )
        .await?;
    }
    Ok(())
}

/// At the fork point: empty and up to date before own appends, then only
/// the fork's own data; its own offsets sort after the fork point and
/// resume exactly after each append.
#[case("FORK-OFFSETS-SHARED", "FORK-READ-STITCH")]
pub async fn from_fork_point_and_own_offsets(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", CT, &[b"inherited|"], "FORK-CREATE").await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    let r = ctx.get("f").offset(s.tail()).send().await?;
    r.expect(200, "FORK-OFFSETS-SHARED")?;
    check!(r.body.is_empty() && r.up_to_date(), "FORK-OFFSETS-SHARED", "read at the fork point of a fresh fork: expected empty + Stream-Up-To-Date, got {} bytes, up-to-date {}", r.body.len(), r.up_to_date());
    check_eq!(
        r.next_offset("FORK-OFFSETS-SHARED")?,
        s.tail().to_string(),
        "FORK-OFFSETS-SHARED",
        "Stream-Next-Offset at the fork point"
    );
    let t1 = append(&ctx, "f", CT, b"one|", "FORK-INDEPENDENT").await?;
    let t2 = append(&ctx, "f", CT, b"two|", "FORK-INDEPENDENT").await?;
    check!(
        t1.as_str() > s.tail() && t2 > t1,
        "FORK-OFFSETS-SHARED",
        "fork offsets do not increase past the fork point: fork point {:?}, then {t1:?}, {t2:?}",
        s.tail()
    );
    reads(
        &ctx,
        "f",
        s.tail(),
        b"one|two|",
        "FORK-READ-STITCH",
        "fork read from the fork point",
    )
    .await?;
    reads(
        &ctx,
        "f",
        &t1,
        b"two|",
        "FORK-READ-STITCH",
        "fork read from its own first append's offset",
    )
    .await?;
    reads(
        &ctx,
        "f",
        &t2,
        b"",
        "FORK-READ-STITCH",
        "fork read from its tail",
    )
    .await?;
    Ok(())
}

/// Appends to the source after the fork point never show on the fork (nor
/// fork appends on the source); the fork's tail does not move.
#[case("FORK-SOURCE-APPENDS-INVISIBLE", "FORK-INDEPENDENT")]
pub async fn source_appends_invisible(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", CT, &[b"shared|"], "FORK-CREATE").await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    append(
        &ctx,
        "s",
        CT,
        b"source-only|",
        "FORK-SOURCE-APPENDS-INVISIBLE",
    )
    .await?;
    let h = ctx.head("f").send().await?;
    h.expect(200, "FORK-SOURCE-APPENDS-INVISIBLE")?;
    check_eq!(
        h.next_offset("FORK-SOURCE-APPENDS-INVISIBLE")?,
        s.tail().to_string(),
        "FORK-SOURCE-APPENDS-INVISIBLE",
        "fork tail after a source append"
    );
    reads(
        &ctx,
        "f",
        "-1",
        b"shared|",
        "FORK-SOURCE-APPENDS-INVISIBLE",
        "fork after a source append",
    )
    .await?;
    append(&ctx, "f", CT, b"fork-only|", "FORK-INDEPENDENT").await?;
    append(&ctx, "s", CT, b"more-source|", "FORK-INDEPENDENT").await?;
    reads(
        &ctx,
        "f",
        "-1",
        b"shared|fork-only|",
        "FORK-SOURCE-APPENDS-INVISIBLE",
        "fork after both appended",
    )
    .await?;
    reads(
        &ctx,
        "s",
        "-1",
        b"shared|source-only|more-source|",
        "FORK-INDEPENDENT",
        "source after both appended",
    )
    .await?;
    Ok(())
}

/// Several MiB on each side of the boundary: a reader following
/// `Stream-Next-Offset` gets every byte exactly, from -1, from a source
/// offset, and from the fork point.
#[case("FORK-READ-STITCH", "FORK-OFFSETS-SHARED")]
pub async fn chunked_across_boundary(ctx: Ctx) -> CaseResult {
    let parts: Vec<Vec<u8>> = (0..3).map(|i| binary_payload(1 << 20, i as u8)).collect();
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    let ct = "application/octet-stream";
    let s = source(&ctx, "s", ct, &refs, "FORK-CREATE").await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    let own = binary_payload((1 << 20) + 12345, 99);
    append(&ctx, "f", ct, &own, "FORK-INDEPENDENT").await?;
    append(&ctx, "s", ct, &binary_payload(4096, 5), "FORK-INDEPENDENT").await?;
    let mut want = s.between(0, 3);
    want.extend_from_slice(&own);
    let all = reads(
        &ctx,
        "f",
        "-1",
        &want,
        "FORK-READ-STITCH",
        "4 MiB fork read from -1",
    )
    .await?;
    ctx.note(format!("fork read from -1 took {} chunks", all.chunks));
    let mut want = s.between(1, 3);
    want.extend_from_slice(&own);
    reads(
        &ctx,
        "f",
        &s.offsets[1],
        &want,
        "FORK-OFFSETS-SHARED",
        "fork read from the source's offset #1",
    )
    .await?;
    reads(
        &ctx,
        "f",
        s.tail(),
        &own,
        "FORK-READ-STITCH",
        "fork read from the fork point",
    )
    .await?;
    Ok(())
}

/// A JSON fork read across the boundary is one JSON array of inherited and
/// own messages (each chunk a single array).
#[case("FORK-JSON-ONE-ARRAY")]
pub async fn json_one_array(ctx: Ctx) -> CaseResult {
    let ct = "application/json";
    source(
        &ctx,
        "s",
        ct,
        &[br#"{"n":1}"#, br#"[{"n":2},{"n":3}]"#],
        "FORK-CREATE",
    )
    .await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    append(&ctx, "f", ct, br#"[{"n":4},{"n":5}]"#, "FORK-INDEPENDENT").await?;
    let r = ctx.get("f").offset("-1").send().await?;
    r.expect(200, "FORK-JSON-ONE-ARRAY")?;
    check_eq!(
        r.media_type(),
        Some(ct.to_string()),
        "FORK-JSON-ONE-ARRAY",
        "Content-Type of a JSON fork read"
    );
    let v = r.json("FORK-JSON-ONE-ARRAY")?;
    check!(
        v.is_array(),
        "FORK-JSON-ONE-ARRAY",
        "JSON fork read is not an array: {v}"
    );
    let all = ctx.read_all("f", "-1", "FORK-JSON-ONE-ARRAY").await?;
    let want: Vec<_> = (1..=5).map(|n| json!({ "n": n })).collect();
    check_eq!(
        all.messages,
        want,
        "FORK-JSON-ONE-ARRAY",
        "messages of the JSON fork from -1"
    );
    Ok(())
}

/// A chain of depth 3 (s ← f1 ← f2 ← f3), each level with own data:
/// reads from -1 and from each ancestor's fork point stitch every level.
#[case("FORK-CHAIN")]
pub async fn chain_depth_three(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", CT, &[b"s0|", b"s1|"], "FORK-CREATE").await?;
    fork(&ctx, "f1", "s", None, "FORK-CREATE").await?;
    let t1 = append(&ctx, "f1", CT, b"f1|", "FORK-INDEPENDENT").await?;
    fork(&ctx, "f2", "f1", None, "FORK-CHAIN").await?;
    let t2 = append(&ctx, "f2", CT, b"f2|", "FORK-INDEPENDENT").await?;
    fork(&ctx, "f3", "f2", None, "FORK-CHAIN").await?;
    append(&ctx, "f3", CT, b"f3|", "FORK-INDEPENDENT").await?;
    // Later appends at every level stay out of f3.
    append(&ctx, "s", CT, b"S!", "FORK-INDEPENDENT").await?;
    append(&ctx, "f1", CT, b"F1!", "FORK-INDEPENDENT").await?;
    append(&ctx, "f2", CT, b"F2!", "FORK-INDEPENDENT").await?;
    reads(
        &ctx,
        "f3",
        "-1",
        b"s0|s1|f1|f2|f3|",
        "FORK-CHAIN",
        "depth-3 fork from -1",
    )
    .await?;
    reads(
        &ctx,
        "f3",
        &s.offsets[1],
        b"s1|f1|f2|f3|",
        "FORK-CHAIN",
        "depth-3 fork from the source's offset #1",
    )
    .await?;
    reads(
        &ctx,
        "f3",
        s.tail(),
        b"f1|f2|f3|",
        "FORK-CHAIN",
        "depth-3 fork from f1's fork point",
    )
    .await?;
    reads(
        &ctx,
        "f3",
        &t1,
        b"f2|f3|",
        "FORK-CHAIN",
        "depth-3 fork from f2's fork point",
    )
    .await?;
    reads(
        &ctx,
        "f3",
        &t2,
        b"f3|",
        "FORK-CHAIN",
        "depth-3 fork from its own fork point",
    )
    .await?;
    reads(
        &ctx,
        "f2",
        "-1",
        b"s0|s1|f1|f2|F2!",
        "FORK-CHAIN",
        "depth-2 fork",
    )
    .await?;
    Ok(())
}

/// A fork of a fork taken at an offset inside the first fork's inherited
/// range inherits only the source prefix before it.
#[case("FORK-CHAIN")]
pub async fn fork_of_fork_at_inherited_offset(ctx: Ctx) -> CaseResult {
    let s = source(&ctx, "s", CT, &[b"a|", b"b|", b"c|"], "FORK-CREATE").await?;
    fork(&ctx, "f1", "s", None, "FORK-CREATE").await?;
    append(&ctx, "f1", CT, b"f1-own|", "FORK-INDEPENDENT").await?;
    let r = answers(
        ctx.put("f2").fork_of("f1").fork_offset(&s.offsets[1]),
        201,
        "FORK-CHAIN",
        "fork of f1 at the source's offset #1 (inherited by f1)",
    )
    .await?;
    check_eq!(
        r.next_offset("FORK-CHAIN")?,
        s.offsets[1].clone(),
        "FORK-CHAIN",
        "tail of the fork of a fork"
    );
    reads(
        &ctx,
        "f2",
        "-1",
        b"a|",
        "FORK-CHAIN",
        "fork of a fork at an inherited offset",
    )
    .await?;
    append(&ctx, "f2", CT, b"f2-own|", "FORK-INDEPENDENT").await?;
    let all = ctx.read_all("f2", "-1", "FORK-CHAIN").await?;
    same_bytes(
        &all.bytes,
        b"a|f2-own|",
        "FORK-CHAIN",
        "fork of a fork after its own append",
    )?;
    reads(
        &ctx,
        "f1",
        "-1",
        b"a|b|c|f1-own|",
        "FORK-INDEPENDENT",
        "f1 after being forked",
    )
    .await?;
    Ok(())
}

/// The offsets a fork mints while serving its inherited range (chunk
/// boundaries of a multi-MiB read) are the source's offsets too: reading
/// the source from each returns the source's data from that position.
#[case("FORK-OFFSETS-SHARED")]
pub async fn chunk_offsets_valid_on_source(ctx: Ctx) -> CaseResult {
    let ct = "application/octet-stream";
    let parts: Vec<Vec<u8>> = (0..3)
        .map(|i| binary_payload(1 << 20, 40 + i as u8))
        .collect();
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    let s = source(&ctx, "s", ct, &refs, "FORK-CREATE").await?;
    fork(&ctx, "f", "s", None, "FORK-CREATE").await?;
    append(
        &ctx,
        "f",
        ct,
        &binary_payload(1 << 20, 77),
        "FORK-INDEPENDENT",
    )
    .await?;
    let inherited = s.between(0, 3);
    // Follow the fork chunk by chunk, remembering where each offset points.
    let (mut at, mut pos, mut inside) = ("-1".to_string(), 0usize, Vec::new());
    let mut got = Vec::new();
    loop {
        let r = ctx.get("f").offset(&at).send().await?;
        r.expect(200, "FORK-READ-STITCH")?;
        let next = r.next_offset("FORK-READ-STITCH")?;
        pos += r.body.len();
        got.extend_from_slice(&r.body);
        if pos < inherited.len() {
            inside.push((next.clone(), pos));
        }
        if r.up_to_date() || r.body.is_empty() {
            break;
        }
        at = next;
    }
    let mut want = inherited.to_vec();
    want.extend_from_slice(&binary_payload(1 << 20, 77));
    same_bytes(
        &got,
        &want,
        "FORK-READ-STITCH",
        "the fork read chunk by chunk",
    )?;
    if inside.is_empty() {
        ctx.note("the fork's inherited range came back in one chunk: no fork-minted offset inside it to check");
    }
    for (offset, pos) in inside {
        reads(
            &ctx,
            "s",
            &offset,
            &inherited[pos..],
            "FORK-OFFSETS-SHARED",
            &format!("source read from the offset the fork minted after byte {pos}"),
        )
        .await?;
    }
    Ok(())
}

register![
    from_start,
    from_every_source_offset,
    fork_at_every_source_offset,
    from_fork_point_and_own_offsets,
    source_appends_invisible,
    chunked_across_boundary,
    json_one_array,
    chain_depth_three,
    fork_of_fork_at_inherited_offset,
    chunk_offsets_valid_on_source,
];
