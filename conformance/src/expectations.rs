//! Expectations files: case ids known to fail on a given target, each with a
//! reason. An expected failure does not fail the run; an unexpected pass
//! does, so the file stays honest.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Entry {
    case: String,
    reason: String,
}

#[derive(Debug, Deserialize, Default)]
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
}
