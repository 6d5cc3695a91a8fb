//! A `vouchd start --dev` process in a temporary home, with its own CLI keyring, for
//! tests that drive the node through the `vouch` binary and HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;
use vouch_keyring::{KeyName, Keyring};
use vouch_protocol::keys::SigningKey;

use crate::binary;

/// How long a dev node may take to print its API address.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The name of the node's block producer thread as Linux shows it in `/proc` (the
/// kernel keeps at most 15 bytes). Threads that the producer spawns inherit it.
const PRODUCER_THREAD: &str = "vouchd-producer";

/// A running dev node; it is killed when dropped.
pub struct DevNode {
    child: Option<Child>,
    /// The node's API URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The node's home folder.
    pub home: TempDir,
    /// The CLI keyring that holds the dev keys.
    pub keyring: TempDir,
    /// Lines the node printed on stdout and stderr, in the order read.
    output: mpsc::Receiver<String>,
}

impl DevNode {
    /// Starts `vouchd start --dev` on a free loopback port and waits for its address.
    pub fn start() -> DevNode {
        let home = tempfile::tempdir().expect("a temporary home");
        let keyring = tempfile::tempdir().expect("a temporary keyring");
        DevNode::start_in(home, keyring)
    }

    /// Starts `vouchd start --dev` in an existing home and keyring (for restarts).
    pub fn start_in(home: TempDir, keyring: TempDir) -> DevNode {
        let mut node = DevNode::spawn(home, keyring, "127.0.0.1:0");
        node.url = node.wait_for_address();
        node
    }

    /// Starts `vouchd start --dev` in a new home with its API on `api_addr`.
    pub fn start_at(api_addr: &str) -> DevNode {
        let home = tempfile::tempdir().expect("a temporary home");
        let keyring = tempfile::tempdir().expect("a temporary keyring");
        let mut node = DevNode::spawn(home, keyring, api_addr);
        node.url = node.wait_for_address();
        node
    }

    /// Starts `vouchd start --dev` in `home` and kills it with SIGKILL `delay` after
    /// it printed a line containing `marker` (or after the start when `marker` is
    /// empty), ready or not. Returns the home, the keyring, and whether the node had
    /// printed its API address before the kill.
    ///
    /// # Panics
    /// When the node exits, or prints no line with `marker` within the start timeout.
    pub fn start_and_kill_after(
        home: TempDir,
        keyring: TempDir,
        marker: &str,
        delay: Duration,
    ) -> (TempDir, TempDir, bool) {
        let mut node = DevNode::spawn(home, keyring, "127.0.0.1:0");
        let mut ready = false;
        if !marker.is_empty() {
            let seen = node.wait_for_line(|line| line.contains(marker));
            ready = seen.iter().any(|line| api_url(line).is_some());
        }
        std::thread::sleep(delay);
        ready |= node.drain_output().iter().any(|line| api_url(line).is_some());
        let (home, keyring) = node.kill();
        (home, keyring, ready)
    }

    /// Starts the process without waiting for its address, so `url` stays empty.
    fn spawn(home: TempDir, keyring: TempDir, api_addr: &str) -> DevNode {
        let mut child = Command::new(binary("vouchd"))
            .args(["start", "--dev", "--api-addr", api_addr, "--home"])
            .arg(home.path())
            .env("VOUCH_KEYRING", keyring.path())
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("vouchd starts");
        let (sender, output) = mpsc::channel();
        forward(child.stdout.take().expect("stdout is piped"), sender.clone());
        forward(child.stderr.take().expect("stderr is piped"), sender);
        DevNode { child: Some(child), url: String::new(), home, keyring, output }
    }

    fn wait_for_address(&mut self) -> String {
        let seen = self.wait_for_line(|line| api_url(line).is_some());
        api_url(seen.last().expect("the matching line is returned")).expect("the last line holds the address")
    }

    /// Reads the node's output until a line satisfies `wanted`. Returns the lines read,
    /// that one last.
    ///
    /// # Panics
    /// When the node exits, or prints no such line within two minutes.
    pub fn wait_for_line(&mut self, wanted: impl Fn(&str) -> bool) -> Vec<String> {
        let started = Instant::now();
        let mut seen = Vec::new();
        while started.elapsed() < START_TIMEOUT {
            match self.output.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    let found = wanted(&line);
                    seen.push(line);
                    if found {
                        return seen;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(status) = self.child.as_mut().and_then(|child| child.try_wait().ok().flatten()) {
                        panic!("vouchd exited with {status} while starting:\n{}", seen.join("\n"));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = self.child.as_mut().and_then(|child| child.wait().ok());
                    let status = status.map_or_else(|| "an unknown status".to_owned(), |status| status.to_string());
                    panic!("vouchd closed its output and exited with {status} while starting:\n{}", seen.join("\n"));
                }
            }
        }
        panic!("vouchd did not print the expected line within {START_TIMEOUT:?}:\n{}", seen.join("\n"));
    }

    /// Runs the `vouch` binary with this node's keyring and URL in the environment.
    pub fn vouch(&self, args: &[&str]) -> Output {
        Command::new(binary("vouch"))
            .args(args)
            .env("VOUCH_KEYRING", self.keyring.path())
            .env("VOUCH_NODE", &self.url)
            .output()
            .expect("vouch runs")
    }

    /// Returns the node's process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the node is running").id()
    }

    /// Returns the unencrypted key `name` of this node's CLI keyring, such as the dev
    /// scanner key `dev`.
    pub fn keyring_key(&self, name: &str) -> SigningKey {
        let keyring = Keyring::new(self.keyring.path().to_owned());
        let key_name = KeyName::parse(name).unwrap_or_else(|error| panic!("key name {name:?}: {error}"));
        let file = keyring.load(&key_name).unwrap_or_else(|error| panic!("key {name} of the dev keyring: {error}"));
        file.unlock(None).unwrap_or_else(|error| panic!("key {name} of the dev keyring does not unlock: {error}"))
    }

    /// Returns whether a thread of the block producer is running or waiting for the
    /// disk (Linux `/proc` states `R` and `D`), which means a block is being built,
    /// applied or flushed. Returns false where `/proc` cannot be read.
    pub fn producer_busy(&self) -> bool {
        let tasks = format!("/proc/{}/task", self.pid());
        let Ok(entries) = std::fs::read_dir(tasks) else { return false };
        entries.flatten().any(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            matches!(thread_state(&stat), Some((PRODUCER_THREAD, 'R' | 'D')))
        })
    }

    /// Sends SIGTERM and waits for the exit; returns the status and the home and keyring.
    pub fn terminate(mut self) -> (ExitStatus, TempDir, TempDir) {
        let mut child = self.child.take().expect("the node is running");
        let pid = child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let status = child.wait().expect("vouchd exits");
        let home = std::mem::replace(&mut self.home, tempfile::tempdir().expect("a placeholder folder"));
        let keyring = std::mem::replace(&mut self.keyring, tempfile::tempdir().expect("a placeholder folder"));
        (status, home, keyring)
    }

    /// Kills the node with SIGKILL and returns the home and keyring for a restart.
    pub fn kill(mut self) -> (TempDir, TempDir) {
        let mut child = self.child.take().expect("the node is running");
        child.kill().expect("SIGKILL is delivered");
        child.wait().expect("vouchd is reaped");
        let home = std::mem::replace(&mut self.home, tempfile::tempdir().expect("a placeholder folder"));
        let keyring = std::mem::replace(&mut self.keyring, tempfile::tempdir().expect("a placeholder folder"));
        (home, keyring)
    }

    /// Returns the lines the node printed so far that are not yet read.
    pub fn drain_output(&self) -> Vec<String> {
        self.output.try_iter().collect()
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn forward(stream: impl std::io::Read + Send + 'static, sender: mpsc::Sender<String>) {
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if sender.send(line).is_err() {
                break;
            }
        }
    });
}

/// Returns the name and state letter of a `/proc/PID/task/TID/stat` line, which reads
/// `TID (NAME) STATE ...`. The name may itself contain parentheses.
fn thread_state(stat: &str) -> Option<(&str, char)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?;
    let state = stat.get(close + 1..)?.trim_start().chars().next()?;
    Some((name, state))
}

/// Finds `http://127.0.0.1:PORT` with a nonzero port in a line.
fn api_url(line: &str) -> Option<String> {
    let start = line.find("http://127.0.0.1:")?;
    let rest = &line[start..];
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.'))).unwrap_or(rest.len());
    let url = rest[..end].trim_end_matches('/');
    let port = url.rsplit(':').next()?;
    (port.parse::<u16>().ok()? != 0).then(|| url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_state_reads_name_and_state() {
        assert_eq!(thread_state("412 (vouchd-producer) R 1 2 3"), Some(("vouchd-producer", 'R')));
        assert_eq!(thread_state("9 (a (b) c) D 0"), Some(("a (b) c", 'D')));
        assert_eq!(thread_state("garbage"), None);
    }
}
