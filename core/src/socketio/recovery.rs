//! Connection state recovery (socket.io 4.6's `connectionStateRecovery`): each event a
//! namespace emits without an ack carries an offset (its last argument) and is kept for the
//! recovery window; a socket that leaves for a reason the client did not choose is kept too
//! (id, rooms, data). A client that comes back within the window with its `pid` and the
//! offset of the last event it got takes its socket back and receives, in order, what was
//! emitted to it meanwhile.
//!
//! One store per namespace, on this server: with a cluster adapter, a client is recovered
//! by the server it was on (a sticky load balancer sends it there), and what other servers
//! broadcast while it was away is not replayed.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::engineio::packet::Frame;

/// Most events a namespace keeps for recovery, and their bytes: past either, the oldest
/// go first (a client that missed them is not recovered).
const MAX_PACKETS: usize = 16_384;
const MAX_BYTES: usize = 32 << 20;

/// An emitted event, kept for the sockets that may come back.
struct Kept {
    offset: Arc<str>,
    at: Instant,
    frames: Vec<Frame>,
    bytes: usize,
    to: Vec<String>,
    except: Vec<String>,
}

/// A socket that left and may be taken back.
pub(crate) struct Left {
    pub(crate) sid: Arc<str>,
    pub(crate) pid: Arc<str>,
    /// Its rooms, its own room (its id) excluded.
    pub(crate) rooms: Vec<String>,
    pub(crate) data: Option<String>,
    at: Instant,
}

/// A namespace's recovery store.
pub(crate) struct Recovery {
    window: Duration,
    pub(crate) skip_middlewares: bool,
    kept: Mutex<(VecDeque<Kept>, usize)>,
    left: Mutex<HashMap<Arc<str>, Left>>,
    /// The private ids of the sockets connected now, and their ids: a client that comes
    /// back before its old connection's close reached the server shows a live one.
    live: Mutex<HashMap<Arc<str>, Arc<str>>>,
}

impl Recovery {
    pub(crate) fn new(window: Duration, skip_middlewares: bool) -> Recovery {
        Recovery {
            window,
            skip_middlewares,
            kept: Mutex::new((VecDeque::new(), 0)),
            left: Mutex::new(HashMap::new()),
            live: Mutex::new(HashMap::new()),
        }
    }

    /// A socket with private id `pid` is connected as `sid`.
    pub(crate) fn arrived(&self, pid: Arc<str>, sid: Arc<str>) {
        self.live.lock().insert(pid, sid);
    }

    /// The socket with private id `pid` is gone (kept by `left` or not).
    pub(crate) fn departed(&self, pid: &str) {
        self.live.lock().remove(pid);
    }

    /// The id of the connected socket whose private id is `pid`, if any.
    pub(crate) fn live_socket(&self, pid: &str) -> Option<Arc<str>> {
        self.live.lock().get(pid).cloned()
    }

    /// Keeps an emitted event (`frames`, whose arguments end with `offset`) for the sockets
    /// `to` (all when empty) minus `except` reach.
    pub(crate) fn keep(
        &self,
        offset: Arc<str>,
        frames: &[Frame],
        to: &[String],
        except: &[String],
    ) {
        let now = Instant::now();
        let bytes = frames.iter().map(Frame::len).sum();
        let mut kept = self.kept.lock();
        let (list, total) = &mut *kept;
        while let Some(first) = list.front() {
            let expired = now.duration_since(first.at) > self.window;
            if !(expired || list.len() >= MAX_PACKETS || *total + bytes > MAX_BYTES) {
                break;
            }
            *total -= first.bytes;
            list.pop_front();
        }
        *total += bytes;
        list.push_back(Kept {
            offset,
            at: now,
            frames: frames.to_vec(),
            bytes,
            to: to.to_vec(),
            except: except.to_vec(),
        });
    }

    /// Keeps a socket that left, until the window passes.
    pub(crate) fn left(
        &self,
        sid: Arc<str>,
        pid: Arc<str>,
        rooms: Vec<String>,
        data: Option<String>,
    ) {
        let now = Instant::now();
        let mut left = self.left.lock();
        left.retain(|_, l| now.duration_since(l.at) <= self.window);
        let rooms = rooms.into_iter().filter(|r| **r != *sid).collect();
        left.insert(
            pid.clone(),
            Left {
                sid,
                pid,
                rooms,
                data,
                at: now,
            },
        );
    }

    /// Takes back the socket of `pid` if it left within the window and `offset` is an
    /// event still kept: the socket, and the frames of every later event it would have
    /// got, in order.
    pub(crate) fn take_back(&self, pid: &str, offset: &str) -> Option<(Left, Vec<Frame>)> {
        let now = Instant::now();
        let left = self.left.lock().remove(pid)?;
        if now.duration_since(left.at) > self.window {
            return None;
        }
        let kept = self.kept.lock();
        let start = kept.0.iter().position(|k| &*k.offset == offset)? + 1;
        let in_rooms = |rooms: &[String]| {
            rooms
                .iter()
                .any(|r| *r == *left.sid || left.rooms.contains(r))
        };
        let missed = kept
            .0
            .iter()
            .skip(start)
            .filter(|k| (k.to.is_empty() || in_rooms(&k.to)) && !in_rooms(&k.except))
            .flat_map(|k| k.frames.iter().cloned())
            .collect();
        drop(kept);
        Some((left, missed))
    }
}

/// A fresh offset (or private id).
pub(crate) fn new_offset() -> Arc<str> {
    crate::engineio::random_id()
}

/// The arguments of an event with `offset` appended (socket.io puts it last).
pub(crate) fn with_offset(payload: &crate::Payload, offset: &str) -> crate::Payload {
    let json = payload.json();
    let body = json.trim_end();
    let inner = body.strip_suffix(']').unwrap_or(body);
    let quoted = serde_json::to_string(offset).unwrap_or_default();
    let text = if inner.trim_end().ends_with('[') {
        format!("{inner}{quoted}]")
    } else {
        format!("{inner},{quoted}]")
    };
    crate::Payload::from_json_trusted(text).with_attachments(payload.attachments().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_goes_last() {
        let p = crate::Payload::from_json("[1,\"a\"]").unwrap();
        assert_eq!(with_offset(&p, "o1").json(), "[1,\"a\",\"o1\"]");
        let empty = crate::Payload::empty();
        assert_eq!(with_offset(&empty, "o2").json(), "[\"o2\"]");
    }

    #[test]
    fn a_socket_gets_back_what_was_sent_to_it_after_its_offset() {
        let r = Recovery::new(Duration::from_secs(60), true);
        let frame = |t: &str| vec![Frame::raw_text(t.to_string())];
        r.keep("a".into(), &frame("A"), &[], &[]);
        r.keep("b".into(), &frame("B"), &["room".into()], &[]);
        r.keep("c".into(), &frame("C"), &["other".into()], &[]);
        r.keep("d".into(), &frame("D"), &[], &["room".into()]);
        r.keep("e".into(), &frame("E"), &["s1".into()], &[]);
        r.left(
            "s1".into(),
            "p1".into(),
            vec!["s1".into(), "room".into()],
            None,
        );
        let (left, missed) = r.take_back("p1", "a").unwrap();
        assert_eq!(&*left.sid, "s1");
        assert_eq!(left.rooms, ["room"]);
        let texts: Vec<_> = missed.iter().map(|f| format!("{f:?}")).collect();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(
            texts[0].contains('B') && texts[1].contains('E'),
            "{texts:?}"
        );
        // taken once; an unknown offset recovers nothing
        assert!(r.take_back("p1", "a").is_none());
        r.left("s2".into(), "p2".into(), vec![], None);
        assert!(r.take_back("p2", "zz").is_none());
    }

    #[test]
    fn nothing_is_kept_past_the_window() {
        let r = Recovery::new(Duration::ZERO, true);
        r.keep("a".into(), &[Frame::raw_text("A".into())], &[], &[]);
        r.left("s".into(), "p".into(), vec![], None);
        std::thread::sleep(Duration::from_millis(2));
        assert!(r.take_back("p", "a").is_none());
    }
}
