//! The background task of §7: lease expiry (§7.3), webhook delivery with
//! signed requests and persisted exponential-backoff retries (§7.1), and
//! pull-wake wake events (§7.2). Its timers are derived from persisted
//! state (`lease_until_ms`, `next_attempt_at_ms`), so a restarted server
//! honours the schedule it had.
//!
//! Webhook requests run in tasks of their own, at most
//! `Settings::max_deliveries` at once and one per subscription, each bounded
//! by `Settings::webhook_timeout`: a slow or dead receiver delays only its
//! own subscription, never stream operations.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};

use super::config::Kind;
use super::record::Record;
use super::signing::Claims;
use super::{adapter, backoff_ms, now_ms, Subscriptions};
use crate::AppState;

/// Largest webhook response body read (for `{"done": true}`).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Longest sleep between scans (idle subscriptions with pending work are
/// found by the scan too, e.g. after a restart).
const MAX_SLEEP: Duration = Duration::from_millis(250);
/// Delay before a failed wake event append is tried again.
const WAKE_RETRY_MS: u64 = 1000;

/// One webhook request to make.
pub(crate) struct Delivery {
    id: String,
    incarnation: String,
    wake_id: String,
    url: String,
    body: Bytes,
}

/// Runs until the server stops (called from `serve`).
pub async fn run(app: AppState) -> std::convert::Infallible {
    loop {
        let subs = app.subscriptions();
        let (deliveries, writes, next) = subs.scan(app.store());
        for d in deliveries {
            tokio::spawn(deliver(app.clone(), d));
        }
        for (abs, event) in writes {
            match adapter::append_event(app.store(), &abs, &event).await {
                Ok(()) => subs.stream_written(app.store(), &abs, false),
                Err(e) => {
                    tracing::warn!("wake event not written to {abs} ({e}); retrying");
                    subs.wake_write_failed(abs, event);
                }
            }
        }
        let sleep = next
            .map(|at| Duration::from_millis(at.saturating_sub(now_ms())))
            .unwrap_or(MAX_SLEEP)
            .min(MAX_SLEEP);
        tokio::select! {
            () = subs.kick.notified() => {}
            () = tokio::time::sleep(sleep) => {}
        }
    }
}

impl Subscriptions {
    /// Expires leases, issues wakes for idle subscriptions with pending
    /// work, and picks due webhook deliveries. Returns them, the queued
    /// wake events and the next deadline (unix ms).
    pub(crate) fn scan(
        &self,
        store: &crate::store::Store,
    ) -> (Vec<Delivery>, Vec<(String, Value)>, Option<u64>) {
        let mut inner = self.lock();
        let now = now_ms();
        let ids: Vec<String> = inner.state.subs.keys().cloned().collect();
        let mut deliveries = Vec::new();
        let mut next: Option<u64> = None;
        let mut soonest = |t: u64| next = Some(next.map_or(t, |n: u64| n.min(t)));
        for id in ids {
            let Some(sub) = inner.state.subs.get(&id) else {
                continue;
            };
            let expired = sub
                .wake
                .as_ref()
                .and_then(|w| w.lease_until_ms)
                .is_some_and(|t| t <= now);
            if expired {
                // §7.3: holder and token cleared; pending work wakes again.
                if self
                    .commit(&mut inner, Record::Finished { id: id.clone() })
                    .is_err()
                {
                    break;
                }
            }
            if self.maybe_wake(&mut inner, store, &id).is_err() {
                break;
            }
            let sub = &inner.state.subs[&id];
            if let Some(t) = sub.wake.as_ref().and_then(|w| w.lease_until_ms) {
                soonest(t);
            }
            let Some(wake) = sub.wake.as_ref() else {
                continue;
            };
            if sub.config.kind != Kind::Webhook
                || !self.settings.webhooks
                || wake.delivered
                || inner.in_flight.get(&id) == Some(&wake.id)
            {
                continue;
            }
            if let Some(r) = &sub.retry {
                if r.next_attempt_at_ms > now {
                    soonest(r.next_attempt_at_ms);
                    continue;
                }
            }
            let Some(url) = sub.config.webhook_url.clone() else {
                continue;
            };
            let token = self.keys.mint(&Claims {
                sub: sub.id.clone(),
                inc: sub.incarnation.clone(),
                gen: sub.generation,
                wake: wake.id.clone(),
                kind: "callback".into(),
            });
            let streams: Vec<Value> = wake
                .snapshot
                .iter()
                .filter_map(|(path, tail)| {
                    let l = sub.links.get(path)?;
                    Some(json!({
                        "path": path,
                        "link_type": if l.explicit { "explicit" } else { "glob" },
                        "acked_offset": crate::store::offsets::Offset(l.acked).to_string(),
                        "tail_offset": crate::store::offsets::Offset(*tail).to_string(),
                        "has_pending": *tail > l.acked,
                    }))
                })
                .collect();
            let body = json!({
                "subscription_id": sub.id,
                "wake_id": wake.id,
                "generation": sub.generation,
                "streams": streams,
                "callback_url": self.action_url(sub, "callback"),
                "callback_token": token,
            });
            deliveries.push(Delivery {
                id: id.clone(),
                incarnation: sub.incarnation.clone(),
                wake_id: wake.id.clone(),
                url,
                body: Bytes::from(body.to_string()),
            });
            let wake_id = wake.id.clone();
            inner.in_flight.insert(id, wake_id);
        }
        let mut writes = std::mem::take(&mut inner.wake_writes);
        // Failed wake events again, while the wake they announce is
        // current and unclaimed; stale ones are dropped.
        let retry = std::mem::take(&mut inner.wake_retry);
        for (abs, event, at) in retry {
            let current = event["subscription_id"]
                .as_str()
                .and_then(|id| inner.state.subs.get(id))
                .is_some_and(|s| {
                    Some(s.generation) == event["generation"].as_u64()
                        && s.wake.as_ref().is_some_and(|w| w.holder.is_none())
                });
            if !current {
                continue;
            }
            if at <= now {
                writes.push((abs, event));
            } else {
                soonest(at);
                inner.wake_retry.push((abs, event, at));
            }
        }
        let target = inner.log.as_ref().map_or(0, super::log::SubLog::written);
        drop(inner);
        // Everything handed out from here (deliveries, wake events) is
        // durable first.
        if self.sync_to(target).is_err() {
            return (Vec::new(), Vec::new(), next);
        }
        (deliveries, writes, next)
    }

    /// A wake event could not be appended: try again in a second.
    fn wake_write_failed(&self, abs: String, event: Value) {
        self.lock()
            .wake_retry
            .push((abs, event, now_ms() + WAKE_RETRY_MS));
    }

    /// Applies a webhook attempt's outcome: `Ok(done)` on a 2xx.
    pub(super) fn delivered(
        &self,
        store: &crate::store::Store,
        d: &Delivery,
        outcome: Result<bool, String>,
    ) {
        let mut inner = self.lock();
        if inner.in_flight.get(&d.id) == Some(&d.wake_id) {
            inner.in_flight.remove(&d.id);
        }
        let Some(sub) = inner.state.subs.get(&d.id) else {
            return;
        };
        if sub.incarnation != d.incarnation {
            return;
        }
        let result = match outcome {
            Ok(done) => {
                let current = sub.wake.as_ref().filter(|w| w.id == d.wake_id).cloned();
                (|| {
                    self.commit(
                        &mut inner,
                        Record::Delivered {
                            id: d.id.clone(),
                            wake_id: d.wake_id.clone(),
                        },
                    )?;
                    if let (true, Some(wake)) = (done, current) {
                        // §7.1: `{done: true}` acks the wake snapshot and
                        // releases the lease; newer events wake again.
                        self.commit(
                            &mut inner,
                            Record::Acked {
                                id: d.id.clone(),
                                acks: wake.snapshot,
                            },
                        )?;
                        self.commit(&mut inner, Record::Finished { id: d.id.clone() })?;
                        self.maybe_wake(&mut inner, store, &d.id)?;
                    }
                    Ok::<(), super::SubError>(())
                })()
            }
            Err(why) => {
                let count = sub.retry.as_ref().map_or(0, |r| r.count) + 1;
                let delay = backoff_ms(count, rand::random::<f64>() * 2.0 - 1.0);
                tracing::info!(
                    "webhook for subscription {} failed ({why}); retry {count} in {delay} ms",
                    d.id
                );
                self.commit(
                    &mut inner,
                    Record::RetryScheduled {
                        id: d.id.clone(),
                        count,
                        next_attempt_at_ms: now_ms() + delay,
                    },
                )
            }
        };
        if result.is_ok() {
            let _ = self.finish(inner);
        } else {
            self.kick.notify_one();
        }
    }
}

async fn deliver(app: AppState, d: Delivery) {
    let subs = app.subscriptions();
    let Ok(_permit) = subs.permits.clone().acquire_owned().await else {
        return;
    };
    let unix_s = now_ms() / 1000;
    let signature = subs.keys.signature_header(unix_s, &d.body);
    let attempt = async {
        let res = subs
            .client()?
            .post(&d.url)
            .header("content-type", "application/json")
            .header("webhook-signature", signature)
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("answered {}", res.status()));
        }
        let mut res = res;
        let mut buf = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
            buf.extend_from_slice(&chunk);
            if buf.len() > MAX_RESPONSE_BYTES {
                // A 2xx with a huge body is still a delivery, not `done`.
                return Ok(false);
            }
        }
        let done = serde_json::from_slice::<Value>(&buf)
            .ok()
            .and_then(|v| v.get("done").and_then(Value::as_bool))
            == Some(true);
        Ok(done)
    };
    let outcome = match tokio::time::timeout(subs.settings.webhook_timeout, attempt).await {
        Ok(o) => o,
        Err(_) => Err("timed out".into()),
    };
    subs.delivered(app.store(), &d, outcome);
}
