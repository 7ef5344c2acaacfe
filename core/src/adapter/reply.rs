//! Answers that come later: what an adapter feeds while other servers answer, and the one
//! event the host gets when an operation completes.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};

use super::SocketInfo;
use crate::event::Event;
use crate::payload::Payload;

/// Why a cluster operation completed without every answer it waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterError {
    /// The timeout passed first; what came until then is reported, later answers are
    /// ignored.
    Timeout,
    /// The adapter could not complete the operation (e.g. its connection to Redis is down).
    Adapter(String),
    /// No answer can come any more: every holder of the reply let it go before it
    /// completed (with no deadline, `Duration::MAX`, when every socket that could still
    /// answer left; or an adapter dropped it).
    Abandoned,
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClusterError::Timeout => f.write_str("operation has timed out"),
            ClusterError::Adapter(m) => write!(f, "adapter error: {m}"),
            ClusterError::Abandoned => f.write_str("no answer can come any more"),
        }
    }
}

/// One socket's answer to a broadcast with acks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckAnswer {
    /// The socket that answered, when known (always for this server's sockets; other
    /// servers do not say, in socket.io's protocol).
    pub sid: Option<Arc<str>>,
    /// Its ack arguments (a socket on a Node server reports its first argument only, as
    /// socket.io's Redis adapter forwards it).
    pub payload: Payload,
}

/// Where the acks of a broadcast go, one call per socket that answers: the [`Reply`] of an
/// [`crate::Io`] broadcast, or a cluster adapter's forwarder that relays each answer to the
/// server that asked. Called on a runtime thread; must not block.
pub trait AckSink: Send + Sync {
    /// `sid` answered the broadcast with `payload`.
    fn answer(&self, sid: &Arc<str>, payload: Payload);
}

/// The answer to an event another server sent with an ack (see
/// [`super::AdapterContext::server_side_emit`]): called at most once, with the host's
/// answer, on the host thread that called [`crate::Io::server_side_ack`], so it must not
/// block (queue the reply on the adapter's connection, e.g. spawn its publish on
/// [`super::AdapterContext::runtime`]).
pub type ServerAck = Box<dyn FnOnce(Payload) + Send>;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::AckAnswer {}
    impl Sealed for super::SocketInfo {}
    impl Sealed for crate::payload::Payload {}
    impl Sealed for usize {}
}

/// What a [`Reply`] gathers, and the event that reports it: [`AckAnswer`] (a broadcast
/// with acks), [`SocketInfo`] (`fetch_sockets`), [`Payload`] (the answers of a server-side
/// emit) or `usize` (the server count). Sealed.
pub trait ReplyItem: sealed::Sealed + Send + Sized + 'static {
    /// The host's event for a completed operation.
    #[doc(hidden)]
    fn event(token: u64, items: Vec<Self>, error: Option<ClusterError>) -> Event;
}

impl ReplyItem for AckAnswer {
    fn event(token: u64, answers: Vec<Self>, error: Option<ClusterError>) -> Event {
        Event::BroadcastAckResponse {
            token,
            answers,
            error,
        }
    }
}

impl ReplyItem for SocketInfo {
    fn event(token: u64, sockets: Vec<Self>, error: Option<ClusterError>) -> Event {
        Event::FetchSocketsResponse {
            token,
            sockets,
            error,
        }
    }
}

impl ReplyItem for Payload {
    fn event(token: u64, answers: Vec<Self>, error: Option<ClusterError>) -> Event {
        Event::ServerSideAckResponse {
            token,
            answers,
            error,
        }
    }
}

impl ReplyItem for usize {
    fn event(token: u64, counts: Vec<Self>, error: Option<ClusterError>) -> Event {
        Event::ServerCountResponse {
            token,
            result: match error {
                Some(e) => Err(e),
                None => Ok(counts.into_iter().sum()),
            },
        }
    }
}

/// How a completed reply reaches the host.
pub(crate) type Deliver = Box<dyn Fn(Event) + Send + Sync>;

/// The pending result of one cluster operation, identified by the token its [`crate::Io`]
/// call returned. Cheap to clone; usable from any thread.
///
/// Servers report with [`Reply::node_reply`] (their items, and how many more single items
/// will follow, e.g. the acks still to come from the sockets a broadcast reached) and
/// [`Reply::push`]. The reply completes once — when [`Reply::expect_nodes`] servers
/// reported and every announced item came, when the adapter calls [`Reply::fail`], or at the
/// operation's timeout — and the host then gets one event with everything gathered. Calls
/// after completion are ignored. A reply dropped by every holder before it completed
/// completes as it goes, with [`ClusterError::Abandoned`]: the host always gets its one
/// event.
pub struct Reply<T: ReplyItem> {
    inner: Arc<Inner<T>>,
}

impl<T: ReplyItem> Clone for Reply<T> {
    fn clone(&self) -> Self {
        Reply {
            inner: self.inner.clone(),
        }
    }
}

impl<T: ReplyItem> std::fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("token", &self.inner.token)
            .field("done", &self.is_done())
            .finish()
    }
}

struct Inner<T: ReplyItem> {
    token: u64,
    state: Mutex<State<T>>,
    deliver: Deliver,
}

struct State<T> {
    items: Vec<T>,
    /// Server reports that complete the operation; unknown until the adapter says.
    nodes: Option<usize>,
    reported: usize,
    /// Single items announced by the reports, and those received.
    announced: usize,
    received: usize,
    done: bool,
}

impl<T: ReplyItem> Reply<T> {
    pub(crate) fn new(token: u64, deliver: Deliver) -> Reply<T> {
        Reply {
            inner: Arc::new(Inner {
                token,
                state: Mutex::new(State {
                    items: Vec::new(),
                    nodes: None,
                    reported: 0,
                    announced: 0,
                    received: 0,
                    done: false,
                }),
                deliver,
            }),
        }
    }

    /// The token the `Io` call returned (and the event will carry).
    pub fn token(&self) -> u64 {
        self.inner.token
    }

    /// How many server reports complete the operation (this server's included when it
    /// reports). Until it is called the reply waits (for its timeout at most).
    pub fn expect_nodes(&self, n: usize) {
        let mut state = self.inner.state.lock();
        state.nodes = Some(n);
        self.inner.check(state);
    }

    /// One server's report: its items, and how many single items ([`Reply::push`]) will
    /// follow from it.
    pub fn node_reply(&self, items: Vec<T>, more: usize) {
        let mut state = self.inner.state.lock();
        if state.done {
            return;
        }
        state.items.extend(items);
        state.reported += 1;
        state.announced += more;
        self.inner.check(state);
    }

    /// One single item announced by a report (it may arrive before the report).
    pub fn push(&self, item: T) {
        self.inner.push(item);
    }

    /// Completes now with what was gathered and [`ClusterError::Adapter`].
    pub fn fail(&self, message: impl Into<String>) {
        let state = self.inner.state.lock();
        self.inner
            .finish(state, Some(ClusterError::Adapter(message.into())));
    }

    /// Completes now with [`ClusterError::Timeout`] and what was gathered, unless it
    /// completed before: for a deadline the adapter keeps itself (e.g. the Redis adapter's
    /// `requestsTimeout`, which may be shorter than the one the core armed). Later calls
    /// are ignored.
    pub fn time_out(&self) {
        let state = self.inner.state.lock();
        self.inner.finish(state, Some(ClusterError::Timeout));
    }

    /// True once the host was given the result.
    pub fn is_done(&self) -> bool {
        self.inner.state.lock().done
    }

    /// Completes the reply with [`ClusterError::Timeout`] and what was gathered, unless it
    /// completed before, once `timeout` passed (`Duration::MAX`: never). The timer keeps
    /// the reply alive, so the other holders (sockets awaiting acks, an adapter) letting go
    /// does not abandon it.
    pub(crate) fn time_out_after(&self, rt: &tokio::runtime::Handle, timeout: Duration) {
        if timeout == Duration::MAX {
            return;
        }
        let inner = self.inner.clone();
        rt.spawn(async move {
            tokio::time::sleep(timeout).await;
            let state = inner.state.lock();
            inner.finish(state, Some(ClusterError::Timeout));
        });
    }
}

impl<T: ReplyItem> Inner<T> {
    fn push(&self, item: T) {
        let mut state = self.state.lock();
        if state.done {
            return;
        }
        state.items.push(item);
        state.received += 1;
        self.check(state);
    }

    fn check(&self, state: MutexGuard<'_, State<T>>) {
        let complete = state
            .nodes
            .is_some_and(|n| state.reported >= n && state.received >= state.announced);
        if complete {
            self.finish(state, None);
        }
    }

    /// Marks the reply done and hands its event over (outside the lock).
    fn finish(&self, mut state: MutexGuard<'_, State<T>>, error: Option<ClusterError>) {
        if state.done {
            return;
        }
        state.done = true;
        let items = std::mem::take(&mut state.items);
        drop(state);
        (self.deliver)(T::event(self.token, items, error));
    }
}

impl<T: ReplyItem> Drop for Inner<T> {
    fn drop(&mut self) {
        let state = self.state.get_mut();
        if !state.done {
            state.done = true;
            let items = std::mem::take(&mut state.items);
            (self.deliver)(T::event(self.token, items, Some(ClusterError::Abandoned)));
        }
    }
}

impl Reply<AckAnswer> {
    /// The reply as the [`AckSink`] this server's sockets answer into.
    pub fn sink(&self) -> Arc<dyn AckSink> {
        self.inner.clone()
    }
}

impl AckSink for Inner<AckAnswer> {
    fn answer(&self, sid: &Arc<str>, payload: Payload) {
        self.push(AckAnswer {
            sid: Some(sid.clone()),
            payload,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorder() -> (Arc<Mutex<Vec<Event>>>, Deliver) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let out = seen.clone();
        (seen, Box::new(move |ev| out.lock().push(ev)))
    }

    #[test]
    fn completes_once_every_node_and_every_announced_answer_is_in() {
        let (seen, deliver) = recorder();
        let acks: Reply<AckAnswer> = Reply::new(7, deliver);
        let sid: Arc<str> = "a".into();
        // an answer may come before its server's report
        acks.sink().answer(&sid, Payload::one(1));
        acks.node_reply(Vec::new(), 2);
        assert!(!acks.is_done(), "the number of servers is not known yet");
        acks.expect_nodes(2);
        acks.node_reply(Vec::new(), 0);
        assert!(!acks.is_done(), "one answer is still due");
        acks.sink().answer(&sid, Payload::one(2));
        assert!(acks.is_done());
        acks.sink().answer(&sid, Payload::one(3));
        let seen = seen.lock();
        assert_eq!(seen.len(), 1, "one event, later answers ignored");
        match &seen[0] {
            Event::BroadcastAckResponse {
                token,
                answers,
                error,
            } => {
                assert_eq!((*token, error), (7, &None));
                let args: Vec<&str> = answers.iter().map(|a| a.payload.json()).collect();
                assert_eq!(args, ["[1]", "[2]"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn failing_or_timing_out_reports_what_came() {
        let (seen, deliver) = recorder();
        let count: Reply<usize> = Reply::new(1, deliver);
        count.fail("redis is down");
        count.fail("again");
        assert!(matches!(
            &seen.lock()[..],
            [Event::ServerCountResponse { token: 1, result: Err(ClusterError::Adapter(m)) }] if m == "redis is down"
        ));

        let (seen, deliver) = recorder();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let answers: Reply<Payload> = Reply::new(2, deliver);
        answers.expect_nodes(2);
        answers.node_reply(vec![Payload::one("pong")], 0);
        answers.time_out_after(rt.handle(), Duration::from_millis(10));
        rt.block_on(async { tokio::time::sleep(Duration::from_millis(50)).await });
        let seen = seen.lock();
        match &seen[..] {
            [Event::ServerSideAckResponse {
                token: 2,
                answers,
                error: Some(ClusterError::Timeout),
            }] => assert_eq!(answers.len(), 1),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_adapter_can_time_a_reply_out_itself() {
        let (seen, deliver) = recorder();
        let fetched: Reply<Payload> = Reply::new(6, deliver);
        fetched.expect_nodes(3);
        fetched.node_reply(vec![Payload::one(1)], 0);
        fetched.time_out();
        fetched.time_out();
        fetched.node_reply(vec![Payload::one(2)], 0);
        match &seen.lock()[..] {
            [Event::ServerSideAckResponse {
                token: 6,
                answers,
                error: Some(ClusterError::Timeout),
            }] => assert_eq!(answers, &[Payload::one(1)]),
            other => panic!("{other:?}"),
        };
    }

    #[test]
    fn a_reply_dropped_unfinished_is_abandoned() {
        let (seen, deliver) = recorder();
        let answers: Reply<Payload> = Reply::new(4, deliver);
        answers.expect_nodes(2);
        answers.node_reply(vec![Payload::one(1)], 0);
        let copy = answers.clone();
        drop(answers);
        assert!(seen.lock().is_empty(), "a holder is left");
        drop(copy);
        match &seen.lock()[..] {
            [Event::ServerSideAckResponse {
                token: 4,
                answers,
                error: Some(ClusterError::Abandoned),
            }] => assert_eq!(answers.len(), 1),
            other => panic!("{other:?}"),
        }
        // a completed reply says nothing more when dropped
        let (seen, deliver) = recorder();
        let count: Reply<usize> = Reply::new(5, deliver);
        count.expect_nodes(1);
        count.node_reply(vec![1], 0);
        drop(count);
        assert_eq!(seen.lock().len(), 1);
    }

    #[test]
    fn server_count_sums_the_reports() {
        let (seen, deliver) = recorder();
        let count: Reply<usize> = Reply::new(3, deliver);
        count.expect_nodes(1);
        count.node_reply(vec![3], 0);
        assert!(matches!(
            &seen.lock()[..],
            [Event::ServerCountResponse {
                token: 3,
                result: Ok(3)
            }]
        ));
    }
}
