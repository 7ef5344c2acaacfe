//! The classic adapter (`createAdapter` of `@socket.io/redis-adapter` 8.x): broadcasts on
//! `{key}#{nsp}#` / `{key}#{nsp}#{room}#` (PSUBSCRIBE `{key}#{nsp}#*`), requests on
//! `{key}-request#{nsp}#`, responses on `{key}-response#{nsp}#` and
//! `{key}-response#{nsp}#{uid}#`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use rtio::adapter::{
    AckAnswer, Adapter, AdapterContext, AdapterFuture, LocalAdapter, OutPacket, Reply, Selector,
    ServerAck, SocketInfo,
};
use rtio::Payload;

use super::convert::{
    answer_payload, broadcast_opts, event_data, first_arg, from_remote, opts_of, selector_of,
    split_event, to_remote,
};
use super::hub::{Hub, Inbound};
use super::requests::{self, Requester};
use super::{uid2, AckForwarder, Pending, PendingTable, RedisAdapterOptions};
use crate::classic::{
    broadcast_pattern, parse_broadcast_channel, request_channel, response_channel,
    specific_response_channel, BroadcastTarget, ClassicBroadcast, ClassicRequest,
    ClassicRequestKind, ClassicResponse,
};
use crate::error::Error;
use crate::link::{Incoming, LinkError, SubKind};
use crate::types::{Opts, Packet};

/// How long `init` waits for Redis to confirm the subscriptions before letting the server
/// start anyway (they are applied whenever Redis answers).
pub(crate) const INIT_WAIT: Duration = Duration::from_secs(2);

const TAG_BROADCAST: u8 = 0;
const TAG_REQUEST: u8 = 1;
const TAG_RESPONSE: u8 = 2;

/// The adapter of one namespace in the classic format. Its methods are called on host and
/// runtime threads and return at once: they apply the operation to this server's sockets
/// through `local`, queue the message on the link, and leave answers to the dispatcher
/// task ([`Inbound::on_message`]) and to tasks spawned on the server's runtime (the
/// `PUBSUB NUMSUB` counts).
pub(crate) struct ClassicAdapter {
    local: LocalAdapter,
    ctx: AdapterContext,
    hub: Arc<Hub>,
    options: Arc<RedisAdapterOptions>,
    /// This adapter's id in the cluster (6 characters, as Node's); messages carrying it are
    /// its own, echoed by Redis.
    uid: String,
    pattern: Bytes,
    request: Bytes,
    response: Bytes,
    specific: Bytes,
    pending: Arc<PendingTable>,
    closed: AtomicBool,
    me: Weak<ClassicAdapter>,
}

impl ClassicAdapter {
    pub(crate) fn create(
        ctx: AdapterContext,
        hub: Arc<Hub>,
        options: Arc<RedisAdapterOptions>,
    ) -> Arc<dyn Adapter> {
        let uid = uid2(6);
        let (key, nsp) = (options.key.as_str(), &**ctx.nsp());
        let pattern = broadcast_pattern(key, nsp).into();
        let request = request_channel(key, nsp).into();
        let response = response_channel(key, nsp).into();
        let specific = specific_response_channel(key, nsp, &uid).into();
        Arc::new_cyclic(|me| ClassicAdapter {
            local: LocalAdapter::new(&ctx),
            ctx,
            hub,
            options,
            uid,
            pattern,
            request,
            response,
            specific,
            pending: Arc::default(),
            closed: AtomicBool::new(false),
            me: me.clone(),
        })
    }

    fn nsp(&self) -> &Arc<str> {
        self.ctx.nsp()
    }

    /// Queues a message; a full queue or a closed link is reported by the link itself.
    fn publish(&self, channel: impl Into<Bytes>, payload: Vec<u8>) {
        let _ = self.hub.link.publish(channel, payload);
    }

    fn request(&self, request_id: Option<String>, kind: ClassicRequestKind) -> Vec<u8> {
        ClassicRequest {
            uid: Some(self.uid.clone()),
            request_id,
            kind,
        }
        .encode()
    }

    /// Where to answer a request from `uid`.
    fn response_channel_for(&self, uid: Option<&str>) -> Bytes {
        match uid {
            Some(uid) if self.options.publish_on_specific_response_channel && uid != "emitter" => {
                specific_response_channel(&self.options.key, self.nsp(), uid).into()
            }
            _ => self.response.clone(),
        }
    }

    fn on_broadcast(&self, msg: Incoming) {
        let Some(channel) = msg.channel_str() else {
            return;
        };
        // Before decoding, as Node: a one-room channel whose room has no member here (a
        // socket's id is a room while the socket is), and this adapter's own broadcasts,
        // which Redis echoes back.
        match parse_broadcast_channel(&self.options.key, self.nsp(), channel) {
            None => return,
            Some(BroadcastTarget::Room(room))
                if !self.local.has_room(room) && self.local.rooms_of(room).is_none() =>
            {
                return
            }
            _ => {}
        }
        if starts_with_uid(&msg.payload, &self.uid) {
            return;
        }
        let b = match ClassicBroadcast::decode_bytes(&msg.payload) {
            Ok(b) => b,
            Err(e) => return self.hub.malformed(&msg.channel, &e),
        };
        if b.uid == self.uid || b.nsp() != &**self.nsp() {
            return;
        }
        let Some((event, payload)) = split_event(b.packet.data) else {
            return self
                .hub
                .malformed(&msg.channel, &"the event name is not a string");
        };
        let packet = OutPacket::event(self.nsp(), &event, &payload)
            .volatile(b.opts.flags.volatile)
            .compress(b.opts.flags.compress != Some(false));
        self.local.broadcast(&packet, &selector_of(&b.opts));
    }

    fn on_request(&self, msg: Incoming) {
        let req = match ClassicRequest::decode_bytes(&msg.payload) {
            Ok(r) => r,
            // Node ignores types it does not know; so does rtio, quietly.
            Err(Error::UnknownType(_)) => return,
            Err(e) => return self.hub.malformed(&msg.channel, &e),
        };
        let uid = req.uid.as_deref();
        if uid == Some(self.uid.as_str()) {
            return;
        }
        let answer = |response: ClassicResponse| {
            self.publish(self.response_channel_for(uid), response.encode());
        };
        use ClassicRequestKind as K;
        match req.kind {
            K::Sockets { rooms } => {
                let Some(request_id) = req.request_id else {
                    return;
                };
                let sel = Selector {
                    to: &rooms,
                    ..Selector::default()
                };
                let sockets = self
                    .local
                    .select(&sel)
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                answer(ClassicResponse::Sockets {
                    request_id,
                    sockets,
                });
            }
            K::AllRooms => {
                let Some(request_id) = req.request_id else {
                    return;
                };
                let mut rooms = self.local.rooms();
                let ids = self.local.select(&Selector::default());
                rooms.extend(ids.iter().map(|s| s.to_string()));
                answer(ClassicResponse::AllRooms { request_id, rooms });
            }
            K::SocketsJoin { opts, rooms } => self.local.add_sockets(&selector_of(&opts), &rooms),
            K::SocketsLeave { opts, rooms } => self.local.del_sockets(&selector_of(&opts), &rooms),
            K::DisconnectSockets { opts, close } => {
                self.local.disconnect_sockets(&selector_of(&opts), close)
            }
            K::LegacyJoin { sid, room } => {
                if let (true, Some(request_id)) = (self.local.join(&sid, &room), req.request_id) {
                    answer(ClassicResponse::Ack { request_id });
                }
            }
            K::LegacyLeave { sid, room } => {
                if let (true, Some(request_id)) = (self.local.leave(&sid, &room), req.request_id) {
                    answer(ClassicResponse::Ack { request_id });
                }
            }
            K::LegacyDisconnect { sid, close } => {
                if self.local.rooms_of(&sid).is_none() {
                    return;
                }
                let to = [sid];
                self.local.disconnect_sockets(
                    &Selector {
                        to: &to,
                        ..Selector::default()
                    },
                    close,
                );
                if let Some(request_id) = req.request_id {
                    answer(ClassicResponse::Ack { request_id });
                }
            }
            K::FetchSockets { opts } => {
                let Some(request_id) = req.request_id else {
                    return;
                };
                let sockets = self
                    .local
                    .fetch_sockets(&selector_of(&opts))
                    .iter()
                    .map(to_remote)
                    .collect();
                answer(ClassicResponse::FetchSockets {
                    request_id,
                    sockets,
                });
            }
            K::ServerSideEmit { data } => {
                let Some((event, payload)) = split_event(data) else {
                    return self
                        .hub
                        .malformed(&msg.channel, &"the event name is not a string");
                };
                // The emitter cannot take answers; every other requester waits for one per
                // server, on the common response channel (as Node answers).
                let ack = match req.request_id {
                    Some(request_id) if uid != Some("emitter") => {
                        let link = self.hub.link.clone();
                        let channel = self.response.clone();
                        Some(Box::new(move |answer: Payload| {
                            let response = ClassicResponse::ServerSideEmit {
                                request_id,
                                data: first_arg(&answer),
                            };
                            let _ = link.publish(channel, response.encode());
                        }) as ServerAck)
                    }
                    _ => None,
                };
                self.ctx.server_side_emit(event, payload, ack);
            }
            K::Broadcast { packet, opts } => {
                let Some(request_id) = req.request_id else {
                    return;
                };
                let Some((event, payload)) = split_event(packet.data) else {
                    return self
                        .hub
                        .malformed(&msg.channel, &"the event name is not a string");
                };
                let channel = self.response_channel_for(uid);
                let timeout = opts
                    .flags
                    .timeout
                    .map_or(self.options.requests_timeout, Duration::from_millis);
                let (link, to, id) = (self.hub.link.clone(), channel.clone(), request_id.clone());
                let sink = AckForwarder::new(move |answer| {
                    let ack = ClassicResponse::BroadcastAck {
                        request_id: id.clone(),
                        packet: first_arg(answer),
                    };
                    let _ = link.publish(to.clone(), ack.encode());
                });
                let out = OutPacket::event(self.nsp(), &event, &payload);
                let reached =
                    self.local
                        .broadcast_with_ack(&out, &selector_of(&opts), timeout, sink.clone());
                let count = ClassicResponse::BroadcastClientCount {
                    request_id,
                    client_count: reached as u64,
                };
                self.publish(channel, count.encode());
                sink.release();
            }
        }
    }

    fn on_response(&self, msg: Incoming) {
        let response = match ClassicResponse::decode_bytes(&msg.payload) {
            Ok(r) => r,
            Err(Error::UnknownType(_)) => return,
            Err(e) => return self.hub.malformed(&msg.channel, &e),
        };
        let id = response.request_id().to_string();
        let nsp = self.nsp().clone();
        self.pending
            .with(&id, move |pending| match (pending, response) {
                (
                    Pending::Acks(acks),
                    ClassicResponse::BroadcastClientCount { client_count, .. },
                ) => acks.node_reply(Vec::new(), client_count.min(usize::MAX as u64) as usize),
                (Pending::Acks(acks), ClassicResponse::BroadcastAck { packet, .. }) => {
                    acks.push(AckAnswer {
                        sid: None,
                        payload: answer_payload(packet),
                    })
                }
                (Pending::ServerSide(answers), ClassicResponse::ServerSideEmit { data, .. }) => {
                    answers.node_reply(vec![answer_payload(data)], 0)
                }
                (Pending::Fetch(reply), response) => {
                    if let Some(sockets) = response.into_fetched() {
                        let sockets = sockets.into_iter().map(|s| from_remote(s, &nsp)).collect();
                        reply.node_reply(sockets, 0);
                    }
                }
                // An answer of another kind under this id: not ours.
                _ => {}
            });
    }
}

/// Whether a classic broadcast (`[uid, packet, opts]`, msgpack) is from `uid`, read from
/// its first bytes: a 3-array, then the uid as a fixstr (any uid shorter than 32 bytes).
fn starts_with_uid(payload: &[u8], uid: &str) -> bool {
    let uid = uid.as_bytes();
    uid.len() < 32
        && payload.len() > 2 + uid.len()
        && payload[0] == 0x93
        && payload[1] == 0xa0 | uid.len() as u8
        && &payload[2..2 + uid.len()] == uid
}

impl Inbound for ClassicAdapter {
    fn on_message(&self, tag: u8, msg: Incoming) {
        if self.is_closed() {
            return;
        }
        match tag {
            TAG_BROADCAST => self.on_broadcast(msg),
            TAG_REQUEST => self.on_request(msg),
            _ => self.on_response(msg),
        }
    }
}

impl Adapter for ClassicAdapter {
    fn local(&self) -> &LocalAdapter {
        &self.local
    }

    fn init(self: Arc<Self>) -> AdapterFuture<Result<(), String>> {
        let inbound: Weak<dyn Inbound> = self.me.clone();
        let hub = &self.hub;
        hub.route(
            SubKind::Pattern,
            self.pattern.clone(),
            inbound.clone(),
            TAG_BROADCAST,
        );
        hub.route(
            SubKind::Channel,
            self.request.clone(),
            inbound.clone(),
            TAG_REQUEST,
        );
        hub.route(
            SubKind::Channel,
            self.response.clone(),
            inbound.clone(),
            TAG_RESPONSE,
        );
        hub.route(
            SubKind::Channel,
            self.specific.clone(),
            inbound,
            TAG_RESPONSE,
        );
        let link = &hub.link;
        let confirmations = [
            link.psubscribe(self.pattern.clone()),
            link.subscribe(self.request.clone()),
            link.subscribe(self.response.clone()),
            link.subscribe(self.specific.clone()),
        ];
        Box::pin(async move {
            let confirmed = async {
                for c in confirmations {
                    c.await?;
                }
                Ok::<(), LinkError>(())
            };
            tokio::select! {
                r = confirmed => if let Err(e) = r {
                    eprintln!("rtio-redis: subscribing namespace {} failed: {e}", self.nsp());
                },
                // Redis is unreachable: the status log said so; start anyway.
                _ = self.hub.down() => {}
                _ = tokio::time::sleep(INIT_WAIT) => eprintln!(
                    "rtio-redis: Redis has not confirmed the subscriptions of namespace {} \
                     yet; serving this server's clients until it does",
                    self.nsp()
                ),
            }
            Ok(())
        })
    }

    fn close(self: Arc<Self>) -> AdapterFuture<()> {
        if self.closed.swap(true, Ordering::AcqRel) {
            return Box::pin(async {});
        }
        let hub = &self.hub;
        hub.unroute(SubKind::Pattern, &self.pattern);
        for ch in [&self.request, &self.response, &self.specific] {
            hub.unroute(SubKind::Channel, ch);
        }
        self.pending.clear();
        let last = hub.release();
        if last.is_none() {
            // The link stays for the other namespaces: leave this one's channels (applied
            // whenever Redis answers; nothing to wait for).
            drop(hub.link.punsubscribe(self.pattern.clone()));
            for ch in [&self.request, &self.response, &self.specific] {
                drop(hub.link.unsubscribe(ch.clone()));
            }
        }
        Box::pin(super::close_link(last))
    }

    fn broadcast(&self, packet: &OutPacket<'_>, sel: &Selector<'_>) -> usize {
        let reached = self.local.broadcast(packet, sel);
        if sel.local || self.is_closed() {
            return reached;
        }
        let Some(event) = packet.event_name() else {
            return reached;
        };
        match event_data(event, packet.payload()) {
            Ok(data) => {
                let msg = ClassicBroadcast {
                    uid: self.uid.clone(),
                    packet: Packet::event(data, &**self.nsp()),
                    opts: broadcast_opts(packet, sel),
                };
                self.publish(msg.channel(&self.options.key), msg.encode());
            }
            Err(e) => eprintln!("rtio-redis: broadcast not published: {e}"),
        }
        reached
    }

    fn broadcast_with_ack(
        &self,
        packet: &OutPacket<'_>,
        sel: &Selector<'_>,
        timeout: Duration,
        acks: Reply<AckAnswer>,
    ) {
        let reached = self
            .local
            .broadcast_with_ack(packet, sel, timeout, acks.sink());
        acks.node_reply(Vec::new(), reached);
        let data = match packet.event_name().map(|e| event_data(e, packet.payload())) {
            Some(Ok(data)) if !sel.local && !self.is_closed() => data,
            _ => return acks.expect_nodes(1),
        };
        let request_id = uid2(6);
        let opts = Opts {
            flags: requests::ack_flags(timeout),
            ..opts_of(sel)
        };
        let request = self.request(
            Some(request_id.clone()),
            ClassicRequestKind::Broadcast {
                packet: Packet::event(data, &**self.nsp()),
                opts,
            },
        );
        requests::broadcast_with_ack(self, request_id, request, timeout, acks);
    }

    fn add_sockets(&self, sel: &Selector<'_>, rooms: &[String]) {
        self.local.add_sockets(sel, rooms);
        if !sel.local && !self.is_closed() {
            let kind = ClassicRequestKind::SocketsJoin {
                opts: opts_of(sel),
                rooms: rooms.to_vec(),
            };
            self.publish(self.request.clone(), self.request(None, kind));
        }
    }

    fn del_sockets(&self, sel: &Selector<'_>, rooms: &[String]) {
        self.local.del_sockets(sel, rooms);
        if !sel.local && !self.is_closed() {
            let kind = ClassicRequestKind::SocketsLeave {
                opts: opts_of(sel),
                rooms: rooms.to_vec(),
            };
            self.publish(self.request.clone(), self.request(None, kind));
        }
    }

    fn disconnect_sockets(&self, sel: &Selector<'_>, close: bool) {
        if !sel.local && !self.is_closed() {
            let kind = ClassicRequestKind::DisconnectSockets {
                opts: opts_of(sel),
                close,
            };
            self.publish(self.request.clone(), self.request(None, kind));
        }
        self.local.disconnect_sockets(sel, close);
    }

    fn fetch_sockets(&self, sel: &Selector<'_>, reply: Reply<SocketInfo>) {
        reply.node_reply(self.local.fetch_sockets(sel), 0);
        if sel.local || self.is_closed() {
            return reply.expect_nodes(1);
        }
        requests::fetch_sockets(self, opts_of(sel), reply, |opts, id| {
            self.request(Some(id), ClassicRequestKind::FetchSockets { opts })
        });
    }

    fn server_side_emit(&self, event: &str, payload: &Payload, acks: Option<Reply<Payload>>) {
        requests::server_side_emit(self, event, payload, acks, |data, id| {
            self.request(id, ClassicRequestKind::ServerSideEmit { data })
        });
    }

    fn server_count(&self, reply: Reply<usize>) {
        requests::server_count(self, reply);
    }
}

impl Requester for ClassicAdapter {
    type Request = Vec<u8>;

    fn hub(&self) -> &Hub {
        &self.hub
    }

    fn pending(&self) -> &Arc<PendingTable> {
        &self.pending
    }

    fn requests_timeout(&self) -> Duration {
        self.options.requests_timeout
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn new_request_id(&self) -> String {
        uid2(6)
    }

    fn send_request(&self, request: Vec<u8>) {
        self.publish(self.request.clone(), request);
    }

    /// Counts the subscribers of the request channel (`PUBSUB NUMSUB`).
    fn with_count(&self, then: impl FnOnce(&Self, Result<u64, LinkError>) + Send + 'static) {
        let me = self.me.clone();
        let link = self.hub.link.clone();
        let channel = self.request.clone();
        self.hub.rt.spawn(async move {
            let count = link.numsub(&channel).await;
            if let Some(me) = me.upgrade() {
                then(&me, count);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_broadcasts_are_known_by_their_first_bytes() {
        let mine = ClassicBroadcast {
            uid: "HGB7w0".into(),
            packet: Packet::event(vec!["ev".into()], "/"),
            opts: crate::Opts::default(),
        }
        .encode();
        assert!(starts_with_uid(&mine, "HGB7w0"));
        assert!(!starts_with_uid(&mine, "HGB7w1"));
        assert!(!starts_with_uid(&mine, "HGB7w"));
        assert!(!starts_with_uid(&mine[..8], "HGB7w0"));
        assert!(!starts_with_uid(b"", "HGB7w0"));
    }
}
