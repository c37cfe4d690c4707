//! §9.1 JSON mode: one-level array flattening, message boundaries, empty
//! arrays, validation, array-shaped reads.

use crate::case::{case, Case};

mod flatten;
mod reads;
mod validation;

pub fn cases() -> Vec<Case> {
    vec![
        case(
            "json::flatten::spec_examples",
            &["JSON-FLATTEN"],
            flatten::spec_examples,
        ),
        case(
            "json::flatten::scalars_and_nested",
            &["JSON-FLATTEN"],
            flatten::scalars_and_nested,
        ),
        case(
            "json::flatten::boundaries_kept",
            &["JSON-BOUNDARIES"],
            flatten::boundaries_kept,
        ),
        case(
            "json::flatten::put_array_is_initial_messages",
            &["JSON-PUT-ARRAY-MESSAGES"],
            flatten::put_array_is_initial_messages,
        ),
        case(
            "json::validation::empty_array_post_is_400",
            &["JSON-EMPTY-ARRAY-POST-400"],
            validation::empty_array_post_is_400,
        ),
        case(
            "json::validation::empty_array_put_creates_empty_stream",
            &["JSON-EMPTY-ARRAY-PUT"],
            validation::empty_array_put_creates_empty_stream,
        ),
        case(
            "json::validation::invalid_post_is_400",
            &["JSON-INVALID-400"],
            validation::invalid_post_is_400,
        ),
        case(
            "json::validation::non_utf8_is_400",
            &["JSON-INVALID-400"],
            validation::non_utf8_is_400,
        ),
        case(
            "json::validation::invalid_put_is_400",
            &["JSON-INVALID-400"],
            validation::invalid_put_is_400,
        ),
        case(
            "json::reads::read_is_one_json_array",
            &["JSON-READ-ARRAY", "CREATE-INITIAL-BODY"],
            reads::read_is_one_json_array,
        ),
        case(
            "json::reads::middle_offset_returns_later_messages",
            &["JSON-BOUNDARIES"],
            reads::middle_offset_returns_later_messages,
        ),
        case(
            "json::reads::empty_ranges_are_empty_arrays",
            &["JSON-EMPTY-RANGE", "OFFSET-NOW-CATCHUP"],
            reads::empty_ranges_are_empty_arrays,
        ),
        case(
            "json::reads::charset_parameter_keeps_json_mode",
            &["JSON-MODE-PARAMS"],
            reads::charset_parameter_keeps_json_mode,
        ),
    ]
}

/// Shared by the JSON cases: create an application/json stream `s`.
async fn json_stream(ctx: &crate::client::Ctx) -> crate::case::CaseResult {
    crate::cases::support::create(ctx, "s", "application/json", "CREATE-NEW-201").await?;
    Ok(())
}

/// POST a JSON body to `s`; require 204.
async fn post(
    ctx: &crate::client::Ctx,
    body: &str,
    req: &str,
) -> Result<String, crate::case::Failure> {
    crate::cases::support::append(ctx, "s", "application/json", body, req).await
}
