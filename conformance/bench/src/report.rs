//! What a run found: figures (a table for people, `--json` for tools) and
//! the run's own checks of its results.

use serde_json::{json, Map, Value};

#[derive(Default)]
pub struct Report {
    pub mode: String,
    /// (key, shown value) in the order added.
    rows: Vec<(String, String)>,
    figures: Map<String, Value>,
    checks: Vec<(String, bool)>,
    notes: Vec<String>,
}

impl Report {
    pub fn new(mode: &str) -> Report {
        Report {
            mode: mode.to_string(),
            ..Report::default()
        }
    }

    /// A figure: `key` for tools, `shown` for the table.
    pub fn figure(&mut self, key: &str, value: impl Into<Value>, shown: impl Into<String>) {
        self.figures.insert(key.to_string(), value.into());
        self.rows.push((key.to_string(), shown.into()));
    }

    /// A figure for tools only (e.g. a whole latency summary).
    pub fn data(&mut self, key: &str, value: impl Into<Value>) {
        self.figures.insert(key.to_string(), value.into());
    }

    /// One of the run's checks of its own results.
    pub fn check(&mut self, what: impl Into<String>, ok: bool) {
        self.checks.push((what.into(), ok));
    }

    pub fn note(&mut self, n: impl Into<String>) {
        self.notes.push(n.into());
    }

    pub fn verified(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|(_, ok)| *ok)
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.figures.get(key)
    }

    pub fn to_json(&self, target: &str, params: Value) -> Value {
        json!({
            "mode": self.mode,
            "target": target,
            "params": params,
            "figures": self.figures,
            "checks": self.checks.iter().map(|(w, ok)| json!({"check": w, "ok": ok})).collect::<Vec<_>>(),
            "notes": self.notes,
            "verified": self.verified(),
        })
    }

    pub fn table(&self, target: &str) -> String {
        let width = self
            .rows
            .iter()
            .map(|(k, _)| k.len())
            .max()
            .unwrap_or(0)
            .max(6);
        let mut out = format!("ds-bench {} against {target}\n", self.mode);
        for (k, v) in &self.rows {
            out.push_str(&format!("  {k:<width$}  {v}\n"));
        }
        for n in &self.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        for (what, ok) in &self.checks {
            out.push_str(&format!(
                "  [{}] {what}\n",
                if *ok { "ok" } else { "FAILED" }
            ));
        }
        out.push_str(if self.verified() {
            "  verified: every check above holds\n"
        } else {
            "  NOT VERIFIED: see the failed checks above\n"
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verified_needs_checks_and_all_ok() {
        let mut r = Report::new("x");
        assert!(!r.verified(), "a run that checked nothing is not verified");
        r.check("a", true);
        assert!(r.verified());
        r.check("b", false);
        assert!(!r.verified());
        assert!(r.table("t").contains("[FAILED] b"));
        assert!(r.table("t").contains("NOT VERIFIED"));
    }

    #[test]
    fn json_carries_figures_and_checks() {
        let mut r = Report::new("append");
        r.figure("appends_per_s", 1234.5, "1234/s");
        r.check("ok", true);
        let j = r.to_json("http://t", json!({"c": 1}));
        assert_eq!(j["figures"]["appends_per_s"], 1234.5);
        assert_eq!(j["verified"], true);
        assert_eq!(j["checks"][0]["ok"], true);
        assert!(r.table("http://t").contains("appends_per_s"));
    }
}
