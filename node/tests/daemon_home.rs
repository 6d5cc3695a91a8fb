//! A real `vouchd start` on a home whose files are not regular files: each is named
//! and rejected with exit code 1 instead of blocking or being misread.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const VOUCHD: &str = env!("CARGO_BIN_EXE_vouchd");

/// Number of 100 ms polls before a start that has not exited counts as hung.
const EXIT_POLLS_MAX: u32 = 600;

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

fn init_home(home: &Path) {
    let output = Command::new(VOUCHD)
        .args(["init", "--home", path_str(home), "--chain-id", "home-test"])
        .output()
        .expect("vouchd runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// Starts the node and returns its exit code and stderr; a start that has not exited
/// after the bounded number of polls is killed and fails the test.
fn start(home: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(VOUCHD)
        .args(["start", "--home", path_str(home), "--api-addr", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vouchd runs");
    for _ in 0..EXIT_POLLS_MAX {
        if child.try_wait().expect("wait").is_some() {
            let output = child.wait_with_output().expect("output");
            return (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().expect("kill the hung start");
    panic!("vouchd start did not exit: it blocks on the home's files");
}

fn make_fifo(path: &Path) {
    std::fs::remove_file(path).expect("remove the file");
    let status = Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
    assert!(status.success());
}

#[test]
fn fifo_home_files_are_named() {
    for file in ["config.toml", "genesis.json", "node_key.json"] {
        let home = tempfile::tempdir().expect("temporary folder");
        init_home(home.path());
        let path = home.path().join(file);
        make_fifo(&path);
        let (code, message) = start(home.path());
        assert_eq!(code, Some(1), "{file}: {message}");
        assert!(message.contains(&format!("{} is a FIFO, not a regular file", path.display())), "{message}");
    }
}

#[test]
fn config_linked_to_a_device_is_named() {
    let home = tempfile::tempdir().expect("temporary folder");
    init_home(home.path());
    let config = home.path().join("config.toml");
    std::fs::remove_file(&config).expect("remove");
    std::os::unix::fs::symlink("/dev/zero", &config).expect("symlink");
    let (code, message) = start(home.path());
    assert_eq!(code, Some(1), "{message}");
    assert!(message.contains("is a device, not a regular file"), "{message}");
    assert!(!message.contains("not a node home"), "{message}");
}

#[test]
fn lock_file_link_is_not_followed() {
    let home = tempfile::tempdir().expect("temporary folder");
    init_home(home.path());
    let outside = tempfile::NamedTempFile::new().expect("temporary file");
    std::fs::write(outside.path(), "keep me").expect("write");
    std::os::unix::fs::symlink(outside.path(), home.path().join("vouchd.lock")).expect("symlink");
    let (code, message) = start(home.path());
    assert_eq!(code, Some(1), "{message}");
    assert!(message.contains("vouchd.lock is not a regular file"), "{message}");
    assert_eq!(std::fs::read_to_string(outside.path()).expect("read"), "keep me");
}
