//! §10.1 "ETag Usage" and "ETag and Stream Closure": every GET 200 but
//! `offset=now` has an ETag, a matching If-None-Match gets 304, and the
//! ETag changes whenever the answer would (append, close).

use crate::case::{case, register, CaseResult, Failure};
use crate::cases::support::{append, create_with};
use crate::check;
use crate::client::{Ctx, Resp};

fn etag(r: &Resp, what: &str) -> Result<String, Failure> {
    let e = r.header("etag").ok_or_else(|| {
        Failure::new(
            Some("ETAG-PRESENT"),
            format!("GET {what} answered {} without an ETag", r.status),
        )
    })?;
    check!(
        !e.trim().is_empty(),
        "ETAG-PRESENT",
        "GET {what} has an empty ETag"
    );
    Ok(e)
}

/// GET with `If-None-Match: etag` at `offset`.
async fn conditional(ctx: &Ctx, offset: &str, etag: &str) -> Result<Resp, Failure> {
    ctx.get("s")
        .offset(offset)
        .header("If-None-Match", etag)
        .send()
        .await
}

/// Catch-up 200s carry an ETag: from `-1`, from a minted offset, at the tail.
#[case("ETAG-PRESENT")]
pub async fn present_on_catch_up(ctx: Ctx) -> CaseResult {
    let mid = create_with(&ctx, "s", "text/plain", "ab", "ETAG-PRESENT")
        .await?
        .next_offset("ETAG-PRESENT")?;
    let tail = append(&ctx, "s", "text/plain", "cd", "ETAG-PRESENT").await?;
    for at in ["-1", mid.as_str(), tail.as_str()] {
        let r = ctx.get("s").offset(at).send().await?;
        r.expect(200, "ETAG-PRESENT")?;
        etag(&r, &format!("offset={at}"))?;
    }
    Ok(())
}

/// A long-poll 200 (data available) carries an ETag too.
#[case("ETAG-PRESENT")]
pub async fn present_on_long_poll_200(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "ab", "ETAG-PRESENT").await?;
    let r = ctx.get("s").offset("-1").long_poll().send().await?;
    r.expect(200, "ETAG-PRESENT")?;
    etag(&r, "offset=-1&live=long-poll")?;
    Ok(())
}

/// Repeating a read with `If-None-Match` set to its ETag gets 304 with no
/// body, both for data and for the empty read at the tail.
#[case("ETAG-304")]
pub async fn if_none_match_is_304(ctx: Ctx) -> CaseResult {
    let tail = create_with(&ctx, "s", "text/plain", "cache me", "ETAG-304")
        .await?
        .next_offset("ETAG-304")?;
    for at in ["-1", tail.as_str()] {
        let first = ctx.get("s").offset(at).send().await?;
        first.expect(200, "ETAG-304")?;
        let e = etag(&first, &format!("offset={at}"))?;
        let r = conditional(&ctx, at, &e).await?;
        r.expect(304, "ETAG-304")?;
        check!(
            r.body.is_empty(),
            "ETAG-304",
            "304 for offset={at} has a body: {:?}",
            r.text()
        );
    }
    Ok(())
}

/// An If-None-Match that does not match gets the full 200 response.
#[case("ETAG-MISMATCH-200")]
pub async fn mismatch_is_200(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "fresh", "ETAG-MISMATCH-200").await?;
    let r = conditional(&ctx, "-1", "\"no-such-etag\"").await?;
    r.expect(200, "ETAG-MISMATCH-200")?;
    crate::cases::longpoll::check_chunk(
        &r,
        "fresh",
        "ETAG-MISMATCH-200",
        "body for a non-matching If-None-Match",
    )?;
    Ok(())
}

/// Closing without new data changes the ETag: a conditional read with the
/// pre-close ETag gets 200 with `Stream-Closed`, never a 304 hiding EOF.
#[case("ETAG-CLOSE-CHANGES")]
pub async fn changes_on_close(ctx: Ctx) -> CaseResult {
    let tail = create_with(&ctx, "s", "text/plain", "data", "ETAG-CLOSE-CHANGES")
        .await?
        .next_offset("ETAG-CLOSE-CHANGES")?;
    let mut before = Vec::new();
    for at in ["-1", tail.as_str()] {
        let r = ctx.get("s").offset(at).send().await?;
        r.expect(200, "ETAG-CLOSE-CHANGES")?;
        // A partial chunk carries no closure signal, so its ETag may stay.
        if r.up_to_date() {
            before.push((at, etag(&r, &format!("offset={at}"))?));
        }
    }
    check!(
        !before.is_empty(),
        "READ-UP-TO-DATE",
        "the read at the tail lacks Stream-Up-To-Date: true"
    );
    ctx.post("s")
        .closed()
        .send()
        .await?
        .expect_any(&[200, 204], "ETAG-CLOSE-CHANGES")?;
    for (at, old) in before {
        let r = conditional(&ctx, at, &old).await?;
        check!(
            r.status == 200,
            "ETAG-CLOSE-CHANGES",
            "after closing, GET offset={at} with the pre-close ETag {old} answered {} (a 304 hides the closure)",
            r.status
        );
        // From the tail this is the EOF read; from -1 it returns the final
        // chunk of data (§5.6 names both).
        let closed_req = if at == tail {
            "READ-CLOSED-TAIL-EOF"
        } else {
            "READ-CLOSED-FINAL-CHUNK"
        };
        check!(
            r.closed(),
            closed_req,
            "GET offset={at} after closing lacks Stream-Closed: true"
        );
        let new = etag(&r, &format!("offset={at} after closing"))?;
        check!(
            new != old,
            "ETAG-CLOSE-CHANGES",
            "ETag for offset={at} did not change on close: {new}"
        );
    }
    Ok(())
}

/// After an append, a conditional read from the start with the old ETag
/// gets 200 with all the data and a new ETag.
#[case("ETAG-APPEND-CHANGES")]
pub async fn changes_on_append(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "v1", "ETAG-APPEND-CHANGES").await?;
    let r = ctx.get("s").offset("-1").send().await?;
    r.expect(200, "ETAG-APPEND-CHANGES")?;
    let old = etag(&r, "offset=-1")?;
    append(&ctx, "s", "text/plain", "+v2", "ETAG-APPEND-CHANGES").await?;
    let r = conditional(&ctx, "-1", &old).await?;
    check!(
        r.status == 200,
        "ETAG-APPEND-CHANGES",
        "after an append, GET offset=-1 with the old ETag answered {} (hiding new data)",
        r.status
    );
    crate::cases::longpoll::check_chunk(
        &r,
        "v1+v2",
        "ETAG-APPEND-CHANGES",
        "body after the append",
    )?;
    let new = etag(&r, "offset=-1 after an append")?;
    check!(
        new != old,
        "ETAG-APPEND-CHANGES",
        "ETag did not change after an append: {new}"
    );
    Ok(())
}

/// `offset=now` reads are excepted from ETags: none is sent.
#[case("ETAG-NOW-ABSENT")]
pub async fn absent_on_offset_now(ctx: Ctx) -> CaseResult {
    create_with(&ctx, "s", "text/plain", "history", "ETAG-NOW-ABSENT").await?;
    let r = ctx.get("s").offset("now").send().await?;
    r.expect(200, "ETAG-NOW-ABSENT")?;
    check!(
        r.header("etag").is_none(),
        "ETAG-NOW-ABSENT",
        "offset=now response has ETag {:?}",
        r.header("etag")
    );
    Ok(())
}

register![
    present_on_catch_up,
    present_on_long_poll_200,
    if_none_match_is_304,
    mismatch_is_200,
    changes_on_close,
    changes_on_append,
    absent_on_offset_now,
];
