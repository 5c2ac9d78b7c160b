//! The server loop: accepting connections within the caps, serving each over HTTP/1.1 with
//! bounded waits, and a shutdown that ends within the grace period whatever clients do.
//!
//! Each connection is bounded in time as well as in number: its request headers must arrive
//! within `idle_timeout` (hyper's header-read timer, which also closes an idle keep-alive
//! connection), and a response that makes no progress for `idle_timeout` because the client
//! does not read closes the connection (a write timeout on the socket). At shutdown the
//! listener closes, live feeds end, every connection is asked to finish its request in flight;
//! those still open after `grace` are closed. The ledger's writer is closed last, after every
//! append it accepted is durable.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_io_timeout::TimeoutStream;

use axum::http::StatusCode;

use super::connections::{Admitted, Connections, Refused};
use super::error::{ApiError, PROBLEM_JSON};
use super::{AppState, Config, app, signer};
use crate::handle::LedgerHandle;

/// How long the accept loop pauses after a failed accept (out of file descriptors, say)
/// before it tries again, instead of spinning.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Serves on `listener` until `shutdown` resolves; then stops accepting, ends live feeds, lets
/// requests in flight (appends included) finish within `config.grace`, closes what is left,
/// and closes the ledger's writer once the last append it accepted is durable.
///
/// # Errors
/// None today: a failed accept (out of file descriptors, say) is logged and retried after a
/// pause, so the server goes on serving the connections it has.
pub async fn serve(
    listener: TcpListener,
    ledger: LedgerHandle,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let grace = config.grace;
    let idle = config.idle_timeout;
    let state = AppState::new(ledger.clone(), config, stopped.clone());
    let connections = Arc::clone(&state.connections);
    let schedule = match (&state.config.key, state.config.checkpoint_every) {
        (Some(key), Some(every)) => Some(tokio::spawn(signer::every(
            ledger.clone(),
            Arc::clone(key),
            every,
            stopped.clone(),
        ))),
        _ => None,
    };
    let router = app(state);
    let mut open = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = open.join_next(), if !open.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => match connections.admit(peer.ip()) {
                    Ok(admitted) => {
                        open.spawn(connection(
                            stream,
                            router.clone(),
                            admitted,
                            Arc::clone(&connections),
                            idle,
                            stopped.clone(),
                        ));
                    }
                    Err(why) => refuse(stream, why),
                },
                Err(e) => {
                    tracing::warn!("accept failed: {e}; pausing");
                    tokio::time::sleep(ACCEPT_PAUSE).await;
                }
            },
        }
    }
    tracing::info!(
        connections = open.len(),
        "shutting down: no new connections; finishing requests in flight within {grace:?}"
    );
    drop(listener);
    let _ = stop.send(true);
    let drained =
        tokio::time::timeout(grace, async { while open.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        tracing::warn!(
            connections = open.len(),
            "grace period over: closing the connections still open"
        );
        open.shutdown().await;
    }
    if let Some(schedule) = schedule {
        let _ = schedule.await;
    }
    drop(router);
    ledger.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Serves one admitted connection until it ends, the shutdown's graceful close finishes it, or
/// (at the end of the grace period) the task is dropped.
async fn connection(
    stream: TcpStream,
    router: axum::Router,
    admitted: Admitted,
    connections: Arc<Connections>,
    idle: Duration,
    mut stopped: watch::Receiver<bool>,
) {
    let _admitted = admitted;
    let _ = stream.set_nodelay(true);
    let mut stream = TimeoutStream::new(stream);
    stream.set_write_timeout(Some(idle));
    let io = TokioIo::new(Box::pin(stream));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(idle)
        .serve_connection(io, TowerToHyperService::new(router));
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = async { let _ = stopped.wait_for(|stop| *stop).await; } => {
            conn.as_mut().graceful_shutdown();
            conn.as_mut().await
        }
    };
    if let Err(e) = result {
        use std::sync::atomic::Ordering::Relaxed;
        if e.is_timeout() {
            connections.header_timeouts.fetch_add(1, Relaxed);
        } else if timed_out_writing(&e) {
            connections.write_stalls.fetch_add(1, Relaxed);
        } else {
            tracing::debug!("connection ended: {e}");
        }
    }
}

fn timed_out_writing(e: &hyper::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return io.kind() == std::io::ErrorKind::TimedOut;
        }
        source = s.source();
    }
    false
}

/// Answers a refused connection with a 503 problem if its socket takes it at once, then closes
/// it; nothing here waits on the client. What the client sent already is read and dropped first,
/// so that the close is a FIN after the answer rather than a reset that could discard it.
fn refuse(stream: TcpStream, why: Refused) {
    let detail = match why {
        Refused::Total => "the server holds as many connections as it allows; retry later",
        Refused::PerAddress => {
            "this client address holds as many connections as the server allows it; close some or retry later"
        }
    };
    let body = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "too_many_connections",
        detail,
    )
    .body();
    let mut response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: {PROBLEM_JSON}\r\nx-content-type-options: nosniff\r\ncache-control: no-store\r\nretry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(&body);
    let mut sent = [0u8; 4096];
    for _ in 0..16 {
        if !matches!(stream.try_read(&mut sent), Ok(n) if n > 0) {
            break;
        }
    }
    let _ = stream.try_write(&response);
    if let Ok(stream) = stream.into_std() {
        let _ = stream.shutdown(std::net::Shutdown::Write);
    }
    tracing::debug!(reason = why.label(), "connection refused");
}
