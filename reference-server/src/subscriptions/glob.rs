//! §6.2 subscription patterns: globs over stream-root-relative paths where
//! `*` matches exactly one path segment and `**` zero or more segments.
//! Any other segment is literal; a `*` inside a literal segment (`ev*`) is
//! refused as a bad glob rather than guessed at.

/// A validated pattern, split into segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    segments: Vec<Seg>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    One,
    Any,
    Lit(String),
}

impl Glob {
    /// Parses a normalised pattern (no leading or trailing `/`).
    pub fn parse(pattern: &str) -> Result<Glob, String> {
        if pattern.is_empty() {
            return Err("pattern must not be empty".into());
        }
        let mut segments = Vec::new();
        for seg in pattern.split('/') {
            segments.push(match seg {
                "" => return Err("pattern has an empty path segment (//)".into()),
                "*" => Seg::One,
                "**" => Seg::Any,
                s if s.contains('*') => {
                    return Err(format!(
                        "pattern segment {s:?} mixes * with other characters; \
                         * and ** must be whole segments"
                    ))
                }
                s => Seg::Lit(s.to_string()),
            });
        }
        Ok(Glob { segments })
    }

    /// Whether the stream-root-relative `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return false;
        }
        matches_from(&self.segments, &parts)
    }
}

fn matches_from(pat: &[Seg], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((Seg::Any, rest)) => (0..=path.len()).any(|skip| matches_from(rest, &path[skip..])),
        Some((seg, rest)) => match path.split_first() {
            None => false,
            Some((first, tail)) => {
                let ok = match seg {
                    Seg::One => true,
                    Seg::Lit(l) => l == first,
                    Seg::Any => unreachable!("handled above"),
                };
                ok && matches_from(rest, tail)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, s: &str) -> bool {
        Glob::parse(p).unwrap().matches(s)
    }

    #[test]
    fn star_is_exactly_one_segment() {
        assert!(m("events/*", "events/a"));
        assert!(!m("events/*", "events"));
        assert!(!m("events/*", "events/a/b"));
        assert!(m("*/x", "a/x"));
        assert!(!m("*/x", "x"));
    }

    #[test]
    fn double_star_is_zero_or_more_segments() {
        assert!(m("events/**", "events"));
        assert!(m("events/**", "events/a"));
        assert!(m("events/**", "events/a/b/c"));
        assert!(m("**", "a"));
        assert!(m("**/z", "z"));
        assert!(m("**/z", "a/b/z"));
        assert!(!m("**/z", "a/b/y"));
        assert!(m("a/**/z", "a/z"));
        assert!(m("a/**/z", "a/b/c/z"));
        assert!(!m("a/**/z", "b/z"));
    }

    #[test]
    fn literals_match_exactly() {
        assert!(m("events/abc", "events/abc"));
        assert!(!m("events/abc", "events/abcd"));
        assert!(!m("events/abc", "Events/abc"));
    }

    #[test]
    fn bad_globs_are_refused() {
        assert!(Glob::parse("").is_err());
        assert!(Glob::parse("a//b").is_err());
        assert!(Glob::parse("ev*").is_err());
        assert!(Glob::parse("a/***").is_err());
    }
}
