//! Report writers: JSON (`--json`), JUnit XML (`--junit`, one testsuite per
//! area, classnames `area.topic`), Markdown (`--markdown`, failures first,
//! then a table per spec section).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use crate::outcome::{CaseReport, Outcome};
use crate::requirements::{Level, Requirements};

#[derive(Debug, Serialize)]
pub struct RunReport {
    pub target: String,
    pub seed: u64,
    pub started_at: String,
    pub duration_ms: u64,
    pub summary: BTreeMap<&'static str, usize>,
    pub cases: Vec<CaseReport>,
    /// How many resources (2xx PUTs) the run created on the target.
    pub created: usize,
    /// What the run created and still exists after it (HEAD 2xx): a
    /// warning, or a failure of the run where the target had acknowledged
    /// the DELETE.
    pub leftovers: Vec<crate::client::Leftover>,
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
            created: 0,
            leftovers: Vec::new(),
        }
    }

    /// 0: conformant; 1: conformance failures; 2: setup errors.
    pub fn exit_code(&self) -> u8 {
        if self.count(Outcome::SetupError) > 0 {
            2
        } else if self.cases.iter().any(|c| c.outcome.fails_run())
            || self.leftovers.iter().any(|l| l.delete_acknowledged)
        {
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
            let area = c.area().to_string();
            let suite = suites
                .entry(area.clone())
                .or_insert_with(|| TestSuite::new(area.clone()));
            let status = match c.outcome {
                Outcome::Passed | Outcome::ExpectedFailure => TestCaseStatus::success(),
                Outcome::Skipped | Outcome::Unimplemented | Outcome::Inconclusive => {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message(format!(
                        "{}: {}",
                        c.outcome.as_str(),
                        c.message.as_deref().unwrap_or("no reason given")
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
            // classname `fork.lifecycle`, name `live_source_survives_fork_deletes`:
            // CI tools group by class, and class + name is the case id.
            let name = c.id.rsplit("::").next().unwrap_or(&c.id).to_string();
            let mut tc = TestCase::new(name, status);
            tc.set_classname(c.topic().replace("::", "."));
            tc.set_time(Duration::from_millis(c.duration_ms));
            let mut props = format!(
                "id={} level={} outcome={} sections={}",
                c.id,
                c.level.as_str(),
                c.outcome.as_str(),
                c.sections.join(",")
            );
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

    /// Markdown: the failures first (the requirement each broke, its quote,
    /// the violation and a replay), then one table per spec section with
    /// its title and MUST/SHOULD counts. Skipped and unimplemented cases
    /// are listed but not counted as "not passed".
    pub fn to_markdown(&self, reqs: &Requirements) -> String {
        let mut out = format!(
            "# Durable Streams conformance: {}\n\nseed `{}` · started {} · {} ms\n\n",
            self.target, self.seed, self.started_at, self.duration_ms
        );
        let failing: Vec<&CaseReport> = self
            .cases
            .iter()
            .filter(|c| c.outcome.fails_run() || c.outcome == Outcome::SetupError)
            .collect();
        let findings: Vec<&CaseReport> = self
            .cases
            .iter()
            .filter(|c| c.outcome == Outcome::NonStrictFailure)
            .collect();
        out.push_str(&format!(
            "**{}** · {} failed · {} · {} passed · {} · \
             {} skipped · {} unimplemented\n\n",
            match self.exit_code() {
                0 => "conformant",
                1 => "NOT conformant",
                _ => "setup error",
            },
            failing.len(),
            crate::runner::count(findings.len(), "SHOULD/MAY finding", "SHOULD/MAY findings"),
            self.count(Outcome::Passed),
            crate::runner::count(
                self.count(Outcome::ExpectedFailure),
                "expected failure",
                "expected failures"
            ),
            self.count(Outcome::Skipped),
            self.count(Outcome::Unimplemented),
        ));
        if !failing.is_empty() {
            out.push_str(&format!("## Failures ({})\n\n", failing.len()));
            for c in &failing {
                failure_block(&mut out, c, reqs);
            }
        }
        if !findings.is_empty() {
            out.push_str(&format!(
                "## SHOULD/MAY findings ({}; they fail the run only under --strict)\n\n",
                findings.len()
            ));
            for c in &findings {
                failure_block(&mut out, c, reqs);
            }
        }
        out.push_str("## Results by section\n");
        let mut by_section: BTreeMap<String, Vec<&CaseReport>> = BTreeMap::new();
        for c in &self.cases {
            by_section.entry(c.section(reqs)).or_default().push(c);
        }
        let mut keys: Vec<&String> = by_section.keys().collect();
        keys.sort_by_key(|k| section_sort_key(k));
        for key in keys {
            let cases = &by_section[key];
            let title = reqs.title(key).map(|t| format!(" {t}")).unwrap_or_default();
            let mut counts = Vec::new();
            for level in [Level::Must, Level::Should, Level::May] {
                let ran: Vec<_> = cases
                    .iter()
                    .filter(|c| c.level == level && c.outcome.ran())
                    .collect();
                if !ran.is_empty() {
                    let passed = ran.iter().filter(|c| c.outcome == Outcome::Passed).count();
                    counts.push(format!("{} {passed}/{} passed", level.as_str(), ran.len()));
                }
            }
            let not_run = cases.iter().filter(|c| !c.outcome.ran()).count();
            if not_run > 0 {
                counts.push(format!("{not_run} not run (skipped or unimplemented)"));
            }
            out.push_str(&format!(
                "\n### §{key}{title}\n\n{}\n\n| case | level | outcome | ms | note |\n|---|---|---|---|---|\n",
                counts.join(" · ")
            ));
            for c in cases.iter() {
                let note = match (&c.failed_requirement, c.outcome) {
                    (_, Outcome::Passed) => String::new(),
                    (Some(r), _) => format!("broke {r}"),
                    (None, _) => c
                        .message
                        .as_deref()
                        .and_then(|m| m.lines().next())
                        .unwrap_or("")
                        .to_string(),
                }
                .replace('|', "\\|");
                out.push_str(&format!(
                    "| `{}` | {} | {} | {} | {} |\n",
                    c.id,
                    c.level.as_str(),
                    c.outcome.as_str(),
                    c.duration_ms,
                    note
                ));
            }
        }
        out
    }
}

/// One failure in Markdown: the broken requirement (id, section, level,
/// quote), the violation, and the exchanges as curl lines to paste.
fn failure_block(out: &mut String, c: &CaseReport, reqs: &Requirements) {
    out.push_str(&format!("### `{}` — {}\n\n", c.id, c.outcome.label()));
    let message = c.message.as_deref().unwrap_or("");
    let mut rest = message;
    if let Some((id, r)) = c
        .failed_requirement
        .as_deref()
        .and_then(|id| reqs.get(id).map(|r| (id, r)))
    {
        let title = reqs
            .title(&r.section)
            .map(|t| format!(" {t}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "**{id}** (§{}{title}, {})\n\n> {}\n\n",
            r.section,
            r.level.as_str(),
            r.quote
        ));
        // The message repeats the requirement on its first line.
        if message.starts_with(id) {
            rest = message.split_once('\n').map_or("", |(_, r)| r);
        }
    }
    out.push_str("```text\n");
    out.push_str(rest.trim_end());
    out.push_str("\n```\n\n");
    if !c.artifacts.is_empty() {
        for a in &c.artifacts {
            out.push_str(&format!("Replay script: `{a}`\n\n"));
        }
    }
    if !c.transcript.is_empty() {
        out.push_str("Replay (paste into bash; answers as comments):\n\n```bash\n");
        for ex in &c.transcript {
            out.push_str(&ex.render().replace("```", "`\u{200b}``"));
            out.push('\n');
        }
        out.push_str("```\n\n");
    }
}

/// "5.2.1" sorts after "5.2" and before "5.10".
fn section_sort_key(s: &str) -> Vec<u32> {
    s.split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Exchange;

    fn case(id: &str, reqs: &[&str], outcome: Outcome, failed: Option<&str>) -> CaseReport {
        let r = Requirements::embedded();
        let message = failed.map(|f| {
            let q = r.get(f).unwrap();
            format!(
                "{f} (§{}, {}): \"{}\"\nviolation: got 500",
                q.section,
                q.level.as_str(),
                q.quote
            )
        });
        let level = failed
            .and_then(|f| r.get(f))
            .map(|q| q.level)
            .unwrap_or_else(|| r.strongest(reqs));
        CaseReport {
            id: id.into(),
            requirements: reqs.iter().map(|s| s.to_string()).collect(),
            sections: r.sections(reqs),
            level,
            outcome,
            failed_requirement: failed.map(str::to_string),
            duration_ms: 7,
            message: message.or_else(|| {
                (outcome == Outcome::Skipped).then(|| "needs --restart-cmd".to_string())
            }),
            artifacts: Vec::new(),
            transcript: if failed.is_some() {
                vec![Exchange::request(
                    "POST",
                    "http://127.0.0.1:1/s",
                    vec![],
                    b"x",
                )]
            } else {
                Vec::new()
            },
        }
    }

    fn sample() -> RunReport {
        // A case checking a §5.1 rule first fails a §5.2 rule: it is filed
        // under §5.2, and the failure names the §5.2 requirement.
        RunReport::new(
            "http://t".into(),
            1,
            "now".into(),
            Duration::from_millis(5),
            vec![
                case(
                    "append::basic::x",
                    &["TTL-EXPIRES-IDLE", "APPEND-204"],
                    Outcome::Failed,
                    Some("APPEND-204"),
                ),
                case(
                    "create::basic::y",
                    &["TTL-EXPIRES-IDLE"],
                    Outcome::Passed,
                    None,
                ),
                case(
                    "durability::z",
                    &["TTL-EXPIRES-IDLE"],
                    Outcome::Skipped,
                    None,
                ),
            ],
        )
    }

    #[test]
    fn markdown_puts_failures_first_under_the_broken_requirement() {
        let reqs = Requirements::embedded();
        for id in ["TTL-EXPIRES-IDLE", "APPEND-204"] {
            assert!(reqs.get(id).is_some(), "fixture id {id} missing");
        }
        let md = sample().to_markdown(&reqs);
        let fail = md.find("## Failures (1)").expect("failures section");
        let tables = md.find("## Results by section").expect("tables");
        assert!(fail < tables, "{md}");
        let block = &md[fail..tables];
        let broke = reqs.get("APPEND-204").unwrap();
        assert!(
            block.contains("**APPEND-204** (§5.2 Append to Stream, MUST)"),
            "{block}"
        );
        assert!(block.contains(&format!("> {}", broke.quote)), "{block}");
        assert!(block.contains("violation: got 500"), "{block}");
        assert!(block.contains("curl -sS -i -X POST"), "{block}");
        assert!(
            !block.contains("TTL-EXPIRES-IDLE"),
            "filed under the case's first requirement: {block}"
        );
        // Section tables: titles, MUST counts, skipped not counted as not passed.
        assert!(
            md.contains("### §5.2 Append to Stream\n\nMUST 0/1 passed"),
            "{md}"
        );
        let create = reqs.get("TTL-EXPIRES-IDLE").unwrap().section.clone();
        let t = reqs.title(&create).unwrap();
        assert!(
            md.contains(&format!(
                "### §{create} {t}\n\nMUST 1/1 passed · 1 not run (skipped or unimplemented)"
            )),
            "{md}"
        );
    }

    #[test]
    fn junit_classnames_are_areas_and_skips_say_why() {
        let xml = sample().to_junit();
        assert!(xml.contains("classname=\"append.basic\""), "{xml}");
        assert!(xml.contains("name=\"x\""), "{xml}");
        assert!(xml.contains("skipped: needs --restart-cmd"), "{xml}");
        assert!(xml.contains("<failure"), "{xml}");
    }
}
