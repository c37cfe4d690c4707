//! `--coverage`: which requirements no case checks, which case names an
//! unknown requirement id, and which cases no bite test proves able to fail
//! (`fixtures/bite-coverage.txt`, written by `scripts/bite-coverage.sh` from
//! what the bite tests in `conformance/tests/bite/` recorded).

use std::collections::BTreeSet;

use crate::case::Case;
use crate::requirements::Requirements;
use crate::runner::count;

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

/// `case<TAB>requirement` lines: each pair a bite test made fail.
const BITES: &str = include_str!("../../fixtures/bite-coverage.txt");

/// Case ids that some bite test made fail against a broken server.
pub fn bitten() -> BTreeSet<&'static str> {
    BITES
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
        .collect()
}

/// Cases that no bite test proves able to fail.
pub fn unbitten(cases: &[Case]) -> Vec<&str> {
    let bitten = bitten();
    cases
        .iter()
        .map(|c| c.id.as_str())
        .filter(|id| !bitten.contains(id))
        .collect()
}

pub fn print(reqs: &Requirements, cases: &[Case]) {
    let missing = uncovered(reqs, cases);
    crate::outln!(
        "{}, {}; {} checked by no case:",
        count(reqs.by_id.len(), "requirement", "requirements"),
        count(cases.len(), "case", "cases"),
        count(missing.len(), "requirement", "requirements")
    );
    for id in missing {
        let r = &reqs.by_id[id];
        crate::outln!("  {id} (§{}, {}): {}", r.section, r.level.as_str(), r.quote);
    }
    for (case, req) in unknown(reqs, cases) {
        crate::outln!("  case {case} names unknown requirement {req}");
    }
    let unproved = unbitten(cases);
    crate::outln!(
        "{} proved able to fail by a bite test; {} not (fixtures/bite-coverage.txt):",
        count(cases.len() - unproved.len(), "case", "cases"),
        unproved.len()
    );
    for id in unproved {
        crate::outln!("  {id}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every case is made to fail on one of its own requirements by some
    /// bite test: failing only on a setup precondition (another rule) does
    /// not prove the case can catch the rule it is about.
    #[test]
    fn every_case_bitten_on_its_own_requirement() {
        let mut own: BTreeSet<&str> = BTreeSet::new();
        let cases = crate::cases::all();
        for line in BITES.lines().filter(|l| !l.starts_with('#')) {
            let mut cols = line.split('\t');
            let (Some(id), Some(req)) = (cols.next(), cols.next()) else {
                continue;
            };
            if cases
                .iter()
                .any(|c| c.id == id && c.requirements.contains(&req))
            {
                own.insert(id);
            }
        }
        let weak: Vec<&str> = cases
            .iter()
            .map(|c| c.id.as_str())
            .filter(|id| bitten().contains(id) && !own.contains(id))
            .collect();
        assert!(
            weak.is_empty(),
            "cases whose bites fail only on a requirement they do not name: {weak:?}"
        );
    }

    /// The bite record names only cases that exist (a renamed or removed
    /// case must be re-recorded by scripts/bite-coverage.sh).
    #[test]
    fn bite_record_names_existing_cases() {
        let ids: BTreeSet<String> = crate::cases::all().into_iter().map(|c| c.id).collect();
        let stale: Vec<_> = bitten()
            .into_iter()
            .filter(|id| !ids.contains(*id))
            .collect();
        assert!(
            stale.is_empty(),
            "fixtures/bite-coverage.txt names unknown cases: {stale:?}"
        );
    }
}
