//! The case catalog, one module per area, one file per topic. Case ids are
//! `area::topic::case`, so a positional FILTER such as `fork::` doubles as a
//! section filter.
//!
//! A case is an `async fn(Ctx) -> CaseResult` in `cases/<area>/<topic>.rs`
//! marked `#[case("REQ-ID", ...)]` with the requirement ids it checks
//! (`fixtures/requirements.toml`); the topic file ends with
//! `register![fn_a, fn_b, ...]` and the area's `mod.rs` lists its topics.
//! The id is derived from the module path and the function name, never
//! written by hand; an unregistered case is a dead-code error.

use crate::case::Case;

pub mod append;
pub mod caching;
pub mod close;
pub mod crash;
pub mod create;
pub mod durability;
pub mod fork;
pub mod json;
pub mod longpoll;
pub mod metadata;
pub mod offsets;
pub mod producer;
pub mod props;
pub mod read;
pub mod security;
pub mod sse;
pub mod subscriptions;
pub mod support;
pub mod ttl;

/// Every case, in catalog order.
pub fn all() -> Vec<Case> {
    let areas: [fn() -> Vec<Case>; 18] = [
        create::cases,
        append::cases,
        close::cases,
        metadata::cases,
        read::cases,
        longpoll::cases,
        sse::cases,
        json::cases,
        offsets::cases,
        caching::cases,
        security::cases,
        fork::cases,
        ttl::cases,
        producer::cases,
        subscriptions::cases,
        durability::cases,
        crash::cases,
        props::cases,
    ];
    areas.iter().flat_map(|f| f()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::requirements::Requirements;

    #[test]
    fn ids_are_unique_well_formed_and_name_known_requirements() {
        let reqs = Requirements::embedded();
        let cases = all();
        let mut seen = std::collections::BTreeSet::new();
        for c in &cases {
            assert!(seen.insert(c.id.clone()), "duplicate case id {}", c.id);
            assert_eq!(
                c.id.split("::").count(),
                3,
                "{} is not area::topic::case",
                c.id
            );
            assert!(!c.requirements.is_empty(), "{} names no requirement", c.id);
            for r in &c.requirements {
                assert!(
                    reqs.get(r).is_some(),
                    "{} names unknown requirement {r}",
                    c.id
                );
            }
        }
    }
}
