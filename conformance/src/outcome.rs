//! Verdicts: a case's raw result combined with its requirement level,
//! `--strict`, and the expectations file.

use serde::Serialize;

use crate::case::{Case, Failure};
use crate::requirements::{Level, Requirements};
use crate::transcript::Exchange;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Failed,
    NonStrictFailure,
    ExpectedFailure,
    UnexpectedPass,
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::NonStrictFailure => "non_strict_failure",
            Outcome::ExpectedFailure => "expected_failure",
            Outcome::UnexpectedPass => "unexpected_pass",
            Outcome::Skipped => "skipped",
        }
    }
    /// Does this outcome fail the run?
    pub fn fails_run(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::UnexpectedPass)
    }
    pub const ALL: [Outcome; 6] = [
        Outcome::Passed,
        Outcome::Failed,
        Outcome::NonStrictFailure,
        Outcome::ExpectedFailure,
        Outcome::UnexpectedPass,
        Outcome::Skipped,
    ];
}

/// Everything known about one case after it ran.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    pub id: String,
    pub requirements: Vec<String>,
    pub sections: Vec<String>,
    pub level: Level,
    pub outcome: Outcome,
    pub duration_ms: u64,
    pub message: Option<String>,
    /// Files written for this case (e.g. a property's replay script).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<String>,
    pub transcript: Vec<Exchange>,
}

/// Decide the outcome of a finished case.
pub fn classify(
    reqs: &Requirements,
    case: &Case,
    result: &Result<(), Failure>,
    strict: bool,
    expected: Option<&str>,
) -> (Outcome, Level, Option<String>) {
    let case_level = reqs.strongest(&case.requirements);
    match (result, expected) {
        (Ok(()), None) => (Outcome::Passed, case_level, None),
        (Ok(()), Some(reason)) => (
            Outcome::UnexpectedPass,
            case_level,
            Some(format!(
                "listed as an expected failure ({reason}) but passed: update the expectations file"
            )),
        ),
        (Err(f), expected) => {
            let level = f
                .requirement
                .as_deref()
                .and_then(|id| reqs.get(id))
                .map(|r| r.level)
                .unwrap_or(case_level);
            let msg = Some(describe_failure(reqs, case, f));
            match expected {
                Some(_) => (Outcome::ExpectedFailure, level, msg),
                None if level != Level::Must && !strict && !f.setup => {
                    (Outcome::NonStrictFailure, level, msg)
                }
                None => (Outcome::Failed, level, msg),
            }
        }
    }
}

/// The requirement (section, level, quote) and the failure message.
pub fn describe_failure(reqs: &Requirements, case: &Case, f: &Failure) -> String {
    let id = f
        .requirement
        .clone()
        .or_else(|| case.requirements.first().map(|s| s.to_string()));
    let head = match id.as_deref().and_then(|id| reqs.get(id).map(|r| (id, r))) {
        Some((id, r)) => format!(
            "{id} (§{}, {}): \"{}\"",
            r.section,
            r.level.as_str(),
            r.quote
        ),
        None => id.unwrap_or_default(),
    };
    let kind = if f.setup {
        "transport error (no usable answer)"
    } else {
        "violation"
    };
    format!("{head}\n{kind}: {}", f.message)
}
