//! `--coverage`: which requirements no case checks, and which case names an
//! unknown requirement id.

use std::collections::BTreeSet;

use crate::case::Case;
use crate::requirements::Requirements;

/// Requirement ids that no case names.
pub fn uncovered<'a>(reqs: &'a Requirements, cases: &[Case]) -> Vec<&'a str> {
    let named: BTreeSet<&str> = cases
        .iter()
        .flat_map(|c| c.requirements.iter().copied())
        .collect();
    reqs.by_id
        .keys()
        .map(String::as_str)
        .filter(|id| !named.contains(id))
        .collect()
}

/// (case id, requirement id) pairs naming an id that is not in the list.
pub fn unknown(reqs: &Requirements, cases: &[Case]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for c in cases {
        for r in &c.requirements {
            if reqs.get(r).is_none() {
                out.push((c.id.clone(), r.to_string()));
            }
        }
    }
    out
}

pub fn print(reqs: &Requirements, cases: &[Case]) {
    let missing = uncovered(reqs, cases);
    println!(
        "{} requirements, {} cases; {} requirements checked by no case:",
        reqs.by_id.len(),
        cases.len(),
        missing.len()
    );
    for id in missing {
        let r = &reqs.by_id[id];
        println!("  {id} (§{}, {}): {}", r.section, r.level.as_str(), r.quote);
    }
    for (case, req) in unknown(reqs, cases) {
        println!("  case {case} names unknown requirement {req}");
    }
}
