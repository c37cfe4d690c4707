//! §8 sentinel offsets: `-1` (beginning, same as no offset) and `now`
//! (the current tail) in catch-up mode.

use super::three_appends;
use crate::case::{case, register, CaseResult};
use crate::client::Ctx;
use crate::{check, check_eq};

/// `offset=-1` and no offset give the same status, body and next offset.
#[case("OFFSET-MINUS-ONE")]
pub async fn minus_one_equals_omitted(ctx: Ctx) -> CaseResult {
    three_appends(&ctx).await?;
    let a = ctx.get("s").send().await?;
    let b = ctx.get("s").offset("-1").send().await?;
    a.expect(200, "OFFSET-MINUS-ONE")?;
    b.expect(200, "OFFSET-MINUS-ONE")?;
    check_eq!(
        b.text(),
        a.text(),
        "OFFSET-MINUS-ONE",
        "body of offset=-1 vs no offset"
    );
    check!(
        a.text().starts_with("alpha "),
        "OFFSET-MINUS-ONE",
        "read without offset does not start at the beginning: {:?}",
        a.text()
    );
    check_eq!(
        b.next_offset("OFFSET-MINUS-ONE")?,
        a.next_offset("OFFSET-MINUS-ONE")?,
        "OFFSET-MINUS-ONE",
        "Stream-Next-Offset"
    );
    Ok(())
}

/// `offset=now` on a stream with data: 200, empty body, Stream-Next-Offset
/// = the tail, Stream-Up-To-Date: true; reading from it finds later data.
#[case("OFFSET-NOW-CATCHUP")]
pub async fn now_is_empty_at_tail(ctx: Ctx) -> CaseResult {
    let offsets = three_appends(&ctx).await?;
    let tail = offsets.last().cloned().unwrap_or_default();
    let r = ctx.get("s").offset("now").send().await?;
    r.expect(200, "OFFSET-NOW-CATCHUP")?;
    check!(
        r.body.is_empty(),
        "OFFSET-NOW-CATCHUP",
        "offset=now returned data: {:?}",
        r.text()
    );
    check_eq!(
        r.next_offset("OFFSET-NOW-CATCHUP")?,
        tail,
        "OFFSET-NOW-CATCHUP",
        "Stream-Next-Offset of offset=now"
    );
    check!(
        r.up_to_date(),
        "OFFSET-NOW-CATCHUP",
        "offset=now lacks Stream-Up-To-Date: true"
    );
    crate::cases::support::append(&ctx, "s", "text/plain", "delta", "APPEND-204").await?;
    let later = ctx.read_all("s", &tail, "OFFSET-NOW-CATCHUP").await?;
    check_eq!(
        later.text(),
        "delta",
        "OFFSET-NOW-CATCHUP",
        "data read from the offset=now position after an append"
    );
    Ok(())
}

/// SHOULD: offset=now answers Cache-Control: no-store.
#[case("OFFSET-NOW-NO-STORE")]
pub async fn now_is_not_cacheable(ctx: Ctx) -> CaseResult {
    three_appends(&ctx).await?;
    let r = ctx.get("s").offset("now").send().await?;
    r.expect(200, "OFFSET-NOW-CATCHUP")?;
    let cc = r
        .require("cache-control", "OFFSET-NOW-NO-STORE")?
        .to_ascii_lowercase();
    check!(
        cc.split(',').any(|d| d.trim() == "no-store"),
        "OFFSET-NOW-NO-STORE",
        "Cache-Control {cc:?} lacks no-store"
    );
    Ok(())
}

/// offset=now on a closed stream: 200, empty, Stream-Closed: true,
/// Stream-Up-To-Date: true, Stream-Next-Offset = the final offset.
#[case("OFFSET-NOW-CLOSED")]
pub async fn now_on_closed_stream(ctx: Ctx) -> CaseResult {
    three_appends(&ctx).await?;
    let c = ctx.post("s").closed().send().await?;
    c.expect(204, "CLOSE-ONLY-204")?;
    let tail = c.next_offset("CLOSE-ONLY-204")?;
    let r = ctx.get("s").offset("now").send().await?;
    r.expect(200, "OFFSET-NOW-CLOSED")?;
    check!(
        r.body.is_empty(),
        "OFFSET-NOW-CLOSED",
        "offset=now on a closed stream returned data"
    );
    check!(r.closed(), "OFFSET-NOW-CLOSED", "lacks Stream-Closed: true");
    check!(
        r.up_to_date(),
        "OFFSET-NOW-CLOSED",
        "lacks Stream-Up-To-Date: true"
    );
    check_eq!(
        r.next_offset("OFFSET-NOW-CLOSED")?,
        tail,
        "OFFSET-NOW-CLOSED",
        "Stream-Next-Offset (final offset)"
    );
    Ok(())
}

register![
    minus_one_equals_omitted,
    now_is_empty_at_tail,
    now_is_not_cacheable,
    now_on_closed_stream,
];
