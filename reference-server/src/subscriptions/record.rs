//! Subscription state and the records that change it. Every mutation is
//! validated against the current state and yields records; `apply` is the
//! one place state changes, used by the live path and by recovery alike.
//! Records carry everything random or time-dependent (wake ids, lease
//! deadlines, retry times), so replay is deterministic.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::config::SubConfig;

/// One subscription (§6.1, §7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sub {
    pub id: String,
    /// Random per creation: tokens of a deleted subscription never match a
    /// new one with the same id.
    pub incarnation: String,
    pub config: SubConfig,
    pub hash: String,
    pub created_at_ms: u64,
    /// `http://host` the subscription was created through; callback URLs
    /// are built from it.
    pub base_url: String,
    pub links: BTreeMap<String, Link>,
    /// §7.3 fencing counter, +1 per wake.
    pub generation: u64,
    pub wake: Option<Wake>,
    /// §7.1 webhook retry schedule; `Some` means `status: failed`.
    pub retry: Option<Retry>,
}

/// A stream link (§6.1); both flags may be set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub glob: bool,
    pub explicit: bool,
    /// Last processed position, inclusive (§7).
    pub acked: u64,
}

/// The wake in flight (§7).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wake {
    pub id: String,
    /// Tails at wake time; `{done: true}` acks exactly these (§7.1).
    pub snapshot: Vec<(String, u64)>,
    /// Pull-wake worker holding the lease.
    pub holder: Option<String>,
    /// Lease deadline (unix ms); webhooks from the wake, pull-wake from
    /// the claim (§7.3).
    pub lease_until_ms: Option<u64>,
    /// The webhook receiver answered 2xx for this wake.
    pub delivered: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retry {
    pub count: u32,
    pub next_attempt_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Record {
    /// The webhook signing key's seed (base64url), first in the log.
    SigningKey {
        seed: String,
    },
    /// A new subscription, with its initial links; also how a compacted
    /// log restores one.
    Created {
        sub: Box<Sub>,
    },
    Deleted {
        id: String,
    },
    /// Adds a link, or the given kind to an existing one.
    Linked {
        id: String,
        path: String,
        explicit: bool,
        acked: u64,
    },
    /// The stream at `path` was (re)created: its cursor restarts.
    Reset {
        id: String,
        path: String,
        acked: u64,
    },
    /// Drops one kind; a link with neither is removed.
    Unlinked {
        id: String,
        path: String,
        explicit: bool,
    },
    Woken {
        id: String,
        generation: u64,
        wake_id: String,
        snapshot: Vec<(String, u64)>,
        lease_until_ms: Option<u64>,
    },
    Claimed {
        id: String,
        holder: String,
        lease_until_ms: u64,
    },
    LeaseExtended {
        id: String,
        lease_until_ms: u64,
    },
    Acked {
        id: String,
        acks: Vec<(String, u64)>,
    },
    /// The wake ended (done, release, lease expiry): holder and token
    /// cleared.
    Finished {
        id: String,
    },
    Delivered {
        id: String,
        wake_id: String,
    },
    RetryScheduled {
        id: String,
        count: u32,
        next_attempt_at_ms: u64,
    },
}

/// Everything recovered or held live.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct State {
    pub signing_seed: Option<String>,
    pub subs: BTreeMap<String, Sub>,
}

/// The one function that changes subscription state.
pub fn apply(state: &mut State, record: &Record) {
    match record {
        Record::SigningKey { seed } => state.signing_seed = Some(seed.clone()),
        Record::Created { sub } => {
            state.subs.insert(sub.id.clone(), (**sub).clone());
        }
        Record::Deleted { id } => {
            state.subs.remove(id);
        }
        Record::Linked {
            id,
            path,
            explicit,
            acked,
        } => {
            if let Some(s) = state.subs.get_mut(id) {
                let link = s.links.entry(path.clone()).or_insert(Link {
                    glob: false,
                    explicit: false,
                    acked: *acked,
                });
                if *explicit {
                    link.explicit = true;
                } else {
                    link.glob = true;
                }
            }
        }
        Record::Reset { id, path, acked } => {
            if let Some(link) = state.subs.get_mut(id).and_then(|s| s.links.get_mut(path)) {
                link.acked = *acked;
            }
        }
        Record::Unlinked { id, path, explicit } => {
            if let Some(s) = state.subs.get_mut(id) {
                if let Some(link) = s.links.get_mut(path) {
                    if *explicit {
                        link.explicit = false;
                    } else {
                        link.glob = false;
                    }
                    if !link.explicit && !link.glob {
                        s.links.remove(path);
                    }
                }
            }
        }
        Record::Woken {
            id,
            generation,
            wake_id,
            snapshot,
            lease_until_ms,
        } => {
            if let Some(s) = state.subs.get_mut(id) {
                s.generation = *generation;
                s.wake = Some(Wake {
                    id: wake_id.clone(),
                    snapshot: snapshot.clone(),
                    holder: None,
                    lease_until_ms: *lease_until_ms,
                    delivered: false,
                });
            }
        }
        Record::Claimed {
            id,
            holder,
            lease_until_ms,
        } => {
            if let Some(w) = state.subs.get_mut(id).and_then(|s| s.wake.as_mut()) {
                w.holder = Some(holder.clone());
                w.lease_until_ms = Some(*lease_until_ms);
            }
        }
        Record::LeaseExtended { id, lease_until_ms } => {
            if let Some(w) = state.subs.get_mut(id).and_then(|s| s.wake.as_mut()) {
                w.lease_until_ms = Some(*lease_until_ms);
            }
        }
        Record::Acked { id, acks } => {
            if let Some(s) = state.subs.get_mut(id) {
                for (path, offset) in acks {
                    if let Some(link) = s.links.get_mut(path) {
                        // Cursors never move backwards.
                        link.acked = link.acked.max(*offset);
                    }
                }
            }
        }
        Record::Finished { id } => {
            if let Some(s) = state.subs.get_mut(id) {
                s.wake = None;
            }
        }
        Record::Delivered { id, wake_id } => {
            if let Some(s) = state.subs.get_mut(id) {
                s.retry = None;
                if let Some(w) = s.wake.as_mut().filter(|w| &w.id == wake_id) {
                    w.delivered = true;
                }
            }
        }
        Record::RetryScheduled {
            id,
            count,
            next_attempt_at_ms,
        } => {
            if let Some(s) = state.subs.get_mut(id) {
                s.retry = Some(Retry {
                    count: *count,
                    next_attempt_at_ms: *next_attempt_at_ms,
                });
            }
        }
    }
}
