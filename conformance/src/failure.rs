//! Why a case did not pass: the one failure type that cases, the client,
//! the SSE reader and the properties return. It depends on nothing else in
//! the harness, so `case`, `client` and `sse` no longer depend on each
//! other through it.

use serde::Serialize;

/// What kind of "not passed" a failure is; the runner turns it into an
/// [`Outcome`](crate::outcome::Outcome).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum FailureKind {
    /// The target broke a requirement: a verdict.
    Violation,
    /// No usable answer (transport error, connection reset, a precondition
    /// the target did not meet): counts as a failure at every level, even
    /// for a SHOULD case, because nothing could be judged.
    NoAnswer,
    /// The target lacks an optional feature group (e.g. subscriptions):
    /// the case's verdict is `unimplemented`, or a failure under
    /// `--require FEATURE`.
    Unimplemented { feature: String },
    /// Timing left the order of events open every time the case looked
    /// (e.g. a long-poll timed out around when an append was acknowledged,
    /// on a loaded machine), or a property search ran too few sequences
    /// within its time budget to stand for the property: no verdict either
    /// way, reported as `inconclusive`, never as a failure of the target.
    Inconclusive,
    /// The harness could not do its own part (a `--restart-cmd` or
    /// `--kill-cmd` failed or timed out, an artifact could not be written):
    /// a setup error, never blamed on the target; the run exits with 2.
    SetupError,
}

/// Why a case did not pass.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Requirement id the failed check belongs to (None: the case's first one).
    pub requirement: Option<String>,
    pub message: String,
    pub kind: FailureKind,
}

impl Failure {
    /// The target broke requirement `requirement`.
    pub fn new(requirement: Option<&str>, message: impl Into<String>) -> Self {
        Failure {
            requirement: requirement.map(str::to_string),
            message: message.into(),
            kind: FailureKind::Violation,
        }
    }
    /// No usable answer from the target (transport problem): see
    /// [`FailureKind::NoAnswer`].
    pub fn no_answer(message: impl Into<String>) -> Self {
        Failure {
            requirement: None,
            message: message.into(),
            kind: FailureKind::NoAnswer,
        }
    }
    /// The target does not implement the optional feature group `feature`
    /// (e.g. `"subscriptions"`); `reason` says how that showed (e.g. "POST
    /// …/__ds/subscriptions answered 404").
    pub fn unimplemented(feature: &str, reason: impl Into<String>) -> Self {
        Failure {
            requirement: None,
            message: reason.into(),
            kind: FailureKind::Unimplemented {
                feature: feature.to_string(),
            },
        }
    }
    /// No verdict on requirement `requirement`: every observation raced
    /// (see [`FailureKind::Inconclusive`]); `message` says what was seen.
    pub fn inconclusive(requirement: &str, message: impl Into<String>) -> Self {
        Failure {
            requirement: Some(requirement.to_string()),
            message: message.into(),
            kind: FailureKind::Inconclusive,
        }
    }
    /// The harness's own environment failed: see [`FailureKind::SetupError`].
    pub fn setup_error(message: impl Into<String>) -> Self {
        Failure {
            requirement: None,
            message: message.into(),
            kind: FailureKind::SetupError,
        }
    }
    /// A verdict on the target (as opposed to no answer, a missing
    /// feature or a harness problem).
    pub fn is_violation(&self) -> bool {
        self.kind == FailureKind::Violation
    }
    pub fn is_no_answer(&self) -> bool {
        self.kind == FailureKind::NoAnswer
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.kind, &self.requirement) {
            (FailureKind::Unimplemented { feature }, _) => {
                write!(f, "unimplemented ({feature}): {}", self.message)
            }
            (FailureKind::SetupError, _) => write!(f, "setup error: {}", self.message),
            (FailureKind::Inconclusive, Some(r)) => {
                write!(f, "inconclusive [{r}]: {}", self.message)
            }
            (_, Some(r)) => write!(f, "[{r}] {}", self.message),
            (_, None) => write!(f, "{}", self.message),
        }
    }
}

/// A broken rule a checker found, before it becomes the case's
/// [`Failure`]: the requirement, what was seen, and (for checkers that keep
/// a history, like the crash cases) where to look: the streams whose
/// history explains it and the client involved. The model, the properties
/// and the crash checker all report this one type.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub requirement: &'static str,
    pub message: String,
    /// Streams whose history explains the violation (may be empty).
    pub streams: Vec<String>,
    /// The client involved, if one.
    pub client: Option<String>,
}

impl Violation {
    pub fn new(requirement: &'static str, message: impl Into<String>) -> Self {
        Violation {
            requirement,
            message: message.into(),
            streams: Vec::new(),
            client: None,
        }
    }
    /// A violation seen on `stream`.
    pub fn on(requirement: &'static str, stream: &str, message: impl Into<String>) -> Self {
        Violation::new(requirement, message).also(stream)
    }
    /// The client involved.
    pub fn by(mut self, client: &str) -> Self {
        self.client = Some(client.to_string());
        self
    }
    /// Another stream whose history explains it.
    pub fn also(mut self, stream: &str) -> Self {
        self.streams.push(stream.to_string());
        self
    }
}

/// What a case returns.
pub type CaseResult = Result<(), Failure>;

/// Fail the case unless `cond` holds: `check!(cond, "REQ-ID", "fmt", args..)`.
#[macro_export]
macro_rules! check {
    ($cond:expr, $req:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::failure::Failure::new(Some($req), format!($($fmt)+)));
        }
    };
}

/// Fail unless two values are equal, printing expected and actual.
#[macro_export]
macro_rules! check_eq {
    ($actual:expr, $expected:expr, $req:expr, $($fmt:tt)+) => {{
        let (a, e) = (&$actual, &$expected);
        if a != e {
            return Err($crate::failure::Failure::new(
                Some($req),
                format!("{}\n  expected: {:?}\n  actual:   {:?}", format!($($fmt)+), e, a),
            ));
        }
    }};
}

/// Fail unconditionally with a requirement id.
#[macro_export]
macro_rules! fail {
    ($req:expr, $($fmt:tt)+) => {
        return Err($crate::failure::Failure::new(Some($req), format!($($fmt)+)))
    };
}
