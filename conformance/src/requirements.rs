//! The spec's requirements (fixtures/requirements.toml): id, section, level
//! and a one-line quote. Cases name requirement ids; the coverage report
//! lists the requirements no case checks.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// RFC 2119 level of a requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Must,
    Should,
    May,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Requirement {
    pub id: String,
    /// Spec section, e.g. "5.2.1".
    pub section: String,
    pub level: Level,
    pub quote: String,
}

#[derive(Deserialize)]
struct File {
    /// Section number → title (the spec's headings), for reports.
    #[serde(default)]
    sections: BTreeMap<String, String>,
    #[serde(default)]
    requirement: Vec<Requirement>,
}

/// The requirement list, indexed by id.
#[derive(Debug, Clone)]
pub struct Requirements {
    pub by_id: BTreeMap<String, Requirement>,
    /// Section number → title.
    pub titles: BTreeMap<String, String>,
}

const EMBEDDED: &str = include_str!("../../fixtures/requirements.toml");

impl Requirements {
    /// The list shipped with this build.
    pub fn embedded() -> Requirements {
        Self::parse(EMBEDDED).expect("fixtures/requirements.toml is valid (checked by tests)")
    }

    pub fn parse(text: &str) -> Result<Requirements, String> {
        let file: File = toml::from_str(text).map_err(|e| format!("requirements.toml: {e}"))?;
        let mut by_id = BTreeMap::new();
        for r in file.requirement {
            if let Some(prev) = by_id.insert(r.id.clone(), r) {
                return Err(format!("duplicate requirement id {}", prev.id));
            }
        }
        Ok(Requirements {
            by_id,
            titles: file.sections,
        })
    }

    /// The spec's title of section `number` ("5.2" → "Append to Stream").
    pub fn title(&self, number: &str) -> Option<&str> {
        self.titles.get(number).map(String::as_str)
    }

    pub fn get(&self, id: &str) -> Option<&Requirement> {
        self.by_id.get(id)
    }

    /// The strongest level among `ids` (MUST beats SHOULD beats MAY).
    pub fn strongest(&self, ids: &[&str]) -> Level {
        ids.iter()
            .filter_map(|id| self.get(id))
            .map(|r| r.level)
            .min()
            .unwrap_or(Level::Must)
    }

    /// Section numbers of `ids`, deduplicated, in order.
    pub fn sections(&self, ids: &[&str]) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for id in ids {
            if let Some(r) = self.get(id) {
                if !out.contains(&r.section) {
                    out.push(r.section.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_requirement_section_has_a_title() {
        let r = Requirements::embedded();
        for q in r.by_id.values() {
            assert!(
                r.title(&q.section).is_some(),
                "no title for §{} (add it to [sections] in fixtures/requirements.toml)",
                q.section
            );
        }
    }

    #[test]
    fn embedded_list_parses_and_is_nonempty() {
        let r = Requirements::embedded();
        assert!(r.by_id.len() > 20, "only {} requirements", r.by_id.len());
        for req in r.by_id.values() {
            assert!(!req.quote.trim().is_empty(), "{} has no quote", req.id);
            assert!(
                req.section
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit()),
                "{} section {:?}",
                req.id,
                req.section
            );
        }
    }

    #[test]
    fn strongest_level_wins() {
        let r = Requirements::parse(
            r#"
[[requirement]]
id = "A"
section = "5.1"
level = "SHOULD"
quote = "a"
[[requirement]]
id = "B"
section = "5.2"
level = "MUST"
quote = "b"
"#,
        )
        .unwrap();
        assert_eq!(r.strongest(&["A"]), Level::Should);
        assert_eq!(r.strongest(&["A", "B"]), Level::Must);
        assert_eq!(
            r.sections(&["B", "A", "B"]),
            vec!["5.2".to_string(), "5.1".to_string()]
        );
    }
}
