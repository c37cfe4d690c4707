//! §4.1 the `Stream-Closed` value: `true` in any letter case closes; any
//! other value is as if the header were absent (and SHOULD NOT be an error).

use crate::case::{case, register, CaseResult, Failure};
use crate::cases::support::create;
use crate::client::{Ctx, Resp};
use crate::{check, check_eq};

/// Create a fresh stream `s{i}` and append `body` to it with
/// `Stream-Closed: value`; returns the stream's name and the response.
async fn append_with(
    ctx: &Ctx,
    i: usize,
    value: &str,
    body: &str,
) -> Result<(String, Resp), Failure> {
    let name = format!("s{i}");
    create(ctx, &name, "text/plain", "CREATE-NEW-201").await?;
    let r = ctx
        .post(&name)
        .ct("text/plain")
        .header("Stream-Closed", value)
        .body(body)
        .send()
        .await?;
    Ok((name, r))
}

/// `TRUE`, `True` and `tRuE` close the stream (append-and-close).
#[case("CLOSE-TRUE-CASE-INSENSITIVE")]
pub async fn true_is_case_insensitive(ctx: Ctx) -> CaseResult {
    for (i, v) in ["TRUE", "True", "tRuE"].iter().enumerate() {
        let (name, r) = append_with(&ctx, i, v, "end").await?;
        r.expect(204, "CLOSE-TRUE-CASE-INSENSITIVE")?;
        let h = ctx.head(&name).send().await?;
        check!(
            h.closed(),
            "CLOSE-TRUE-CASE-INSENSITIVE",
            "Stream-Closed: {v} did not close the stream (HEAD lacks Stream-Closed: true)"
        );
    }
    Ok(())
}

/// `false`, `yes`, `1`, `` and `closed` on an append: the data is appended,
/// the stream stays open; SHOULD: the append is not refused. A refusal is
/// a finding and the case carries on with the other values: whatever it
/// answered, the stream must stay open, store exactly what was accepted
/// (nothing of a refused append) and take the next append (MUST).
#[case("CLOSE-NON-TRUE-IGNORED", "CLOSE-NON-TRUE-NO-ERROR")]
pub async fn other_values_do_not_close(ctx: Ctx) -> CaseResult {
    for (i, v) in ["false", "yes", "1", "", "closed", "true-ish"]
        .iter()
        .enumerate()
    {
        let (name, r) = append_with(&ctx, i, v, "x").await?;
        let h = ctx.head(&name).send().await?;
        check!(
            !h.closed(),
            "CLOSE-NON-TRUE-IGNORED",
            "Stream-Closed: {v:?} closed the stream"
        );
        check!(
            !r.closed(),
            "CLOSE-NON-TRUE-IGNORED",
            "append with Stream-Closed: {v:?} answered Stream-Closed: true"
        );
        // A refusal (4xx/5xx) stores nothing; any 2xx appended "x".
        let refused = r.status >= 300;
        if r.status != 204 {
            ctx.finding(Failure::new(
                Some("CLOSE-NON-TRUE-NO-ERROR"),
                format!(
                    "status of an append with Stream-Closed: {v:?}: {} (expected 204, as if the header were absent)",
                    r.status
                ),
            ));
        }
        ctx.post(&name)
            .ct("text/plain")
            .body("y")
            .send()
            .await?
            .expect(204, "CLOSE-NON-TRUE-IGNORED")?;
        let all = ctx.read_all(&name, "-1", "CLOSE-NON-TRUE-IGNORED").await?;
        let (want, how) = if refused {
            ("y", format!("the first was refused ({})", r.status))
        } else {
            ("xy", format!("the first was answered {}", r.status))
        };
        check_eq!(
            all.text(),
            want,
            "CLOSE-NON-TRUE-IGNORED",
            "content after appending \"x\" with Stream-Closed: {v:?} ({how}) and then \"y\""
        );
        check!(
            !all.closed,
            "CLOSE-NON-TRUE-IGNORED",
            "reads after appends with Stream-Closed: {v:?} report the stream closed"
        );
    }
    Ok(())
}

/// An empty POST with a non-`true` value is an empty append without
/// Stream-Closed: 400, and the stream stays open.
#[case("CLOSE-NON-TRUE-IGNORED")]
pub async fn other_values_on_empty_body_are_400(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "text/plain", "CREATE-NEW-201").await?;
    for v in ["false", "yes", "1", ""] {
        let r = ctx
            .post("s")
            .ct("text/plain")
            .header("Stream-Closed", v)
            .send()
            .await?;
        check!(
            !ctx.head("s").send().await?.closed(),
            "CLOSE-NON-TRUE-IGNORED",
            "empty POST with Stream-Closed: {v:?} closed the stream"
        );
        check_eq!(
            r.status,
            400,
            "CLOSE-NON-TRUE-IGNORED",
            "status of an empty POST with Stream-Closed: {v:?} (as if absent: empty body → 400)"
        );
    }
    Ok(())
}

register![
    true_is_case_insensitive,
    other_values_do_not_close,
    other_values_on_empty_body_are_400,
];
