//! The signals that stop `vouchd`: SIGINT, SIGTERM, SIGHUP and SIGQUIT.
//!
//! # Invariants
//! The handlers are installed when [`StopSignals::install`] returns, so a signal that
//! arrives later, even during startup, is recorded instead of killing the process. The
//! node then stops in order and removes a throwaway dev home.
//!
//! Tokio installs the handler of a signal before it creates the receiver, and a signal
//! handled in between reaches no receiver: it is lost, and the node keeps running. The
//! start therefore blocks the stop signals ([`block_stop_signals`]) before it creates
//! the runtime and unblocks them once the receivers exist. A signal sent in between
//! waits in the kernel and is delivered then.
//!
//! SIGINT, SIGHUP and SIGQUIT that are ignored when `vouchd` starts stay ignored,
//! because `nohup` and a shell's background jobs ignore them on purpose and a handler
//! would undo that. SIGTERM always stops the node.

use std::time::Duration;

use tokio::signal::unix::{Signal, SignalKind, signal};

/// Errors from installing the handlers.
#[derive(Debug, thiserror::Error)]
#[error("cannot install the handler of {name}: {error}")]
pub struct SignalError {
    /// The signal's name.
    pub name: &'static str,
    /// The operating system's error.
    pub error: std::io::Error,
}

/// The stop signals, blocked in the thread that called [`block_stop_signals`] and in
/// the threads it spawns meanwhile; dropping this unblocks them in that thread.
#[derive(Debug)]
pub struct BlockedSignals {
    previous: libc::sigset_t,
}

/// Blocks SIGINT, SIGTERM, SIGHUP and SIGQUIT in the calling thread. Threads spawned
/// before the returned guard is dropped keep them blocked, so the kernel delivers them
/// to this thread once it unblocks them.
pub fn block_stop_signals() -> std::io::Result<BlockedSignals> {
    // SAFETY: both sets are initialized by `sigemptyset` and `pthread_sigmask` before
    // they are read, and the pointers are valid for the calls.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
            libc::sigaddset(&mut set, signal);
        }
        let mut previous: libc::sigset_t = std::mem::zeroed();
        match libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut previous) {
            0 => Ok(BlockedSignals { previous }),
            error => Err(std::io::Error::from_raw_os_error(error)),
        }
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        // SAFETY: `previous` is the mask that `pthread_sigmask` returned.
        let status = unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.previous, std::ptr::null_mut()) };
        if status != 0 {
            tracing::error!(status, "restoring the signal mask failed; stop signals stay blocked in the main thread");
        }
    }
}

/// Returns whether the disposition of `signal` is to ignore it.
fn is_ignored(signal: libc::c_int) -> bool {
    // SAFETY: a null new action only reads the current one into `current`.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut current) == 0 && current.sa_sigaction == libc::SIG_IGN
    }
}

/// The installed handlers of the stop signals.
#[derive(Debug)]
pub struct StopSignals {
    handlers: Vec<(&'static str, Signal)>,
}

impl StopSignals {
    /// Installs the handlers, leaving SIGINT, SIGHUP and SIGQUIT ignored when they are;
    /// must run inside a Tokio runtime.
    pub fn install() -> Result<StopSignals, SignalError> {
        let kinds = [
            ("SIGINT", libc::SIGINT, SignalKind::interrupt()),
            ("SIGTERM", libc::SIGTERM, SignalKind::terminate()),
            ("SIGHUP", libc::SIGHUP, SignalKind::hangup()),
            ("SIGQUIT", libc::SIGQUIT, SignalKind::quit()),
        ];
        let mut handlers = Vec::with_capacity(kinds.len());
        for (name, number, kind) in kinds {
            if number != libc::SIGTERM && is_ignored(number) {
                tracing::info!(
                    signal = name,
                    "the signal was ignored when vouchd started (as under nohup); it stays ignored"
                );
                continue;
            }
            let handler = signal(kind).map_err(|error| SignalError { name, error })?;
            handlers.push((name, handler));
        }
        Ok(StopSignals { handlers })
    }

    /// Returns the names of the signals that stop the node.
    pub fn names(&self) -> Vec<&'static str> {
        self.handlers.iter().map(|(name, _)| *name).collect()
    }

    /// Waits for the first stop signal and returns its name.
    pub async fn recv(&mut self) -> &'static str {
        std::future::poll_fn(|context| {
            for (name, handler) in &mut self.handlers {
                if handler.poll_recv(context).is_ready() {
                    return std::task::Poll::Ready(*name);
                }
            }
            std::task::Poll::Pending
        })
        .await
    }

    /// Returns the name of a stop signal that already arrived, without waiting.
    pub async fn received(&mut self) -> Option<&'static str> {
        // A timeout polls its future once before it checks the deadline.
        tokio::time::timeout(Duration::ZERO, self.recv()).await.ok()
    }

    /// Waits for the first stop signal and logs it.
    pub async fn wait(mut self) {
        let name = self.recv().await;
        tracing::info!(signal = name, "shutdown requested");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hangup_is_received_as_a_stop() {
        // The test process may have inherited SIGHUP ignored (under nohup); the
        // default disposition makes `install` handle it.
        // SAFETY: setting a default disposition installs no handler code.
        unsafe { libc::signal(libc::SIGHUP, libc::SIG_DFL) };
        let mut signals = StopSignals::install().expect("install");
        assert!(signals.names().contains(&"SIGHUP"), "{:?}", signals.names());
        assert_eq!(signals.received().await, None, "no signal yet");

        // The handler installed above keeps SIGHUP from stopping the test process.
        let raised = std::process::Command::new("kill")
            .args(["-HUP", &std::process::id().to_string()])
            .status()
            .expect("kill runs");
        assert!(raised.success());
        assert_eq!(signals.recv().await, "SIGHUP");
    }
}
