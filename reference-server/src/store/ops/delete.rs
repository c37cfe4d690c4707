//! §5.4 DELETE and §4 expiry (lazy, and the periodic sweep): both are a
//! `Delete` event, which `apply` turns into a soft-delete or a removal with
//! its cascade (§4.2).

use std::sync::Arc;

use time::OffsetDateTime;

use crate::store::apply::Registry;
use crate::store::event::Event;
use crate::store::stream::{Status, Stream};
use crate::store::{unapplied, Commit, Outcome, Store, StoreError};

impl Store {
    /// §5.4 DELETE, with §4.2 soft-delete and cascading cleanup.
    pub fn delete(&self, path: &str) -> Outcome<()> {
        let now = self.clock().now();
        let mut reg = self.registry();
        let result = reg.get(path).cloned().ok_or(StoreError::NotFound);
        let result = result.and_then(|s| {
            self.expire_if_due(&mut reg, &s, now);
            s.lock().check_live()?;
            let event = Event::Delete {
                path: s.path.clone(),
            };
            reg.apply(&event, Vec::new()).map_err(unapplied)?;
            // Journaled under the registry lock that applied it.
            Ok(((), Commit::event(self.journal.as_ref(), &event, None)))
        });
        self.answer(result)
    }

    /// Periodic expiry of streams nobody touches (§4).
    pub fn sweep(&self) {
        let now = self.clock().now();
        let all: Vec<Arc<Stream>> = self.registry().streams().cloned().collect();
        for s in all {
            let expired = {
                let st = s.lock();
                st.status == Status::Live && st.is_expired(now)
            };
            if expired {
                self.expire_if_due(&mut self.registry(), &s, now);
            }
        }
    }

    /// Expires `s` if it is due (§4): the same `Delete` event as a DELETE,
    /// journaled without anyone waiting for it.
    pub(in crate::store) fn expire_if_due(
        &self,
        reg: &mut Registry,
        s: &Arc<Stream>,
        now: OffsetDateTime,
    ) {
        {
            let st = s.lock();
            if st.status != Status::Live || !st.is_expired(now) {
                return;
            }
        }
        let event = Event::Delete {
            path: s.path.clone(),
        };
        if reg.apply(&event, Vec::new()).is_ok() {
            if let Some(j) = &self.journal {
                j.submit_detached(&event);
            }
        }
    }
}
