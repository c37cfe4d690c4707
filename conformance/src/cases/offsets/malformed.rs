//! §5.6 / §8 malformed offsets. No format is assumed: a string containing
//! `,` `&` `=` `?` or `/` (or empty) can never be a minted offset, so it must be 400;
//! other odd strings may be valid somewhere, so they only must not be 5xx.

use super::three_appends;
use crate::case::{case, register, CaseResult};
use crate::client::{Ctx, Req};
use crate::{check, check_eq};

/// Empty offsets, and offsets with forbidden characters (alone, or glued
/// to a real offset), are 400 in catch-up and long-poll mode: no server
/// mints either.
#[case("OFFSET-MALFORMED-400", "OFFSET-EMPTY-400")]
pub async fn forbidden_characters_are_400(ctx: Ctx) -> CaseResult {
    let offsets = three_appends(&ctx).await?;
    let real = &offsets[1];
    let mut bad: Vec<String> = ["a,b", "a&b", "a=b", "a/b", "a?b", ",", "/", "-1,now"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for c in [",", "&", "=", "/", "?"] {
        bad.push(format!("{real}{c}"));
        bad.push(format!("{c}{real}"));
    }
    for o in &bad {
        let r = ctx.get("s").offset(o).send().await?;
        check_eq!(
            r.status,
            400,
            "OFFSET-MALFORMED-400",
            "catch-up read with offset {o:?}"
        );
    }
    let r = ctx
        .get("s")
        .offset(format!("{real},x"))
        .long_poll()
        .send()
        .await?;
    check_eq!(
        r.status,
        400,
        "OFFSET-MALFORMED-400",
        "long-poll read with a malformed offset (must not wait)"
    );
    // An empty `offset=` is no minted token and no sentinel, but §5.6 lets
    // an omitted offset mean the start, so a server may read it as omitted:
    // 400 is only the SHOULD.
    let r = ctx.get("s").offset("").send().await?;
    check_eq!(
        r.status,
        400,
        "OFFSET-EMPTY-400",
        "catch-up read with an empty offset"
    );
    Ok(())
}

/// Percent-garbage, very long, non-ASCII, sentinel look-alikes and
/// another stream's offset: answered promptly, never with a 5xx.
#[case("SEC-BAD-INPUT-4XX")]
pub async fn garbage_is_never_5xx(ctx: Ctx) -> CaseResult {
    three_appends(&ctx).await?;
    let other = crate::cases::support::create_with(
        &ctx,
        "other",
        "text/plain",
        "zzzzzzzz",
        "CREATE-NEW-201",
    )
    .await?;
    let foreign = other.next_offset("CREATE-NEW-201")?;
    let long = "Z".repeat(8000);
    let values = [
        long,
        "é".into(),
        "--1".into(),
        "-2".into(),
        "NOW".into(),
        "nowx".into(),
        " -1".into(),
        "\u{0}".into(),
        foreign,
    ];
    for v in &values {
        let what = format!("offset {:?}", preview(v));
        no_server_error(ctx.get("s").offset(v), &what).await?;
    }
    for raw in [
        "offset=%zz",
        "offset=%",
        "offset",
        "offset=-1&offset=now",
        "offset=%FF%FE",
    ] {
        no_server_error(ctx.get("s").raw_query(raw), &format!("query {raw:?}")).await?;
    }
    Ok(())
}

/// Send `q` (10 s timeout); hostile input must not cause a 5xx.
async fn no_server_error(q: Req, what: &str) -> CaseResult {
    let r = q.timeout(std::time::Duration::from_secs(10)).send().await?;
    check!(
        r.status < 500,
        "SEC-BAD-INPUT-4XX",
        "{what} answered {}",
        r.status
    );
    Ok(())
}

fn preview(s: &str) -> String {
    if s.len() > 40 {
        format!("{}… ({} chars)", &s[..40], s.len())
    } else {
        s.to_string()
    }
}

/// SHOULD: a read naming `offset` twice is ambiguous → 400.
#[case("OFFSET-DUPLICATE-400")]
pub async fn repeated_offset_is_400(ctx: Ctx) -> CaseResult {
    let offsets = three_appends(&ctx).await?;
    let q = format!("offset=-1&offset={}", offsets[2]);
    let r = ctx.get("s").raw_query(&q).send().await?;
    check_eq!(
        r.status,
        400,
        "OFFSET-DUPLICATE-400",
        "read with two offset parameters"
    );
    Ok(())
}

/// SHOULD: unknown query parameters are ignored: the read is served as
/// without them.
#[case("READ-UNKNOWN-PARAMS-IGNORED")]
pub async fn unknown_parameters_are_ignored(ctx: Ctx) -> CaseResult {
    three_appends(&ctx).await?;
    let r = ctx
        .get("s")
        .offset("-1")
        .query("x-unknown", "1")
        .query("foo", "bar")
        .send()
        .await?;
    r.expect(200, "READ-UNKNOWN-PARAMS-IGNORED")?;
    check_eq!(
        r.text(),
        "alpha beta gamma",
        "READ-UNKNOWN-PARAMS-IGNORED",
        "body of a read with unknown parameters"
    );
    Ok(())
}

register![
    forbidden_characters_are_400,
    garbage_is_never_5xx,
    repeated_offset_is_400,
    unknown_parameters_are_ignored,
];
