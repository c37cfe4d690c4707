//! Subscriptions (§6, §7, §12.8–12.10): configuration, membership,
//! pull-wake, webhooks, fencing, tokens and SSRF, against any target that
//! implements them. A target without the API gets one `unimplemented`
//! verdict per case (`crate::subs::require`), never a wall of failures.

use crate::case::{Case, Needs};

mod config;
mod membership;
mod props;
mod pull_wake;
mod restart;
mod service_token;
mod ssrf;
mod tokens;
mod util;
mod webhook;

pub fn cases() -> Vec<Case> {
    [
        config::cases as fn() -> Vec<Case>,
        membership::cases,
        pull_wake::cases,
        tokens::cases,
        webhook::cases,
        ssrf::cases,
        props::cases,
    ]
    .iter()
    .flat_map(|f| f())
    .chain(restart::cases().into_iter().map(Case::needs_restart))
    .chain(
        service_token::cases()
            .into_iter()
            .map(|c| c.with_needs(Needs::ServiceToken)),
    )
    .collect()
}
