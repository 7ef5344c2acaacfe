//! The writing side of a WebSocket's stream: writes are gathered until flushed, so a batch
//! of frames leaves in one `send()` instead of one per frame, and the buffer exists only
//! while data is in flight, so an idle connection keeps none. Sending dominates the cost of
//! a broadcast: over TCP each `send()` costs the kernel far more than the bytes it carries.
//! (tokio's `BufWriter` would keep 8 KiB for good.) Reads go to the stream itself
//! ([`LeanStream::inner_mut`]).

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::AsyncWrite;

/// Gathered bytes beyond which writing goes to the socket before more is taken: bounds the
/// memory one connection's batch may take.
const MAX_GATHERED: usize = 64 * 1024;

/// `inner`, with writes gathered until `poll_flush` (or `MAX_GATHERED`).
pub(crate) struct LeanStream<S> {
    inner: S,
    gathered: Vec<u8>,
    /// How much of `gathered` the socket has already taken.
    sent: usize,
}

impl<S> LeanStream<S> {
    pub(crate) fn new(inner: S) -> Self {
        LeanStream {
            inner,
            gathered: Vec::new(),
            sent: 0,
        }
    }

    /// The stream itself, to read from.
    pub(crate) fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Adds `bytes` to what the next flush sends, whatever is gathered already (for small
    /// control frames that must not wait on the socket).
    pub(crate) fn gather(&mut self, bytes: &[u8]) {
        self.gathered.extend_from_slice(bytes);
    }

    /// Makes room for the pieces about to be written (their sizes), but for those large
    /// enough to go to the socket on their own and beyond what one batch gathers: a batch
    /// then costs one allocation, not a buffer grown piece by piece.
    pub(crate) fn reserve_for(&mut self, sizes: impl IntoIterator<Item = usize>) {
        let wanted: usize = sizes.into_iter().filter(|&n| n < MAX_GATHERED).sum();
        let room = MAX_GATHERED.saturating_sub(self.gathered.len());
        self.gathered.reserve(wanted.min(room));
    }

    /// Bytes gathered and not sent yet.
    pub(crate) fn gathered_len(&self) -> usize {
        self.gathered.len() - self.sent
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

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// A socket that takes at most `per_write` bytes per write and records each write.
    #[derive(Default)]
    struct Socket {
        writes: Vec<Vec<u8>>,
        per_write: usize,
        flushes: usize,
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
    async fn a_batch_is_reserved_at_once_but_not_what_goes_out_on_its_own() {
        let mut s = socket(usize::MAX);
        s.reserve_for([2, 200, 2, MAX_GATHERED]);
        assert_eq!(s.gathered.capacity(), 204, "the large piece is not copied");
        let grown = s.gathered.as_ptr();
        s.write_all(&[1, 2]).await.unwrap();
        s.write_all(&[3; 200]).await.unwrap();
        s.write_all(&[4, 5]).await.unwrap();
        assert_eq!(s.gathered.as_ptr(), grown, "no allocation while gathering");
        s.reserve_for([MAX_GATHERED - 1, MAX_GATHERED - 1]);
        assert!(s.gathered.capacity() <= MAX_GATHERED, "at most one batch");
        s.flush().await.unwrap();
        assert_eq!(s.gathered.capacity(), 0, "released once written");
    }
}
