//! Helpers for the black-box tests: run the built `vouch` binary against a temporary
//! keyring and read its output.
#![allow(dead_code)]

pub mod chain;
pub mod mock_node;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Argon2id memory cost for test keys, in KiB, so each key derivation takes
/// milliseconds instead of the default's tenth of a second or more.
pub const TEST_KDF_MEMORY_KIB: &str = "256";

/// Message printed by corpus tests when the corpus folder is not configured.
pub const CORPUS_SKIP: &str = "skipped: VOUCH_CORPUS is not set (point it at the shared corpus folder)";

/// A temporary keyring and the means to run `vouch` against it.
pub struct Vouch {
    pub home: tempfile::TempDir,
}

/// The outcome of one `vouch` run.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with both streams unless the command exited with `code`.
    pub fn expect_code(self, code: i32) -> Run {
        assert_eq!(
            self.code,
            Some(code),
            "expected exit code {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless the command succeeded.
    pub fn success(self) -> Run {
        self.expect_code(0)
    }

    /// Panics unless the command failed with exit code 1 and returns it.
    pub fn failure(self) -> Run {
        self.expect_code(1)
    }
}

impl Vouch {
    /// Creates an empty temporary home; the keyring is `<home>/keyring`.
    pub fn new() -> Vouch {
        Vouch { home: tempfile::tempdir().expect("create a temporary folder") }
    }

    /// Returns the keyring folder passed with `--keyring`.
    pub fn keyring(&self) -> PathBuf {
        self.home.path().join("keyring")
    }

    /// Returns a path inside the temporary home.
    pub fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    /// Builds a `vouch` command with the test keyring and fast key derivation, and no
    /// passphrase or keyring from the caller's environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vouch"));
        command
            .arg("--keyring")
            .arg(self.keyring())
            .args(args)
            .env_remove("VOUCH_PASSPHRASE")
            .env_remove("VOUCH_KEYRING")
            .env_remove("VOUCH_NODE")
            .env_remove("RUST_LOG")
            .env("VOUCH_KDF_MEMORY_KIB", TEST_KDF_MEMORY_KIB)
            .stdin(Stdio::null());
        command
    }

    /// Runs `vouch ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_command(self.command(args))
    }

    /// Runs `vouch ARGS` with `VOUCH_PASSPHRASE` set.
    pub fn run_with_passphrase(&self, passphrase: &str, args: &[&str]) -> Run {
        let mut command = self.command(args);
        command.env("VOUCH_PASSPHRASE", passphrase);
        self.run_command(command)
    }

    /// Runs a prepared command and collects its output.
    pub fn run_command(&self, mut command: Command) -> Run {
        let output: Output = command.output().expect("run the vouch binary");
        Run {
            code: output.status.code(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Generates an unencrypted key and returns its key id.
    pub fn generate_unencrypted(&self, name: &str) -> String {
        self.run(&["keys", "generate", name, "--no-passphrase"]).success().stdout.trim().to_owned()
    }
}

/// Returns the URL of a loopback port that nothing listens on: one the system just
/// gave out and that was closed again.
pub fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    let port = listener.local_addr().expect("read the bound address").port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// Returns the corpus folder, or `None` after printing the skip message.
pub fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VOUCH_CORPUS") {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            println!("{CORPUS_SKIP}");
            None
        }
    }
}

/// Runs `python3 -c SCRIPT ARGS` (standard library only) and returns its stdout.
pub fn python3(script: &str, args: &[&Path]) -> String {
    let output = Command::new("python3").arg("-c").arg(script).args(args).output().expect("run python3");
    assert!(output.status.success(), "python3 failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("python3 output is UTF-8")
}

/// Returns the permission bits of `path`.
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("stat").permissions().mode() & 0o777
}
