//! Accepting connections, with the limits a public server needs: at most
//! `max_connections` at once (counted until the socket closes, WebSockets included; more
//! wait in the listen queue), a deadline for each request's headers and for a TLS handshake
//! (which also closes idle keep-alive connections), bounded request heads, and a graceful
//! stop that lets requests in flight finish for a while.
//!
//! HTTP/1.1 only (over TLS too: ALPN offers `http/1.1`), served by hyper directly because
//! `axum::serve` has no timeouts. Knows nothing of routes: it is given a [`Router`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum_server::accept::Accept;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

use crate::config::{Config, MAX_HEADER_BYTES, TlsFiles};
use crate::error::ServerError;

/// The most a connection buffers of what it read and the handler has not taken yet (hyper's
/// default is about 400 KiB): with 50 uploads at once that was most of the server's memory.
const READ_BUFFER: usize = 256 * 1024;

/// How long a stop waits for connections to finish before it gives up on them.
const DRAIN: Duration = Duration::from_secs(5);

/// Serves `router` on `listener` until `shutdown` completes.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    let tls = match &config.tls {
        Some(files) => Some(acceptor(files, config.header_timeout).await?),
        None => None,
    };
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .max_buf_size(READ_BUFFER)
        .max_headers(100);
    let http = Arc::new(http);
    let max = config.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let (stop, stopped) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, say: back off instead of spinning.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let _ = tcp.set_nodelay(true);
        let (tls, http, router, stopped) = (
            tls.clone(),
            Arc::clone(&http),
            router.clone(),
            stopped.clone(),
        );
        tokio::spawn(async move {
            let io = Counted {
                inner: tcp,
                _permit: permit,
            };
            match tls {
                None => drive(io, peer, &http, router, stopped).await,
                Some(tls) => match tls.accept(io, ()).await {
                    Ok((io, ())) => drive(io, peer, &http, router, stopped).await,
                    Err(err) => tracing::debug!(%peer, error = %err, "TLS handshake failed"),
                },
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(DRAIN, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::info!("stopping with connections still open");
    }
    Ok(())
}

/// Serves one connection until it ends, or stops it gracefully when the server stops.
async fn drive<S>(
    io: S,
    peer: SocketAddr,
    http: &http1::Builder,
    router: Router,
    mut stopped: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service =
        hyper::service::service_fn(move |request: http::Request<hyper::body::Incoming>| {
            let mut router = router.clone();
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            tower::Service::call(&mut router, request)
        });
    let mut conn = pin!(
        http.serve_connection(TokioIo::new(io), service)
            .with_upgrades()
    );
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%peer, error = %err, "connection ended");
            }
            return;
        }
        _ = stopped.wait_for(|stop| *stop) => conn.as_mut().graceful_shutdown(),
    }
    let _ = conn.await;
}

/// The TLS acceptor for `files`: HTTP/1.1 by ALPN, handshakes limited to `timeout`.
async fn acceptor(files: &TlsFiles, timeout: Duration) -> Result<RustlsAcceptor, ServerError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let loaded = RustlsConfig::from_pem_file(&files.cert, &files.key)
        .await
        .map_err(|e| {
            ServerError::io(
                format!(
                    "reading TLS files {} and {}",
                    files.cert.display(),
                    files.key.display()
                ),
                e,
            )
        })?;
    let mut config = (*loaded.get_inner()).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(RustlsAcceptor::new(RustlsConfig::from_config(Arc::new(config))).handshake_timeout(timeout))
}

/// A connection's socket that holds its place among `max_connections` until it closes,
/// also after a WebSocket upgrade took it from hyper.
struct Counted<S> {
    inner: S,
    _permit: OwnedSemaphorePermit,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
