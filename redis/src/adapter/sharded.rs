//! The sharded adapter (`createShardedAdapter` of `@socket.io/redis-adapter` 8.x, on
//! socket.io-adapter's `ClusterAdapter`; Redis ≥ 7): every message is `{type, data, uid,
//! nsp}` on SPUBLISH channels — the namespace's main channel `{key}#{nsp}#`, each server's
//! own `{key}#{nsp}#{uid}#` (responses to its requests), and in the dynamic modes one per
//! room `{key}#{nsp}#{room}#`, subscribed while the room has members on this server.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rtio::adapter::{
    AckAnswer, Adapter, AdapterContext, AdapterFuture, LocalAdapter, OutPacket, Reply, Selector,
    ServerAck, SocketInfo,
};
use rtio::Payload;

use super::classic::INIT_WAIT;
use super::convert::{
    answer_payload, broadcast_opts, event_data, first_arg, from_remote, opts_of, selector_of,
    split_event, to_remote,
};
use super::hub::{Hub, Inbound};
use super::requests::{self, Requester};
use super::{hex_uid, AckForwarder, Pending, PendingTable, RedisAdapterOptions};
use crate::error::Error;
use crate::link::{Incoming, LinkError, SubKind};
use crate::sharded::{
    sharded_channel, sharded_node_channel, sharded_room_channel, ShardedKind, ShardedMessage,
    SubscriptionMode,
};
use crate::types::{Opts, Packet, PacketType};

/// The adapter of one namespace in the sharded format. Like the classic one, its methods
/// apply an operation to this server's sockets, queue the message and return; answers
/// arrive on the dispatcher task, counts on tasks spawned on the server's runtime.
///
/// Rooms: every membership change goes through this adapter (the core's joins and
/// leaves, `socketsJoin`/`socketsLeave`, sockets arriving and leaving, and what other
/// servers ask), so after each it checks the rooms concerned and subscribes a room's
/// channel when the room appears here, unsubscribes it when the room empties (Node's
/// `create-room` / `delete-room`).
pub(crate) struct ShardedAdapter {
    local: LocalAdapter,
    ctx: AdapterContext,
    hub: Arc<Hub>,
    options: Arc<RedisAdapterOptions>,
    /// 16 hex characters, as Node's.
    uid: String,
    main: Bytes,
    own: Bytes,
    /// How this adapter's JSON messages end: `,"uid":"…","nsp":"…"}`.
    own_suffix: String,
    /// Rooms whose channel is subscribed. Its lock is taken before the room index's (never
    /// the other way), so the last change to a room decides.
    rooms: Mutex<HashSet<String>>,
    pending: Arc<PendingTable>,
    closed: AtomicBool,
    me: Weak<ShardedAdapter>,
}

impl ShardedAdapter {
    pub(crate) fn create(
        ctx: AdapterContext,
        hub: Arc<Hub>,
        options: Arc<RedisAdapterOptions>,
    ) -> Arc<dyn Adapter> {
        let uid = hex_uid();
        let main = sharded_channel(&options.key, ctx.nsp()).into();
        let own = sharded_node_channel(&options.key, ctx.nsp(), &uid).into();
        let own_suffix = json_suffix(&uid, ctx.nsp());
        Arc::new_cyclic(|me| ShardedAdapter {
            local: LocalAdapter::new(&ctx),
            ctx,
            hub,
            options,
            uid,
            main,
            own,
            own_suffix,
            rooms: Mutex::new(HashSet::new()),
            pending: Arc::default(),
            closed: AtomicBool::new(false),
            me: me.clone(),
        })
    }

    fn nsp(&self) -> &Arc<str> {
        self.ctx.nsp()
    }

    fn mode(&self) -> SubscriptionMode {
        self.options.subscription_mode
    }

    fn message(&self, kind: ShardedKind) -> ShardedMessage {
        ShardedMessage {
            uid: self.uid.clone(),
            nsp: self.nsp().to_string(),
            kind,
        }
    }

    /// SPUBLISHes a request or broadcast on the channel Node computes for it.
    fn publish(&self, kind: ShardedKind) {
        let msg = self.message(kind);
        let channel = msg
            .channel(&self.options.key, self.mode())
            .unwrap_or_else(|| sharded_channel(&self.options.key, &msg.nsp));
        let _ = self.hub.link.spublish(channel, msg.encode());
    }

    /// SPUBLISHes a response on the requester's own channel.
    fn respond(&self, requester: &str, kind: ShardedKind) {
        let channel = sharded_node_channel(&self.options.key, self.nsp(), requester);
        let _ = self.hub.link.spublish(channel, self.message(kind).encode());
    }

    /// Subscribes or unsubscribes `room`'s channel after a change, as the room now has
    /// members here or not.
    fn sync_room(&self, room: &str) {
        if self.mode() == SubscriptionMode::Static || self.is_closed() {
            return;
        }
        let mut subscribed = self.rooms.lock();
        // A socket's own room is not stored: it is there while the socket is.
        let is_sid = self.local.rooms_of(room).is_some();
        let present = is_sid || self.local.has_room(room);
        let wanted = present && self.mode().subscribes_room(is_sid);
        let channel: Bytes = sharded_room_channel(&self.options.key, self.nsp(), room).into();
        if wanted && !subscribed.contains(room) {
            subscribed.insert(room.to_string());
            let inbound: Weak<dyn Inbound> = self.me.clone();
            self.hub
                .route(SubKind::Shard, channel.clone(), inbound, TAG_ROOM);
            drop(self.hub.link.ssubscribe(channel));
        } else if !wanted && subscribed.remove(room) {
            self.hub.unroute(SubKind::Shard, &channel);
            drop(self.hub.link.sunsubscribe(channel));
        }
    }

    fn sync_rooms(&self, rooms: &[String]) {
        for room in rooms {
            self.sync_room(room);
        }
    }

    fn on_sharded(&self, msg: Incoming) {
        // Redis echoes this adapter's own messages on the channels it subscribes: known by
        // the end of their JSON form without decoding them.
        if msg.payload.ends_with(self.own_suffix.as_bytes()) {
            return;
        }
        let m = match ShardedMessage::decode_bytes(&msg.payload) {
            Ok(m) => m,
            // Node ignores types it does not know; so does rtio, quietly.
            Err(Error::UnknownType(_)) => return,
            Err(e) => return self.hub.malformed(&msg.channel, &e),
        };
        if m.uid == self.uid || m.nsp != **self.nsp() {
            return;
        }
        let from = m.uid;
        use ShardedKind as K;
        match m.kind {
            K::Broadcast {
                packet,
                request_id: None,
                opts,
            } => {
                let Some((event, payload)) = split_event(packet.data) else {
                    return self
                        .hub
                        .malformed(&msg.channel, &"the event name is not a string");
                };
                let packet = OutPacket::event(self.nsp(), &event, &payload)
                    .volatile(opts.flags.volatile)
                    .compress(opts.flags.compress != Some(false));
                self.local.broadcast(&packet, &selector_of(&opts));
            }
            K::Broadcast {
                packet,
                request_id: Some(request_id),
                opts,
            } => {
                let Some((event, payload)) = split_event(packet.data) else {
                    return self
                        .hub
                        .malformed(&msg.channel, &"the event name is not a string");
                };
                let timeout = opts
                    .flags
                    .timeout
                    .map_or(self.options.requests_timeout, Duration::from_millis);
                let me = self.me.clone();
                let (to, id) = (from.clone(), request_id.clone());
                let sink = AckForwarder::new(move |answer| {
                    if let Some(me) = me.upgrade() {
                        let packet = first_arg(answer);
                        let request_id = id.clone();
                        me.respond(&to, K::BroadcastAck { request_id, packet });
                    }
                });
                let out = OutPacket::event(self.nsp(), &event, &payload);
                let reached =
                    self.local
                        .broadcast_with_ack(&out, &selector_of(&opts), timeout, sink.clone());
                let client_count = reached as u64;
                self.respond(
                    &from,
                    K::BroadcastClientCount {
                        request_id,
                        client_count,
                    },
                );
                sink.release();
            }
            K::SocketsJoin { opts, rooms } => {
                self.local.add_sockets(&selector_of(&opts), &rooms);
                self.sync_rooms(&rooms);
            }
            K::SocketsLeave { opts, rooms } => {
                self.local.del_sockets(&selector_of(&opts), &rooms);
                self.sync_rooms(&rooms);
            }
            K::DisconnectSockets { opts, close } => {
                self.local.disconnect_sockets(&selector_of(&opts), close)
            }
            K::FetchSockets { opts, request_id } => {
                let sockets = self
                    .local
                    .fetch_sockets(&selector_of(&opts))
                    .iter()
                    .map(to_remote)
                    .collect();
                self.respond(
                    &from,
                    K::FetchSocketsResponse {
                        request_id,
                        sockets,
                    },
                );
            }
            K::ServerSideEmit { request_id, packet } => {
                let Some((event, payload)) = split_event(packet) else {
                    return self
                        .hub
                        .malformed(&msg.channel, &"the event name is not a string");
                };
                let ack = request_id.filter(|_| from != "emitter").map(|request_id| {
                    let me = self.me.clone();
                    Box::new(move |answer: Payload| {
                        if let Some(me) = me.upgrade() {
                            let packet = first_arg(&answer);
                            me.respond(&from, K::ServerSideEmitResponse { request_id, packet });
                        }
                    }) as ServerAck
                });
                self.ctx.server_side_emit(event, payload, ack);
            }
            K::FetchSocketsResponse {
                request_id,
                sockets,
            } => {
                let nsp = self.nsp().clone();
                self.pending.with(&request_id, |p| {
                    if let Pending::Fetch(reply) = p {
                        let sockets = sockets.into_iter().map(|s| from_remote(s, &nsp)).collect();
                        reply.node_reply(sockets, 0);
                    }
                });
            }
            K::ServerSideEmitResponse { request_id, packet } => {
                self.pending.with(&request_id, |p| {
                    if let Pending::ServerSide(answers) = p {
                        answers.node_reply(vec![answer_payload(packet)], 0);
                    }
                });
            }
            K::BroadcastClientCount {
                request_id,
                client_count,
            } => self.pending.with(&request_id, |p| {
                if let Pending::Acks(acks) = p {
                    acks.node_reply(Vec::new(), client_count.min(usize::MAX as u64) as usize);
                }
            }),
            K::BroadcastAck { request_id, packet } => self.pending.with(&request_id, |p| {
                if let Pending::Acks(acks) = p {
                    acks.push(AckAnswer {
                        sid: None,
                        payload: answer_payload(packet),
                    });
                }
            }),
            // The heartbeat adapters' messages: not used over Redis.
            K::InitialHeartbeat | K::Heartbeat | K::AdapterClose => {}
        }
    }

    fn event_packet(&self, packet: &OutPacket<'_>) -> Option<Packet> {
        let event = packet.event_name()?;
        match event_data(event, packet.payload()) {
            Ok(data) => Some(Packet {
                kind: PacketType::Event,
                data,
                nsp: None,
            }),
            Err(e) => {
                eprintln!("rtio-redis: broadcast not published: {e}");
                None
            }
        }
    }
}

/// How the JSON form of a message from `uid` on `nsp` ends (`{type, data, uid, nsp}`).
fn json_suffix(uid: &str, nsp: &str) -> String {
    format!(
        ",\"uid\":{},\"nsp\":{}}}",
        crate::json::encode_json(&crate::Value::from(uid)),
        crate::json::encode_json(&crate::Value::from(nsp))
    )
}

const TAG_MAIN: u8 = 0;
const TAG_ROOM: u8 = 1;

impl Inbound for ShardedAdapter {
    fn on_message(&self, _tag: u8, msg: Incoming) {
        if !self.is_closed() {
            self.on_sharded(msg);
        }
    }
}

impl Adapter for ShardedAdapter {
    fn local(&self) -> &LocalAdapter {
        &self.local
    }

    fn init(self: Arc<Self>) -> AdapterFuture<Result<(), String>> {
        let inbound: Weak<dyn Inbound> = self.me.clone();
        let hub = &self.hub;
        hub.route(SubKind::Shard, self.main.clone(), inbound.clone(), TAG_MAIN);
        hub.route(SubKind::Shard, self.own.clone(), inbound, TAG_MAIN);
        let confirmations = [
            hub.link.ssubscribe(self.main.clone()),
            hub.link.ssubscribe(self.own.clone()),
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
                    eprintln!(
                        "rtio-redis: subscribing namespace {} failed: {e} (the sharded \
                         adapter needs Redis 7)",
                        self.nsp()
                    );
                },
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
        let rooms: Vec<String> = self.rooms.lock().drain().collect();
        let mut channels = vec![self.main.clone(), self.own.clone()];
        channels.extend(
            rooms
                .iter()
                .map(|r| Bytes::from(sharded_room_channel(&self.options.key, self.nsp(), r))),
        );
        for ch in &channels {
            hub.unroute(SubKind::Shard, ch);
        }
        self.pending.clear();
        let last = hub.release();
        if last.is_none() {
            for ch in channels {
                drop(hub.link.sunsubscribe(ch));
            }
        }
        Box::pin(super::close_link(last))
    }

    fn add_socket(&self, sid: &Arc<str>) {
        self.local.add_socket(sid);
        if self.mode() == SubscriptionMode::DynamicPrivate {
            self.sync_room(sid);
        }
    }

    fn remove_socket(&self, sid: &str) {
        let rooms = self.local.rooms_of(sid).unwrap_or_default();
        self.local.remove_socket(sid);
        self.sync_rooms(&rooms);
    }

    fn join(&self, sid: &str, room: &str) -> bool {
        let done = self.local.join(sid, room);
        self.sync_room(room);
        done
    }

    fn leave(&self, sid: &str, room: &str) -> bool {
        let done = self.local.leave(sid, room);
        self.sync_room(room);
        done
    }

    fn broadcast(&self, packet: &OutPacket<'_>, sel: &Selector<'_>) -> usize {
        let reached = self.local.broadcast(packet, sel);
        if sel.local || self.is_closed() {
            return reached;
        }
        if let Some(event) = self.event_packet(packet) {
            let opts = broadcast_opts(packet, sel);
            self.publish(ShardedKind::Broadcast {
                packet: event,
                request_id: None,
                opts,
            });
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
        let wire = match self.event_packet(packet) {
            Some(p) if !sel.local && !self.is_closed() => p,
            _ => return acks.expect_nodes(1),
        };
        let request_id = hex_uid();
        let request = ShardedKind::Broadcast {
            packet: wire,
            request_id: Some(request_id.clone()),
            opts: Opts {
                flags: requests::ack_flags(timeout),
                ..opts_of(sel)
            },
        };
        requests::broadcast_with_ack(self, request_id, request, timeout, acks);
    }

    fn add_sockets(&self, sel: &Selector<'_>, rooms: &[String]) {
        self.local.add_sockets(sel, rooms);
        self.sync_rooms(rooms);
        if !sel.local && !self.is_closed() {
            self.publish(ShardedKind::SocketsJoin {
                opts: opts_of(sel),
                rooms: rooms.to_vec(),
            });
        }
    }

    fn del_sockets(&self, sel: &Selector<'_>, rooms: &[String]) {
        self.local.del_sockets(sel, rooms);
        self.sync_rooms(rooms);
        if !sel.local && !self.is_closed() {
            self.publish(ShardedKind::SocketsLeave {
                opts: opts_of(sel),
                rooms: rooms.to_vec(),
            });
        }
    }

    fn disconnect_sockets(&self, sel: &Selector<'_>, close: bool) {
        if !sel.local && !self.is_closed() {
            self.publish(ShardedKind::DisconnectSockets {
                opts: opts_of(sel),
                close,
            });
        }
        self.local.disconnect_sockets(sel, close);
    }

    fn fetch_sockets(&self, sel: &Selector<'_>, reply: Reply<SocketInfo>) {
        reply.node_reply(self.local.fetch_sockets(sel), 0);
        if sel.local || self.is_closed() {
            return reply.expect_nodes(1);
        }
        requests::fetch_sockets(self, opts_of(sel), reply, |opts, request_id| {
            ShardedKind::FetchSockets { opts, request_id }
        });
    }

    fn server_side_emit(&self, event: &str, payload: &Payload, acks: Option<Reply<Payload>>) {
        requests::server_side_emit(self, event, payload, acks, |packet, request_id| {
            ShardedKind::ServerSideEmit { request_id, packet }
        });
    }

    fn server_count(&self, reply: Reply<usize>) {
        requests::server_count(self, reply);
    }
}

impl Requester for ShardedAdapter {
    type Request = ShardedKind;

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
        hex_uid()
    }

    fn send_request(&self, request: ShardedKind) {
        self.publish(request);
    }

    /// Counts the subscribers of the main channel (`PUBSUB SHARDNUMSUB`).
    fn with_count(&self, then: impl FnOnce(&Self, Result<u64, LinkError>) + Send + 'static) {
        let me = self.me.clone();
        let link = self.hub.link.clone();
        let channel = self.main.clone();
        self.hub.rt.spawn(async move {
            let count = link.shardnumsub(&channel).await;
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
    fn own_messages_are_known_by_their_end() {
        for nsp in ["/", "/a\"b"] {
            let msg = ShardedMessage {
                uid: "a0fa37e9af126190".into(),
                nsp: nsp.into(),
                kind: ShardedKind::SocketsJoin {
                    opts: Opts::default(),
                    rooms: vec!["r".into()],
                },
            };
            let json = msg.encode();
            assert!(json.ends_with(json_suffix("a0fa37e9af126190", nsp).as_bytes()));
            assert!(!json.ends_with(json_suffix("a0fa37e9af126191", nsp).as_bytes()));
        }
    }
}
