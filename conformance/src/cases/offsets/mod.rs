//! §8 Offsets: the `-1` and `now` sentinels, properties of minted offsets
//! (increasing, stable, reserved values, forbidden characters), malformed
//! offsets.

use crate::case::{case, Case};

mod malformed;
mod minted;
mod sentinels;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "offsets::sentinels::minus_one_equals_omitted",
            &["OFFSET-MINUS-ONE"],
            sentinels::minus_one_equals_omitted,
        ),
        case(
            "offsets::sentinels::now_is_empty_at_tail",
            &["OFFSET-NOW-CATCHUP"],
            sentinels::now_is_empty_at_tail,
        ),
        case(
            "offsets::sentinels::now_is_not_cacheable",
            &["OFFSET-NOW-NO-STORE"],
            sentinels::now_is_not_cacheable,
        ),
        case(
            "offsets::sentinels::now_on_closed_stream",
            &["OFFSET-NOW-CLOSED"],
            sentinels::now_on_closed_stream,
        ),
        case(
            "offsets::minted::strictly_increasing",
            &["OFFSET-INCREASING"],
            minted::strictly_increasing,
        ),
        case(
            "offsets::minted::never_reserved_or_forbidden",
            &["OFFSET-RESERVED", "OFFSET-CHARS"],
            minted::never_reserved_or_forbidden,
        ),
        case(
            "offsets::minted::reasonably_short",
            &["OFFSET-SHORT"],
            minted::reasonably_short,
        ),
        case(
            "offsets::minted::tail_read_is_empty_200",
            &["OFFSET-TAIL-READ"],
            minted::tail_read_is_empty_200,
        ),
        case(
            "offsets::minted::rereads_are_stable",
            &["OFFSET-STABLE"],
            minted::rereads_are_stable,
        ),
        case(
            "offsets::malformed::forbidden_characters_are_400",
            &["OFFSET-MALFORMED-400", "OFFSET-EMPTY-400"],
            malformed::forbidden_characters_are_400,
        ),
        case(
            "offsets::malformed::garbage_is_never_5xx",
            &["SEC-BAD-INPUT-4XX"],
            malformed::garbage_is_never_5xx,
        ),
        case(
            "offsets::malformed::repeated_offset_is_400",
            &["OFFSET-DUPLICATE-400"],
            malformed::repeated_offset_is_400,
        ),
        case(
            "offsets::malformed::unknown_parameters_are_ignored",
            &["READ-UNKNOWN-PARAMS-IGNORED"],
            malformed::unknown_parameters_are_ignored,
        ),
    ]
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
