//! A wake-up for the one task that waits on it: a WebSocket connection's writer.
//!
//! tokio's `Notify` serves any number of waiters, so its wait is a 64-byte future holding a
//! node of a locked waiter list, and an idle connection's task keeps that future for its
//! whole life. With a single waiter, a flag and an `AtomicWaker` do the same: the wait
//! holds a reference, and neither waking nor waiting takes a lock.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

pub(crate) struct Signal {
    set: AtomicBool,
    waker: AtomicWaker,
}

impl Signal {
    pub(crate) fn new() -> Self {
        Signal {
            set: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        }
    }

    /// Wakes the waiting task; when none waits, the next wait ends at once (as
    /// `Notify::notify_one` keeps a permit). Any thread.
    pub(crate) fn notify(&self) {
        self.set.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// Ends once notified since the last wait ended. One task at a time waits; a wait
    /// dropped before it ended loses nothing.
    pub(crate) fn wait(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| self.poll_wait(cx))
    }

    fn poll_wait(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.set.swap(false, Ordering::AcqRel) {
            return Poll::Ready(());
        }
        // Registered before the second look: a notify in between either finds the waker
        // or left the flag set for this look to see.
        self.waker.register(cx.waker());
        if self.set.swap(false, Ordering::AcqRel) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    async fn ends_soon(signal: &Signal) -> bool {
        tokio::time::timeout(Duration::from_millis(50), signal.wait())
            .await
            .is_ok()
    }

    #[tokio::test(start_paused = true)]
    async fn a_notify_wakes_the_waiter_or_the_next_wait_once() {
        let signal = Arc::new(Signal::new());
        assert!(!ends_soon(&signal).await, "no notify yet");

        signal.notify();
        signal.notify();
        assert!(ends_soon(&signal).await, "a notify before the wait ends it");
        assert!(!ends_soon(&signal).await, "two notifies make one permit");

        let waiter = tokio::spawn({
            let signal = signal.clone();
            async move { signal.wait().await }
        });
        tokio::task::yield_now().await;
        std::thread::spawn({
            let signal = signal.clone();
            move || signal.notify()
        })
        .join()
        .unwrap();
        tokio::time::timeout(Duration::from_millis(50), waiter)
            .await
            .expect("a notify from another thread wakes the waiting task")
            .unwrap();
    }
}
