//! Case registry and failure type: every case names the requirement ids
//! (fixtures/requirements.toml) it checks; a failure names the one it broke.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::client::Ctx;

/// Why a case did not pass.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Requirement id the failed check belongs to (None: the case's first one).
    pub requirement: Option<String>,
    pub message: String,
    /// True when the failure is a transport problem or a precondition the
    /// target did not meet, not a verdict on the requirement itself.
    pub setup: bool,
}

impl Failure {
    pub fn new(requirement: Option<&str>, message: impl Into<String>) -> Self {
        Failure {
            requirement: requirement.map(str::to_string),
            message: message.into(),
            setup: false,
        }
    }
    pub fn setup(message: impl Into<String>) -> Self {
        Failure {
            requirement: None,
            message: message.into(),
            setup: true,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.requirement {
            Some(r) => write!(f, "[{r}] {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

pub type CaseResult = Result<(), Failure>;
pub type BoxFuture = Pin<Box<dyn Future<Output = CaseResult> + Send + 'static>>;
type Runner = Arc<dyn Fn(Ctx) -> BoxFuture + Send + Sync>;

/// Mark a case function with the requirement ids it checks, and list the
/// topic's cases; the id is derived from the module path (see the macros).
pub use ds_conformance_macros::{case, register};

/// What a case needs from the target beyond the base protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    /// `--restart-cmd` must be given (durability group).
    Restart,
}

/// A case as `#[case(...)]` records it: where it lives and what it checks.
pub struct CaseDef {
    /// `module_path!()` of the topic module, e.g. `ds_conformance::cases::close::header_value`.
    pub module: &'static str,
    pub name: &'static str,
    pub requirements: &'static [&'static str],
    pub run: fn(Ctx) -> BoxFuture,
}

impl CaseDef {
    /// The id: the module path below `cases::`, then the function name.
    pub fn id(&self) -> String {
        let topic = self
            .module
            .split_once("::cases::")
            .map_or(self.module, |(_, rest)| rest);
        format!("{topic}::{}", self.name)
    }
    pub fn into_case(self) -> Case {
        let run = self.run;
        Case {
            id: self.id(),
            requirements: self.requirements.to_vec(),
            needs: Needs::Nothing,
            run: Arc::new(run),
        }
    }
}

#[derive(Clone)]
pub struct Case {
    /// `area::topic::case`, e.g. `fork::lifecycle::delete_soft_deleted_is_410`.
    pub id: String,
    pub requirements: Vec<&'static str>,
    pub needs: Needs,
    pub(crate) run: Runner,
}

impl Case {
    /// A case built at run time (tests of the runner); catalog cases come
    /// from `#[case]` + `register!`.
    pub fn new<F, Fut>(id: &str, requirements: &[&'static str], f: F) -> Case
    where
        F: Fn(Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CaseResult> + Send + 'static,
    {
        Case {
            id: id.to_string(),
            requirements: requirements.to_vec(),
            needs: Needs::Nothing,
            run: Arc::new(move |ctx| Box::pin(f(ctx))),
        }
    }
    pub fn needs_restart(mut self) -> Case {
        self.needs = Needs::Restart;
        self
    }
    pub fn run(&self, ctx: Ctx) -> BoxFuture {
        (self.run)(ctx)
    }
}

/// Fail the case unless `cond` holds: `check!(cond, "REQ-ID", "fmt", args..)`.
#[macro_export]
macro_rules! check {
    ($cond:expr, $req:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::case::Failure::new(Some($req), format!($($fmt)+)));
        }
    };
}

/// Fail unless two values are equal, printing expected and actual.
#[macro_export]
macro_rules! check_eq {
    ($actual:expr, $expected:expr, $req:expr, $($fmt:tt)+) => {{
        let (a, e) = (&$actual, &$expected);
        if a != e {
            return Err($crate::case::Failure::new(
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
        return Err($crate::case::Failure::new(Some($req), format!($($fmt)+)))
    };
}
