//! §5.1 `Stream-Closed: true` on create: the stream starts closed and any
//! body is its complete, final content.

use crate::case::{case, register, CaseResult};
use crate::client::Ctx;
use crate::{check, check_eq};

/// PUT + Stream-Closed with no body: 201 with Stream-Closed: true; reads
/// see an empty closed stream; appends are refused with 409.
#[case("CREATE-CLOSED")]
pub async fn empty_closed_stream(ctx: Ctx) -> CaseResult {
    let r = ctx.put("s").ct("text/plain").closed().send().await?;
    r.expect(201, "CREATE-CLOSED")?;
    check!(r.closed(), "CREATE-CLOSED", "201 lacks Stream-Closed: true");
    let tail = r.next_offset("CREATE-RESP-HEADERS")?;
    let all = ctx.read_all("s", "-1", "CREATE-CLOSED").await?;
    check!(
        all.bytes.is_empty(),
        "CREATE-CLOSED",
        "closed empty stream has data"
    );
    check!(
        all.closed,
        "CREATE-CLOSED",
        "read of the stream does not report Stream-Closed"
    );
    check_eq!(
        all.tail(),
        Some(tail.as_str()),
        "CREATE-CLOSED",
        "read tail vs 201 tail"
    );
    ctx.post("s")
        .ct("text/plain")
        .body("late")
        .send()
        .await?
        .expect(409, "CREATE-CLOSED")?;
    Ok(())
}

/// PUT + Stream-Closed + body: the body is the whole content; the stream
/// is closed at its tail.
#[case("CREATE-CLOSED", "CREATE-INITIAL-BODY")]
pub async fn body_is_final_content(ctx: Ctx) -> CaseResult {
    let r = ctx
        .put("s")
        .ct("text/plain")
        .closed()
        .body("the whole story\n")
        .send()
        .await?;
    r.expect(201, "CREATE-CLOSED")?;
    check!(r.closed(), "CREATE-CLOSED", "201 lacks Stream-Closed: true");
    let tail = r.next_offset("CREATE-RESP-HEADERS")?;
    let all = ctx.read_all("s", "-1", "CREATE-CLOSED").await?;
    check_eq!(
        all.text(),
        "the whole story\n",
        "CREATE-INITIAL-BODY",
        "content"
    );
    check!(
        all.closed,
        "CREATE-CLOSED",
        "final read lacks Stream-Closed: true"
    );
    check_eq!(
        all.tail(),
        Some(tail.as_str()),
        "CREATE-CLOSED",
        "read tail vs 201 tail"
    );
    let h = ctx.head("s").send().await?;
    check!(
        h.closed(),
        "CREATE-CLOSED",
        "HEAD lacks Stream-Closed: true"
    );
    Ok(())
}

register![empty_closed_stream, body_is_final_content,];
