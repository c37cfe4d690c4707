//! Report writers: JSON (`--json`), JUnit XML (`--junit`, one testsuite per
//! area), Markdown (`--markdown`, a table per spec section).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::outcome::{CaseReport, Outcome};

#[derive(Debug, Serialize)]
pub struct RunReport {
    pub target: String,
    pub seed: u64,
    pub started_at: String,
    pub duration_ms: u64,
    pub summary: BTreeMap<&'static str, usize>,
    pub cases: Vec<CaseReport>,
}

impl RunReport {
    pub fn new(
        target: String,
        seed: u64,
        started_at: String,
        duration: Duration,
        mut cases: Vec<CaseReport>,
    ) -> RunReport {
        cases.sort_by(|a, b| a.id.cmp(&b.id));
        let mut summary: BTreeMap<&'static str, usize> =
            Outcome::ALL.iter().map(|o| (o.as_str(), 0)).collect();
        for c in &cases {
            *summary.entry(c.outcome.as_str()).or_default() += 1;
        }
        RunReport {
            target,
            seed,
            started_at,
            duration_ms: duration.as_millis() as u64,
            summary,
            cases,
        }
    }

    /// 0: conformant; 1: conformance failures; 2: setup errors.
    pub fn exit_code(&self) -> u8 {
        if self.count(Outcome::SetupError) > 0 {
            2
        } else if self.cases.iter().any(|c| c.outcome.fails_run()) {
            1
        } else {
            0
        }
    }

    pub fn count(&self, o: Outcome) -> usize {
        self.summary.get(o.as_str()).copied().unwrap_or(0)
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialises")
    }

    pub fn to_junit(&self) -> String {
        use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
        let mut report = Report::new("ds-conformance");
        let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();
        for c in &self.cases {
            let area = c.id.split("::").next().unwrap_or("").to_string();
            let suite = suites
                .entry(area.clone())
                .or_insert_with(|| TestSuite::new(area.clone()));
            let status = match c.outcome {
                Outcome::Passed | Outcome::ExpectedFailure => TestCaseStatus::success(),
                Outcome::Skipped | Outcome::Unimplemented => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(format!(
                        "{}: {}",
                        c.outcome.as_str(),
                        c.message.as_deref().unwrap_or("")
                    ));
                    s
                }
                // A SHOULD-level miss is visible in system-out, not a failure unless --strict.
                Outcome::NonStrictFailure => TestCaseStatus::success(),
                Outcome::Failed | Outcome::UnexpectedPass | Outcome::SetupError => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(
                        c.message
                            .clone()
                            .unwrap_or_default()
                            .lines()
                            .next()
                            .unwrap_or("")
                            .to_string(),
                    );
                    s.set_type(c.outcome.as_str());
                    s.set_description(c.failure_text());
                    s
                }
            };
            let mut tc = TestCase::new(c.id.clone(), status);
            tc.set_classname(format!("{area}.{}", c.sections.join(",")));
            tc.set_time(Duration::from_millis(c.duration_ms));
            let mut props = format!("level={} outcome={}", c.level.as_str(), c.outcome.as_str());
            if let Some(m) = &c.message {
                if c.outcome != Outcome::Failed {
                    props.push('\n');
                    props.push_str(m);
                }
            }
            tc.set_system_out(props);
            suite.add_test_case(tc);
        }
        for (_, s) in suites {
            report.add_test_suite(s);
        }
        report.to_string().expect("JUnit XML serialises")
    }

    pub fn to_markdown(&self) -> String {
        let mut by_section: BTreeMap<String, Vec<&CaseReport>> = BTreeMap::new();
        for c in &self.cases {
            let key = c.sections.first().cloned().unwrap_or_else(|| "?".into());
            by_section.entry(key).or_default().push(c);
        }
        let mut out = format!(
            "# Durable Streams conformance: {}\n\nseed `{}` · started {} · {} ms\n\n",
            self.target, self.seed, self.started_at, self.duration_ms
        );
        out.push_str("| outcome | count |\n|---|---|\n");
        for (k, v) in &self.summary {
            out.push_str(&format!("| {k} | {v} |\n"));
        }
        let mut keys: Vec<&String> = by_section.keys().collect();
        keys.sort_by_key(|k| section_sort_key(k));
        for key in keys {
            let cases = &by_section[key];
            let passed = cases
                .iter()
                .filter(|c| c.outcome == Outcome::Passed)
                .count();
            out.push_str(&format!("\n## §{key} ({passed}/{} passed)\n\n| case | level | outcome | note |\n|---|---|---|---|\n", cases.len()));
            for c in cases.iter() {
                let note = c
                    .message
                    .as_deref()
                    .and_then(|m| m.lines().last())
                    .unwrap_or("")
                    .replace('|', "\\|");
                out.push_str(&format!(
                    "| `{}` | {} | {} | {} |\n",
                    c.id,
                    c.level.as_str(),
                    c.outcome.as_str(),
                    note
                ));
            }
        }
        out
    }
}

/// "5.2.1" sorts after "5.2" and before "5.10".
fn section_sort_key(s: &str) -> Vec<u32> {
    s.split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}
