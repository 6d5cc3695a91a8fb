//! Running the node: the HTTP API on its listener and the consensus engine on its
//! thread, until a shutdown signal or an engine failure, then an orderly stop.
//!
//! # Shutdown order
//! 1. The listener stops accepting connections.
//! 2. The engine finishes the input it is handling (applying and announcing a decided
//!    block), and stops.
//! 3. Submissions still waiting for a commit receive `shutting_down`.
//! 4. Requests in progress finish, for at most [`DRAIN_TIMEOUT`].
//!
//! Each block is flushed to disk when it is applied, and each signature is in the
//! consensus log before it leaves the engine, so nothing is left to flush after the
//! engine stops.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{oneshot, watch};
use vouch_consensus::TimeoutConfig;
use vouch_protocol::keys::SigningKey;

use crate::daemon::chain::ChainApp;
use crate::daemon::config::{Config, ConfigError};
use crate::daemon::engine::{self, Engine, EngineConfig, EngineError, IdleRelease};
use crate::daemon::http::{self, ApiLimits, ApiState, ConnectionLimits, RateConfig};
use crate::daemon::mempool::{Mempool, MempoolLimits};
use crate::daemon::producer::{Clock, ProducerConfig};
use crate::daemon::waiters::CommitWaiters;

/// The name of the engine's thread. It keeps the name of the block producer that the
/// engine replaced, because crash tests look for it in `/proc` to kill the node while it
/// builds, applies or flushes a block (Linux shows at most 15 bytes of it).
pub const ENGINE_THREAD: &str = "vouchd-producer";

/// Maximum time that requests in progress may take to finish after a shutdown signal.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Errors that stop the node.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot listen on {address}: {error}; free the port or set api.address (or --api-addr)")]
    Bind { address: SocketAddr, error: std::io::Error },
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error("cannot start the consensus engine thread: {0}")]
    EngineThread(std::io::Error),
    #[error("the consensus engine stopped: {0}")]
    Engine(#[from] EngineError),
    #[error("the consensus engine thread panicked")]
    EnginePanicked,
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Everything the running node needs besides the app and the key.
#[derive(Clone)]
pub struct RunOptions {
    /// Request bounds of the API.
    pub api_limits: ApiLimits,
    /// Connection bounds of the API.
    pub connection_limits: ConnectionLimits,
    /// How long a submission with `"wait": true` waits.
    pub commit_wait_timeout: Duration,
    /// Maximum number of submissions waiting at one time.
    pub commit_waiters_max: usize,
    /// Bounds of the mempool.
    pub mempool: MempoolLimits,
    /// Block production.
    pub producer: ProducerConfig,
    /// The round timeouts of consensus.
    pub timeouts: TimeoutConfig,
    /// The folder of the consensus write-ahead log and double-sign guard.
    pub consensus_dir: PathBuf,
    /// The source of block times.
    pub clock: Clock,
    /// The memory release after a stretch without transactions; `None` never releases.
    /// [`RunOptions::from_config`] gives it an allocator release that does nothing.
    pub idle_release: Option<IdleRelease>,
}

impl RunOptions {
    /// Builds the options from a validated configuration of the node home `home`.
    pub fn from_config(config: &Config, home: &Path, clock: Clock) -> Result<RunOptions, ConfigError> {
        let api = &config.api;
        let exempt = config.rate_exempt()?;
        Ok(RunOptions {
            api_limits: ApiLimits {
                body_bytes_max: usize_of(api.body_bytes_max),
                body_read_timeout: api.body_read_timeout,
                concurrency_max: api.concurrency_max as usize,
                rate: RateConfig { per_second: api.rate_per_second, burst: api.rate_burst, exempt: exempt.clone() },
            },
            connection_limits: ConnectionLimits {
                connections_max: api.connections_max as usize,
                connections_per_ip_max: api.connections_per_ip_max as usize,
                exempt,
                header_read_timeout: api.header_read_timeout,
            },
            commit_wait_timeout: api.commit_wait_timeout,
            commit_waiters_max: api.commit_waiters_max as usize,
            mempool: MempoolLimits {
                txs_max: config.mempool.txs_max as usize,
                bytes_max: usize_of(config.mempool.bytes_max),
            },
            producer: ProducerConfig {
                interval: config.blocks.interval,
                empty_interval: config.blocks.empty_interval,
                txs_max: config.blocks.txs_max as usize,
                bytes_max: usize_of(config.blocks.bytes_max),
            },
            // TODO: every validator must use the same round timeouts, so they belong in
            // the genesis consensus parameters; until then each node takes the defaults.
            timeouts: TimeoutConfig::default(),
            consensus_dir: engine::consensus_dir(&config.data_dir(home)),
            clock,
            idle_release: (!config.storage.idle_release.is_zero())
                .then_some(IdleRelease { after: config.storage.idle_release, release_allocator: || {} }),
        })
    }
}

fn usize_of(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// Length of the listener's queue of connections not yet accepted, for bursts of
/// simultaneous clients; Linux caps it at `net.core.somaxconn`. Tokio's
/// `TcpListener::bind` uses 1024.
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds the API's listener with a queue of [`LISTEN_BACKLOG`] connections.
pub async fn bind(address: SocketAddr) -> Result<TcpListener, RunError> {
    let bind_error = |error| RunError::Bind { address, error };
    let socket = match address {
        SocketAddr::V4(_) => TcpSocket::new_v4(),
        SocketAddr::V6(_) => TcpSocket::new_v6(),
    }
    .map_err(bind_error)?;
    // The same reuse rule as `TcpListener::bind`: a restarted node can bind its port
    // while connections of the previous one are in TIME_WAIT.
    socket.set_reuseaddr(true).map_err(bind_error)?;
    socket.bind(address).map_err(bind_error)?;
    socket.listen(LISTEN_BACKLOG).map_err(bind_error)
}

/// The reason the node stops.
enum StopReason {
    Signal,
    EngineExited(Result<(), RunError>),
}

/// Serves the API on `listener` and runs consensus with the validator key `key` until
/// `shutdown` completes or the engine fails, then stops in the documented order.
pub async fn serve(
    app: Arc<dyn ChainApp>,
    key: SigningKey,
    listener: TcpListener,
    options: RunOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), RunError> {
    let mempool = Arc::new(Mempool::new(options.mempool));
    let waiters = Arc::new(CommitWaiters::new(options.commit_waiters_max));
    let state = Arc::new(ApiState {
        app: Arc::clone(&app),
        mempool: Arc::clone(&mempool),
        waiters: Arc::clone(&waiters),
        commit_wait_timeout: options.commit_wait_timeout,
    });
    let router = http::router(state, &options.api_limits);

    let config = EngineConfig {
        blocks: options.producer,
        timeouts: options.timeouts,
        dir: options.consensus_dir,
        idle: options.idle_release,
    };
    let parts = EngineParts { app: Arc::clone(&app), mempool, waiters: Arc::clone(&waiters), key, config };
    let (stop_engine, engine_done) = spawn_engine(parts, options.clock)?;

    let (stop_accepting, accepting) = watch::channel(false);
    let server = http::server::serve(listener, router, options.connection_limits, accepting);
    let mut server = tokio::spawn(async move {
        server.await;
        std::io::Result::Ok(())
    });

    let mut engine_done = engine_done;
    let reason = tokio::select! {
        () = shutdown => StopReason::Signal,
        result = &mut engine_done => StopReason::EngineExited(flatten(result)),
        result = &mut server => return Err(server_error(result)),
    };
    tracing::info!("stopping: no new connections; finishing the consensus input in progress");
    let _ = stop_accepting.send(true);

    drop(stop_engine);
    let produced = match reason {
        StopReason::Signal => flatten(engine_done.await),
        StopReason::EngineExited(result) => result,
    };
    waiters.close();

    match tokio::time::timeout(DRAIN_TIMEOUT, &mut server).await {
        Ok(result) => flatten_server(result)?,
        Err(_) => {
            tracing::warn!(
                timeout_ms = DRAIN_TIMEOUT.as_millis() as u64,
                "requests still running at shutdown were cut off"
            );
            server.abort();
        }
    }
    // The engine has stopped, so no block changes the filters while they are saved.
    if let Err(error) = app.save_for_restart() {
        tracing::warn!(%error, "failed to save the key filters; the next start scans their keys instead");
    }
    let tip = app.tip();
    tracing::info!(height = %tip.height, state_root = %tip.state_root, "stopped");
    produced
}

type EngineResult = Result<(), RunError>;

/// The parts that the engine's thread opens the engine with.
struct EngineParts {
    app: Arc<dyn ChainApp>,
    mempool: Arc<Mempool>,
    waiters: Arc<CommitWaiters>,
    key: SigningKey,
    config: EngineConfig,
}

/// Starts the engine's thread, which waits one block interval, opens the engine
/// (replaying its log) and runs it. Dropping the returned sender stops it between inputs.
fn spawn_engine(
    parts: EngineParts,
    clock: Clock,
) -> Result<(std::sync::mpsc::Sender<()>, oneshot::Receiver<EngineResult>), RunError> {
    let (stop, stop_received) = std::sync::mpsc::channel();
    let (done, done_received) = oneshot::channel();
    std::thread::Builder::new()
        .name(ENGINE_THREAD.to_owned())
        .spawn(move || {
            let EngineParts { app, mempool, waiters, key, config } = parts;
            if !engine::wait_before_first_height(&stop_received, &mempool, &config.blocks) {
                let _ = done.send(Ok(()));
                return;
            }
            let opened = Engine::open(app, mempool, waiters, key, config, clock);
            let result = opened.and_then(|engine| engine.run(&stop_received)).map_err(RunError::from);
            if let Err(error) = &result {
                tracing::error!(%error, "consensus engine failed");
            }
            let _ = done.send(result);
        })
        .map_err(RunError::EngineThread)?;
    Ok((stop, done_received))
}

fn flatten(result: Result<EngineResult, oneshot::error::RecvError>) -> EngineResult {
    // The sender is dropped without a value only when the thread panicked.
    result.unwrap_or(Err(RunError::EnginePanicked))
}

fn flatten_server(result: Result<std::io::Result<()>, tokio::task::JoinError>) -> Result<(), RunError> {
    match result {
        Ok(Ok(())) => Ok(()),
        other => Err(server_error(other)),
    }
}

fn server_error(result: Result<std::io::Result<()>, tokio::task::JoinError>) -> RunError {
    match result {
        Ok(Ok(())) => RunError::Serve(std::io::Error::other("the server stopped without a shutdown signal")),
        Ok(Err(error)) => RunError::Serve(error),
        Err(error) => RunError::Serve(std::io::Error::other(error.to_string())),
    }
}
