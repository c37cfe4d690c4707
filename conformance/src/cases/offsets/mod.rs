//! §8 Offsets: the `-1` and `now` sentinels, properties of minted offsets
//! (increasing, stable, reserved values, forbidden characters), malformed
//! offsets.

use crate::case::Case;

mod malformed;
mod minted;
mod sentinels;

pub fn cases() -> Vec<Case> {
    [
        sentinels::cases as fn() -> Vec<Case>,
        minted::cases,
        malformed::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .collect()
}

/// A text/plain stream `s` built from three appends; returns every offset
/// the server minted on the way (create, then each append).
async fn three_appends(ctx: &crate::client::Ctx) -> Result<Vec<String>, crate::case::Failure> {
    let r = crate::cases::support::create(ctx, "s", "text/plain", "CREATE-NEW-201").await?;
    let mut offsets = vec![r.next_offset("CREATE-NEW-201")?];
    for part in ["alpha ", "beta ", "gamma"] {
        offsets
            .push(crate::cases::support::append(ctx, "s", "text/plain", part, "APPEND-204").await?);
    }
    Ok(offsets)
}
