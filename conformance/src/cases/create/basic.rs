//! §5.1: creating a new stream.

use crate::case::CaseResult;
use crate::check;
use crate::client::Ctx;

/// A PUT on a fresh URL creates the stream: 201 with a tail offset that
/// reads back as an empty, up-to-date stream.
pub async fn new_stream_is_201(ctx: Ctx) -> CaseResult {
    let r = ctx.put("s").ct("text/plain").send().await?;
    r.expect(201, "CREATE-NEW-201")?;
    let tail = r.next_offset("CREATE-NEW-201")?;
    let all = ctx.read_all("s", "-1", "CREATE-NEW-201").await?;
    check!(
        all.bytes.is_empty(),
        "CREATE-NEW-201",
        "new stream is not empty: {:?}",
        all.text()
    );
    check!(
        all.tail() == Some(tail.as_str()),
        "CREATE-NEW-201",
        "read tail {:?} differs from the create's Stream-Next-Offset {tail:?}",
        all.tail()
    );
    Ok(())
}
