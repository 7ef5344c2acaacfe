//! Telling the host that events wait: once per batch, not once per event.
//!
//! A host thread waiting for an event sleeps; waking it costs a context switch each way,
//! and on a busy core that is most of the cost of a small event (the echo benchmark spent
//! 1.7 context switches per message). So an event queued by the runtime does not wake the
//! host at once: it asks the ringer task, which first lets the runtime finish what is ready
//! (`yield_now` runs it after the runtime's next I/O poll, at most one scheduler tick later),
//! then wakes the host once for everything queued meanwhile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::{Condvar, Mutex};
use tokio::sync::Notify;

use crate::config::EventReadyHook;

/// The bell between the event queue's producers (runtime tasks, and the host's own calls
/// while stopping) and its waiting receivers.
pub(crate) struct EventBell {
    /// Set by a ring, cleared by a receiver that wakes up.
    rung: Mutex<bool>,
    receivers: Condvar,
    /// True from `ring_soon` until the ringer rings.
    ringing_soon: AtomicBool,
    ringer: Notify,
    /// The host's own wake-up (e.g. an eventfd or a JS event loop), rung along.
    hook: Option<EventReadyHook>,
}

impl EventBell {
    pub(crate) fn new(hook: Option<EventReadyHook>) -> Arc<EventBell> {
        Arc::new(EventBell {
            rung: Mutex::new(false),
            receivers: Condvar::new(),
            ringing_soon: AtomicBool::new(false),
            ringer: Notify::new(),
            hook,
        })
    }

    /// Wakes every waiting receiver and the host's hook now (any thread; never blocks).
    pub(crate) fn ring_now(&self) {
        *self.rung.lock() = true;
        self.receivers.notify_all();
        if let Some(hook) = &self.hook {
            hook();
        }
    }

    /// Rings once the runtime has run what is ready (from runtime tasks).
    pub(crate) fn ring_soon(&self) {
        if !self.ringing_soon.swap(true, Ordering::AcqRel) {
            self.ringer.notify_one();
        }
    }

    /// The ringer task, for the server's whole life.
    pub(crate) async fn run_ringer(self: Arc<Self>) {
        loop {
            self.ringer.notified().await;
            // Woken tasks run first; a yielded one after the next I/O poll.
            tokio::task::yield_now().await;
            self.ringing_soon.store(false, Ordering::Release);
            self.ring_now();
        }
    }

    /// Sleeps until a ring (one that came after the last wake-up counts) or `deadline`;
    /// false when the deadline passed. Receivers check the queue before and after.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        let mut rung = self.rung.lock();
        if !*rung {
            match deadline {
                None => self.receivers.wait(&mut rung),
                Some(d) => {
                    if self.receivers.wait_until(&mut rung, d).timed_out() && !*rung {
                        return false;
                    }
                }
            }
        }
        *rung = false;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_ring_before_the_wait_is_not_lost() {
        let bell = EventBell::new(None);
        bell.ring_now();
        assert!(bell.wait(Some(Instant::now() + Duration::from_secs(5))));
        assert!(!bell.wait(Some(Instant::now() + Duration::from_millis(20))));
    }

    #[tokio::test]
    async fn ring_soon_rings_once_for_a_burst_and_calls_the_hook() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = calls.clone();
        let bell = EventBell::new(Some(Arc::new(move || {
            counted.fetch_add(1, Ordering::SeqCst);
        })));
        tokio::spawn(bell.clone().run_ringer());
        for _ in 0..100 {
            bell.ring_soon();
        }
        let waiter = bell.clone();
        let woke = tokio::task::spawn_blocking(move || {
            waiter.wait(Some(Instant::now() + Duration::from_secs(5)))
        });
        assert!(woke.await.unwrap());
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one ring for the burst");
        bell.ring_soon();
        let waiter = bell.clone();
        let woke = tokio::task::spawn_blocking(move || {
            waiter.wait(Some(Instant::now() + Duration::from_secs(5)))
        });
        assert!(woke.await.unwrap());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
