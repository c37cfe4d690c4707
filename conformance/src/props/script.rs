//! Replay scripts: the requests of a minimal failing sequence as a bash
//! script of curl calls. `TARGET` (top of the script) is the stream root;
//! offsets the server minted are captured into shell variables and reused,
//! so the script also replays against a server with other offset tokens.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::transcript::printf_b_arg as bytes_arg;

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
    /// The status the failing run saw (None: SSE, recorded before the answer).
    pub seen_status: Option<u16>,
    /// The body the failing run saw, for a successful catch-up read.
    pub seen_body: Option<Vec<u8>>,
}

#[derive(Clone, Debug, Default)]
pub struct Script {
    pub lines: Vec<Line>,
}

fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

impl Script {
    pub fn push(&mut self, line: Line) {
        self.lines.push(line);
    }

    /// Render as bash. `root` is the run's stream root (default TARGET),
    /// `seed`/`case` and `failure` go into the header comment. `broke`: the
    /// requirement the recorded run broke (None: the harness's own final
    /// replay did not fail). The script compares every answer with the
    /// recorded run's (status; body of successful reads) and exits 1 when
    /// they all match, i.e. when it reproduced the failure, else 0.
    pub fn render(
        &self,
        root: &str,
        case: &str,
        seed: u64,
        ops: &str,
        failure: &str,
        broke: Option<&str>,
    ) -> String {
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
        let _ = writeln!(
            out,
            "# Needs bash and curl. TARGET (the stream root) may be set in the environment."
        );
        out.push_str(crate::replay::PRELUDE);
        let _ = writeln!(out, "TARGET=\"${{TARGET:-{root}}}\"");
        let _ = writeln!(out, "BASE=\"$TARGET/replay-$(date +%s)-$RANDOM\"");
        let _ = writeln!(out, "# URL path of BASE, for Stream-Forked-From");
        let _ = writeln!(out, "BPATH=\"/${{BASE#*://*/}}\"");
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        let subst = |vars: &BTreeMap<String, String>, v: &str| -> String {
            match vars.get(v) {
                Some(name) => format!("\"${name}\""),
                None => sq(v),
            }
        };
        for (i, l) in self.lines.iter().enumerate() {
            let n = i + 1;
            let _ = writeln!(out, "\necho '>>> {n}. {}'", l.comment.replace('\'', ""));
            let mut cmd = format!("req {n}");
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
            if let Some(code) = l.seen_status {
                let _ = write!(out, "seen {n} {code}");
                if let Some(b) = &l.seen_body {
                    let _ = write!(out, " {}", bytes_arg(b));
                }
                out.push('\n');
            }
            if let Some(tok) = &l.next_offset {
                if !vars.contains_key(tok) {
                    let name = format!("O{i}");
                    let _ = writeln!(out, "{name}=\"$NEXT\"");
                    vars.insert(tok.clone(), name);
                }
            }
        }
        match broke {
            Some(req) => {
                let _ = writeln!(
                    out,
                    "\nif [ \"$DIFFER\" = 0 ]; then echo 'REPRODUCED: every answer matched the recorded run, which broke {req}'; exit 1; fi"
                );
                let _ = writeln!(
                    out,
                    "echo 'not reproduced: answers differ from the recorded run (see # differs above)'; exit 0"
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "\necho 'the harness could not reproduce this failure itself (flaky?): nothing to compare'; exit 0"
                );
            }
        }
        out
    }
}
