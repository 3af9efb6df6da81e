//! Closing a connection without resetting it.
//!
//! A server here often answers before it has read a request's body: 401 before the sender is
//! authenticated, 503 when a burst is shed, 413 by the declared length. The connection then
//! closes with the body still arriving, and the kernel answers a close with unread data, or
//! data that arrives after it, with a reset. A client still sending its body then sees
//! "connection reset" instead of the answer. As nginx's lingering close does, a connection
//! here is half-closed once the server is done with it (the answer is flushed and followed by
//! a FIN), and what the client still sends is read and thrown away, for at most
//! [`LINGER_FOR`] and at most the listener's byte bound, before it is closed.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// How long a closed connection is read from, at most.
pub const LINGER_FOR: Duration = Duration::from_secs(2);

/// A TCP listener whose connections linger when the server is done with them.
pub struct LingeringListener {
    listener: TcpListener,
    most: usize,
}

impl LingeringListener {
    /// Wraps `listener`; a closed connection throws away at most `most` bytes more.
    pub fn new(listener: TcpListener, most: usize) -> Self {
        Self { listener, most }
    }
}

impl axum::serve::Listener for LingeringListener {
    type Io = Lingering;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (stream, addr) = axum::serve::Listener::accept(&mut self.listener).await;
        (
            Lingering {
                stream: Some(stream),
                most: self.most,
            },
            addr,
        )
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// An accepted connection that lingers when dropped (see the module).
pub struct Lingering {
    stream: Option<TcpStream>,
    most: usize,
}

impl Lingering {
    fn stream(&mut self) -> io::Result<Pin<&mut TcpStream>> {
        match self.stream.as_mut() {
            Some(s) => Ok(Pin::new(s)),
            None => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "the connection was closed",
            )),
        }
    }
}

impl AsyncRead for Lingering {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(s) => s.poll_read(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for Lingering {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.stream() {
            Ok(s) => s.poll_write(cx, buf),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.stream() {
            Ok(s) => s.poll_write_vectored(cx, bufs),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(s) => s.poll_flush(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stream() {
            Ok(s) => s.poll_shutdown(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl Drop for Lingering {
    fn drop(&mut self) {
        if let (Some(stream), Ok(runtime)) =
            (self.stream.take(), tokio::runtime::Handle::try_current())
        {
            runtime.spawn(linger(stream, self.most));
        }
    }
}

/// Half-closes `stream`, then reads and throws away what arrives until the client closes its
/// side, `most` bytes have come or [`LINGER_FOR`] is up.
async fn linger(mut stream: TcpStream, most: usize) {
    let _ = stream.shutdown().await;
    let mut left = most;
    let mut sink = vec![0u8; 16 * 1024];
    let _ = tokio::time::timeout(LINGER_FOR, async {
        while left > 0 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => return,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    })
    .await;
}
