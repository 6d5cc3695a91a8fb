//! The stop signals of a real `vouchd --dev`: SIGHUP, SIGTERM and SIGQUIT stop it in
//! order and remove its throwaway home, also when they arrive during startup.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const VOUCHD: &str = env!("CARGO_BIN_EXE_vouchd");

/// Starts a throwaway dev chain whose temporary folders and keyring live in `scratch`,
/// with the default disposition of every stop signal.
fn spawn_dev(scratch: &Path) -> Child {
    spawn_dev_with(scratch, libc::SIG_DFL)
}

/// Starts a dev chain as [`spawn_dev`] does, with SIGINT, SIGHUP and SIGQUIT set to
/// `disposition`: a test process started under `nohup` or as a background job would
/// otherwise pass its ignored signals on.
fn spawn_dev_with(scratch: &Path, disposition: libc::sighandler_t) -> Child {
    let mut command = Command::new(VOUCHD);
    // SAFETY: `signal` is async-signal-safe, as code between fork and exec must be.
    unsafe {
        command.pre_exec(move || {
            for signal in [libc::SIGINT, libc::SIGHUP, libc::SIGQUIT] {
                libc::signal(signal, disposition);
            }
            libc::signal(libc::SIGTERM, libc::SIG_DFL);
            Ok(())
        });
    }
    command
        .args(["start", "--dev", "--api-addr", "127.0.0.1:0"])
        .env("TMPDIR", scratch)
        .env("VOUCH_KEYRING", scratch.join("keyring"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vouchd runs")
}

fn wait_for_api(child: &mut Child) -> BufReader<std::process::ChildStdout> {
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while stdout.read_line(&mut line).expect("read") > 0 {
        if line.contains("http://127.0.0.1:") {
            return stdout;
        }
        line.clear();
    }
    panic!("vouchd printed no API address");
}

fn send(signal: &str, child: &Child) {
    let status = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
}

/// How long a signalled node may take to exit before the test kills it and fails.
const EXIT_LIMIT: Duration = Duration::from_secs(120);

/// Waits for the node to exit. A node still running after [`EXIT_LIMIT`] lost its
/// signal: it is killed, and the test fails instead of hanging.
fn wait_bounded(child: Child) -> Output {
    let pid = child.id().to_string();
    let (exited, exit_seen) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        let timed_out = exit_seen.recv_timeout(EXIT_LIMIT).is_err();
        if timed_out {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
        timed_out
    });
    let output = child.wait_with_output().expect("vouchd exits");
    let _ = exited.send(());
    let timed_out = watchdog.join().expect("the watchdog thread ends");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(!timed_out, "vouchd kept running {EXIT_LIMIT:?} after the signal:\n{log}");
    output
}

/// Returns the dev homes left in `scratch`.
fn leftover_dev_homes(scratch: &Path) -> Vec<String> {
    std::fs::read_dir(scratch)
        .expect("read the scratch folder")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("vouchd-dev-"))
        .collect()
}

#[test]
fn sighup_stops_and_removes_dev_home() {
    let scratch = tempfile::tempdir().expect("temporary folder");
    let mut child = spawn_dev(scratch.path());
    let _stdout = wait_for_api(&mut child);
    let homes = leftover_dev_homes(scratch.path());
    assert_eq!(homes.len(), 1, "the dev home exists while running");
    let mode = std::fs::metadata(scratch.path().join(&homes[0])).expect("metadata").permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the dev home holds the validator key");

    send("HUP", &child);
    let output = wait_bounded(child);
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(log.contains("SIGHUP"), "{log}");
    assert_eq!(leftover_dev_homes(scratch.path()), Vec::<String>::new());
}

#[test]
fn sigquit_after_start_removes_dev_home() {
    let scratch = tempfile::tempdir().expect("temporary folder");
    let mut child = spawn_dev(scratch.path());
    let _stdout = wait_for_api(&mut child);
    send("QUIT", &child);
    let output = wait_bounded(child);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(leftover_dev_homes(scratch.path()), Vec::<String>::new());
}

/// Starts a dev chain, sends `signal` after `delay`, and checks that the node either
/// died before its handlers existed or stopped cleanly, leaving no dev home behind.
fn signal_after(signal: &str, delay: Duration) {
    let scratch = tempfile::tempdir().expect("temporary folder");
    let child = spawn_dev(scratch.path());
    std::thread::sleep(delay);
    send(signal, &child);
    let output = wait_bounded(child);
    let log = String::from_utf8_lossy(&output.stderr);
    let stopped_cleanly = output.status.code() == Some(0);
    let killed_early = output.status.signal().is_some();
    assert!(stopped_cleanly || killed_early, "SIG{signal} after {delay:?}: {:?} {log}", output.status);
    assert_eq!(leftover_dev_homes(scratch.path()), Vec::<String>::new(), "SIG{signal} after {delay:?}: {log}");
}

#[test]
fn signal_during_startup_removes_dev_home() {
    // Sent at once: it lands before the handlers exist (the process then ends before
    // creating anything) or during startup, which must clean up.
    for signal in ["TERM", "QUIT", "HUP"] {
        signal_after(signal, Duration::ZERO);
    }
}

#[test]
fn signals_at_every_startup_step_stop_the_node() {
    // Each delay lands the signal at another step of the startup: before the handlers,
    // while their receivers are created, while the ledger opens, or after the API
    // listens. A signal lost at any of them leaves the node running, which
    // `wait_bounded` turns into a failure.
    let delays_ms = [0, 1, 2, 5, 10, 20, 40, 80, 160];
    for (index, delay_ms) in delays_ms.into_iter().enumerate() {
        signal_after(["TERM", "QUIT", "HUP", "INT"][index % 4], Duration::from_millis(delay_ms));
    }
}

#[test]
fn ignored_hangup_stays_ignored() {
    let scratch = tempfile::tempdir().expect("temporary folder");
    let mut child = spawn_dev_with(scratch.path(), libc::SIG_IGN);
    let _stdout = wait_for_api(&mut child);

    // As under nohup: SIGHUP leaves the node running. A node that wrongly stops does
    // so within milliseconds, so the pause cannot hide it on a slow machine.
    send("HUP", &child);
    std::thread::sleep(Duration::from_secs(1));
    assert!(child.try_wait().expect("poll vouchd").is_none(), "SIGHUP stopped a node that started with it ignored");

    send("TERM", &child);
    let output = wait_bounded(child);
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{log}");
    assert!(log.contains("signal=\"SIGHUP\""), "{log}");
    assert!(log.contains("stays ignored"), "{log}");
    assert_eq!(leftover_dev_homes(scratch.path()), Vec::<String>::new());
}
