//! The local adapter: this server's room index of one namespace, socket ids only.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::RwLock;

use super::{AckSink, AdapterContext, LocalSockets, OutPacket, Selector, SocketInfo, Visit};

/// This server's part of a namespace: which sockets it has and which rooms they are in,
/// by id. The default [`super::Adapter`] (a single server), and the local half every cluster
/// adapter keeps.
///
/// It stores ids only: `room → ids` and `id → rooms`. Sockets themselves are owned by the
/// Socket.IO layer (one id → socket map for the whole server), which the adapter reaches
/// to send, disconnect or describe them. Every socket is implicitly in the room named by
/// its own id; that room is not stored.
///
/// Thread-safe: one read-write lock over the index, held only to read or change it, never
/// while frames are queued (targets are snapshotted, the lock released, then the sending
/// starts).
pub struct LocalAdapter {
    nsp: Arc<str>,
    sockets: Weak<dyn LocalSockets>,
    index: RwLock<Index>,
}

impl std::fmt::Debug for LocalAdapter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let index = self.index.read();
        f.debug_struct("LocalAdapter")
            .field("nsp", &self.nsp)
            .field("sockets", &index.sids.len())
            .field("rooms", &index.rooms.len())
            .finish()
    }
}

/// The rooms a socket joined: nothing for most sockets (no allocation), a short list in
/// join order otherwise. Boxed so that the value is one pointer: every socket has an entry
/// in `Index::sids`, which thus costs what the old index's id → socket entry did (24 bytes,
/// not the 40 of a `Vec`), and only sockets in rooms pay for the list.
#[derive(Default)]
#[allow(clippy::box_collection)]
struct Joined(Option<Box<Vec<Arc<str>>>>);

impl Joined {
    fn iter(&self) -> impl Iterator<Item = &Arc<str>> {
        self.0.iter().flat_map(|v| v.iter())
    }

    /// Adds `room` unless it is there already.
    fn add(&mut self, room: &Arc<str>) {
        let list = self.0.get_or_insert_with(Default::default);
        if !list.iter().any(|r| r == room) {
            list.push(room.clone());
        }
    }

    fn remove(&mut self, room: &str) {
        if let Some(list) = &mut self.0 {
            list.retain(|r| &**r != room);
            if list.is_empty() {
                self.0 = None;
            }
        }
    }
}

#[derive(Default)]
struct Index {
    /// Every socket of the namespace on this server, and the rooms it joined.
    sids: HashMap<Arc<str>, Joined>,
    /// Every room with members, and its members.
    rooms: HashMap<Arc<str>, HashSet<Arc<str>>>,
}

impl Index {
    fn leave_room(&mut self, room: &str, id: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(id);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }

    fn join(&mut self, id: &str, room: &str) -> bool {
        let Some((key, _)) = self.sids.get_key_value(id) else {
            return false;
        };
        if room == id {
            return true;
        }
        let key = key.clone();
        let room: Arc<str> = self
            .rooms
            .get_key_value(room)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| room.into());
        self.rooms
            .entry(room.clone())
            .or_default()
            .insert(key.clone());
        if let Some(joined) = self.sids.get_mut(&key) {
            joined.add(&room);
        }
        true
    }

    fn leave(&mut self, id: &str, room: &str) -> bool {
        let Some(joined) = self.sids.get_mut(id) else {
            return false;
        };
        joined.remove(room);
        self.leave_room(room, id);
        true
    }

    fn rooms_of(&self, id: &str) -> Option<Vec<String>> {
        let joined = self.sids.get(id)?;
        let mut out = vec![id.to_string()];
        out.extend(joined.iter().map(|r| r.to_string()));
        Some(out)
    }

    fn members<'s>(&'s self, room: &'s str) -> impl Iterator<Item = &'s Arc<str>> + 's {
        let own = self.sids.get_key_value(room).map(|(k, _)| k).into_iter();
        let joined = self.rooms.get(room).into_iter().flatten();
        own.chain(joined)
    }

    /// Visits the ids `sel` selects, each once.
    fn select_each(&self, sel: &Selector<'_>, out: &mut dyn Visit) {
        let mut excluded: HashSet<&str> = HashSet::new();
        for room in sel.except {
            excluded.extend(self.members(room).map(|id| &**id));
        }
        if let Some(skip) = sel.skip {
            excluded.insert(skip);
        }
        let keep = |id: &str| excluded.is_empty() || !excluded.contains(id);
        if sel.to.is_empty() {
            out.reserve(self.sids.len());
            for id in self.sids.keys() {
                if keep(id) {
                    out.visit(id);
                }
            }
            return;
        }
        let own = |room: &str| usize::from(self.sids.contains_key(room));
        out.reserve(
            sel.to
                .iter()
                .map(|r| own(r) + self.rooms.get(&**r).map_or(0, |m| m.len()))
                .sum(),
        );
        if let [room] = sel.to {
            // one room: its members are distinct already
            for id in self.members(room) {
                if keep(id) {
                    out.visit(id);
                }
            }
            return;
        }
        let mut seen: HashSet<&str> = HashSet::new();
        for room in sel.to {
            for id in self.members(room) {
                if keep(id) && seen.insert(id) {
                    out.visit(id);
                }
            }
        }
    }

    /// The ids `sel` selects (each once).
    fn select(&self, sel: &Selector<'_>) -> Vec<Arc<str>> {
        struct Ids(Vec<Arc<str>>);
        impl Visit for Ids {
            fn reserve(&mut self, n: usize) {
                self.0.reserve(n);
            }
            fn visit(&mut self, id: &Arc<str>) {
                self.0.push(id.clone());
            }
        }
        let mut ids = Ids(Vec::new());
        self.select_each(sel, &mut ids);
        ids.0
    }
}

impl LocalAdapter {
    /// The local adapter of the namespace `ctx.nsp()`, reaching its sockets through `ctx`.
    pub fn new(ctx: &AdapterContext) -> LocalAdapter {
        LocalAdapter::with_sockets(ctx.nsp().clone(), ctx.sockets())
    }

    pub(crate) fn with_sockets(nsp: Arc<str>, sockets: Weak<dyn LocalSockets>) -> LocalAdapter {
        LocalAdapter {
            nsp,
            sockets,
            index: RwLock::new(Index::default()),
        }
    }

    /// The namespace.
    pub fn nsp(&self) -> &Arc<str> {
        &self.nsp
    }

    /// Adds a socket (in no room but its own).
    pub fn add_socket(&self, id: &Arc<str>) {
        self.index.write().sids.entry(id.clone()).or_default();
    }

    /// Removes a socket from the namespace and all its rooms.
    pub fn remove_socket(&self, id: &str) {
        let mut index = self.index.write();
        if let Some(joined) = index.sids.remove(id) {
            for room in joined.iter() {
                index.leave_room(room, id);
            }
        }
    }

    /// Puts a socket in a room; false when the socket is unknown.
    pub fn join(&self, id: &str, room: &str) -> bool {
        self.index.write().join(id, room)
    }

    /// Takes a socket out of a room; false when the socket is unknown.
    pub fn leave(&self, id: &str, room: &str) -> bool {
        self.index.write().leave(id, room)
    }

    /// Removes every socket from a room.
    pub fn clear_room(&self, room: &str) {
        let mut index = self.index.write();
        if let Some(members) = index.rooms.remove(room) {
            for id in members {
                if let Some(joined) = index.sids.get_mut(&id) {
                    joined.remove(room);
                }
            }
        }
    }

    /// The rooms a socket is in, its own room first, then in the order it joined them;
    /// `None` when the socket is unknown.
    pub fn rooms_of(&self, id: &str) -> Option<Vec<String>> {
        self.index.read().rooms_of(id)
    }

    /// Number of sockets.
    pub fn socket_count(&self) -> usize {
        self.index.read().sids.len()
    }

    /// Number of rooms with members, not counting each socket's own room.
    pub fn room_count(&self) -> usize {
        self.index.read().rooms.len()
    }

    /// Whether a room has members, not counting each socket's own room (see
    /// [`LocalAdapter::rooms_of`] for those): what a cluster adapter that subscribes one
    /// channel per room (the sharded Redis adapter) checks after a membership change, to
    /// follow rooms as they appear and go.
    pub fn has_room(&self, room: &str) -> bool {
        self.index.read().rooms.contains_key(room)
    }

    /// The rooms with members, not counting each socket's own room.
    pub fn rooms(&self) -> Vec<String> {
        self.index
            .read()
            .rooms
            .keys()
            .map(|r| r.to_string())
            .collect()
    }

    /// The ids of the sockets `sel` selects, as they are now.
    pub fn select(&self, sel: &Selector<'_>) -> Vec<Arc<str>> {
        self.index.read().select(sel)
    }

    fn sockets(&self) -> Option<Arc<dyn LocalSockets>> {
        self.sockets.upgrade()
    }

    /// Sends the packet, encoded once, to the sockets `sel` selects. Returns how many it
    /// was queued for.
    pub fn broadcast(&self, packet: &OutPacket<'_>, sel: &Selector<'_>) -> usize {
        let Some(sockets) = self.sockets() else {
            return 0;
        };
        sockets.send(&|out| self.index.read().select_each(sel, out), packet)
    }

    /// Sends the packet to the sockets `sel` selects, asking each for an ack, which goes to
    /// `sink` (until `timeout`). Returns how many it was sent to: that many answers may come.
    pub fn broadcast_with_ack(
        &self,
        packet: &OutPacket<'_>,
        sel: &Selector<'_>,
        timeout: Duration,
        sink: Arc<dyn AckSink>,
    ) -> usize {
        let Some(sockets) = self.sockets() else {
            return 0;
        };
        let walk = |out: &mut dyn Visit| self.index.read().select_each(sel, out);
        sockets.send_with_ack(&walk, packet, timeout, sink)
    }

    /// Puts the sockets `sel` selects in these rooms (one write lock: the selection and the
    /// joins see the same index).
    pub fn add_sockets(&self, sel: &Selector<'_>, rooms: &[String]) {
        let mut index = self.index.write();
        for id in index.select(sel) {
            for room in rooms {
                index.join(&id, room);
            }
        }
    }

    /// Takes the sockets `sel` selects out of these rooms.
    pub fn del_sockets(&self, sel: &Selector<'_>, rooms: &[String]) {
        let mut index = self.index.write();
        for id in index.select(sel) {
            for room in rooms {
                index.leave(&id, room);
            }
        }
    }

    /// Disconnects the sockets `sel` selects (each gets a DISCONNECT packet, the host a
    /// [`crate::Event::Disconnect`]); with `close`, their whole connections are closed.
    pub fn disconnect_sockets(&self, sel: &Selector<'_>, close: bool) {
        let ids = self.select(sel);
        if ids.is_empty() {
            return;
        }
        if let Some(s) = self.sockets() {
            s.disconnect(&ids, close);
        }
    }

    /// Describes the sockets `sel` selects.
    pub fn fetch_sockets(&self, sel: &Selector<'_>) -> Vec<SocketInfo> {
        let found: Vec<(Arc<str>, Vec<String>)> = {
            let index = self.index.read();
            let ids = index.select(sel);
            ids.into_iter()
                .filter_map(|id| {
                    let rooms = index.rooms_of(&id)?;
                    Some((id, rooms))
                })
                .collect()
        };
        let Some(sockets) = self.sockets() else {
            return Vec::new();
        };
        found
            .into_iter()
            .filter_map(|(id, rooms)| {
                let described = sockets.describe(&id)?;
                Some(SocketInfo {
                    id,
                    nsp: self.nsp.clone(),
                    rooms,
                    handshake: described.handshake,
                    auth: described.auth,
                    data: described.data,
                    local: true,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::{Adapter, Described};
    use crate::engineio::Handshake;
    use crate::payload::Payload;
    use parking_lot::Mutex;

    /// Records what the adapter asks of the sockets.
    #[derive(Default)]
    struct Fake {
        sent: Mutex<Vec<(Vec<String>, String)>>,
        disconnected: Mutex<Vec<(Vec<String>, bool)>>,
    }

    fn sorted(ids: &[Arc<str>]) -> Vec<String> {
        let mut v: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        v.sort();
        v
    }

    /// The ids a walk visits.
    fn walked(walk: crate::adapter::Walk<'_>) -> Vec<Arc<str>> {
        struct Ids(Vec<Arc<str>>);
        impl Visit for Ids {
            fn reserve(&mut self, n: usize) {
                self.0.reserve(n);
            }
            fn visit(&mut self, id: &Arc<str>) {
                self.0.push(id.clone());
            }
        }
        let mut ids = Ids(Vec::new());
        walk(&mut ids);
        ids.0
    }

    impl LocalSockets for Fake {
        fn send(&self, walk: crate::adapter::Walk<'_>, packet: &OutPacket<'_>) -> usize {
            let ids = walked(walk);
            let wire = crate::socketio::Wire::new(&crate::Config::default());
            let text = match &packet.frames(&wire)[0] {
                crate::engineio::packet::Frame::Text(t) => t.to_string(),
                _ => String::new(),
            };
            self.sent.lock().push((sorted(&ids), text));
            ids.len()
        }
        fn send_with_ack(
            &self,
            walk: crate::adapter::Walk<'_>,
            packet: &OutPacket<'_>,
            _timeout: Duration,
            sink: Arc<dyn AckSink>,
        ) -> usize {
            let ids = walked(walk);
            self.send(
                &|out| ids.iter().for_each(|id| out.visit(id)),
                &packet.with_ack(9),
            );
            for id in &ids {
                sink.answer(id, Payload::one(id.to_string()));
            }
            ids.len()
        }
        fn disconnect(&self, ids: &[Arc<str>], close: bool) {
            self.disconnected.lock().push((sorted(ids), close));
        }
        fn describe(&self, _id: &str) -> Option<Described> {
            Some(Described {
                handshake: Arc::new(Handshake {
                    remote_addr: "127.0.0.1:1".parse().unwrap(),
                    headers: Default::default(),
                    query: String::new(),
                    issued_ms: 0,
                    secure: false,
                }),
                auth: "{}".into(),
                data: None,
            })
        }
    }

    fn adapter(ids: &[&str]) -> (Arc<Fake>, LocalAdapter) {
        let fake = Arc::new(Fake::default());
        let weak: Weak<dyn LocalSockets> = Arc::downgrade(&fake) as Weak<dyn LocalSockets>;
        let a = LocalAdapter::with_sockets("/".into(), weak);
        for id in ids {
            a.add_socket(&Arc::from(*id));
        }
        (fake, a)
    }

    fn rooms(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn select(a: &LocalAdapter, to: &[&str], except: &[&str], skip: Option<&str>) -> Vec<String> {
        let (to, except) = (rooms(to), rooms(except));
        sorted(&a.select(&Selector {
            to: &to,
            except: &except,
            skip,
            local: false,
        }))
    }

    #[test]
    fn join_leave_and_rooms_of() {
        let (_, a) = adapter(&["a", "b", "c"]);
        assert!(a.join("a", "r"));
        assert!(a.join("a", "r"), "joining twice changes nothing");
        assert!(a.join("a", "q"));
        assert!(a.join("b", "r"));
        assert!(a.join("a", "a"), "a socket is in its own room already");
        assert!(!a.join("zz", "r"), "unknown socket");
        assert_eq!(a.rooms_of("a"), Some(rooms(&["a", "r", "q"])));
        assert_eq!(a.rooms_of("c"), Some(rooms(&["c"])));
        assert_eq!(a.rooms_of("zz"), None);
        assert_eq!((a.socket_count(), a.room_count()), (3, 2));
        assert!(a.leave("a", "r"));
        assert!(a.leave("a", "never-joined"));
        assert!(!a.leave("zz", "r"));
        assert_eq!(a.rooms_of("a"), Some(rooms(&["a", "q"])));
        assert!(
            a.has_room("q") && !a.has_room("a"),
            "own rooms are not stored"
        );
        assert!(a.leave("a", "q"));
        assert_eq!(a.room_count(), 1, "an empty room is dropped");
        assert!(!a.has_room("q"));
        let mut all = a.rooms();
        all.sort();
        assert_eq!(all, ["r"]);
    }

    #[test]
    fn select_to_except_and_skip() {
        let (_, a) = adapter(&["a", "b", "c", "d"]);
        a.join("a", "r");
        a.join("b", "r");
        a.join("b", "s");
        a.join("c", "s");
        assert_eq!(select(&a, &[], &[], None), ["a", "b", "c", "d"]);
        assert_eq!(select(&a, &["r"], &[], None), ["a", "b"]);
        assert_eq!(
            select(&a, &["r", "s"], &[], None),
            ["a", "b", "c"],
            "a union, each once"
        );
        assert_eq!(select(&a, &["r"], &[], Some("a")), ["b"]);
        assert_eq!(select(&a, &[], &["r"], None), ["c", "d"]);
        assert_eq!(select(&a, &["s"], &["r"], None), ["c"]);
        assert_eq!(
            select(&a, &[], &["r", "s"], Some("d")),
            Vec::<String>::new()
        );
        // socket ids are rooms: to a socket, except a socket
        assert_eq!(select(&a, &["c", "a"], &[], None), ["a", "c"]);
        assert_eq!(select(&a, &["r"], &["a"], None), ["b"]);
        assert_eq!(select(&a, &["nope"], &[], None), Vec::<String>::new());
    }

    #[test]
    fn clear_and_remove() {
        let (_, a) = adapter(&["a", "b", "c"]);
        a.join("a", "r");
        a.join("b", "r");
        a.join("b", "s");
        a.clear_room("r");
        assert_eq!(a.rooms_of("a"), Some(rooms(&["a"])));
        assert_eq!(a.rooms_of("b"), Some(rooms(&["b", "s"])));
        assert_eq!(a.room_count(), 1);
        a.remove_socket("b");
        assert_eq!(a.room_count(), 0, "its rooms emptied");
        assert_eq!(a.socket_count(), 2);
        assert_eq!(a.rooms_of("b"), None);
        assert_eq!(select(&a, &["b"], &[], None), Vec::<String>::new());
        a.remove_socket("b");
        assert_eq!(a.socket_count(), 2);
    }

    #[test]
    fn operations_by_selector() {
        let (fake, a) = adapter(&["a", "b", "c"]);
        a.join("a", "r");
        a.join("b", "r");
        let (r, x) = (rooms(&["r"]), rooms(&["x", "y"]));
        let in_r = Selector {
            to: &r,
            ..Default::default()
        };
        a.add_sockets(&in_r, &x);
        assert_eq!(select(&a, &["y"], &[], None), ["a", "b"]);
        a.del_sockets(
            &Selector {
                skip: Some("a"),
                ..in_r
            },
            &rooms(&["x"]),
        );
        assert_eq!(a.rooms_of("b"), Some(rooms(&["b", "r", "y"])));
        assert_eq!(a.rooms_of("a"), Some(rooms(&["a", "r", "x", "y"])));

        let payload = Payload::one(1);
        let sent = a.broadcast(&OutPacket::event("/", "ev", &payload), &in_r);
        assert_eq!(sent, 2);
        assert_eq!(
            fake.sent.lock().pop(),
            Some((rooms(&["a", "b"]), "42[\"ev\",1]".to_string()))
        );

        let answers = Arc::new(Mutex::new(Vec::new()));
        struct Sink(Arc<Mutex<Vec<String>>>);
        impl AckSink for Sink {
            fn answer(&self, sid: &Arc<str>, _: Payload) {
                self.0.lock().push(sid.to_string());
            }
        }
        let reached = a.broadcast_with_ack(
            &OutPacket::event("/", "q", &payload),
            &Selector {
                except: &r,
                ..Default::default()
            },
            Duration::from_secs(1),
            Arc::new(Sink(answers.clone())),
        );
        assert_eq!(reached, 1);
        assert_eq!(*answers.lock(), ["c"]);
        assert_eq!(fake.sent.lock().pop().unwrap().1, "429[\"q\",1]");

        let found = a.fetch_sockets(&in_r);
        let mut ids: Vec<_> = found
            .iter()
            .map(|s| (s.id.to_string(), s.rooms.len()))
            .collect();
        ids.sort();
        assert_eq!(ids, [("a".to_string(), 4), ("b".to_string(), 3)]);

        a.disconnect_sockets(&in_r, true);
        assert_eq!(*fake.disconnected.lock(), [(rooms(&["a", "b"]), true)]);
        // nothing selected: nothing asked of the sockets
        a.disconnect_sockets(
            &Selector {
                to: &rooms(&["nope"]),
                ..Default::default()
            },
            false,
        );
        assert_eq!(fake.disconnected.lock().len(), 1);
    }

    #[test]
    fn without_its_server_an_adapter_reaches_no_one() {
        let (fake, a) = adapter(&["a"]);
        drop(fake);
        let payload = Payload::empty();
        assert_eq!(
            a.broadcast(&OutPacket::event("/", "ev", &payload), &Selector::default()),
            0
        );
        assert!(a.fetch_sockets(&Selector::default()).is_empty());
    }

    #[test]
    fn is_an_adapter() {
        let (_, a) = adapter(&["a"]);
        let a: Arc<dyn Adapter> = Arc::new(a);
        assert!(a.join("a", "r"));
        assert_eq!(a.rooms_of("a"), Some(rooms(&["a", "r"])));
        assert_eq!(a.local().room_count(), 1);
    }
}
