//! A Redis emitter: pushes broadcasts and room operations into a Socket.IO cluster from a
//! process that serves no clients (a cron job, a queue worker, a CLI), as
//! `@socket.io/redis-emitter` does for Node.
//!
//! It speaks the cluster's wire format and subscribes to nothing, so it is not counted as a
//! server: classic messages are exactly the emitter's (uid `emitter`, requests without
//! `uid`/`requestId`); in a sharded cluster, where no released emitter exists, it publishes
//! the sharded adapter's own messages with uid `emitter` and the namespace (which Node's
//! `ClusterAdapter` requires).
//!
//! Calls block the calling thread until Redis took the message (one synchronous connection,
//! opened on first use and reopened once when it broke), so a script knows its push left;
//! there is no runtime and no background thread. Acks are impossible without a server, as
//! in `@socket.io/redis-emitter`.
//!
//! ```no_run
//! use rtio_redis::adapter::RedisAdapterOptions;
//! use rtio_redis::emitter::{Emitter, Target};
//!
//! let emitter = Emitter::new(RedisAdapterOptions::new("redis://127.0.0.1:6379"))?;
//! let payload = rtio::Payload::from_json(r#"[{"id":42}]"#)?;
//! emitter.emit("/", &Target::rooms(["jobs"]), "server:created:job", &payload)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Duration;

use parking_lot::Mutex;

use crate::adapter::convert::event_data;
use crate::adapter::{RedisAdapterOptions, Variant};
use crate::classic::{ClassicBroadcast, ClassicRequest, ClassicRequestKind};
use crate::error::Error;
use crate::link::LinkConfig;
use crate::sharded::{ShardedKind, ShardedMessage};
use crate::types::{Opts, Packet};

/// The uid every emitter message carries (the Node emitter's constant): nodes never take
/// it for one of their own.
const UID: &str = "emitter";

/// How long connecting and each publish may take before the call fails.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Which sockets an emitter operation addresses: those in any of `to` (every socket of the
/// namespace when empty) minus those in any of `except` (rooms or socket ids).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// Target rooms (a socket id addresses that one socket).
    pub to: Vec<String>,
    /// Excluded rooms or socket ids.
    pub except: Vec<String>,
}

impl Target {
    /// Every socket of the namespace.
    pub fn all() -> Target {
        Target::default()
    }

    /// The sockets in any of these rooms.
    pub fn rooms<S: Into<String>>(rooms: impl IntoIterator<Item = S>) -> Target {
        Target {
            to: rooms.into_iter().map(Into::into).collect(),
            except: Vec::new(),
        }
    }

    /// Also excludes the sockets in these rooms.
    pub fn except<S: Into<String>>(mut self, rooms: impl IntoIterator<Item = S>) -> Target {
        self.except.extend(rooms.into_iter().map(Into::into));
        self
    }

    fn opts(&self) -> Opts {
        Opts {
            rooms: self.to.clone(),
            except: self.except.clone(),
            ..Opts::default()
        }
    }
}

/// A publisher into one Socket.IO cluster (see the module documentation). Thread-safe: one
/// emitter may serve every thread of a process; calls are serialized on its connection.
pub struct Emitter {
    options: RedisAdapterOptions,
    client: redis::Client,
    conn: Mutex<Option<redis::Connection>>,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter")
            .field("key", &self.options.key)
            .field("variant", &self.options.variant)
            .finish_non_exhaustive()
    }
}

impl Emitter {
    /// An emitter for the cluster `options` describe (its `url`, `key` and `variant`; the
    /// other fields concern servers). Checks the URL now ([`Error::Config`]) and connects on
    /// first use.
    pub fn new(options: RedisAdapterOptions) -> Result<Emitter, Error> {
        let client = LinkConfig::new(options.url.clone())
            .client()
            .map_err(|e| Error::Config(e.to_string()))?;
        Ok(Emitter {
            options,
            client,
            conn: Mutex::new(None),
        })
    }

    /// Sends `event` with `payload`'s arguments to the sockets `target` selects in namespace
    /// `nsp`, on every server of the cluster (binary attachments travel as binary).
    pub fn emit(
        &self,
        nsp: &str,
        target: &Target,
        event: &str,
        payload: &rtio::Payload,
    ) -> Result<(), Error> {
        let data = event_data(event, payload)?;
        let packet = Packet::event(data, nsp);
        match self.options.variant {
            Variant::Classic => {
                let msg = ClassicBroadcast {
                    uid: UID.into(),
                    packet,
                    opts: target.opts(),
                };
                self.publish(msg.channel(&self.options.key), msg.encode())
            }
            Variant::Sharded => self.publish_sharded(
                nsp,
                ShardedKind::Broadcast {
                    packet,
                    request_id: None,
                    opts: target.opts(),
                },
            ),
        }
    }

    /// Makes the sockets `target` selects join `rooms` (socket.io's `socketsJoin`).
    pub fn sockets_join(&self, nsp: &str, target: &Target, rooms: &[String]) -> Result<(), Error> {
        let (opts, rooms) = (target.opts(), rooms.to_vec());
        match self.options.variant {
            Variant::Classic => self.request(nsp, ClassicRequestKind::SocketsJoin { opts, rooms }),
            Variant::Sharded => self.publish_sharded(nsp, ShardedKind::SocketsJoin { opts, rooms }),
        }
    }

    /// Makes the sockets `target` selects leave `rooms` (socket.io's `socketsLeave`).
    pub fn sockets_leave(&self, nsp: &str, target: &Target, rooms: &[String]) -> Result<(), Error> {
        let (opts, rooms) = (target.opts(), rooms.to_vec());
        match self.options.variant {
            Variant::Classic => self.request(nsp, ClassicRequestKind::SocketsLeave { opts, rooms }),
            Variant::Sharded => {
                self.publish_sharded(nsp, ShardedKind::SocketsLeave { opts, rooms })
            }
        }
    }

    /// Disconnects the sockets `target` selects (socket.io's `disconnectSockets`); with
    /// `close`, their whole connections are closed too.
    pub fn disconnect_sockets(&self, nsp: &str, target: &Target, close: bool) -> Result<(), Error> {
        let opts = target.opts();
        match self.options.variant {
            Variant::Classic => {
                self.request(nsp, ClassicRequestKind::DisconnectSockets { opts, close })
            }
            Variant::Sharded => {
                self.publish_sharded(nsp, ShardedKind::DisconnectSockets { opts, close })
            }
        }
    }

    /// Sends `event` to the hosts of every server of the cluster (socket.io's
    /// `serverSideEmit`); no answer can come back to an emitter.
    pub fn server_side_emit(
        &self,
        nsp: &str,
        event: &str,
        payload: &rtio::Payload,
    ) -> Result<(), Error> {
        let data = event_data(event, payload)?;
        match self.options.variant {
            Variant::Classic => {
                let msg = ClassicRequest {
                    uid: Some(UID.into()),
                    request_id: None,
                    kind: ClassicRequestKind::ServerSideEmit { data },
                };
                self.publish(
                    crate::classic::request_channel(&self.options.key, nsp),
                    msg.encode(),
                )
            }
            Variant::Sharded => self.publish_sharded(
                nsp,
                ShardedKind::ServerSideEmit {
                    request_id: None,
                    packet: data,
                },
            ),
        }
    }

    /// A classic request as the Node emitter sends it: no `uid`, no `requestId`.
    fn request(&self, nsp: &str, kind: ClassicRequestKind) -> Result<(), Error> {
        let msg = ClassicRequest {
            uid: None,
            request_id: None,
            kind,
        };
        self.publish(
            crate::classic::request_channel(&self.options.key, nsp),
            msg.encode(),
        )
    }

    fn publish_sharded(&self, nsp: &str, kind: ShardedKind) -> Result<(), Error> {
        let msg = ShardedMessage {
            uid: UID.into(),
            nsp: nsp.into(),
            kind,
        };
        let channel = msg
            .channel(&self.options.key, self.options.subscription_mode)
            .expect("an emitter sends no responses");
        self.publish(channel, msg.encode())
    }

    /// PUBLISH (SPUBLISH when sharded) on the emitter's connection; a broken connection is
    /// reopened once before the call gives up.
    fn publish(&self, channel: String, message: Vec<u8>) -> Result<(), Error> {
        let command = match self.options.variant {
            Variant::Classic => "PUBLISH",
            Variant::Sharded => "SPUBLISH",
        };
        let mut conn = self.conn.lock();
        let mut retried = false;
        loop {
            let c = match conn.as_mut() {
                Some(c) => c,
                None => conn.insert(self.connect()?),
            };
            let sent: redis::RedisResult<i64> =
                redis::cmd(command).arg(&channel).arg(&message).query(c);
            match sent {
                Ok(_) => return Ok(()),
                Err(e) if !retried && (e.is_io_error() || e.is_connection_dropped()) => {
                    *conn = None;
                    retried = true;
                }
                Err(e) => {
                    if e.is_io_error() || e.is_connection_dropped() {
                        *conn = None;
                    }
                    return Err(Error::Redis(format!("{command} failed: {e}")));
                }
            }
        }
    }

    fn connect(&self) -> Result<redis::Connection, Error> {
        let conn = self
            .client
            .get_connection_with_timeout(IO_TIMEOUT)
            .map_err(|e| Error::Redis(format!("cannot connect to Redis: {e}")))?;
        conn.set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| conn.set_write_timeout(Some(IO_TIMEOUT)))
            .map_err(|e| Error::Redis(format!("cannot configure the Redis connection: {e}")))?;
        Ok(conn)
    }
}
