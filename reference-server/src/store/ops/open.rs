//! §5.5 HEAD and §5.6-§5.8 reads: finding a stream (with lazy expiry, §4),
//! renewing a sliding TTL on reads (§5.1), and waiting until what the
//! answer reveals is durable.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::store::commit::{Commit, Outcome};
use crate::store::event::Event;
use crate::store::stream::{Info, Stream};
use crate::store::ttl::{ms, Expiry};
use crate::store::{Store, StoreError};

/// A sliding TTL's access is journaled at most this often per stream; a
/// crash can make the stream expire up to this much early.
pub const TOUCH_EVERY_MS: i64 = 100;

impl Store {
    /// The live stream at `path`, without renewing its TTL (HEAD, and a
    /// POST's check before its body is read), once its existence or
    /// absence is durable.
    pub fn find(&self, path: &str) -> Outcome<Arc<Stream>> {
        // The clock is read only for a stream that can expire: a POST's
        // append reads it again after the body, so this saves a plain
        // append one of its two reads.
        match self.lookup_with(path, || self.clock().now()) {
            Ok(s) => Outcome::new(Ok(s.clone()), Commit::created(self.journal.as_ref(), &s)),
            Err(e) => self.refuse(e),
        }
    }

    /// §5.5 HEAD metadata of a found stream, limited to what is durable.
    pub fn info(&self, s: &Stream) -> Outcome<Info> {
        match s.lock().visible_info() {
            Ok(info) => Outcome::new(Ok(info), Commit::none()),
            Err(e) => self.refuse(e),
        }
    }

    /// Opens a stream for a read (§5.6-§5.8; take chunks with
    /// `read::chunk`), renewing its TTL (§5.1).
    pub fn open_for_read(&self, path: &str) -> Outcome<Arc<Stream>> {
        let now = self.clock().now();
        let s = match self.lookup(path, now) {
            Ok(s) => s,
            Err(e) => return self.refuse(e),
        };
        let mut st = s.lock();
        if let Err(e) = st.check_live() {
            drop(st);
            return self.refuse(e);
        }
        st.touch(now);
        let sliding = matches!(st.expiry, Expiry::Ttl(_));
        drop(st);
        // A sliding TTL's renewal must survive a restart (coalesced).
        if let Some(j) = &self.journal {
            if sliding && s.claim_touch(ms(now), TOUCH_EVERY_MS) {
                j.submit_detached(&Event::Touch {
                    path: s.path.clone(),
                    at: now,
                });
            }
        }
        let commit = Commit::created(self.journal.as_ref(), &s);
        Outcome::new(Ok(s), commit)
    }

    /// Finds a live stream, applying lazy expiry (§4).
    pub(in crate::store) fn lookup(
        &self,
        path: &str,
        now: OffsetDateTime,
    ) -> Result<Arc<Stream>, StoreError> {
        self.lookup_with(path, || now)
    }

    /// [`Store::lookup`], taking the time from `now` only if the stream
    /// can expire.
    fn lookup_with(
        &self,
        path: &str,
        now: impl FnOnce() -> OffsetDateTime,
    ) -> Result<Arc<Stream>, StoreError> {
        let s = self
            .registry()
            .get(path)
            .cloned()
            .ok_or(StoreError::NotFound)?;
        let expired_at = {
            let st = s.lock();
            st.check_live()?;
            if st.expiry.can_expire() {
                let now = now();
                st.is_expired(now).then_some(now)
            } else {
                None
            }
        };
        if let Some(now) = expired_at {
            self.expire_if_due(&mut self.registry(), &s, now);
            s.lock().check_live()?;
        }
        Ok(s)
    }
}
