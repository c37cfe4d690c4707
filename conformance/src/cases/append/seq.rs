//! §5.2 `Stream-Seq`: strictly increasing, compared byte-wise
//! lexicographically; a rejected append stores nothing.

use crate::case::{case, register, CaseResult};
use crate::cases::support::create;
use crate::check_eq;
use crate::client::Ctx;

/// POST `body` with Stream-Seq `seq`; return the status.
async fn post_seq(ctx: &Ctx, seq: &str, body: &str) -> Result<u16, crate::case::Failure> {
    Ok(ctx
        .post("s")
        .ct("text/plain")
        .seq(seq)
        .body(body)
        .send()
        .await?
        .status)
}

/// Run `steps` (seq, body, expected status) on a fresh stream, then check
/// that exactly the accepted bodies were stored, in order.
async fn run(ctx: &Ctx, steps: &[(&str, &str, u16)], req: &str) -> CaseResult {
    create(ctx, "s", "text/plain", "CREATE-NEW-201").await?;
    let mut stored = String::new();
    for (seq, body, want) in steps {
        let got = post_seq(ctx, seq, body).await?;
        check_eq!(
            got,
            *want,
            req,
            "status of the append with Stream-Seq {seq:?}"
        );
        if *want == 204 {
            stored.push_str(body);
        }
    }
    let all = ctx.read_all("s", "-1", req).await?;
    check_eq!(
        all.text(),
        stored,
        req,
        "content: accepted appends only, in order"
    );
    Ok(())
}

/// Strictly increasing sequence values are all accepted.
#[case("SEQ-INCREASING-ACCEPTED")]
pub async fn increasing_is_accepted(ctx: Ctx) -> CaseResult {
    run(
        &ctx,
        &[
            ("a", "1", 204),
            ("b", "2", 204),
            ("b0", "3", 204),
            ("c", "4", 204),
        ],
        "SEQ-INCREASING-ACCEPTED",
    )
    .await
}

/// Repeating the last sequence value is 409.
#[case("SEQ-REGRESSION-409")]
pub async fn equal_is_409(ctx: Ctx) -> CaseResult {
    run(
        &ctx,
        &[("005", "a", 204), ("005", "b", 409), ("006", "c", 204)],
        "SEQ-REGRESSION-409",
    )
    .await
}

/// A smaller sequence value is 409.
#[case("SEQ-REGRESSION-409")]
pub async fn regression_is_409(ctx: Ctx) -> CaseResult {
    run(
        &ctx,
        &[
            ("m", "a", 204),
            ("c", "b", 409),
            ("l", "c", 409),
            ("n", "d", 204),
        ],
        "SEQ-REGRESSION-409",
    )
    .await
}

/// "10" sorts before "9" byte-wise: after "9", "10" is a regression; after
/// "10", "9" is an increase.
#[case("SEQ-LEXICOGRAPHIC")]
pub async fn compared_bytewise_not_numerically(ctx: Ctx) -> CaseResult {
    run(
        &ctx,
        &[("9", "a", 204), ("10", "b", 409), ("90", "c", 204)],
        "SEQ-LEXICOGRAPHIC",
    )
    .await?;
    ctx.delete("s").send().await?;
    ctx.put("t")
        .ct("text/plain")
        .send()
        .await?
        .expect(201, "CREATE-NEW-201")?;
    for (seq, want) in [("10", 204), ("9", 204)] {
        let r = ctx
            .post("t")
            .ct("text/plain")
            .seq(seq)
            .body("x")
            .send()
            .await?;
        check_eq!(
            r.status,
            want,
            "SEQ-LEXICOGRAPHIC",
            "status of the append with Stream-Seq {seq:?} (after \"10\", \"9\" increases)"
        );
    }
    Ok(())
}

/// Upper case sorts before lower case byte-wise: after "a", "Z" is a
/// regression; after "Z", "a" is an increase.
#[case("SEQ-LEXICOGRAPHIC")]
pub async fn compared_bytewise_not_case_folded(ctx: Ctx) -> CaseResult {
    run(
        &ctx,
        &[
            ("Z", "1", 204),
            ("a", "2", 204),
            ("Z", "3", 409),
            ("b", "4", 204),
        ],
        "SEQ-LEXICOGRAPHIC",
    )
    .await
}

/// An append refused for another reason (content type, empty body) does
/// not consume its Stream-Seq: the same value is accepted afterwards.
#[case("SEQ-INCREASING-ACCEPTED")]
pub async fn rejected_append_does_not_consume_seq(ctx: Ctx) -> CaseResult {
    create(&ctx, "s", "text/plain", "CREATE-NEW-201").await?;
    check_eq!(
        post_seq(&ctx, "5", "a").await?,
        204,
        "SEQ-INCREASING-ACCEPTED",
        "first append with Stream-Seq 5"
    );
    let wrong = ctx
        .post("s")
        .ct("application/json")
        .seq("6")
        .body("{}")
        .send()
        .await?;
    check_eq!(
        wrong.status,
        409,
        "APPEND-CT-MISMATCH-409",
        "append with the wrong content type"
    );
    let empty = ctx.post("s").ct("text/plain").seq("6").send().await?;
    check_eq!(empty.status, 400, "APPEND-EMPTY-BODY-400", "empty append");
    check_eq!(
        post_seq(&ctx, "6", "b").await?,
        204,
        "SEQ-INCREASING-ACCEPTED",
        "Stream-Seq 6 after two refused appends that carried it"
    );
    let all = ctx.read_all("s", "-1", "SEQ-INCREASING-ACCEPTED").await?;
    check_eq!(all.text(), "ab", "SEQ-INCREASING-ACCEPTED", "content");
    Ok(())
}

register![
    increasing_is_accepted,
    rejected_append_does_not_consume_seq,
    equal_is_409,
    regression_is_409,
    compared_bytewise_not_numerically,
    compared_bytewise_not_case_folded,
];
