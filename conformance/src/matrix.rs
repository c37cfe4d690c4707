//! Implementation matrix (`ds-conformance matrix`): cases × implementations
//! from the JSON reports of several runs (scripts/peer-matrix.sh), rendered
//! as `matrix.md` and a self-contained `matrix.html` (inline CSS, no
//! scripts): outcome colours, per-section pass rates, MUST/SHOULD failure
//! counts, and a link from each failure to its transcript file. An
//! implementation that failed to build or start is a column of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use serde_json::Value;

use crate::runner::count;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "ds-conformance matrix",
    about = "Render the implementation matrix from JSON reports"
)]
pub struct MatrixCli {
    /// Output directory (matrix.md, matrix.html, transcripts/).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Title line (e.g. the date of the run).
    #[arg(long, default_value = "Durable Streams implementation matrix")]
    pub title: String,
    /// An implementation that ran: NAME=REPORT.json (repeatable, in column order).
    #[arg(long = "report", value_name = "NAME=FILE")]
    pub reports: Vec<String>,
    /// An implementation that could not be run: NAME=REASON (repeatable).
    #[arg(long = "broken", value_name = "NAME=REASON")]
    pub broken: Vec<String>,
}

/// One column.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: String,
    /// None: it did not run (the reason is in `broken`).
    pub cases: Option<BTreeMap<String, Cell>>,
    pub broken: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Cell {
    pub outcome: String,
    pub level: String,
    pub section: String,
    pub message: String,
    /// Failure transcript file, relative to the output directory.
    pub transcript: Option<String>,
}

pub fn main_with(cli: MatrixCli) -> ExitCode {
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            crate::errln!("ds-conformance matrix: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn split(arg: &str, what: &str) -> Result<(String, String), String> {
    arg.split_once('=')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .filter(|(a, _)| !a.is_empty())
        .ok_or_else(|| format!("{what} {arg:?}: expected NAME=VALUE"))
}

fn run(cli: &MatrixCli) -> Result<(), String> {
    std::fs::create_dir_all(cli.out.join("transcripts"))
        .map_err(|e| format!("cannot create {}: {e}", cli.out.display()))?;
    let mut columns = Vec::new();
    for r in &cli.reports {
        let (name, file) = split(r, "--report")?;
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("cannot read {file}: {e}"))?;
        let json: Value =
            serde_json::from_str(&text).map_err(|e| format!("{file} is not a JSON report: {e}"))?;
        columns.push(load_column(&name, &json, &cli.out)?);
    }
    for b in &cli.broken {
        let (name, reason) = split(b, "--broken")?;
        columns.push(Column {
            name,
            cases: None,
            broken: Some(reason),
        });
    }
    let write = |name: &str, text: String| {
        let p = cli.out.join(name);
        std::fs::write(&p, text).map_err(|e| format!("cannot write {}: {e}", p.display()))
    };
    write("matrix.md", markdown(&cli.title, &columns))?;
    write("matrix.html", html(&cli.title, &columns))?;
    crate::outln!("wrote {}/matrix.md and matrix.html", cli.out.display());
    Ok(())
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Read one JSON report; write each failure's transcript to a file.
pub fn load_column(name: &str, json: &Value, out: &Path) -> Result<Column, String> {
    let cases = json
        .get("cases")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("report for {name} has no cases array"))?;
    let mut map = BTreeMap::new();
    for c in cases {
        let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let id = s("id");
        let outcome = s("outcome");
        let message = s("message");
        let transcript = if matches!(
            outcome.as_str(),
            "failed" | "non_strict_failure" | "expected_failure" | "setup_error"
        ) {
            let rel = format!(
                "transcripts/{}/{}.txt",
                slug(name),
                slug(&id.replace("::", "."))
            );
            let mut text = format!("{id} on {name}: {outcome}\n\n{message}\n\ntranscript:\n");
            for ex in c
                .get("transcript")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                text.push_str(&exchange_text(ex));
                text.push('\n');
            }
            const MAX: usize = 16 * 1024;
            if text.len() > MAX {
                let mut end = MAX;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
                text.push_str("\n… (truncated; rerun the case for the whole transcript)\n");
            }
            let path = out.join(&rel);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
            std::fs::write(&path, text)
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Some(rel)
        } else {
            None
        };
        let section = c
            .get("sections")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        map.insert(
            id,
            Cell {
                outcome,
                level: s("level"),
                section,
                message,
                transcript,
            },
        );
    }
    Ok(Column {
        name: name.to_string(),
        cases: Some(map),
        broken: None,
    })
}

/// Appends the `[name, value]` pairs under `key` as `  <mark> name: value` lines.
fn push_headers(t: &mut String, ex: &Value, key: &str, mark: char) {
    for h in ex.get(key).and_then(Value::as_array).into_iter().flatten() {
        if let (Some(k), Some(v)) = (
            h.get(0).and_then(Value::as_str),
            h.get(1).and_then(Value::as_str),
        ) {
            t.push_str(&format!("  {mark} {k}: {v}\n"));
        }
    }
}

/// An exchange of the JSON report as curl-ish text.
fn exchange_text(ex: &Value) -> String {
    let s = |k: &str| ex.get(k).and_then(Value::as_str).unwrap_or("");
    if let Some(n) = ex.get("note").and_then(Value::as_str) {
        return format!("# {n}");
    }
    let mut t = format!("{} {}\n", s("method"), s("url"));
    push_headers(&mut t, ex, "request_headers", '>');
    if !s("request_body_preview").is_empty() {
        t.push_str(&format!("  > body: {}\n", s("request_body_preview")));
    }
    match (ex.get("status").and_then(Value::as_u64), s("error")) {
        (_, e) if !e.is_empty() => t.push_str(&format!("  -> {e}\n")),
        (Some(code), _) => t.push_str(&format!("  < {code}\n")),
        _ => t.push_str("  -> (no response)\n"),
    }
    push_headers(&mut t, ex, "response_headers", '<');
    if !s("response_body_preview").is_empty() {
        t.push_str(&format!("  < body: {}\n", s("response_body_preview")));
    }
    t
}

/// Every case id of every column, sorted.
pub fn rows(columns: &[Column]) -> Vec<String> {
    let ids: BTreeSet<&String> = columns
        .iter()
        .filter_map(|c| c.cases.as_ref())
        .flat_map(|m| m.keys())
        .collect();
    ids.into_iter().cloned().collect()
}

/// Spec section of a case (from whichever column knows it).
fn section_of(columns: &[Column], id: &str) -> String {
    columns
        .iter()
        .filter_map(|c| c.cases.as_ref()?.get(id))
        .map(|c| c.section.clone())
        .next()
        .unwrap_or_else(|| "?".into())
}

fn section_key(s: &str) -> Vec<u32> {
    s.split('.')
        .map(|p| p.parse().unwrap_or(u32::MAX))
        .collect()
}

/// (passed, counted) where counted excludes skipped and unimplemented.
fn rate<'a>(cells: impl Iterator<Item = &'a Cell>) -> (usize, usize) {
    let mut passed = 0;
    let mut counted = 0;
    for c in cells {
        if matches!(c.outcome.as_str(), "skipped" | "unimplemented") {
            continue;
        }
        counted += 1;
        if c.outcome == "passed" {
            passed += 1;
        }
    }
    (passed, counted)
}

fn is_failure(o: &str) -> bool {
    matches!(
        o,
        "failed" | "non_strict_failure" | "expected_failure" | "setup_error"
    )
}

/// Failures of each level (MUST, SHOULD) in a column.
fn failures_by_level(m: &BTreeMap<String, Cell>, level: &str) -> usize {
    m.values()
        .filter(|c| is_failure(&c.outcome) && c.level == level)
        .count()
}

fn pct(p: usize, n: usize) -> String {
    // Rounded down: one failure in 311 is 99%, never 100%.
    match (100 * p).checked_div(n) {
        None => "–".into(),
        Some(rate) => format!("{rate}% ({p}/{n})"),
    }
}

/// Sections in spec order with their case ids.
fn sections(columns: &[Column]) -> Vec<(String, Vec<String>)> {
    let mut by: BTreeMap<Vec<u32>, (String, Vec<String>)> = BTreeMap::new();
    for id in rows(columns) {
        let s = section_of(columns, &id);
        by.entry(section_key(&s))
            .or_insert_with(|| (s, Vec::new()))
            .1
            .push(id);
    }
    by.into_values().collect()
}

fn short(outcome: &str) -> &str {
    match outcome {
        "passed" => "pass",
        "failed" => "FAIL",
        "non_strict_failure" => "non-strict",
        "expected_failure" => "expected",
        "unexpected_pass" => "unexp. pass",
        "unimplemented" => "unimpl.",
        "skipped" => "skip",
        "setup_error" => "setup err",
        other => other,
    }
}

pub fn markdown(title: &str, columns: &[Column]) -> String {
    let mut s = format!("# {title}\n\n");
    s.push_str("| implementation | status | pass rate | MUST failures | SHOULD failures |\n|---|---|---|---|---|\n");
    for c in columns {
        match (&c.cases, &c.broken) {
            (Some(m), _) => {
                let (p, n) = rate(m.values());
                s.push_str(&format!(
                    "| {} | ran {} | {} | {} | {} |\n",
                    c.name,
                    count(m.len(), "case", "cases"),
                    pct(p, n),
                    failures_by_level(m, "MUST"),
                    failures_by_level(m, "SHOULD")
                ));
            }
            (None, reason) => s.push_str(&format!(
                "| {} | **did not run**: {} | – | – | – |\n",
                c.name,
                reason.as_deref().unwrap_or("").replace('|', "\\|")
            )),
        }
    }
    s.push_str("\n## Pass rate per spec section\n\n| section |");
    for c in columns {
        s.push_str(&format!(" {} |", c.name));
    }
    s.push_str("\n|---|");
    s.push_str(&"---|".repeat(columns.len()));
    s.push('\n');
    let secs = sections(columns);
    for (sec, ids) in &secs {
        s.push_str(&format!("| §{sec} |"));
        for c in columns {
            match &c.cases {
                Some(m) => {
                    let (p, n) = rate(ids.iter().filter_map(|id| m.get(id)));
                    s.push_str(&format!(" {} |", pct(p, n)));
                }
                None => s.push_str(" – |"),
            }
        }
        s.push('\n');
    }
    s.push_str("\n## Cases\n\nA failure links to its transcript.\n");
    for (sec, ids) in &secs {
        s.push_str(&format!("\n### §{sec}\n\n| case |"));
        for c in columns {
            s.push_str(&format!(" {} |", c.name));
        }
        s.push_str("\n|---|");
        s.push_str(&"---|".repeat(columns.len()));
        s.push('\n');
        for id in ids {
            s.push_str(&format!("| `{id}` |"));
            for c in columns {
                let cell = match &c.cases {
                    None => "not run".to_string(),
                    Some(m) => match m.get(id) {
                        None => "–".to_string(),
                        Some(cell) => match &cell.transcript {
                            Some(t) => format!("[{}]({t})", short(&cell.outcome)),
                            None => short(&cell.outcome).to_string(),
                        },
                    },
                };
                s.push_str(&format!(" {cell} |"));
            }
            s.push('\n');
        }
    }
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const CSS: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:left;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0}
td.cell{text-align:center}
td.cell a{color:inherit}
.o-passed{background:#c8ecc8}
.o-failed,.o-setup_error{background:#f5b5b5;font-weight:bold}
.o-non_strict_failure{background:#fde6a8}
.o-expected_failure{background:#f3d3b0}
.o-unexpected_pass{background:#d9c8f0}
.o-unimplemented,.o-skipped{background:#e4e4e4;color:#666}
.o-missing{background:#fff;color:#999}
.o-notrun{background:#bbb;color:#333}
code{font-size:13px}
.legend span{display:inline-block;padding:1px 6px;margin-right:4px;border:1px solid #ccc}";

/// Class of a cell: the outcome, `missing` (this implementation's report
/// lacks the case) or `notrun` (the implementation did not run).
fn cell_class(c: &Column, id: &str) -> (String, String, Option<String>, String) {
    match &c.cases {
        None => (
            "notrun".into(),
            "not run".into(),
            None,
            c.broken.clone().unwrap_or_default(),
        ),
        Some(m) => match m.get(id) {
            None => (
                "missing".into(),
                "–".into(),
                None,
                "not in this report".into(),
            ),
            Some(cell) => (
                cell.outcome.clone(),
                short(&cell.outcome).to_string(),
                cell.transcript.clone(),
                cell.message.lines().take(3).collect::<Vec<_>>().join(" "),
            ),
        },
    }
}

pub fn html(title: &str, columns: &[Column]) -> String {
    let mut s = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>{CSS}</style></head><body>\n<h1>{t}</h1>\n",
        t = esc(title)
    );
    s.push_str("<p class=\"legend\">");
    for o in [
        "passed",
        "failed",
        "non_strict_failure",
        "expected_failure",
        "unexpected_pass",
        "unimplemented",
        "skipped",
        "notrun",
    ] {
        s.push_str(&format!(
            "<span class=\"o-{o}\">{}</span>",
            if o == "notrun" { "not run" } else { short(o) }
        ));
    }
    s.push_str("</p>\n<h2>Implementations</h2>\n<table><tr><th>implementation</th><th>status</th><th>pass rate</th><th>MUST failures</th><th>SHOULD failures</th></tr>\n");
    for c in columns {
        match &c.cases {
            Some(m) => {
                let (p, n) = rate(m.values());
                s.push_str(&format!(
                    "<tr><td>{}</td><td>ran {}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                    esc(&c.name),
                    count(m.len(), "case", "cases"),
                    pct(p, n),
                    failures_by_level(m, "MUST"),
                    failures_by_level(m, "SHOULD")
                ));
            }
            None => s.push_str(&format!(
                "<tr><td>{}</td><td class=\"o-notrun\">did not run: {}</td><td>–</td><td>–</td><td>–</td></tr>\n",
                esc(&c.name),
                esc(c.broken.as_deref().unwrap_or(""))
            )),
        }
    }
    s.push_str("</table>\n<h2>Pass rate per spec section</h2>\n<table><tr><th>section</th>");
    for c in columns {
        s.push_str(&format!("<th>{}</th>", esc(&c.name)));
    }
    s.push_str("</tr>\n");
    let secs = sections(columns);
    for (sec, ids) in &secs {
        s.push_str(&format!("<tr><td>§{}</td>", esc(sec)));
        for c in columns {
            let v = match &c.cases {
                Some(m) => pct_pair(rate(ids.iter().filter_map(|id| m.get(id)))),
                None => "–".into(),
            };
            s.push_str(&format!("<td>{v}</td>"));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>\n<h2>Cases</h2>\n<table><tr><th>case</th><th>§</th>");
    for c in columns {
        s.push_str(&format!("<th>{}</th>", esc(&c.name)));
    }
    s.push_str("</tr>\n");
    for (sec, ids) in &secs {
        for id in ids {
            s.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td>",
                esc(id),
                esc(sec)
            ));
            for c in columns {
                let (class, label, link, title) = cell_class(c, id);
                let inner = match link {
                    Some(l) => format!("<a href=\"{}\">{}</a>", esc(&l), esc(&label)),
                    None => esc(&label),
                };
                s.push_str(&format!(
                    "<td class=\"cell o-{}\" title=\"{}\">{inner}</td>",
                    esc(&class),
                    esc(&title)
                ));
            }
            s.push_str("</tr>\n");
        }
    }
    s.push_str("</table>\n</body></html>\n");
    s
}

fn pct_pair((p, n): (usize, usize)) -> String {
    pct(p, n)
}

/// Count the matrix cells of a rendered HTML page (what the script's
/// check and the tests compare with the reports).
pub fn count_cells(html: &str) -> usize {
    html.matches("<td class=\"cell ").count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(cases: &[(&str, &str, &str)]) -> Value {
        let cases: Vec<Value> = cases
            .iter()
            .map(|(id, outcome, level)| {
                serde_json::json!({
                    "id": id, "outcome": outcome, "level": level, "sections": ["5.2"],
                    "message": "boom", "transcript": [{"method": "GET", "url": "http://x/a",
                    "request_headers": [], "status": 404, "response_headers": [["a", "b"]]}]
                })
            })
            .collect();
        serde_json::json!({ "cases": cases })
    }

    #[test]
    fn pass_rates_round_down() {
        assert_eq!(pct(310, 311), "99% (310/311)");
        assert_eq!(pct(311, 311), "100% (311/311)");
        assert_eq!(pct(0, 0), "–");
    }

    #[test]
    fn cells_match_the_reports() {
        let dir = std::env::temp_dir().join(format!("dsc-matrix-{}", std::process::id()));
        let a = load_column(
            "a",
            &report(&[
                ("x::y::one", "passed", "MUST"),
                ("x::y::two", "failed", "MUST"),
            ]),
            &dir,
        )
        .unwrap();
        let b = load_column(
            "b",
            &report(&[("x::y::one", "non_strict_failure", "SHOULD")]),
            &dir,
        )
        .unwrap();
        let broken = Column {
            name: "c".into(),
            cases: None,
            broken: Some("npm install failed".into()),
        };
        let cols = vec![a, b, broken];
        let page = html("t", &cols);
        // 2 case rows × 3 implementations.
        assert_eq!(count_cells(&page), 6);
        assert_eq!(page.matches("cell o-notrun").count(), 2, "{page}");
        assert_eq!(page.matches("cell o-missing").count(), 1);
        assert!(
            page.contains("href=\"transcripts/a/x.y.two.txt\""),
            "{page}"
        );
        assert!(dir.join("transcripts/a/x.y.two.txt").is_file());
        let md = markdown("t", &cols);
        assert!(
            md.contains("| a | ran 2 cases | 50% (1/2) | 1 | 0 |"),
            "{md}"
        );
        assert!(md.contains("| b | ran 1 case | 0% (0/1) | 0 | 1 |"), "{md}");
        assert!(md.contains("did not run**: npm install failed"), "{md}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
