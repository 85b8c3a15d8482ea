//! Telling a dead link from a slow one: a stream wrapper that notes when bytes last moved
//! either way, and a wait that gives up only after nothing moved for the whole timeout.
//!
//! A chunk is one WebSocket frame of up to several MiB; on a slow link sending it can take
//! longer than the timeout while bytes flow all along. Timing the whole send would give up
//! on such a link forever; timing silence does not, and still notices a sleeping laptop's
//! dead connection within the timeout.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// When bytes last moved on a [`Watched`] stream.
#[derive(Debug)]
pub(super) struct Activity {
    epoch: Instant,
    /// Nanoseconds after `epoch`.
    last: AtomicU64,
}

impl Activity {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
        })
    }

    /// Notes that bytes moved now.
    pub(super) fn touch(&self) {
        let nanos = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.last.fetch_max(nanos, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.epoch + Duration::from_nanos(self.last.load(Ordering::Relaxed))
    }

    /// Runs `work` until it completes (`Some`) or nothing moved for `timeout` (`None`);
    /// the silence is counted from now at the earliest.
    pub(super) async fn within<F: Future>(&self, timeout: Duration, work: F) -> Option<F::Output> {
        self.touch();
        tokio::pin!(work);
        loop {
            let deadline = self.last() + timeout;
            tokio::select! {
                out = &mut work => return Some(out),
                () = tokio::time::sleep_until(deadline) => {
                    if self.last() + timeout <= Instant::now() {
                        return None;
                    }
                }
            }
        }
    }
}

/// A stream that touches its [`Activity`] whenever bytes are read or written.
#[derive(Debug)]
pub(super) struct Watched<S> {
    inner: S,
    activity: Arc<Activity>,
}

impl<S> Watched<S> {
    pub(super) fn new(inner: S, activity: Arc<Activity>) -> Self {
        Self { inner, activity }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test(start_paused = true)]
    async fn a_slow_but_moving_stream_is_not_dead_and_a_silent_one_is() {
        let (near, mut far) = tokio::io::duplex(16);
        let activity = Activity::new();
        let mut near = Watched::new(near, Arc::clone(&activity));
        let timeout = Duration::from_secs(1);
        // The far side drains 16 bytes every 600 ms: 160 bytes take 6 s, longer than the
        // timeout, but bytes move every 600 ms.
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 16];
            let mut total = 0;
            while total < 160 {
                tokio::time::sleep(Duration::from_millis(600)).await;
                total += far.read(&mut buf).await.unwrap();
            }
            far
        });
        let sent = activity.within(timeout, near.write_all(&[7u8; 160])).await;
        assert!(
            matches!(sent, Some(Ok(()))),
            "a slow link is not a dead one"
        );
        let _far = reader.await.unwrap();
        let mut buf = [0u8; 1];
        let started = Instant::now();
        let read = activity.within(timeout, near.read(&mut buf)).await;
        assert!(read.is_none(), "nothing arrives");
        assert_eq!(
            started.elapsed(),
            timeout,
            "noticed after exactly the timeout"
        );
    }
}
