//! [`serve`]: the standalone server, with the deadlines and the connection
//! limit of [`ServerConfig`] so that slow, silent or many clients cannot
//! hold it, and a shutdown that ends within its own deadline.
//!
//! hyper serves each connection (HTTP/1.1 and HTTP/2, as `axum::serve`
//! does). hyper's own `header_read_timeout` is not used: hyper-util's
//! HTTP/1-or-2 detection reads the first bytes without any deadline (a
//! silent client is never cut), and the HTTP/1 timer also runs while a
//! kept-alive connection waits for its next request, so it cannot tell a slow
//! client from an idle one. Each connection is watched instead (see
//! [`Activity`]): a new connection, or a request begun on a kept-alive one,
//! must deliver its headers within `header_timeout`; a connection with no
//! request in flight is closed after `idle_timeout`. Bodies get tower-http's
//! [`DeadlineBody`] (in [`crate::app`]): a whole body within `body_timeout`,
//! else 408.
//!
//! The watch sees bytes, not frames: on HTTP/2 a control frame (a window
//! update, a ping) arriving on an idle connection counts as a request begun,
//! so an idle HTTP/2 connection may be closed after `header_timeout` rather
//! than `idle_timeout`; clients reconnect as usual.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agora_core::config::ServerConfig;
use axum::Router;
use axum::extract::{ConnectInfo, Request};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::io::InspectReader;
use tower::ServiceExt;

/// Serves `app` on `listener` with `limits` until `shutdown` completes; then
/// stops accepting, lets requests in flight finish for up to
/// `limits.shutdown_timeout`, drops the connections still open and returns.
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    limits: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    // No hyper timer for HTTP/1: its default 30 s header timeout would also
    // close idle kept-alive connections (see the module docs).
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopped) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        // At the limit, wait for a connection to end before accepting: the
        // next clients queue in the listen backlog, which holds no descriptor.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // E.g. out of descriptors (EMFILE): wait for some to free up.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        connections.spawn(connection(
            stream,
            peer,
            app.clone(),
            builder.clone(),
            limits.clone(),
            stopped.clone(),
            permit,
        ));
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "shutdown timeout reached: dropping the connections still open"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Serves one connection until it ends, breaks a deadline, or the server
/// stops (then requests in flight finish, within the shutdown deadline the
/// caller enforces).
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    builder: Arc<auto::Builder<TokioExecutor>>,
    limits: ServerConfig,
    mut stopped: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let activity = Arc::new(Activity::new());
    // Every read reports to the connection's activity (a new request begins).
    let io = TokioIo::new(InspectReader::new(stream, {
        let activity = activity.clone();
        move |bytes: &[u8]| {
            if !bytes.is_empty() {
                activity.read();
            }
        }
    }));
    let service = hyper::service::service_fn({
        let activity = activity.clone();
        move |mut request: Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let busy = activity.begin();
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await;
                drop(busy);
                response
            }
        }
    });
    let mut conn = pin!(builder.serve_connection_with_upgrades(io, service));
    let mut expired = pin!(activity.expired(limits.header_timeout, limits.idle_timeout));
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            return;
        }
        () = expired.as_mut() => {
            tracing::debug!(%peer, "closing a slow or idle connection");
            return;
        }
        () = async {
            let _ = stopped.wait_for(|stop| *stop).await;
        } => {}
    }
    conn.as_mut().graceful_shutdown();
    tokio::select! {
        _ = conn.as_mut() => {}
        () = expired => {}
    }
}

/// What a connection is doing, for its deadlines.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request's headers, since the connection opened or since
    /// the first byte of a request on a kept-alive connection.
    Head(Instant),
    /// No request in flight since then.
    Idle(Instant),
    /// This many requests are being handled (several with HTTP/2).
    Busy(usize),
}

/// A connection's [`Phase`], updated by its I/O and its requests, watched by
/// [`Activity::expired`].
struct Activity {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl Activity {
    fn new() -> Self {
        Activity {
            phase: Mutex::new(Phase::Head(Instant::now())),
            changed: Notify::new(),
        }
    }

    fn update(&self, change: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(PoisonError::into_inner);
        *phase = change(*phase);
        drop(phase);
        self.changed.notify_waiters();
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Bytes arrived: on an idle connection, a request has begun.
    fn read(&self) {
        if matches!(self.phase(), Phase::Idle(_)) {
            self.update(|phase| match phase {
                Phase::Idle(_) => Phase::Head(Instant::now()),
                other => other,
            });
        }
    }

    /// A request's headers are in; the connection is busy until the guard drops.
    fn begin(self: &Arc<Self>) -> BusyGuard {
        self.update(|phase| match phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Head(_) | Phase::Idle(_) => Phase::Busy(1),
        });
        BusyGuard(self.clone())
    }

    /// Completes when the connection has broken a deadline: headers not in
    /// within `header` of their start, or idle for `idle`.
    async fn expired(&self, header: Duration, idle: Duration) {
        loop {
            let mut changed = pin!(self.changed.notified());
            changed.as_mut().enable();
            let deadline = match self.phase() {
                Phase::Head(since) => Some(since + header),
                Phase::Idle(since) => Some(since + idle),
                Phase::Busy(_) => None,
            };
            match deadline {
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        () = changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }
}

/// Marks one request in flight on its connection.
struct BusyGuard(Arc<Activity>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.update(|phase| match phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        });
    }
}
