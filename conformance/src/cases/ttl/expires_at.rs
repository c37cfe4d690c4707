//! §4 "TTL/Expiry" and §5.1 Stream-Expires-At: an absolute expiry time is a
//! hard deadline that reads and writes never extend.

use std::time::{Duration, Instant};

use super::util::{expires_in, put_text, sleep_until};
use crate::case::{case, register, CaseResult};
use crate::check;
use crate::client::{Ctx, Req};

/// Reads and appends every 400 ms neither make a Stream-Expires-At stream
/// expire early nor keep it alive past its deadline (checked ~1.5 s after).
#[case(
    "EXPIRES-AT-NOT-EXTENDED",
    "EXPIRES-AT-EXPIRES",
    "TTL-EXPIRED-404",
    secs = 3
)]
pub async fn not_extended_by_reads_or_writes(ctx: Ctx) -> CaseResult {
    let (value, at) = expires_in(3);
    let conf = |q: Req| q.expires_at(&value).body("abc");
    put_text(&ctx, "s", conf, "EXPIRES-AT-EXPIRES").await?;
    let deadline = at + Duration::from_millis(1500);
    loop {
        let sent = Instant::now();
        let g = ctx.get("s").offset("-1").send().await?;
        if g.status == 404 {
            break;
        }
        check!(
            sent + Duration::from_millis(500) < at || g.status == 200,
            "EXPIRES-AT-EXPIRES",
            "GET before the Stream-Expires-At {value} answered {}",
            g.status
        );
        g.expect(200, "EXPIRES-AT-NOT-EXTENDED")?;
        let p = ctx.post("s").ct("text/plain").body("x").send().await?;
        if p.status == 404 {
            break;
        }
        p.expect_any(&[200, 204], "EXPIRES-AT-EXPIRES")?;
        // Judged by when the GET was sent, so a slow answer on a loaded
        // machine is not mistaken for an extended deadline.
        check!(
            sent < deadline,
            "EXPIRES-AT-NOT-EXTENDED",
            "the stream still accepts reads and appends 1.5 s after its Stream-Expires-At \
             {value}: reads/writes must not extend an absolute expiry"
        );
        sleep_until(&ctx, sent + Duration::from_millis(400)).await;
    }
    check!(
        Instant::now() + Duration::from_millis(500) >= at,
        "EXPIRES-AT-EXPIRES",
        "the stream expired more than 0.5 s before its Stream-Expires-At {value}"
    );
    let h = ctx.head("s").send().await?;
    check!(
        h.status == 404,
        "TTL-EXPIRED-404",
        "HEAD after expiry answered {}, expected 404",
        h.status
    );
    Ok(())
}

register![not_extended_by_reads_or_writes,];
