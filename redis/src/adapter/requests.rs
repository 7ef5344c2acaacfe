//! What the two wire formats do alike when this server asks the others: count them, wait for
//! as many answers as there are other servers, give up at the requests timeout. The formats
//! differ only in how a request is written and on which channel the servers are counted;
//! each adapter says that through [`Requester`], the logic here is written once.

use std::sync::Arc;
use std::time::Duration;

use rtio::adapter::{AckAnswer, Reply, SocketInfo};
use rtio::Payload;

use super::convert::event_data;
use super::hub::Hub;
use super::{Pending, PendingTable};
use crate::link::LinkError;
use crate::types::{Flags, Opts};
use crate::value::Value;

/// The part of a Redis adapter the shared request logic needs.
pub(crate) trait Requester: Send + Sync + Sized + 'static {
    /// A request of this wire format, ready to publish.
    type Request: Send + 'static;
    fn hub(&self) -> &Hub;
    fn pending(&self) -> &Arc<PendingTable>;
    /// Node's `requestsTimeout`.
    fn requests_timeout(&self) -> Duration;
    fn is_closed(&self) -> bool;
    /// A new request id, in the form this format's Node peers use.
    fn new_request_id(&self) -> String;
    /// Publishes a request.
    fn send_request(&self, request: Self::Request);
    /// Runs `then` with the number of servers subscribed to this namespace's requests
    /// (this one included when its subscriber is connected), on the server's runtime.
    fn with_count(&self, then: impl FnOnce(&Self, Result<u64, LinkError>) + Send + 'static);
}

/// Asks the other servers for their sockets; `request(opts, id)` writes the request.
/// This server's own sockets are in `reply` already.
pub(crate) fn fetch_sockets<R: Requester>(
    r: &R,
    opts: Opts,
    reply: Reply<SocketInfo>,
    request: impl FnOnce(Opts, String) -> R::Request,
) {
    let id = r.new_request_id();
    let request = request(opts, id.clone());
    ask_others(r, id, request, Pending::Fetch(reply.clone()), reply, 1);
}

/// Sends a server-side event to the other servers, waiting for one answer from each when
/// `acks` is given; `request(data, id)` writes the request (`id` only with acks).
pub(crate) fn server_side_emit<R: Requester>(
    r: &R,
    event: &str,
    payload: &Payload,
    acks: Option<Reply<Payload>>,
    request: impl FnOnce(Vec<Value>, Option<String>) -> R::Request,
) {
    let data = match event_data(event, payload) {
        Ok(data) => data,
        Err(e) => {
            eprintln!("rtio-redis: server-side emit not published: {e}");
            if let Some(acks) = acks {
                acks.fail(e.to_string());
            }
            return;
        }
    };
    if r.is_closed() {
        if let Some(acks) = acks {
            acks.expect_nodes(0);
        }
        return;
    }
    let Some(acks) = acks else {
        return r.send_request(request(data, None));
    };
    let id = r.new_request_id();
    let request = request(data, Some(id.clone()));
    ask_others(r, id, request, Pending::ServerSide(acks.clone()), acks, 0);
}

/// Counts the servers of the namespace.
pub(crate) fn server_count<R: Requester>(r: &R, reply: Reply<usize>) {
    if r.is_closed() {
        reply.expect_nodes(1);
        return reply.node_reply(vec![1], 0);
    }
    r.with_count(move |me, count| match count {
        Ok(n) => {
            reply.expect_nodes(1);
            reply.node_reply(vec![me.hub().others(n) + 1], 0);
        }
        Err(e) => reply.fail(format!("cannot count the servers: {e}")),
    });
}

/// The flags of a broadcast with acks: its timeout in milliseconds, never more than
/// setTimeout takes (2^31 - 1 ms); none without a deadline (`Duration::MAX`).
pub(crate) fn ack_flags(timeout: Duration) -> Flags {
    Flags {
        timeout: (timeout != Duration::MAX)
            .then(|| timeout.as_millis().min(i32::MAX as u128) as u64),
        ..Flags::default()
    }
}

/// Publishes a broadcast with acks (`request`, carrying `id`), then tells `acks` how many
/// servers will report: every server counted, or this one alone when they cannot be.
pub(crate) fn broadcast_with_ack<R: Requester>(
    r: &R,
    id: String,
    request: R::Request,
    timeout: Duration,
    acks: Reply<AckAnswer>,
) {
    let deadline = (timeout != Duration::MAX).then_some(timeout);
    r.pending().insert(
        &r.hub().rt,
        id.clone(),
        Pending::Acks(acks.clone()),
        deadline,
    );
    r.send_request(request);
    r.with_count(move |me, count| {
        match count {
            Ok(n) => acks.expect_nodes(me.hub().others(n) + 1),
            Err(e) => {
                eprintln!(
                    "rtio-redis: cannot count the servers ({e}); the broadcast's acks are this \
                     server's"
                );
                acks.expect_nodes(1);
            }
        }
        me.pending().forget_if_done(&id);
    });
}

/// Registers `pending` under `id`, counts the servers, then waits for one report from each
/// other server (plus `own` reports of this one's) and publishes `request` if there is any.
fn ask_others<R: Requester, T: rtio::adapter::ReplyItem>(
    r: &R,
    id: String,
    request: R::Request,
    pending: Pending,
    reply: Reply<T>,
    own: usize,
) {
    r.pending()
        .insert(&r.hub().rt, id.clone(), pending, Some(r.requests_timeout()));
    r.with_count(move |me, count| match count {
        Ok(n) => {
            let others = me.hub().others(n);
            reply.expect_nodes(others + own);
            if others > 0 {
                me.send_request(request);
            }
            me.pending().forget_if_done(&id);
        }
        Err(e) => {
            me.pending().remove(&id);
            reply.fail(format!("cannot reach the other servers: {e}"));
        }
    });
}
