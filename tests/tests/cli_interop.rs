//! Interoperability of the `vouch` binary with Python securesystemslib and in-toto:
//! Python makes an ed25519 key, `vouch keys import` stores it, `vouch attest
//! --statement --dry-run` signs, and Python verifies the envelope with that key.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Image the statement is about.
const IMAGE_NAME: &str = "registry.example/interop/app";
const IMAGE_HEX: &str = "8f3c9a0a6b1f2e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9a0f1e2d3c4b5a6f7e8d";

/// Makes an ed25519 key with `cryptography`, computes its key id with
/// securesystemslib's `SSlibKey.from_crypto`, and writes the securesystemslib key JSON
/// (public and private hex) and an in-toto v1 statement. Prints the key id.
const PYTHON_MAKE: &str = r#"
import json, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import SSlibKey
key_path, statement_path, name, hex_digest = sys.argv[1:5]
private = Ed25519PrivateKey.generate()
seed = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
public = SSlibKey.from_crypto(private.public_key())
key = {"keyid": public.keyid, "keytype": public.keytype, "scheme": public.scheme,
       "keyval": {"public": public.keyval["public"], "private": seed.hex()}}
json.dump(key, open(key_path, "w"))
statement = {"_type": "https://in-toto.io/Statement/v1",
             "subject": [{"name": name, "digest": {"sha256": hex_digest}}],
             "predicateType": "https://example.com/interop/v1",
             "predicate": {"made_by": "python securesystemslib"}}
open(statement_path, "w").write(json.dumps(statement))
print(public.keyid)
"#;

/// Verifies the envelope with securesystemslib's DSSE code and the Python-made key,
/// parses it with in-toto's metadata model, and checks the payload is the statement.
const PYTHON_VERIFY: &str = r#"
import json, sys
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
from in_toto.models.metadata import Metadata
key_path, envelope_path, statement_path = sys.argv[1:4]
key_json = json.load(open(key_path))
key = SSlibKey(key_json["keyid"], key_json["keytype"], key_json["scheme"], {"public": key_json["keyval"]["public"]})
envelope = Envelope.from_dict(json.load(open(envelope_path)))
verified = envelope.verify([key], 1)
assert list(verified) == [key.keyid], verified
assert envelope.payload == open(statement_path, "rb").read(), "payload differs from the statement"
assert envelope.payload_type == "application/vnd.in-toto+json", envelope.payload_type
metadata = Metadata.load(envelope_path)
assert isinstance(metadata, Envelope), type(metadata)
print("verified", key.keyid)
"#;

/// Returns the Python of the venv that `scripts/python-env` prepares, failing with the
/// fix when it is missing or lacks the packages.
fn python() -> PathBuf {
    let fix = "run `scripts/python-env` and set VOUCH_PYTHON=.venv/bin/python (scripts/test does both)";
    let Some(python) = std::env::var_os("VOUCH_PYTHON") else {
        panic!("VOUCH_PYTHON is not set; {fix}");
    };
    let check = Command::new(&python)
        .args(["-c", "import securesystemslib.dsse, securesystemslib.signer, in_toto.models.metadata, cryptography"])
        .output()
        .unwrap_or_else(|error| panic!("cannot run VOUCH_PYTHON {python:?}: {error}; {fix}"));
    assert!(
        check.status.success(),
        "VOUCH_PYTHON cannot import securesystemslib and in-toto: {}; {fix}",
        String::from_utf8_lossy(&check.stderr)
    );
    PathBuf::from(python)
}

/// Finds the `vouch` binary that cargo built beside this test executable.
fn vouch_binary() -> PathBuf {
    let test_exe = std::env::current_exe().expect("path of the test executable");
    let profile_dir = test_exe.parent().and_then(Path::parent).expect("the test runs from target/<profile>/deps");
    let binary = profile_dir.join(format!("vouch{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} not found; build it with `cargo build -p vouch-cli` or run `cargo test --workspace`",
        binary.display()
    );
    binary
}

fn run(program: &Path, args: &[&std::ffi::OsStr], keyring: &Path) -> Output {
    let output = Command::new(program)
        .arg("--keyring")
        .arg(keyring)
        .args(args)
        .env_remove("VOUCH_PASSPHRASE")
        .stdin(Stdio::null())
        .output()
        .expect("run vouch");
    assert!(output.status.success(), "vouch {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn run_python(python: &Path, script: &str, args: &[&Path], extra: &[&str]) -> String {
    let output = Command::new(python).arg("-c").arg(script).args(args).args(extra).output().expect("run python");
    assert!(output.status.success(), "python failed:\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("python prints UTF-8")
}

#[test]
fn python_key_round_trip_through_cli() {
    let python = python();
    let vouch = vouch_binary();
    let dir = tempfile::tempdir().unwrap();
    let (key_path, statement_path) = (dir.path().join("key.json"), dir.path().join("statement.json"));
    let envelope_path = dir.path().join("envelope.json");
    let keyring = dir.path().join("keyring");

    let python_keyid = run_python(&python, PYTHON_MAKE, &[&key_path, &statement_path], &[IMAGE_NAME, IMAGE_HEX]);
    let imported = run(
        &vouch,
        &["keys".as_ref(), "import".as_ref(), "py".as_ref(), key_path.as_os_str(), "--no-passphrase".as_ref()],
        &keyring,
    );
    assert_eq!(String::from_utf8_lossy(&imported.stdout).trim(), python_keyid.trim());

    let image = format!("{IMAGE_NAME}@sha256:{IMAGE_HEX}");
    let args: [&std::ffi::OsStr; 7] = [
        "attest".as_ref(),
        image.as_ref(),
        "--statement".as_ref(),
        statement_path.as_os_str(),
        "--key".as_ref(),
        "py".as_ref(),
        "--dry-run".as_ref(),
    ];
    let signed = run(&vouch, &args, &keyring);
    std::fs::write(&envelope_path, &signed.stdout).unwrap();

    let verified = run_python(&python, PYTHON_VERIFY, &[&key_path, &envelope_path, &statement_path], &[]);
    assert_eq!(verified.trim(), format!("verified {}", python_keyid.trim()));
}
