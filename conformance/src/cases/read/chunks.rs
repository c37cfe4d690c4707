//! §5.6: reads of a stream larger than any sensible chunk. The chunk size
//! is the server's choice: cases follow `Stream-Next-Offset` and check
//! what each chunk says about being final, never how big it is.

use crate::case::{case, register, CaseResult, Failure};
use crate::cases::support::{append, binary_payload, create};
use crate::client::{Ctx, Resp};
use crate::{check, check_eq, fail};

const CT: &str = "application/octet-stream";

/// A few MiB in several appends: more than one chunk on most servers.
async fn fill(ctx: &Ctx) -> Result<(Vec<u8>, Vec<String>), Failure> {
    create(ctx, "s", CT, "READ-FOLLOW-CHUNKS").await?;
    let mut all = Vec::new();
    let mut offsets = Vec::new();
    for salt in 0..4u8 {
        let part = binary_payload(768 * 1024 + 17 * salt as usize, salt);
        offsets.push(append(ctx, "s", CT, part.clone(), "READ-FOLLOW-CHUNKS").await?);
        all.extend(part);
    }
    Ok((all, offsets))
}

/// One catch-up response and the offset it was requested at.
struct Chunk {
    at: String,
    resp: Resp,
    next: String,
}

/// Follow `Stream-Next-Offset` from `from` until a response with an empty
/// body (the tail). Unlike `read_all`, keeps going past a premature
/// `Stream-Up-To-Date` so that the case can tell what was wrong. Every
/// non-empty chunk holds at least a byte, so `len` bytes bound the loop.
async fn follow(ctx: &Ctx, from: &str, len: usize) -> Result<Vec<Chunk>, Failure> {
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut at = from.to_string();
    for _ in 0..len + 2 {
        let resp = ctx.get("s").offset(&at).send().await?;
        resp.expect(200, "READ-FOLLOW-CHUNKS")?;
        let next = resp.next_offset("READ-NEXT-OFFSET")?;
        let empty = resp.body.is_empty();
        if !empty && next.as_str() <= at.as_str() && at != "-1" {
            fail!(
                "READ-FOLLOW-CHUNKS",
                "a chunk read at {at:?} returned Stream-Next-Offset {next:?}, which does not sort after it"
            );
        }
        chunks.push(Chunk {
            at: at.clone(),
            resp,
            next: next.clone(),
        });
        if empty {
            return Ok(chunks);
        }
        at = next;
    }
    fail!(
        "READ-FOLLOW-CHUNKS",
        "no empty tail response after {} chunks for {len} bytes",
        len + 2
    )
}

/// Per-chunk rules of a full read of a stream whose bytes are `expected`.
fn check_chunks(chunks: &[Chunk], expected: &[u8], closed: bool) -> CaseResult {
    let data: Vec<&Chunk> = chunks.iter().filter(|c| !c.resp.body.is_empty()).collect();
    let bytes: Vec<u8> = data
        .iter()
        .flat_map(|c| c.resp.body.iter().copied())
        .collect();
    check!(
        bytes == expected,
        "READ-FOLLOW-CHUNKS",
        "following Stream-Next-Offset over {} chunk(s) gave {} bytes, expected {} (first difference at byte {:?})",
        data.len(),
        bytes.len(),
        expected.len(),
        super::basic::first_difference(&bytes, expected)
    );
    let Some((last, partial)) = data.split_last() else {
        fail!("READ-FOLLOW-CHUNKS", "the read returned no data at all");
    };
    check!(
        last.resp.up_to_date(),
        "READ-UP-TO-DATE",
        "the chunk holding the last bytes (read at {:?}) lacks Stream-Up-To-Date: true",
        last.at
    );
    check_eq!(
        last.resp.closed(),
        closed,
        "READ-CLOSED-FINAL-CHUNK",
        "Stream-Closed on the final data chunk (read at {:?}) of a {} stream",
        last.at,
        if closed { "closed" } else { "open" }
    );
    for c in partial {
        check!(
            !c.resp.up_to_date(),
            "READ-PARTIAL-NO-UP-TO-DATE",
            "chunk read at {:?} has Stream-Up-To-Date although more data followed",
            c.at
        );
        check!(
            !c.resp.closed(),
            "READ-PARTIAL-NO-CLOSED",
            "chunk read at {:?} has Stream-Closed although more data followed",
            c.at
        );
    }
    let tail = chunks.last().expect("follow returns at least one response");
    check!(
        tail.resp.up_to_date(),
        "READ-UP-TO-DATE",
        "the empty read at the tail lacks Stream-Up-To-Date: true"
    );
    check_eq!(
        tail.resp.closed(),
        closed,
        "READ-CLOSED-TAIL-EOF",
        "Stream-Closed on the empty read at the tail"
    );
    Ok(())
}

/// Following `Stream-Next-Offset` over a multi-MiB stream yields every byte
/// once; only the chunk with the last bytes says `Stream-Up-To-Date`.
#[case(
    "READ-FOLLOW-CHUNKS",
    "READ-UP-TO-DATE",
    "READ-PARTIAL-NO-UP-TO-DATE",
    "READ-PARTIAL-NO-CLOSED"
)]
pub async fn follow_next_offset(ctx: Ctx) -> CaseResult {
    let (expected, offsets) = fill(&ctx).await?;
    let chunks = follow(&ctx, "-1", expected.len()).await?;
    ctx.note(format!("{} responses to reach the tail", chunks.len()));
    check_chunks(&chunks, &expected, false)?;
    check_eq!(
        chunks.last().map(|c| c.next.clone()),
        offsets.last().cloned(),
        "READ-FOLLOW-CHUNKS",
        "Stream-Next-Offset at the tail vs the last append's"
    );
    Ok(())
}

/// On a closed multi-MiB stream, `Stream-Closed` appears on the chunk
/// with the last bytes (and at the tail), never on earlier chunks.
#[case(
    "READ-CLOSED-FINAL-CHUNK",
    "READ-FOLLOW-CHUNKS",
    "READ-PARTIAL-NO-CLOSED",
    "READ-CLOSED-TAIL-EOF"
)]
pub async fn closed_only_on_final_chunk(ctx: Ctx) -> CaseResult {
    let (expected, _) = fill(&ctx).await?;
    let r = ctx.post("s").closed().send().await?;
    r.expect_any(&[200, 204], "READ-CLOSED-FINAL-CHUNK")?;
    let chunks = follow(&ctx, "-1", expected.len()).await?;
    ctx.note(format!("{} responses to reach the tail", chunks.len()));
    check_chunks(&chunks, &expected, true)
}

/// Every `Stream-Next-Offset` a chunk returned is a valid place to resume:
/// reading from it yields exactly the rest of the stream.
#[case("READ-FOLLOW-CHUNKS", "READ-FROM-OFFSET")]
pub async fn resume_from_chunk_offsets(ctx: Ctx) -> CaseResult {
    let (expected, _) = fill(&ctx).await?;
    let chunks = follow(&ctx, "-1", expected.len()).await?;
    let mut consumed = 0usize;
    // Resuming from every chunk boundary is quadratic; a few suffice.
    let step = (chunks.len() / 4).max(1);
    for (i, c) in chunks.iter().enumerate() {
        consumed += c.resp.body.len();
        if i % step != 0 && i + 1 != chunks.len() {
            continue;
        }
        let rest = ctx.read_all("s", &c.next, "READ-FOLLOW-CHUNKS").await?;
        check!(
            rest.bytes == expected[consumed..],
            "READ-FOLLOW-CHUNKS",
            "resuming at {:?} (after {consumed} bytes) gave {} bytes, expected the remaining {}",
            c.next,
            rest.bytes.len(),
            expected.len() - consumed
        );
    }
    Ok(())
}

register![
    follow_next_offset,
    closed_only_on_final_chunk,
    resume_from_chunk_offsets,
];
