//! A `vouchd start --dev` process in a temporary home, with its own CLI keyring, for
//! tests that drive the node through the `vouch` binary and HTTP.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::binary;

/// How long a dev node may take to print its API address.
const START_TIMEOUT: Duration = Duration::from_secs(120);

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
        let mut child = Command::new(binary("vouchd"))
            .args(["start", "--dev", "--api-addr", "127.0.0.1:0", "--home"])
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
        let mut node = DevNode { child: Some(child), url: String::new(), home, keyring, output };
        node.url = node.wait_for_address();
        node
    }

    fn wait_for_address(&mut self) -> String {
        let started = Instant::now();
        let mut seen = Vec::new();
        while started.elapsed() < START_TIMEOUT {
            match self.output.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(url) = api_url(&line) {
                        return url;
                    }
                    seen.push(line);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(status) = self.child.as_mut().and_then(|child| child.try_wait().ok().flatten()) {
                        panic!("vouchd exited with {status} before printing its address:\n{}", seen.join("\n"));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        panic!("vouchd printed no http://127.0.0.1:PORT address within {START_TIMEOUT:?}:\n{}", seen.join("\n"));
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

/// Finds `http://127.0.0.1:PORT` with a nonzero port in a line.
fn api_url(line: &str) -> Option<String> {
    let start = line.find("http://127.0.0.1:")?;
    let rest = &line[start..];
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, ':' | '/' | '.'))).unwrap_or(rest.len());
    let url = rest[..end].trim_end_matches('/');
    let port = url.rsplit(':').next()?;
    (port.parse::<u16>().ok()? != 0).then(|| url.to_owned())
}
