//! §8 properties of the offsets a server mints: strictly increasing
//! (byte-wise), never `-1`/`now`, no `, & = ? /`, short, stable; §5.6 a
//! read at the tail.

use super::three_appends;
use crate::case::{case, register, CaseResult};
use crate::client::Ctx;
use crate::{check, check_eq};

/// Every offset the server hands out on `s` for appends, reads, HEAD and
/// close (after `three_appends`).
async fn every_offset(ctx: &Ctx) -> Result<Vec<String>, crate::case::Failure> {
    let mut all = three_appends(ctx).await?;
    let read = ctx.read_all("s", "-1", "OFFSET-CHARS").await?;
    all.extend(read.offsets);
    all.push(ctx.head("s").send().await?.next_offset("HEAD-200")?);
    let now = ctx.get("s").offset("now").send().await?;
    all.push(now.next_offset("OFFSET-NOW-CATCHUP")?);
    let c = ctx.post("s").closed().send().await?;
    all.push(c.next_offset("CLOSE-ONLY-204")?);
    let late = ctx.post("s").ct("text/plain").body("x").send().await?;
    all.extend(late.header("stream-next-offset"));
    Ok(all)
}

/// Offsets returned by successive appends are strictly greater, byte-wise,
/// than every earlier one (also across an append of one byte).
#[case("OFFSET-INCREASING")]
pub async fn strictly_increasing(ctx: Ctx) -> CaseResult {
    let mut offsets = three_appends(&ctx).await?;
    for body in ["x", "yy", "z"] {
        offsets.push(
            crate::cases::support::append(&ctx, "s", "text/plain", body, "APPEND-204").await?,
        );
    }
    for w in offsets.windows(2) {
        check!(
            w[1].as_bytes() > w[0].as_bytes(),
            "OFFSET-INCREASING",
            "offset {:?} minted after {:?} is not lexicographically greater",
            w[1],
            w[0]
        );
    }
    Ok(())
}

/// No minted offset is `-1` or `now`, or contains `,`, `&`, `=`, `?`, `/`.
#[case("OFFSET-RESERVED", "OFFSET-CHARS")]
pub async fn never_reserved_or_forbidden(ctx: Ctx) -> CaseResult {
    for o in every_offset(&ctx).await? {
        check!(
            o != "-1" && o != "now",
            "OFFSET-RESERVED",
            "server minted the reserved offset {o:?}"
        );
        check!(
            !o.contains([',', '&', '=', '?', '/']),
            "OFFSET-CHARS",
            "offset {o:?} contains a forbidden character"
        );
        check!(
            !o.is_empty(),
            "OFFSET-CHARS",
            "server minted an empty offset"
        );
    }
    Ok(())
}

/// SHOULD: offsets stay under 256 characters.
#[case("OFFSET-SHORT")]
pub async fn reasonably_short(ctx: Ctx) -> CaseResult {
    for o in every_offset(&ctx).await? {
        check!(
            o.len() < 256,
            "OFFSET-SHORT",
            "offset of {} characters: {o:?}",
            o.len()
        );
    }
    Ok(())
}

/// A read at the tail (of an empty stream, and after appends) is 200 with
/// an empty body and Stream-Next-Offset equal to the requested offset.
#[case("OFFSET-TAIL-READ")]
pub async fn tail_read_is_empty_200(ctx: Ctx) -> CaseResult {
    let empty = crate::cases::support::create(&ctx, "e", "text/plain", "CREATE-NEW-201").await?;
    let offsets = three_appends(&ctx).await?;
    let tails = [
        ("e", empty.next_offset("CREATE-NEW-201")?),
        ("s", offsets.last().cloned().unwrap_or_default()),
    ];
    for (name, tail) in tails {
        let r = ctx.get(name).offset(&tail).send().await?;
        r.expect(200, "OFFSET-TAIL-READ")?;
        check!(
            r.body.is_empty(),
            "OFFSET-TAIL-READ",
            "read at the tail returned {:?}",
            r.text()
        );
        check_eq!(
            r.next_offset("OFFSET-TAIL-READ")?,
            tail,
            "OFFSET-TAIL-READ",
            "Stream-Next-Offset of a tail read"
        );
    }
    Ok(())
}

/// Reading twice from every minted offset gives the same bytes, equal to
/// the suffix after that point.
#[case("OFFSET-STABLE")]
pub async fn rereads_are_stable(ctx: Ctx) -> CaseResult {
    let offsets = three_appends(&ctx).await?;
    let suffixes = ["alpha beta gamma", "beta gamma", "gamma", ""];
    for (o, want) in offsets.iter().zip(suffixes) {
        for _ in 0..2 {
            let got = ctx.read_all("s", o, "OFFSET-STABLE").await?;
            check_eq!(got.text(), want, "OFFSET-STABLE", "read from offset {o:?}");
        }
    }
    Ok(())
}

register![
    strictly_increasing,
    never_reserved_or_forbidden,
    reasonably_short,
    tail_read_is_empty_200,
    rereads_are_stable,
];
