//! Who is where: the in-memory room index of one namespace (rtio's default adapter).
//!
//! Every socket is implicitly in the room named by its own id; that room is not stored.
//! Broadcast targets are snapshotted under a read lock and the lock is released before any
//! frame is queued, so a broadcast never holds the index while writing.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Rooms and members of one namespace, generic over what a member is.
pub struct RoomIndex<S> {
    sockets: HashMap<Arc<str>, S>,
    rooms: HashMap<Arc<str>, HashSet<Arc<str>>>,
    joined: HashMap<Arc<str>, HashSet<Arc<str>>>,
}

impl<S> Default for RoomIndex<S> {
    fn default() -> Self {
        RoomIndex {
            sockets: HashMap::new(),
            rooms: HashMap::new(),
            joined: HashMap::new(),
        }
    }
}

/// Which sockets a broadcast reaches.
#[derive(Debug, Clone, Default)]
pub struct Selector<'a> {
    /// Rooms to reach (all sockets when empty).
    pub to: &'a [String],
    /// Rooms whose members are left out.
    pub except: &'a [String],
    /// One socket left out (the sender, for `socket.broadcast`).
    pub skip: Option<&'a str>,
}

impl<S: Clone> RoomIndex<S> {
    /// Adds a socket.
    pub fn insert(&mut self, id: Arc<str>, socket: S) {
        self.sockets.insert(id, socket);
    }

    /// Removes a socket from the namespace and all its rooms.
    pub fn remove(&mut self, id: &str) -> Option<S> {
        if let Some(rooms) = self.joined.remove(id) {
            for room in rooms {
                self.leave_room(&room, id);
            }
        }
        self.sockets.remove(id)
    }

    fn leave_room(&mut self, room: &str, id: &str) {
        if let Some(members) = self.rooms.get_mut(room) {
            members.remove(id);
            if members.is_empty() {
                self.rooms.remove(room);
            }
        }
    }

    /// The socket with this id.
    pub fn get(&self, id: &str) -> Option<&S> {
        self.sockets.get(id)
    }

    /// Puts a socket in a room; false when the socket is unknown.
    pub fn join(&mut self, id: &str, room: &str) -> bool {
        let Some((key, _)) = self.sockets.get_key_value(id) else {
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
        self.joined.entry(key).or_default().insert(room);
        true
    }

    /// Takes a socket out of a room; false when the socket is unknown.
    pub fn leave(&mut self, id: &str, room: &str) -> bool {
        if !self.sockets.contains_key(id) {
            return false;
        }
        if let Some(rooms) = self.joined.get_mut(id) {
            rooms.remove(room);
            if rooms.is_empty() {
                self.joined.remove(id);
            }
        }
        self.leave_room(room, id);
        true
    }

    /// Removes every socket from a room.
    pub fn clear_room(&mut self, room: &str) {
        if let Some(members) = self.rooms.remove(room) {
            for id in members {
                if let Some(rooms) = self.joined.get_mut(&id) {
                    rooms.remove(room);
                    if rooms.is_empty() {
                        self.joined.remove(&id);
                    }
                }
            }
        }
    }

    /// The rooms a socket is in, its own room first.
    pub fn rooms_of(&self, id: &str) -> Option<Vec<String>> {
        self.sockets.get(id)?;
        let mut out = vec![id.to_string()];
        if let Some(rooms) = self.joined.get(id) {
            out.extend(rooms.iter().map(|r| r.to_string()));
        }
        Some(out)
    }

    /// Number of sockets.
    pub fn socket_count(&self) -> usize {
        self.sockets.len()
    }

    /// Number of rooms with members, not counting each socket's own room.
    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    fn members<'s>(&'s self, room: &'s str) -> impl Iterator<Item = &'s str> + 's {
        let own = self
            .sockets
            .get_key_value(room)
            .map(|(k, _)| k.as_ref())
            .into_iter();
        let joined = self
            .rooms
            .get(room)
            .into_iter()
            .flat_map(|m| m.iter().map(|k| k.as_ref()));
        own.chain(joined)
    }

    /// The sockets a broadcast reaches, as (id, socket) pairs.
    pub fn select(&self, sel: &Selector<'_>) -> Vec<(Arc<str>, S)> {
        let mut excluded: HashSet<&str> = HashSet::new();
        for room in sel.except {
            excluded.extend(self.members(room));
        }
        if let Some(skip) = sel.skip {
            excluded.insert(skip);
        }
        let keep = |id: &str| !excluded.contains(id);
        let mut out = Vec::new();
        if sel.to.is_empty() {
            out.reserve(self.sockets.len());
            for (id, s) in &self.sockets {
                if keep(id) {
                    out.push((id.clone(), s.clone()));
                }
            }
            return out;
        }
        let mut seen: HashSet<&str> = HashSet::new();
        for room in sel.to {
            for id in self.members(room) {
                if keep(id) && seen.insert(id) {
                    if let Some((k, s)) = self.sockets.get_key_value(id) {
                        out.push((k.clone(), s.clone()));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: Vec<(Arc<str>, u8)>) -> Vec<String> {
        let mut v: Vec<String> = v.into_iter().map(|(k, _)| k.to_string()).collect();
        v.sort();
        v
    }

    #[test]
    fn rooms_and_selection() {
        let mut idx = RoomIndex::default();
        for id in ["a", "b", "c"] {
            idx.insert(id.into(), 0u8);
        }
        assert!(idx.join("a", "r"));
        assert!(idx.join("b", "r"));
        assert!(!idx.join("zz", "r"));
        assert_eq!(idx.room_count(), 1);
        let to = vec!["r".to_string()];
        assert_eq!(
            ids(idx.select(&Selector {
                to: &to,
                ..Default::default()
            })),
            ["a", "b"]
        );
        assert_eq!(
            ids(idx.select(&Selector {
                to: &to,
                skip: Some("a"),
                ..Default::default()
            })),
            ["b"]
        );
        assert_eq!(
            ids(idx.select(&Selector {
                except: &to,
                ..Default::default()
            })),
            ["c"]
        );
        let own = vec!["c".to_string(), "a".to_string()];
        assert_eq!(
            ids(idx.select(&Selector {
                to: &own,
                ..Default::default()
            })),
            ["a", "c"]
        );
        idx.remove("a");
        idx.leave("b", "r");
        assert_eq!(idx.room_count(), 0);
        assert_eq!(idx.rooms_of("c"), Some(vec!["c".to_string()]));
        assert_eq!(idx.socket_count(), 2);
    }
}
