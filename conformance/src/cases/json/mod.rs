//! §9.1 JSON mode: one-level array flattening, message boundaries, empty
//! arrays, validation, array-shaped reads.

use crate::case::Case;

mod flatten;
mod reads;
mod validation;

pub fn cases() -> Vec<Case> {
    [
        flatten::cases as fn() -> Vec<Case>,
        validation::cases,
        reads::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .collect()
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
