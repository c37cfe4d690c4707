//! Expectations files: case ids known to fail on a given target, each with a
//! reason. An expected failure does not fail the run; an unexpected pass
//! does, so the file stays honest.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    case: String,
    reason: String,
}

// Unknown keys and tables (`[[expected_failures]]`, `reasons = …`) are
// errors: a typo must not silently empty the file.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    target: Option<String>,
    #[serde(default, rename = "expected_failure")]
    expected_failures: Vec<Entry>,
}

/// Parsed expectations: case id → reason.
#[derive(Debug, Default, Clone)]
pub struct Expectations {
    pub target: Option<String>,
    pub reasons: BTreeMap<String, String>,
}

impl Expectations {
    pub fn load(path: &Path) -> Result<Expectations, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read expectations {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Expectations, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let mut reasons = BTreeMap::new();
        for e in file.expected_failures {
            if e.reason.trim().is_empty() {
                return Err(format!("expected failure {} has no reason", e.case));
            }
            if reasons.insert(e.case.clone(), e.reason).is_some() {
                return Err(format!("case {} is listed twice", e.case));
            }
        }
        Ok(Expectations {
            target: file.target,
            reasons,
        })
    }

    /// Listed ids that are not case ids of this build (misspelt or removed).
    pub fn unknown_ids<'a>(&'a self, known: &[&str]) -> Vec<&'a str> {
        self.reasons
            .keys()
            .map(String::as_str)
            .filter(|id| !known.contains(id))
            .collect()
    }

    pub fn reason(&self, case: &str) -> Option<&str> {
        self.reasons.get(case).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_and_rejects_missing_reason() {
        let e = Expectations::parse(
            "target = \"node 0.3.7\"\n[[expected_failure]]\ncase = \"a::b::c\"\nreason = \"§5.6: x\"\n",
        )
        .unwrap();
        assert_eq!(e.reason("a::b::c"), Some("§5.6: x"));
        assert!(
            Expectations::parse("[[expected_failure]]\ncase = \"a\"\nreason = \" \"\n").is_err()
        );
        assert!(Expectations::parse(
            "[[expected_failure]]\ncase = \"a\"\nreason = \"r\"\n[[expected_failure]]\ncase = \"a\"\nreason = \"r\"\n"
        )
        .is_err());
    }

    #[test]
    fn unknown_keys_and_tables_are_errors() {
        let typo_table = "[[expected_failures]]\ncase = \"a\"\nreason = \"r\"\n";
        assert!(Expectations::parse(typo_table).is_err());
        let typo_key = "[[expected_failure]]\ncase = \"a\"\nreasons = \"r\"\n";
        assert!(Expectations::parse(typo_key).is_err());
        let e =
            Expectations::parse("[[expected_failure]]\ncase = \"a::b\"\nreason = \"r\"\n").unwrap();
        assert_eq!(e.unknown_ids(&["a::c"]), ["a::b"]);
    }

    /// The shipped files parse strictly and name only existing cases.
    #[test]
    fn shipped_expectations_are_valid() {
        let cases = crate::cases::all();
        let ids: Vec<&str> = cases.iter().map(|c| c.id.as_str()).collect();
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/expectations");
        let mut n = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                let e = Expectations::load(&path).unwrap();
                assert!(
                    e.unknown_ids(&ids).is_empty(),
                    "{}: {:?}",
                    path.display(),
                    e.unknown_ids(&ids)
                );
                n += 1;
            }
        }
        assert!(n > 0);
    }
}
