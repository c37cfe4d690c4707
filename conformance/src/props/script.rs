//! Replay scripts: the requests of a minimal failing sequence as a bash
//! script of curl calls. `TARGET` (top of the script) is the stream root;
//! offsets the server minted are captured into shell variables and reused,
//! so the script also replays against a server with other offset tokens.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Line {
    pub comment: String,
    pub method: String,
    /// Stream name relative to the sequence namespace.
    pub name: String,
    pub headers: Vec<(String, String)>,
    /// Stream named by `Stream-Forked-From` (relative like `name`).
    pub fork_of: Option<String>,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub sse: bool,
    /// `Stream-Next-Offset` of the response, to capture into a variable.
    pub next_offset: Option<String>,
}

#[derive(Clone, Debug, Default)]
pub struct Script {
    pub lines: Vec<Line>,
}

fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// printf %b escape of arbitrary bytes.
fn bytes_arg(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        if c.is_ascii_alphanumeric() || b" {}[]:,.|-_".contains(&c) {
            s.push(c as char);
        } else {
            let _ = write!(s, "\\x{c:02x}");
        }
    }
    format!("'{s}'")
}

impl Script {
    pub fn push(&mut self, line: Line) {
        self.lines.push(line);
    }

    /// Render as bash. `root` is the run's stream root (default TARGET),
    /// `seed`/`case` and `failure` go into the header comment.
    pub fn render(&self, root: &str, case: &str, seed: u64, ops: &str, failure: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "#!/usr/bin/env bash");
        let _ = writeln!(
            out,
            "# Replay of a failing property sequence ({case}, seed {seed})."
        );
        let _ = writeln!(out, "# Minimal sequence:");
        for l in ops.lines() {
            let _ = writeln!(out, "#   {l}");
        }
        let _ = writeln!(out, "# Failure:");
        for l in failure.lines() {
            let _ = writeln!(out, "#   {l}");
        }
        let _ = writeln!(out, "set -u");
        let _ = writeln!(out, "TARGET=\"${{TARGET:-{root}}}\"");
        let _ = writeln!(out, "BASE=\"$TARGET/replay-$(date +%s)-$RANDOM\"");
        let _ = writeln!(out, "# URL path of BASE, for Stream-Forked-From");
        let _ = writeln!(out, "BPATH=\"/${{BASE#*://*/}}\"");
        let _ = writeln!(
            out,
            "req() {{ local out; out=$(curl -sS -i \"$@\"); printf '%s\\n\\n' \"$out\"; NEXT=$(printf '%s\\n' \"$out\" | tr -d '\\r' | sed -n 's/^[Ss]tream-[Nn]ext-[Oo]ffset: *//p' | head -n1); }}"
        );
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        let subst = |vars: &BTreeMap<String, String>, v: &str| -> String {
            match vars.get(v) {
                Some(name) => format!("\"${name}\""),
                None => sq(v),
            }
        };
        for (i, l) in self.lines.iter().enumerate() {
            let _ = writeln!(out, "\necho '>>> {}'", l.comment.replace('\'', ""));
            let mut cmd = String::from("req");
            if l.sse {
                cmd.push_str(" -N --max-time 3");
            } else {
                cmd.push_str(" --max-time 60");
            }
            match l.method.as_str() {
                "GET" => cmd.push_str(" -G"),
                "HEAD" => cmd.push_str(" -I"),
                m => {
                    let _ = write!(cmd, " -X {m}");
                }
            }
            let _ = write!(cmd, " \"$BASE/{}\"", l.name);
            for (k, v) in &l.headers {
                if k.eq_ignore_ascii_case("Stream-Fork-Offset") {
                    let _ = write!(cmd, " -H \"{k}: \"{}", subst(&vars, v));
                } else {
                    let _ = write!(cmd, " -H {}", sq(&format!("{k}: {v}")));
                }
            }
            if let Some(src) = &l.fork_of {
                let _ = write!(cmd, " -H \"Stream-Forked-From: $BPATH/{src}\"");
            }
            for (k, v) in &l.query {
                let _ = write!(cmd, " --data-urlencode {k}={}", subst(&vars, v));
            }
            if !l.body.is_empty() {
                let _ = write!(cmd, " --data-binary @<(printf '%b' {})", bytes_arg(&l.body));
            } else if matches!(l.method.as_str(), "POST" | "PUT") {
                cmd.push_str(" --data-binary ''");
            }
            let _ = writeln!(out, "{cmd}");
            if let Some(tok) = &l.next_offset {
                if !vars.contains_key(tok) {
                    let name = format!("O{i}");
                    let _ = writeln!(out, "{name}=\"$NEXT\"");
                    vars.insert(tok.clone(), name);
                }
            }
        }
        out
    }
}
