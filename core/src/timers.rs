//! Deadlines that all lie one fixed delay after they were set (the ping interval, the ping
//! timeout, the connect timeout), served by one task per delay.
//!
//! A task and a timer per connection cost several hundred bytes for every idle connection
//! and a timer-wheel entry each; with one delay for all, deadlines come due in the order
//! they were set, so a FIFO queue holds them (16 bytes for a `Weak`: the deadline is kept
//! as nanoseconds since the queue began, not as a 16-byte `Instant`) and one task sleeps
//! until the first. The queue gives back the room a connection burst made it grow once
//! those deadlines have passed.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

/// A queue keeps room for this many items however few wait (below it, shrinking would
/// only make it grow again).
const MIN_KEPT: usize = 64;

/// Items due `delay` after [`FixedDelay::schedule`] put them in, handed out by
/// [`FixedDelay::run`] in that order.
pub(crate) struct FixedDelay<T> {
    delay: Duration,
    /// Deadlines are kept as nanoseconds since then.
    epoch: Instant,
    queue: Mutex<VecDeque<(u64, T)>>,
    /// Signalled when an item goes into an empty queue (the task waits for one).
    wake: Notify,
}

impl<T: Send + 'static> FixedDelay<T> {
    pub(crate) fn new(delay: Duration) -> Arc<Self> {
        Arc::new(FixedDelay {
            delay,
            epoch: Instant::now(),
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
        })
    }

    /// Puts `item` in, due `delay` from now. Never blocks on the task.
    pub(crate) fn schedule(&self, item: T) {
        let due = self.nanos(Instant::now() + self.delay);
        let mut queue = self.queue.lock();
        let was_empty = queue.is_empty();
        queue.push_back((due, item));
        drop(queue);
        if was_empty {
            self.wake.notify_one();
        }
    }

    fn nanos(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64
    }

    /// Calls `on_due` with each item once its deadline passed, forever (the task ends with
    /// the runtime). Items set from several threads at nearly the same time may be out of
    /// order by as much: such an item comes due that little late.
    pub(crate) async fn run(self: Arc<Self>, mut on_due: impl FnMut(T)) {
        let mut due = Vec::new();
        loop {
            let next = {
                let now = self.nanos(Instant::now());
                let mut queue = self.queue.lock();
                while queue.front().is_some_and(|(at, _)| *at <= now) {
                    due.extend(queue.pop_front().map(|(_, item)| item));
                }
                let waiting = queue.len();
                if queue.capacity() > MIN_KEPT && waiting < queue.capacity() / 4 {
                    queue.shrink_to(MIN_KEPT.max(waiting * 2));
                }
                queue
                    .front()
                    .map(|(at, _)| self.epoch + Duration::from_nanos(*at))
            };
            for item in due.drain(..) {
                on_due(item);
            }
            due.shrink_to(MIN_KEPT);
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                // A permit is stored when `schedule` signals before this waits.
                None => self.wake.notified().await,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn items_come_due_in_order_after_the_delay() {
        let timers = FixedDelay::new(Duration::from_millis(100));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(timers.clone().run(move |item: u32| {
            let _ = tx.send((item, Instant::now()));
        }));
        let start = Instant::now();
        timers.schedule(1);
        tokio::time::sleep(Duration::from_millis(30)).await;
        timers.schedule(2);
        let (first, at1) = rx.recv().await.unwrap();
        let (second, at2) = rx.recv().await.unwrap();
        assert_eq!((first, second), (1, 2));
        assert_eq!(at1 - start, Duration::from_millis(100));
        assert_eq!(at2 - start, Duration::from_millis(130));
        // After the queue ran empty, a new item still wakes the task.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let again = Instant::now();
        timers.schedule(3);
        let (third, at3) = rx.recv().await.unwrap();
        assert_eq!(third, 3);
        assert_eq!(at3 - again, Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn the_room_a_burst_took_is_given_back_once_its_deadlines_passed() {
        let timers = FixedDelay::new(Duration::from_millis(100));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(timers.clone().run(move |item: u32| {
            let _ = tx.send(item);
        }));
        for i in 0..10_000 {
            timers.schedule(i);
        }
        assert!(timers.queue.lock().capacity() >= 10_000);
        for i in 0..10_000 {
            assert_eq!(rx.recv().await, Some(i));
        }
        timers.schedule(10_000);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(timers.queue.lock().len(), 1);
        assert!(timers.queue.lock().capacity() <= MIN_KEPT);
        assert_eq!(rx.recv().await, Some(10_000));
    }
}
