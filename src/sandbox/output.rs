//! Captured guest stdout/stderr with a byte cap: bytes beyond the cap are counted and dropped and
//! the capture is flagged truncated, but the guest's writes keep succeeding (unlike wasmtime's
//! `MemoryOutputPipe`, which fails the guest once full).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

#[derive(Debug, Default)]
struct Inner {
    buf: Vec<u8>,
    /// Bytes the guest wrote in total, kept or not.
    total: u64,
}

/// A shared, capped in-memory sink. Clones share the buffer.
#[derive(Debug, Clone)]
pub struct CappedPipe {
    cap: usize,
    inner: Arc<Mutex<Inner>>,
}

impl CappedPipe {
    pub fn new(cap: usize) -> Self {
        Self {
            cap,
            inner: Arc::new(Mutex::new(Inner::default())),
        }
    }

    /// Append what fits; always "succeeds" from the writer's point of view.
    pub fn push(&self, bytes: &[u8]) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.total = inner.total.saturating_add(bytes.len() as u64);
        let room = self.cap.saturating_sub(inner.buf.len());
        let take = room.min(bytes.len());
        inner.buf.extend_from_slice(&bytes[..take]);
    }

    /// The kept bytes, whether anything was dropped, and the total the guest wrote.
    pub fn take(&self) -> (Vec<u8>, bool, u64) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let buf = std::mem::take(&mut inner.buf);
        let truncated = inner.total > buf.len() as u64;
        (buf, truncated, inner.total)
    }
}

impl IsTerminal for CappedPipe {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedPipe {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for CappedPipe {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        self.push(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        // Always ready; what does not fit is dropped in `write`.
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedPipe {
    async fn ready(&mut self) {}
}

impl AsyncWrite for CappedPipe {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_and_flags_without_failing() {
        let pipe = CappedPipe::new(10);
        let mut stream = pipe.p2_stream();
        stream.write(bytes::Bytes::from_static(b"hello ")).unwrap();
        stream
            .write(bytes::Bytes::from_static(b"world, and more"))
            .unwrap();
        assert!(
            stream.check_write().unwrap() > 0,
            "still writable after the cap"
        );
        let (buf, truncated, total) = pipe.take();
        assert_eq!(buf, b"hello worl");
        assert!(truncated);
        assert_eq!(total, 21);
    }

    #[test]
    fn exact_fit_is_not_truncated() {
        let pipe = CappedPipe::new(5);
        pipe.push(b"12345");
        let (buf, truncated, _) = pipe.take();
        assert_eq!(buf, b"12345");
        assert!(!truncated);
    }
}
