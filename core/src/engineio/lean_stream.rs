//! The stream under a WebSocket: few syscalls, and buffers that exist only while data is in
//! flight, so an idle connection keeps none.
//!
//! - Writes are gathered until flushed, so a batch of frames leaves in one `send()` instead
//!   of one per frame. Sending dominates the cost of a broadcast: over TCP each `send()`
//!   costs the kernel far more than the bytes it carries, and tungstenite writes each frame
//!   to its stream as soon as it is fed. (tokio's `BufWriter` would keep 8 KiB for good.)
//! - Reads take up to [`READ_CHUNK`] from the socket at once, whatever the codec asked for;
//!   what it did not ask for yet is kept until it does. So tungstenite's own read buffer,
//!   which lives as long as the connection, can be small, and a large message still costs
//!   one `recv()` per 16 KiB.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Gathered bytes beyond which writing goes to the socket before more is taken: bounds the
/// memory one connection's batch may take.
const MAX_GATHERED: usize = 64 * 1024;

/// Bytes taken from the socket per `recv()` (into the stack, then kept only if unread).
const READ_CHUNK: usize = 16 * 1024;

/// `inner`, with writes gathered until `poll_flush` (or `MAX_GATHERED`) and reads taken in
/// chunks.
pub(crate) struct LeanStream<S> {
    inner: S,
    gathered: Vec<u8>,
    /// How much of `gathered` the socket has already taken.
    sent: usize,
    /// Bytes read from the socket that the reader did not ask for yet.
    unread: Vec<u8>,
    /// How much of `unread` the reader has taken.
    taken: usize,
}

impl<S> LeanStream<S> {
    pub(crate) fn new(inner: S) -> Self {
        LeanStream {
            inner,
            gathered: Vec::new(),
            sent: 0,
            unread: Vec::new(),
            taken: 0,
        }
    }

    /// Moves kept bytes into `buf`; false when none are kept.
    fn take_unread(&mut self, buf: &mut ReadBuf<'_>) -> bool {
        if self.taken == self.unread.len() {
            return false;
        }
        let n = buf.remaining().min(self.unread.len() - self.taken);
        buf.put_slice(&self.unread[self.taken..self.taken + n]);
        self.taken += n;
        if self.taken == self.unread.len() {
            self.unread = Vec::new();
            self.taken = 0;
        }
        true
    }
}

impl<S: AsyncWrite + Unpin> LeanStream<S> {
    /// Writes out everything gathered, then releases the buffer.
    fn poll_send_gathered(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.gathered.len() {
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, &self.gathered[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        self.gathered = Vec::new();
        self.sent = 0;
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for LeanStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !this.gathered.is_empty() && this.gathered.len() + buf.len() > MAX_GATHERED {
            ready!(this.poll_send_gathered(cx))?;
        }
        if this.gathered.is_empty() && buf.len() >= MAX_GATHERED {
            // Large enough to be worth a send() of its own: no copy.
            return Pin::new(&mut this.inner).poll_write(cx, buf);
        }
        this.gathered.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_gathered(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_send_gathered(cx))?;
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for LeanStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.take_unread(buf) {
            return Poll::Ready(Ok(()));
        }
        if buf.remaining() >= READ_CHUNK {
            return Pin::new(&mut this.inner).poll_read(cx, buf);
        }
        let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut read = ReadBuf::uninit(&mut chunk);
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
        let got = read.filled();
        let n = buf.remaining().min(got.len());
        buf.put_slice(&got[..n]);
        if n < got.len() {
            this.unread = got[n..].to_vec();
            this.taken = 0;
        }
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A socket that takes at most `per_write` bytes per write and records each write; reads
    /// give `incoming`, one element per read.
    #[derive(Default)]
    struct Socket {
        writes: Vec<Vec<u8>>,
        per_write: usize,
        flushes: usize,
        incoming: std::collections::VecDeque<Vec<u8>>,
        reads: usize,
    }

    impl AsyncRead for Socket {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            self.reads += 1;
            if let Some(data) = self.incoming.pop_front() {
                assert!(data.len() <= buf.remaining(), "the test feeds what fits");
                buf.put_slice(&data);
            }
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Socket {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.per_write);
            self.writes.push(buf[..n].to_vec());
            Poll::Ready(Ok(n))
        }
        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.flushes += 1;
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn socket(per_write: usize) -> LeanStream<Socket> {
        LeanStream::new(Socket {
            per_write,
            ..Socket::default()
        })
    }

    #[tokio::test]
    async fn frames_written_before_a_flush_leave_in_one_write() {
        let mut s = socket(usize::MAX);
        for frame in [&b"\x81\x03one"[..], b"\x81\x03two", b"\x81\x05three"] {
            s.write_all(frame).await.unwrap();
        }
        assert!(s.inner.writes.is_empty(), "nothing sent before the flush");
        s.flush().await.unwrap();
        assert_eq!(
            s.inner.writes,
            [b"\x81\x03one\x81\x03two\x81\x05three".to_vec()]
        );
        assert_eq!(s.inner.flushes, 1);
        assert_eq!(s.gathered.capacity(), 0, "the buffer is released once sent");
    }

    #[tokio::test]
    async fn a_socket_taking_less_gets_the_rest_in_order() {
        let mut s = socket(4);
        s.write_all(b"0123456789").await.unwrap();
        s.flush().await.unwrap();
        assert_eq!(s.inner.writes.concat(), b"0123456789");
        assert_eq!(s.inner.writes.len(), 3);
    }

    #[tokio::test]
    async fn gathering_is_bounded() {
        let mut s = socket(usize::MAX);
        let frame = vec![7u8; MAX_GATHERED / 2 + 1];
        s.write_all(&frame).await.unwrap();
        s.write_all(&frame).await.unwrap();
        assert_eq!(
            s.inner.writes.len(),
            1,
            "the first frame went out to make room"
        );
        assert!(s.gathered.len() <= MAX_GATHERED);
        let big = vec![9u8; MAX_GATHERED];
        s.write_all(&big).await.unwrap();
        assert_eq!(
            s.inner.writes.len(),
            3,
            "a large frame goes out without a copy"
        );
        assert_eq!(s.inner.writes[2], big);
        s.flush().await.unwrap();
        assert_eq!(s.inner.writes.len(), 3);
    }

    #[tokio::test]
    async fn reads_take_a_chunk_and_keep_what_was_not_asked_for() {
        use tokio::io::AsyncReadExt;
        let mut s = socket(usize::MAX);
        let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        s.inner.incoming.push_back(data.clone());
        s.inner.incoming.push_back(b"next".to_vec());
        let mut small = [0u8; 256];
        let mut got = Vec::new();
        while got.len() < data.len() {
            let n = s.read(&mut small).await.unwrap();
            got.extend_from_slice(&small[..n]);
        }
        assert_eq!(got, data);
        assert_eq!(
            s.inner.reads, 1,
            "one recv() for the four reads of the codec"
        );
        assert_eq!(s.unread.capacity(), 0, "nothing kept once all was read");
        let n = s.read(&mut small).await.unwrap();
        assert_eq!(&small[..n], b"next");
        assert_eq!(s.inner.reads, 2);

        // A reader asking for a chunk or more reads straight from the socket.
        s.inner.incoming.push_back(b"straight".to_vec());
        let mut big = vec![0u8; READ_CHUNK];
        let n = s.read(&mut big).await.unwrap();
        assert_eq!(&big[..n], b"straight");
        // End of stream reads as 0 bytes.
        assert_eq!(s.read(&mut small).await.unwrap(), 0);
    }
}
