//! Case registry: every case names the requirement ids
//! (fixtures/requirements.toml) it checks and what it needs from the
//! target; a failure (`crate::failure`) names the requirement it broke.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crate::client::Ctx;
pub use crate::failure::{CaseResult, Failure};

pub type BoxFuture = Pin<Box<dyn Future<Output = CaseResult> + Send + 'static>>;
type Runner = Arc<dyn Fn(Ctx) -> BoxFuture + Send + Sync>;

/// Mark a case function with the requirement ids it checks, and list the
/// topic's cases; the id is derived from the module path (see the macros).
pub use ds_conformance_macros::{case, register};

/// What a case needs beyond an HTTP target. A case whose needs the run
/// cannot meet is reported `skipped` with the reason, never run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    /// `--restart-cmd` (or the embedded file store): the durability group.
    Restart,
    /// `--kill-cmd` and `--restart-cmd`: crashes under load.
    KillAndRestart,
    /// `--service-token`: the target's credential for pull-wake claims
    /// (§7.2; how it is checked is implementation-defined).
    ServiceToken,
}

/// What the run can do to the target besides sending requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct Abilities {
    pub restart: bool,
    pub kill: bool,
    /// A service token for pull-wake claims was given.
    pub service_token: bool,
}

impl Needs {
    /// Why the case cannot run with `abilities` (None: it can).
    pub fn missing(self, abilities: Abilities) -> Option<&'static str> {
        match self {
            Needs::Nothing => None,
            Needs::Restart if !abilities.restart => Some("needs --restart-cmd"),
            Needs::KillAndRestart if !(abilities.kill && abilities.restart) => {
                Some("needs --kill-cmd and --restart-cmd")
            }
            Needs::ServiceToken if !abilities.service_token => Some(
                "needs --service-token: the target's credential for pull-wake claims \
                 (§7.2's service-jwt; how a target checks it is implementation-defined)",
            ),
            Needs::Restart | Needs::KillAndRestart | Needs::ServiceToken => None,
        }
    }
    /// Does the case take the target away (so it must run alone)?
    pub fn exclusive(self) -> bool {
        matches!(self, Needs::Restart | Needs::KillAndRestart)
    }
}

/// A case as `#[case(...)]` records it: where it lives and what it checks.
pub struct CaseDef {
    /// `module_path!()` of the topic module, e.g. `ds_conformance::cases::close::header_value`.
    pub module: &'static str,
    pub name: &'static str,
    pub requirements: &'static [&'static str],
    /// `#[case(..., secs = N)]`: how long the case usually takes because it
    /// waits on the target's clock (0: not said, a short case).
    pub expected_secs: u32,
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
            expected: Duration::from_secs(self.expected_secs.into()),
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
    /// Its usual duration when it waits on the target's clock (zero: a
    /// short case). The runner starts the longest first.
    pub expected: Duration,
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
            expected: Duration::ZERO,
            run: Arc::new(move |ctx| Box::pin(f(ctx))),
        }
    }
    /// Say how long the case usually takes (see [`Case::expected`]).
    pub fn expecting(mut self, expected: Duration) -> Case {
        self.expected = expected;
        self
    }
    /// Mark the case (usually a whole area) as needing `needs`.
    pub fn with_needs(mut self, needs: Needs) -> Case {
        self.needs = needs;
        self
    }
    pub fn needs_restart(self) -> Case {
        self.with_needs(Needs::Restart)
    }
    pub fn run(&self, ctx: Ctx) -> BoxFuture {
        (self.run)(ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_token_cases_are_skipped_without_one_and_run_alongside_others() {
        let none = Abilities::default();
        let why = Needs::ServiceToken
            .missing(none)
            .expect("skipped without a token");
        assert!(why.contains("--service-token"), "{why}");
        let with = Abilities {
            service_token: true,
            ..Abilities::default()
        };
        assert_eq!(Needs::ServiceToken.missing(with), None);
        assert!(!Needs::ServiceToken.exclusive());
        assert!(Needs::Restart.exclusive());
    }
}
