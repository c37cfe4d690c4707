//! Verdicts: a case's raw result combined with its requirement level,
//! `--strict`, `--require` and the expectations file. This is the one
//! outcome type: the console, JSON, JUnit, Markdown and the summary all
//! show it.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use crate::case::Case;
use crate::failure::{Failure, FailureKind};
use crate::requirements::{Level, Requirements};
use crate::transcript::Exchange;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    /// A MUST failure, a SHOULD failure under `--strict`, or no answer.
    Failed,
    /// A SHOULD/MAY failure without `--strict`: reported, does not fail the run.
    NonStrictFailure,
    /// Failed as the expectations file says it would.
    ExpectedFailure,
    /// Listed in the expectations file but passed: fails the run, so the
    /// file stays honest.
    UnexpectedPass,
    /// The target lacks the optional feature group the case checks.
    Unimplemented,
    /// Not run: the run cannot meet the case's needs (e.g. no --restart-cmd).
    Skipped,
    /// The harness's own environment failed (restart command...): exit 2.
    SetupError,
    /// Timing left the order of events open on every attempt, or a
    /// property search fit too few sequences in its time budget: no
    /// verdict (does not fail the run; a flaky-looking case shows here,
    /// not as a failure).
    Inconclusive,
}

impl Outcome {
    /// The name in JSON, JUnit and Markdown.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::NonStrictFailure => "non_strict_failure",
            Outcome::ExpectedFailure => "expected_failure",
            Outcome::UnexpectedPass => "unexpected_pass",
            Outcome::Unimplemented => "unimplemented",
            Outcome::Skipped => "skipped",
            Outcome::SetupError => "setup_error",
            Outcome::Inconclusive => "inconclusive",
        }
    }
    /// The word on the console line (libtest's `ok`/`FAILED` where they fit).
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Passed => "ok",
            Outcome::Failed => "FAILED",
            Outcome::NonStrictFailure => "non-strict",
            Outcome::ExpectedFailure => "expected failure",
            Outcome::UnexpectedPass => "UNEXPECTED PASS",
            Outcome::Unimplemented => "unimplemented",
            Outcome::Skipped => "skipped",
            Outcome::SetupError => "SETUP ERROR",
            Outcome::Inconclusive => "inconclusive",
        }
    }
    /// One character for `--format terse`.
    pub fn terse(self) -> char {
        match self {
            Outcome::Passed => '.',
            Outcome::Failed => 'F',
            Outcome::NonStrictFailure => 'n',
            Outcome::ExpectedFailure => 'x',
            Outcome::UnexpectedPass => 'U',
            Outcome::Unimplemented => 'u',
            Outcome::Skipped => 's',
            Outcome::SetupError => 'E',
            Outcome::Inconclusive => '?',
        }
    }
    /// Does this outcome fail the run (exit 1)?
    pub fn fails_run(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::UnexpectedPass)
    }
    /// Did the case run (as opposed to skipped or unimplemented, which
    /// count neither as passed nor as not passed)?
    pub fn ran(self) -> bool {
        !matches!(self, Outcome::Skipped | Outcome::Unimplemented)
    }
    /// Is the case's failure text worth printing in full?
    pub fn has_details(self) -> bool {
        matches!(
            self,
            Outcome::Failed
                | Outcome::NonStrictFailure
                | Outcome::UnexpectedPass
                | Outcome::SetupError
                | Outcome::Inconclusive
        )
    }
    pub const ALL: [Outcome; 9] = [
        Outcome::Passed,
        Outcome::Failed,
        Outcome::NonStrictFailure,
        Outcome::ExpectedFailure,
        Outcome::UnexpectedPass,
        Outcome::Unimplemented,
        Outcome::Skipped,
        Outcome::SetupError,
        Outcome::Inconclusive,
    ];
}

/// Everything known about one case after it ran.
#[derive(Debug, Clone, Serialize)]
pub struct CaseReport {
    pub id: String,
    pub requirements: Vec<String>,
    pub sections: Vec<String>,
    /// The level the outcome was scored at: the broken requirement's level
    /// for a failure, the case's strongest level otherwise.
    pub level: Level,
    pub outcome: Outcome,
    /// The requirement a failure broke (None when the case did not fail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_requirement: Option<String>,
    pub duration_ms: u64,
    pub message: Option<String>,
    /// Files written for this case (e.g. a property's replay script).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<String>,
    /// Every exchange, for failures (all cases with `--full-transcripts`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub transcript: Vec<Exchange>,
}

impl CaseReport {
    /// The area (`fork` of `fork::lifecycle::x`).
    pub fn area(&self) -> &str {
        self.id.split("::").next().unwrap_or("")
    }
    /// The area and topic (`fork::lifecycle`).
    pub fn topic(&self) -> &str {
        self.id.rsplit_once("::").map_or(&self.id, |(t, _)| t)
    }
    /// The section the case is filed under: the broken requirement's
    /// section for a failure, the case's first section otherwise.
    pub fn section(&self, reqs: &Requirements) -> String {
        self.failed_requirement
            .as_deref()
            .and_then(|id| reqs.get(id))
            .map(|r| r.section.clone())
            .or_else(|| self.sections.first().cloned())
            .unwrap_or_else(|| "?".into())
    }
    /// Verdict, requirement, transcript as curl: the full failure text.
    pub fn failure_text(&self) -> String {
        let mut s = self.message.clone().unwrap_or_default();
        if !self.transcript.is_empty() {
            s.push_str("\n\ntranscript (replay with curl):\n");
            for ex in &self.transcript {
                s.push_str(&ex.render());
                s.push('\n');
            }
        }
        s
    }
}

/// What the run asks of verdicts.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `--strict`: SHOULD/MAY failures fail the run.
    pub strict: bool,
    /// `--require FEATURE`: an unimplemented feature in this set is a failure.
    pub required_features: BTreeSet<String>,
    /// The target's long-poll timeout as the run assumes it (for hints).
    pub long_poll_timeout: Duration,
}

/// A classified result.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub outcome: Outcome,
    pub level: Level,
    pub failed_requirement: Option<String>,
    pub message: Option<String>,
}

/// Decide the outcome of a finished case.
pub fn classify(
    reqs: &Requirements,
    case: &Case,
    result: &Result<(), Failure>,
    policy: &Policy,
    expected: Option<&str>,
    transcript: &[Exchange],
) -> Verdict {
    let case_level = reqs.strongest(&case.requirements);
    let f = match (result, expected) {
        (Ok(()), None) => {
            return Verdict {
                outcome: Outcome::Passed,
                level: case_level,
                failed_requirement: None,
                message: None,
            }
        }
        (Ok(()), Some(reason)) => {
            return Verdict {
                outcome: Outcome::UnexpectedPass,
                level: case_level,
                failed_requirement: None,
                message: Some(format!(
                "listed as an expected failure ({reason}) but passed: update the expectations file"
            )),
            }
        }
        (Err(f), _) => f,
    };
    if let FailureKind::Unimplemented { feature } = &f.kind {
        let required = policy.required_features.contains(feature);
        let message = if required {
            format!(
                "{feature} is not implemented by the target, and --require {feature} was given: {}",
                f.message
            )
        } else {
            format!("{feature} is not implemented by the target: {}", f.message)
        };
        let outcome = match (required, expected) {
            (false, _) => Outcome::Unimplemented,
            (true, Some(_)) => Outcome::ExpectedFailure,
            (true, None) => Outcome::Failed,
        };
        return Verdict {
            outcome,
            level: case_level,
            failed_requirement: None,
            message: Some(message),
        };
    }
    if f.kind == FailureKind::SetupError {
        return Verdict {
            outcome: Outcome::SetupError,
            level: case_level,
            failed_requirement: None,
            message: Some(format!(
                "setup error (not a verdict on the target): {}",
                f.message
            )),
        };
    }
    if f.kind == FailureKind::Inconclusive {
        return Verdict {
            outcome: Outcome::Inconclusive,
            level: case_level,
            failed_requirement: f.requirement.clone(),
            message: Some(format!(
                "inconclusive (not a verdict on the target): {}",
                f.message
            )),
        };
    }
    let broken = f
        .requirement
        .clone()
        .or_else(|| case.requirements.first().map(|s| s.to_string()));
    let level = broken
        .as_deref()
        .and_then(|id| reqs.get(id))
        .map(|r| r.level)
        .unwrap_or(case_level);
    let mut message = describe_failure(reqs, broken.as_deref(), f);
    if let Some(hint) = timing_hint(transcript, policy.long_poll_timeout) {
        message.push('\n');
        message.push_str(&hint);
    }
    let outcome = match expected {
        Some(_) => Outcome::ExpectedFailure,
        None if level != Level::Must && !policy.strict && f.is_violation() => {
            Outcome::NonStrictFailure
        }
        None => Outcome::Failed,
    };
    Verdict {
        outcome,
        level,
        failed_requirement: broken,
        message: Some(message),
    }
}

/// The requirement (section, level, quote) and the failure message.
pub fn describe_failure(reqs: &Requirements, broken: Option<&str>, f: &Failure) -> String {
    let head = match broken.and_then(|id| reqs.get(id).map(|r| (id, r))) {
        Some((id, r)) => format!(
            "{id} (§{}, {}): \"{}\"",
            r.section,
            r.level.as_str(),
            r.quote
        ),
        None => broken.unwrap_or_default().to_string(),
    };
    let kind = if f.is_no_answer() {
        "transport error (no usable answer)"
    } else {
        "violation"
    };
    format!("{head}\n{kind}: {}", f.message)
}

/// When a failed case's transcript shows the run's long-poll timeout does
/// not match the target's, say so and name the flag: a wrong
/// `--long-poll-timeout-ms` otherwise reads as a MUST failure.
pub fn timing_hint(transcript: &[Exchange], long_poll: Duration) -> Option<String> {
    let lp_ms = long_poll.as_millis() as u64;
    let long_polls = transcript
        .iter()
        .filter(|ex| ex.note.is_none() && ex.url.contains("live=long-poll"));
    for ex in long_polls {
        if ex
            .error
            .as_deref()
            .is_some_and(|e| e.contains("no response within"))
        {
            return Some(format!(
                "timing: a long-poll got no answer within {} ms; if the target's long-poll \
                 timeout is longer than --long-poll-timeout-ms {lp_ms}, pass its real value \
                 (this failure may be caused by the flag, not the server)",
                ex.elapsed_ms
            ));
        }
        // A 204 well before the assumed timeout: the target times out sooner.
        if ex.status == Some(204) && lp_ms >= 1000 && ex.elapsed_ms * 10 < lp_ms * 7 {
            return Some(format!(
                "timing: the target ended a long-poll with 204 after {} ms, sooner than \
                 --long-poll-timeout-ms {lp_ms}; if that is its long-poll timeout, pass \
                 --long-poll-timeout-ms {} (this failure may be caused by the flag, not the server)",
                ex.elapsed_ms,
                ex.elapsed_ms.div_ceil(100) * 100
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lp(status: Option<u16>, elapsed_ms: u64, error: Option<&str>) -> Exchange {
        Exchange {
            method: "GET".into(),
            url: "http://h/s?offset=x&live=long-poll".into(),
            status,
            elapsed_ms,
            error: error.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn timing_hints_name_the_flag() {
        let lp30 = Duration::from_secs(30);
        let early = timing_hint(&[lp(Some(204), 3004, None)], lp30).unwrap();
        assert!(early.contains("--long-poll-timeout-ms 3100"), "{early}");
        let hung = timing_hint(
            &[lp(None, 15_500, Some("no response within 15500 ms"))],
            lp30,
        );
        assert!(hung.unwrap().contains("--long-poll-timeout-ms 30000"));
        // A 204 at about the assumed timeout, or a 200, is no hint.
        assert!(timing_hint(&[lp(Some(204), 29_000, None)], lp30).is_none());
        assert!(timing_hint(&[lp(Some(200), 5, None)], lp30).is_none());
    }

    #[test]
    fn unimplemented_is_a_verdict_of_its_own_unless_required() {
        let reqs = Requirements::embedded();
        let id = reqs.by_id.keys().next().unwrap().clone();
        let id: &'static str = Box::leak(id.into_boxed_str());
        let case = Case::new("a::b::c", &[id], |_| async { Ok(()) });
        let result = Err(Failure::unimplemented("subscriptions", "404 on __ds"));
        let mut policy = Policy::default();
        let v = classify(&reqs, &case, &result, &policy, None, &[]);
        assert_eq!(v.outcome, Outcome::Unimplemented);
        assert!(!v.outcome.fails_run());
        policy.required_features.insert("subscriptions".into());
        let v = classify(&reqs, &case, &result, &policy, None, &[]);
        assert_eq!(v.outcome, Outcome::Failed);
        assert!(v.message.unwrap().contains("--require subscriptions"));
        let setup = Err(Failure::setup_error("restart command exited 1"));
        let v = classify(&reqs, &case, &setup, &policy, None, &[]);
        assert_eq!(v.outcome, Outcome::SetupError);
    }
}
