//! Minimal Socket.IO clients over WebSocket and over HTTP long-polling, for one
//! single-threaded runtime: no per-message allocation, no JSON parsing, one `read` per
//! wake-up, frames parsed in place.

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use flate2::{Decompress, FlushDecompress};

use crate::proto::{self, BodyKind, Encoding, Packet};

/// Errors of a client: IO, protocol, or the server said no.
#[derive(Debug)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error(e.to_string())
    }
}

impl From<proto::ProtoError> for Error {
    fn from(e: proto::ProtoError) -> Self {
        Error(e.0.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Microseconds since the load generator started (monotonic; the same clock stamps a
/// fan-out message when it is sent and when each copy arrives).
pub fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// `now_us()` minus CLOCK_REALTIME in µs, sampled by `sync_realtime` (the kernel's receive
/// stamps are wall-clock time).
static REALTIME_OFFSET_US: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Samples the offset between the wall clock and `now_us`'s clock; called when a run that
/// uses arrival stamps starts, so that a slewing wall clock cannot drift across a run.
pub fn sync_realtime() {
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64);
    let offset = now_us() as i64 - wall;
    REALTIME_OFFSET_US.store(offset, std::sync::atomic::Ordering::Relaxed);
}

fn realtime_to_now_us(t: libc::timespec) -> u64 {
    let wall = t.tv_sec * 1_000_000 + t.tv_nsec / 1_000;
    (wall + REALTIME_OFFSET_US.load(std::sync::atomic::Ordering::Relaxed)).max(0) as u64
}

/// One `recvmsg` into `buf`: the bytes read and, when the kernel attached one, the
/// `SCM_TIMESTAMPNS` receive time.
fn recv_stamped(
    fd: std::os::fd::RawFd,
    buf: &mut [u8],
) -> std::io::Result<(usize, Option<libc::timespec>)> {
    // Room for one timespec control message (u64s: aligned as cmsghdr wants).
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: zeroed msghdr is valid; its pointers are set to live buffers below.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: fd is a socket; msg points at buffers that outlive the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut stamp = None;
    // SAFETY: walking the control messages the kernel wrote, with libc's macros.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                stamp = Some(std::ptr::read_unaligned(
                    libc::CMSG_DATA(cmsg).cast::<libc::timespec>(),
                ));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((n as usize, stamp))
}

// ---------------------------------------------------------------------------------------------
// Traffic counters (the compression scenarios' bytes on the wire)
// ---------------------------------------------------------------------------------------------

/// What every client of this thread read, since the start: bytes from the sockets, and the
/// messages those bytes carried (WebSocket text messages, or long-polling GET responses),
/// how many of them were compressed, and their size once decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes read from the sockets (HTTP heads, WebSocket frame headers, bodies as sent).
    pub wire: u64,
    /// WebSocket text messages, or polling GET responses, received.
    pub messages: u64,
    /// Of which compressed (RSV1 set, or a `Content-Encoding` other than identity).
    pub compressed: u64,
    /// Their payload bytes once inflated (the Engine.IO packets they carry).
    pub decoded: u64,
    /// WebSocket connections that asked for permessage-deflate and got it.
    pub deflate_accepted: u64,
    /// ... that asked for it and did not.
    pub deflate_refused: u64,
    /// Of the accepted ones, those where the server said `server_no_context_takeover`.
    pub deflate_no_context_takeover: u64,
}

impl Traffic {
    /// The counters now.
    pub fn now() -> Traffic {
        TRAFFIC.with(Cell::get)
    }

    /// `self - earlier`, counter by counter.
    pub fn since(self, earlier: Traffic) -> Traffic {
        Traffic {
            wire: self.wire - earlier.wire,
            messages: self.messages - earlier.messages,
            compressed: self.compressed - earlier.compressed,
            decoded: self.decoded - earlier.decoded,
            deflate_accepted: self.deflate_accepted - earlier.deflate_accepted,
            deflate_refused: self.deflate_refused - earlier.deflate_refused,
            deflate_no_context_takeover: self.deflate_no_context_takeover
                - earlier.deflate_no_context_takeover,
        }
    }
}

thread_local! {
    static TRAFFIC: Cell<Traffic> = const {
        Cell::new(Traffic {
            wire: 0,
            messages: 0,
            compressed: 0,
            decoded: 0,
            deflate_accepted: 0,
            deflate_refused: 0,
            deflate_no_context_takeover: 0,
        })
    };
}

fn count(f: impl FnOnce(&mut Traffic)) {
    TRAFFIC.with(|t| {
        let mut v = t.get();
        f(&mut v);
        t.set(v);
    });
}

/// Where the clients connect.
pub struct Target {
    /// The server's address.
    pub addr: SocketAddr,
    ws_request: Vec<u8>,
    host: String,
    path: String,
    /// Whether a client is connected only once the server's `auth` event arrived (a
    /// scenarios server sends one from its connection handler; `rtio serve` does not).
    wait_auth: bool,
    /// WebSocket clients offer permessage-deflate.
    deflate: bool,
    /// Polling clients send `Accept-Encoding: gzip, deflate`.
    accept_encoding: bool,
    /// A plain WebSocket server with no Engine.IO/Socket.IO layer (the floor,
    /// bench/peers/README.md): upgrade on `/`, connected at `{"connected":ID}`, messages
    /// classified with [`proto::classify_raw`].
    pub raw: bool,
}

impl Target {
    /// A scenarios server on `127.0.0.1:port`, Engine.IO path `/socket.io/`.
    pub fn local(port: u16) -> Target {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
        let host = format!("127.0.0.1:{port}");
        let path = "/socket.io/".to_string();
        Target {
            addr,
            ws_request: proto::ws_upgrade_request(&host, &path, false),
            host,
            path,
            wait_auth: true,
            deflate: false,
            accept_encoding: false,
            raw: false,
        }
    }

    /// The floor on `127.0.0.1:port`: raw WebSocket clients (see [`Target::raw`]).
    pub fn floor(port: u16) -> Target {
        let t = Target::local(port);
        Target {
            ws_request: proto::ws_raw_upgrade_request(&t.host),
            path: "/".into(),
            raw: true,
            ..t
        }
    }

    /// The same server, with clients that ask for compression as browsers do:
    /// permessage-deflate offered on WebSocket upgrades, `Accept-Encoding: gzip, deflate` on
    /// polling requests.
    pub fn compressed(self) -> Target {
        Target {
            ws_request: proto::ws_upgrade_request(&self.host, &self.path, true),
            deflate: true,
            accept_encoding: true,
            ..self
        }
    }

    /// A server on `127.0.0.1:port` whose connection handler sends nothing (`rtio serve`,
    /// the publish scenario's reference): a WebSocket client is connected at its CONNECT
    /// ack.
    pub fn plain(port: u16) -> Target {
        Target {
            wait_auth: false,
            ..Target::local(port)
        }
    }
}

/// Number of loopback source addresses the clients spread over (127.100.0.1 ...): each one
/// has its own ephemeral port range, so 100,000+ connections to one server port fit.
const SOURCE_ADDRESSES: u32 = 64;

thread_local! {
    static NEXT_SOURCE: Cell<u32> = const { Cell::new(0) };
}

fn next_source() -> IpAddr {
    let i = NEXT_SOURCE.with(|c| {
        let i = c.get();
        c.set(i.wrapping_add(1));
        i
    });
    IpAddr::V4(Ipv4Addr::new(127, 100, 0, 1 + (i % SOURCE_ADDRESSES) as u8))
}

/// A TCP connection from the next loopback source address, Nagle off.
pub async fn tcp_connect(addr: SocketAddr) -> Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    // Pick the source port at connect() time from the whole 4-tuple, not at bind() time.
    let one: libc::c_int = 1;
    // SAFETY: a valid socket fd and a pointer to a c_int of the size passed.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    sock.bind(SocketAddr::new(next_source(), 0))?;
    let stream = sock.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Size of a read buffer when one is needed (it grows for larger messages).
const READ_BUFFER: usize = 16 * 1024;

/// A TCP stream and its read buffer.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    lo: usize,
    hi: usize,
    /// Reads ask the kernel for their receive time (`stamp_arrivals`).
    stamping: bool,
    /// When the kernel received the bytes of the last read (`now_us` clock), if that read
    /// carried a stamp.
    arrived: Option<u64>,
}

impl Conn {
    fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: Vec::new(),
            lo: 0,
            hi: 0,
            stamping: false,
            arrived: None,
        }
    }

    /// From now on each read also takes the kernel's receive time of what it read
    /// (`SO_TIMESTAMPNS`): the time the server's bytes reached this socket, not the later
    /// time this single-threaded generator got round to reading them. On loopback the
    /// kernel stamps a segment as the server's `send()` delivers it.
    pub fn stamp_arrivals(&mut self) -> Result<()> {
        let one: libc::c_int = 1;
        // SAFETY: a valid socket descriptor and an int option of the right size.
        let rc = unsafe {
            libc::setsockopt(
                self.stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        self.stamping = true;
        Ok(())
    }

    /// When the bytes of the last read reached the socket (`now_us` clock, at most `now`;
    /// for TCP the kernel gives the time of the last segment the read took, so a message
    /// that shared a read with a later one is counted as late as that one); `None` when
    /// that read carried no stamp or stamps are off.
    pub fn arrived(&self, now: u64) -> Option<u64> {
        self.arrived.map(|t| t.min(now))
    }

    /// Reads into `buf` with `recvmsg`, taking the receive time from its control message.
    async fn read_stamped(&mut self, at: usize) -> std::io::Result<usize> {
        loop {
            self.stream.readable().await?;
            let buf = &mut self.buf[at..];
            let mut arrived = None;
            let read = self.stream.try_io(tokio::io::Interest::READABLE, || {
                let (n, stamp) = recv_stamped(self.stream.as_raw_fd(), buf)?;
                arrived = stamp;
                Ok(n)
            });
            match read {
                Ok(n) => {
                    self.arrived = arrived.map(realtime_to_now_us);
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads once (whatever is there, at least one byte). Cancel-safe.
    pub async fn fill(&mut self) -> Result<()> {
        if self.lo == self.hi {
            self.lo = 0;
            self.hi = 0;
        }
        if self.buf.is_empty() {
            self.buf.resize(READ_BUFFER, 0);
        } else if self.hi == self.buf.len() {
            if self.lo > 0 {
                self.buf.copy_within(self.lo..self.hi, 0);
                self.hi -= self.lo;
                self.lo = 0;
            } else {
                let len = self.buf.len() * 2;
                self.buf.resize(len, 0);
            }
        }
        let n = if self.stamping {
            self.read_stamped(self.hi).await?
        } else {
            self.stream.read(&mut self.buf[self.hi..]).await?
        };
        if n == 0 {
            return Err(Error("connection closed by the server".into()));
        }
        count(|t| t.wire += n as u64);
        self.hi += n;
        Ok(())
    }

    /// Waits until the socket is readable, without holding a buffer (idle clients).
    pub async fn readable(&self) -> Result<()> {
        Ok(self.stream.readable().await?)
    }

    fn unread(&self) -> &[u8] {
        &self.buf[self.lo..self.hi]
    }

    fn consume(&mut self, n: usize) {
        self.lo += n;
    }

    /// Frees the read buffer when nothing is pending in it.
    pub fn release(&mut self) {
        if self.lo == self.hi {
            self.buf = Vec::new();
            self.lo = 0;
            self.hi = 0;
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        Ok(self.stream.write_all(bytes).await?)
    }
}

// ---------------------------------------------------------------------------------------------
// WebSocket
// ---------------------------------------------------------------------------------------------

/// A Socket.IO client on `/` over a direct WebSocket connection.
pub struct Ws {
    /// The connection; scenario loops call `fill` on it (cancel-safe) inside `select!`.
    pub conn: Conn,
    out: Vec<u8>,
    /// permessage-deflate, when negotiated: the client inflates, never compresses.
    inflater: Option<Box<Inflater>>,
    /// A raw WebSocket to the floor: messages are not Engine.IO packets.
    pub raw: bool,
}

/// The receiving half of permessage-deflate (RFC 7692): raw inflate of each message with the
/// `00 00 ff ff` tail the sender removed; the LZ77 window carries over from message to
/// message unless the server said `server_no_context_takeover`.
pub struct Inflater {
    z: Decompress,
    reset_each: bool,
    /// The last message, inflated.
    out: Vec<u8>,
}

/// Inflated messages larger than this are refused (the servers' max payload is 1 MB).
const MAX_INFLATED: usize = 64 << 20;

impl Inflater {
    pub fn new(deflate: proto::Deflate) -> Inflater {
        Inflater {
            z: Decompress::new(false),
            reset_each: deflate.server_no_context_takeover,
            out: Vec::new(),
        }
    }

    /// Inflates one message's payload into `self.out`.
    pub fn inflate(&mut self, payload: &[u8]) -> Result<&[u8]> {
        const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];
        self.out.clear();
        for mut input in [payload, &TAIL[..]] {
            loop {
                if self.out.capacity() - self.out.len() < 1024 {
                    self.out.reserve(self.out.len().max(4096));
                }
                let (in0, out0) = (self.z.total_in(), self.z.total_out());
                self.z
                    .decompress_vec(input, &mut self.out, FlushDecompress::Sync)
                    .map_err(|e| Error(format!("permessage-deflate: cannot inflate: {e}")))?;
                let used = (self.z.total_in() - in0) as usize;
                let made = self.z.total_out() - out0;
                input = &input[used..];
                if input.is_empty() && self.out.len() < self.out.capacity() {
                    break;
                }
                if used == 0 && made == 0 {
                    return Err(Error(
                        "permessage-deflate: the inflater made no progress".into(),
                    ));
                }
                if self.out.len() > MAX_INFLATED {
                    return Err(Error("permessage-deflate: message over 64 MiB".into()));
                }
            }
        }
        if self.reset_each {
            self.z.reset(false);
        }
        Ok(&self.out)
    }
}

impl Ws {
    /// Opens the WebSocket, the Engine.IO session and the Socket.IO connection to `/`, and
    /// returns once the server's connection handler ran (its `auth` event arrived).
    pub async fn connect(t: &Target) -> Result<Ws> {
        let stream = tcp_connect(t.addr).await?;
        let mut ws = Ws {
            conn: Conn::new(stream),
            out: Vec::with_capacity(64),
            inflater: None,
            raw: t.raw,
        };
        ws.conn.write(&t.ws_request).await?;
        loop {
            ws.conn.fill().await?;
            if let Some(head) = proto::http_head(ws.conn.unread())? {
                if head.status != 101 {
                    return Err(Error(format!("WebSocket upgrade answered {}", head.status)));
                }
                if t.deflate {
                    match head.deflate {
                        Some(d) => count(|c| {
                            c.deflate_accepted += 1;
                            c.deflate_no_context_takeover += d.server_no_context_takeover as u64;
                        }),
                        None => count(|c| c.deflate_refused += 1),
                    }
                }
                ws.inflater = head.deflate.map(|d| Box::new(Inflater::new(d)));
                ws.conn.consume(head.len);
                break;
            }
        }
        if ws.raw {
            // The floor: connected once its `{"connected":ID}` arrived (the server
            // registered the client: every fan-out from now on reaches it).
            loop {
                let mut connected = false;
                ws.drain(|p| connected |= p == Packet::Connected)?;
                if connected {
                    return Ok(ws);
                }
                ws.conn.fill().await?;
            }
        }
        let (mut opened, mut sent_connect, mut connected) = (false, false, false);
        let wait_auth = t.wait_auth;
        loop {
            let mut refused = false;
            let mut auth = false;
            let pongs = ws.drain(|p| match p {
                Packet::Open => opened = true,
                Packet::Connected => connected = true,
                Packet::ConnectError | Packet::Close | Packet::Disconnect => refused = true,
                Packet::Event if connected => auth = true,
                _ => {}
            })?;
            if refused {
                return Err(Error("the server refused the Socket.IO connection".into()));
            }
            ws.pong(pongs).await?;
            if opened && !sent_connect {
                ws.send(b"40").await?;
                sent_connect = true;
            }
            if auth || (connected && !wait_auth) {
                return Ok(ws);
            }
            ws.conn.fill().await?;
        }
    }

    /// Sends one Engine.IO packet as a text frame (never compressed: RFC 7692 lets each
    /// message be either).
    pub async fn send(&mut self, packet: &[u8]) -> Result<()> {
        self.out.clear();
        proto::ws_encode(&mut self.out, proto::OP_TEXT, packet);
        self.conn.stream.write_all(&self.out).await?;
        Ok(())
    }

    /// Answers `n` Engine.IO pings.
    pub async fn pong(&mut self, n: u32) -> Result<()> {
        for _ in 0..n {
            self.send(b"3").await?;
        }
        Ok(())
    }

    /// Calls `f` with every complete text message in the buffer (inflated when compressed).
    /// A close frame is an error, as is a compressed frame without the extension.
    fn messages(&mut self, mut f: impl FnMut(&[u8])) -> Result<()> {
        while let Some(frame) = proto::ws_frame(self.conn.unread())? {
            let payload = &self.conn.unread()[frame.start..frame.end];
            match frame.opcode {
                proto::OP_TEXT => {
                    let message = match (frame.compressed, &mut self.inflater) {
                        (false, _) => payload,
                        (true, Some(inflater)) => {
                            count(|t| t.compressed += 1);
                            inflater.inflate(payload)?
                        }
                        (true, None) => {
                            return Err(Error(
                                "RSV1 set without permessage-deflate negotiated".into(),
                            ))
                        }
                    };
                    count(|t| {
                        t.messages += 1;
                        t.decoded += message.len() as u64;
                    });
                    f(message);
                }
                proto::OP_CLOSE => return Err(Error("WebSocket closed by the server".into())),
                // Socket.IO servers do not send WebSocket pings; binary is not used here.
                _ => {}
            }
            self.conn.consume(frame.end);
        }
        Ok(())
    }

    /// Calls `f` for every complete Engine.IO packet in the buffer; returns how many pings
    /// are owed a pong (see [`Ws::pong`]). A close frame is an error.
    pub fn drain(&mut self, mut f: impl FnMut(Packet)) -> Result<u32> {
        let mut pongs = 0;
        let classify = if self.raw {
            proto::classify_raw
        } else {
            proto::classify
        };
        self.messages(|message| {
            let p = classify(message);
            if p == Packet::Ping {
                pongs += 1;
            }
            f(p);
        })?;
        Ok(pongs)
    }

    /// Reads once and handles what arrived: `f` gets each packet and the arrival time.
    pub async fn recv(&mut self, mut f: impl FnMut(Packet, u64)) -> Result<()> {
        self.recv_at(|p, _, now| f(p, now)).await
    }

    /// `recv`, with `f` also given when each packet reached the socket (the kernel's stamp,
    /// `None` when the read carried none): `f(packet, arrived, read)`.
    pub async fn recv_at(&mut self, mut f: impl FnMut(Packet, Option<u64>, u64)) -> Result<()> {
        self.conn.fill().await?;
        let now = now_us();
        let arrived = self.conn.arrived(now);
        let pongs = self.drain(|p| f(p, arrived, now))?;
        self.pong(pongs).await
    }

    /// Emits `event` with no argument, expecting ack `id`, and returns the ack packet
    /// (`43<id>[...]`) as it arrived. Other packets meanwhile are dropped, pings answered.
    pub async fn call(&mut self, id: u64, event: &str) -> Result<Vec<u8>> {
        let mut packet = Vec::with_capacity(event.len() + 24);
        proto::call_packet(&mut packet, id, event);
        self.send(&packet).await?;
        loop {
            self.conn.fill().await?;
            let mut pongs = 0;
            let mut answer = None;
            self.messages(|message| match proto::classify(message) {
                Packet::Ping => pongs += 1,
                Packet::Ack { id: got } if got == id => answer = Some(message.to_vec()),
                _ => {}
            })?;
            self.pong(pongs).await?;
            if let Some(answer) = answer {
                return Ok(answer);
            }
        }
    }

    /// Waits for and handles traffic of an idle client (pings) without keeping a buffer.
    pub async fn idle(&mut self) -> Result<()> {
        self.conn.readable().await?;
        self.recv(|_, _| {}).await?;
        self.conn.release();
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP long-polling
// ---------------------------------------------------------------------------------------------

/// A Socket.IO client on `/` over HTTP long-polling: one keep-alive connection for the
/// pending GET, one for POSTs (reopened when the server closes it while idle).
pub struct Polling {
    /// The GET connection; scenario loops call `fill` on it (cancel-safe) inside `select!`.
    pub get: Conn,
    post: Option<Conn>,
    get_request: Vec<u8>,
    post_head: String,
    addr: SocketAddr,
    get_pending: bool,
    /// The body of the last complete GET response.
    body: Vec<u8>,
    out: Vec<u8>,
}

impl Polling {
    /// Opens the Engine.IO session, joins `/`, and returns once the `auth` event arrived.
    pub async fn connect(t: &Target) -> Result<Polling> {
        let mut get = Conn::new(tcp_connect(t.addr).await?);
        let accept = if t.accept_encoding {
            "Accept-Encoding: gzip, deflate\r\n"
        } else {
            ""
        };
        let handshake = format!(
            "GET {}?EIO=4&transport=polling HTTP/1.1\r\nHost: {}\r\n{accept}\r\n",
            t.path, t.host
        );
        get.write(handshake.as_bytes()).await?;
        let mut body = Vec::new();
        let status = read_response(&mut get, &mut body).await?;
        if status != 200 || proto::classify(&body) != Packet::Open {
            return Err(Error(format!("polling handshake answered {status}")));
        }
        let sid = proto::open_sid(&body)
            .ok_or(Error("open packet without sid".into()))?
            .to_string();
        let query = format!("{}?EIO=4&transport=polling&sid={}", t.path, sid);
        let mut p = Polling {
            get,
            post: None,
            get_request: format!("GET {query} HTTP/1.1\r\nHost: {}\r\n{accept}\r\n", t.host)
                .into_bytes(),
            post_head: format!(
                "POST {query} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/plain;charset=UTF-8\r\nContent-Length: ",
                t.host
            ),
            addr: t.addr,
            get_pending: false,
            body,
            out: Vec::new(),
        };
        p.post(b"40").await?;
        let (mut connected, mut auth) = (false, false);
        while !auth {
            p.poll().await?;
            let mut refused = false;
            let pongs = p.drain(|pk| match pk {
                Packet::Connected => connected = true,
                Packet::Event if connected => auth = true,
                Packet::ConnectError | Packet::Close | Packet::Disconnect => refused = true,
                _ => {}
            });
            if refused {
                return Err(Error("the server refused the Socket.IO connection".into()));
            }
            p.pong(pongs).await?;
        }
        Ok(p)
    }

    /// Sends a GET unless one is pending.
    pub async fn send_get(&mut self) -> Result<()> {
        if !self.get_pending {
            self.get.write(&self.get_request).await?;
            self.get_pending = true;
        }
        Ok(())
    }

    /// Takes a complete GET response from the buffer, if there is one.
    pub fn take_response(&mut self) -> Result<bool> {
        if !self.get_pending {
            return Ok(false);
        }
        match parse_response(&mut self.get, &mut self.body)? {
            Some(200) => {
                self.get_pending = false;
                let decoded = self.body.len() as u64;
                count(|t| {
                    t.messages += 1;
                    t.decoded += decoded;
                });
                Ok(true)
            }
            Some(status) => Err(Error(format!("polling GET answered {status}"))),
            None => Ok(false),
        }
    }

    /// Sends a GET and waits for its response (in `self.body`).
    pub async fn poll(&mut self) -> Result<()> {
        self.send_get().await?;
        while !self.take_response()? {
            self.get.fill().await?;
        }
        Ok(())
    }

    /// Calls `f` for each packet of the last GET response; returns the pings owed a pong.
    pub fn drain(&self, mut f: impl FnMut(Packet)) -> u32 {
        let mut pongs = 0;
        for part in proto::polling_packets(&self.body) {
            let p = proto::classify(part);
            if p == Packet::Ping {
                pongs += 1;
            }
            f(p);
        }
        pongs
    }

    /// Answers `n` pings in one POST.
    pub async fn pong(&mut self, n: u32) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        let mut body = Vec::new();
        for i in 0..n {
            if i > 0 {
                body.push(proto::SEPARATOR);
            }
            body.push(b'3');
        }
        self.post(&body).await
    }

    /// POSTs a payload and waits for `ok`. Reconnects once when the idle keep-alive
    /// connection was closed by the server.
    pub async fn post(&mut self, payload: &[u8]) -> Result<()> {
        self.out.clear();
        self.out.extend_from_slice(self.post_head.as_bytes());
        proto::push_u64(&mut self.out, payload.len() as u64);
        self.out.extend_from_slice(b"\r\n\r\n");
        self.out.extend_from_slice(payload);
        let out = std::mem::take(&mut self.out);
        let result = self.post_once(&out).await;
        let result = match result {
            Err(_) if self.post.is_none() => self.post_once(&out).await,
            r => r,
        };
        self.out = out;
        result
    }

    async fn post_once(&mut self, request: &[u8]) -> Result<()> {
        let conn = match &mut self.post {
            Some(c) => c,
            None => self.post.insert(Conn::new(tcp_connect(self.addr).await?)),
        };
        let mut body = Vec::new();
        let result = async {
            conn.write(request).await?;
            read_response(conn, &mut body).await
        }
        .await;
        match result {
            Ok(200) => Ok(()),
            Ok(status) => Err(Error(format!("polling POST answered {status}"))),
            Err(e) => {
                self.post = None; // reopened by the retry
                Err(e)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP API publisher
// ---------------------------------------------------------------------------------------------

/// One keep-alive HTTP/1.1 connection POSTing JSON to a server's publish API
/// (`POST /api/emit` with `Authorization: Bearer KEY`), one request at a time.
pub struct Publisher {
    conn: Conn,
    head: Vec<u8>,
    out: Vec<u8>,
    body: Vec<u8>,
}

impl Publisher {
    /// Connects to `t`'s address; requests go to `path` with the API key `key`.
    pub async fn connect(t: &Target, path: &str, key: &str) -> Result<Publisher> {
        let conn = Conn::new(tcp_connect(t.addr).await?);
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: ",
            t.host
        )
        .into_bytes();
        Ok(Publisher {
            conn,
            head,
            out: Vec::new(),
            body: Vec::new(),
        })
    }

    /// The request of one publish, in `self.out`: `f` appends the JSON body.
    fn request(&mut self, f: impl FnOnce(&mut Vec<u8>)) {
        self.body.clear();
        f(&mut self.body);
        self.out.clear();
        self.out.extend_from_slice(&self.head);
        proto::push_u64(&mut self.out, self.body.len() as u64);
        self.out.extend_from_slice(b"\r\n\r\n");
        self.out.extend_from_slice(&self.body);
    }

    /// POSTs the body `f` writes and waits for the response: an error unless it is a 2xx.
    pub async fn post(&mut self, f: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
        self.request(f);
        self.conn.write(&self.out).await?;
        let status = read_response(&mut self.conn, &mut self.body).await?;
        if !(200..300).contains(&status) {
            return Err(Error(format!(
                "the publish API answered {status}: {}",
                String::from_utf8_lossy(&self.body)
            )));
        }
        Ok(())
    }
}

/// Parses one complete response from the buffer into `body` (decoded when it came
/// compressed: gzip, or HTTP's zlib-wrapped deflate): its status, or `None` when more bytes
/// are needed.
fn parse_response(conn: &mut Conn, body: &mut Vec<u8>) -> Result<Option<u16>> {
    let Some(head) = proto::http_head(conn.unread())? else {
        return Ok(None);
    };
    let rest = &conn.unread()[head.len..];
    let used = match head.body {
        BodyKind::Length(n) => {
            if rest.len() < n {
                return Ok(None);
            }
            body.clear();
            body.extend_from_slice(&rest[..n]);
            n
        }
        BodyKind::Chunked => {
            let Some((decoded, used)) = proto::http_chunked(rest)? else {
                return Ok(None);
            };
            *body = decoded;
            used
        }
    };
    conn.consume(head.len + used);
    if head.encoding != Encoding::Identity {
        count(|t| t.compressed += 1);
        *body = decode_body(head.encoding, body)?;
    }
    Ok(Some(head.status))
}

/// A response body decoded from its `Content-Encoding`.
pub fn decode_body(encoding: Encoding, body: &[u8]) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::with_capacity(body.len() * 4);
    let read = match encoding {
        Encoding::Identity => {
            out.extend_from_slice(body);
            Ok(0)
        }
        Encoding::Gzip => flate2::read::GzDecoder::new(body).read_to_end(&mut out),
        // RFC 9110's deflate is zlib-wrapped; some servers send raw deflate.
        Encoding::Deflate if body.first().is_some_and(|b| b & 0x0f == 8) => {
            flate2::read::ZlibDecoder::new(body).read_to_end(&mut out)
        }
        Encoding::Deflate => flate2::read::DeflateDecoder::new(body).read_to_end(&mut out),
        Encoding::Other => {
            return Err(Error(
                "a Content-Encoding the client did not ask for".into(),
            ))
        }
    };
    read.map_err(|e| Error(format!("cannot decode a {encoding:?} body: {e}")))?;
    Ok(out)
}

async fn read_response(conn: &mut Conn, body: &mut Vec<u8>) -> Result<u16> {
    loop {
        if let Some(status) = parse_response(conn, body)? {
            return Ok(status);
        }
        conn.fill().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};

    /// A permessage-deflate sender: raw deflate, sync flush, the `00 00 ff ff` tail removed.
    fn deflate_message(c: &mut Compress, message: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(message.len() + 64);
        c.compress_vec(message, &mut out, FlushCompress::Sync)
            .unwrap();
        assert_eq!(out[out.len() - 4..], [0, 0, 0xff, 0xff]);
        out.truncate(out.len() - 4);
        out
    }

    #[test]
    fn inflates_messages_with_and_without_context_takeover() {
        let mut page = Vec::new();
        let mut next = Vec::new();
        proto::job_page(&mut page, 1, 1);
        proto::job_page(&mut next, 2, 2);
        let big: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for takeover in [true, false] {
            let mut c = Compress::new(Compression::default(), false);
            let mut inflater = Inflater::new(proto::Deflate {
                server_no_context_takeover: !takeover,
            });
            for message in [&page, &next, &big, &page] {
                if !takeover {
                    c.reset();
                }
                let wire = deflate_message(&mut c, message);
                assert_eq!(inflater.inflate(&wire).unwrap(), &message[..]);
            }
            // With the window carried over, a repeated page costs a few bytes.
            if !takeover {
                c.reset();
            }
            let again = deflate_message(&mut c, &page);
            assert_eq!(takeover, again.len() < 64, "{} B", again.len());
        }
        let mut inflater = Inflater::new(proto::Deflate {
            server_no_context_takeover: true,
        });
        assert!(
            inflater.inflate(&[0xff, 0xff, 0xff]).is_err(),
            "not deflate"
        );
    }

    #[test]
    fn decodes_gzip_and_deflate_bodies() {
        use std::io::Write;
        let body = b"42[\"b\",{\"_ts\":\"1:2\"}]\x1e2".repeat(50);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(&body).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decode_body(Encoding::Gzip, &gz).unwrap(), body);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
        z.write_all(&body).unwrap();
        assert_eq!(
            decode_body(Encoding::Deflate, &z.finish().unwrap()).unwrap(),
            body
        );
        let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), Compression::fast());
        raw.write_all(&body).unwrap();
        assert_eq!(
            decode_body(Encoding::Deflate, &raw.finish().unwrap()).unwrap(),
            body
        );
        assert_eq!(decode_body(Encoding::Identity, b"ok").unwrap(), b"ok");
        assert!(decode_body(Encoding::Other, b"ok").is_err());
        assert!(decode_body(Encoding::Gzip, b"not gzip").is_err());
    }
}
