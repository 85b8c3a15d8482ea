//! Telling a dead link from a slow one, for both transports: an [`Activity`] notes when the
//! link last showed life (bytes moved either way, an answer arrived), a [`Watched`] stream
//! touches it on every byte, and [`Activity::within`] gives up on a piece of work only after
//! nothing moved for the whole timeout.
//!
//! A tus chunk or a GalileoSend frame can be several MiB; on a slow link sending it takes
//! longer than the timeout while bytes flow all along. Timing the whole send would give up
//! on such a link forever; timing silence does not, and still notices a sleeping laptop's
//! dead connection within the timeout. Waiting for the rate limit is not the link's fault:
//! [`Activity::pause`] stops the count until the next touch.
//!
//! It knows nothing of protocols, servers or errors.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// `last` while paused.
const PAUSED: u64 = u64::MAX;

/// When the link last showed life.
#[derive(Debug)]
pub(super) struct Activity {
    epoch: Instant,
    /// Nanoseconds after `epoch`, or [`PAUSED`].
    last: AtomicU64,
}

impl Activity {
    /// Alive now.
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Self {
            epoch: Instant::now(),
            last: AtomicU64::new(0),
        })
    }

    /// Notes that the link showed life now (and ends a pause).
    pub(super) fn touch(&self) {
        let nanos = u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(PAUSED - 1);
        self.last.store(nanos.min(PAUSED - 1), Ordering::Relaxed);
    }

    /// Stops counting silence until the next [`touch`](Self::touch): the sender waits for
    /// something that is not the link (the rate limit).
    pub(super) fn pause(&self) {
        self.last.store(PAUSED, Ordering::Relaxed);
    }

    /// When the link last showed life; `None` while paused.
    fn last(&self) -> Option<Instant> {
        match self.last.load(Ordering::Relaxed) {
            PAUSED => None,
            nanos => Some(self.epoch + Duration::from_nanos(nanos)),
        }
    }

    /// Returns once the link showed no life for `timeout` (pauses not counted).
    pub(super) async fn quiet_for(&self, timeout: Duration) {
        loop {
            match self.last() {
                Some(at) if at.elapsed() >= timeout => return,
                Some(at) => tokio::time::sleep_until(at + timeout).await,
                None => tokio::time::sleep(timeout).await,
            }
        }
    }

    /// Runs `work` until it completes (`Some`) or the link showed no life for `timeout`
    /// (`None`); the silence is counted from now at the earliest.
    pub(super) async fn within<F: Future>(&self, timeout: Duration, work: F) -> Option<F::Output> {
        self.touch();
        tokio::select! {
            out = work => Some(out),
            () = self.quiet_for(timeout) => None,
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

    #[tokio::test(start_paused = true)]
    async fn a_link_counts_as_quiet_only_after_the_timeout_without_life_and_never_while_rate_limited()
     {
        let timeout = Duration::from_secs(2);
        let activity = Activity::new();
        let started = Instant::now();
        activity.quiet_for(timeout).await;
        assert_eq!(started.elapsed(), timeout, "quiet from the start");

        let activity = Activity::new();
        let watcher = Arc::clone(&activity);
        let watch = tokio::spawn(async move { watcher.quiet_for(timeout).await });
        tokio::time::sleep(Duration::from_secs(1)).await;
        activity.touch();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(
            !watch.is_finished(),
            "a touch a second ago keeps the link alive"
        );
        activity.pause();
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert!(
            !watch.is_finished(),
            "waiting for the rate limit is not a dead link"
        );
        activity.touch();
        let resumed = Instant::now();
        watch.await.unwrap();
        assert!(resumed.elapsed() >= timeout && resumed.elapsed() < timeout * 2);
    }
}
