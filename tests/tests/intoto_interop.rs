//! DSSE and in-toto interoperability with the reference Python tools: securesystemslib
//! 1.6 signs what Vouch verifies, and Vouch signs what securesystemslib verifies, with
//! one ed25519 key on both sides.
//!
//! securesystemslib 1.6 writes private keys only as PEM (PKCS#8), not in the legacy
//! JSON format with `keyval.private`. The Python side therefore writes that legacy file
//! itself from the key's raw 32 bytes, which is the format in-toto's older releases and
//! `vouch keys import` read.

use std::path::{Path, PathBuf};
use std::process::Command;

use vouch_protocol::dsse::Envelope;
use vouch_protocol::input::{DEFAULT_INPUT_BYTES_MAX, read_file_bounded};
use vouch_protocol::intoto::{PAYLOAD_TYPE, Statement, Subject};
use vouch_protocol::keys::sslib::{parse_private_key_json, parse_public_key_json, public_key_json};
use vouch_protocol::{Digest, KeyId, SigningKey};

/// The Python half: `sign DIR DIGEST_HEX`, `verify DIR ENVELOPE`, `keyid KEYFILE`.
const PYTHON_TOOL: &str = r#"
import hashlib, json, sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.formats import encode_canonical
from securesystemslib.signer import CryptoSigner, SSlibKey


def sign(folder, digest_hex):
    signer = CryptoSigner.generate_ed25519()
    public = signer.public_key
    statement = {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "registry.example/app", "digest": {"sha256": digest_hex}}],
        "predicateType": "https://example.com/interop/v1",
        "predicate": {"signedBy": "securesystemslib"},
    }
    envelope = Envelope(json.dumps(statement).encode(), "application/vnd.in-toto+json", {})
    envelope.sign(signer)

    raw = load_pem_private_key(signer.private_bytes, None).private_bytes_raw()
    private = {
        "keyid": public.keyid,
        "keytype": public.keytype,
        "scheme": public.scheme,
        "keyval": {"public": public.keyval["public"], "private": raw.hex()},
    }
    folder = Path(folder)
    (folder / "envelope.json").write_text(json.dumps(envelope.to_dict()))
    (folder / "key.pub").write_text(json.dumps(public.to_dict()))
    (folder / "key.json").write_text(json.dumps(private))
    (folder / "keyid.txt").write_text(public.keyid)


def verify(folder, envelope_name):
    folder = Path(folder)
    keyid = (folder / "keyid.txt").read_text()
    key = SSlibKey.from_dict(keyid, json.loads((folder / "key.pub").read_text()))
    envelope = Envelope.from_dict(json.loads((folder / envelope_name).read_text()))
    try:
        accepted = envelope.verify([key], 1)
    except VerificationError as error:
        print(json.dumps({"verified": False, "error": str(error)}))
        return
    statement = json.loads(envelope.payload)
    print(json.dumps({
        "verified": True,
        "keyids": sorted(accepted),
        "payloadType": envelope.payload_type,
        "subjectDigests": [s["digest"]["sha256"] for s in statement["subject"]],
    }))


def keyid(path):
    # The in-toto legacy key id: sha256 of the canonical JSON of the whole public key dict.
    print(hashlib.sha256(encode_canonical(json.loads(Path(path).read_text())).encode()).hexdigest())


{"sign": sign, "verify": verify, "keyid": keyid}[sys.argv[1]](*sys.argv[2:])
"#;

const FIX: &str = "run scripts/python-env to create .venv with in-toto and securesystemslib, then run the tests \
                   through scripts/test, which sets VOUCH_PYTHON=.venv/bin/python";

struct Python {
    interpreter: PathBuf,
    script: PathBuf,
}

impl Python {
    /// Finds the interpreter from VOUCH_PYTHON and checks that it imports the tools.
    fn new(folder: &Path) -> Python {
        let interpreter = std::env::var_os("VOUCH_PYTHON").unwrap_or_else(|| panic!("VOUCH_PYTHON is not set: {FIX}"));
        let interpreter = PathBuf::from(interpreter);
        let check = Command::new(&interpreter)
            .args(["-c", "import in_toto, securesystemslib.dsse, securesystemslib.signer, cryptography"])
            .output()
            .unwrap_or_else(|error| panic!("cannot run VOUCH_PYTHON={}: {error}; {FIX}", interpreter.display()));
        assert!(
            check.status.success(),
            "VOUCH_PYTHON={} cannot import in_toto or securesystemslib: {}; {FIX}",
            interpreter.display(),
            String::from_utf8_lossy(&check.stderr)
        );

        let script = folder.join("interop.py");
        std::fs::write(&script, PYTHON_TOOL).unwrap();
        Python { interpreter, script }
    }

    /// Runs one subcommand of the Python tool and returns its standard output.
    fn run(&self, args: &[&str]) -> String {
        let output = Command::new(&self.interpreter).arg(&self.script).args(args).output().unwrap();
        assert!(output.status.success(), "python {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    fn verify(&self, folder: &Path, envelope_name: &str) -> serde_json::Value {
        serde_json::from_str(&self.run(&["verify", folder.to_str().unwrap(), envelope_name])).unwrap()
    }
}

fn read(path: &Path) -> Vec<u8> {
    read_file_bounded(path, DEFAULT_INPUT_BYTES_MAX).unwrap()
}

fn statement_about(digest: &Digest) -> Statement {
    let subject = Subject {
        name: "registry.example/app".to_owned(),
        digest: [("sha256".to_owned(), digest.hex().to_owned())].into_iter().collect(),
    };
    Statement::new(vec![subject], "https://example.com/interop/v1", serde_json::json!({"signedBy": "vouch"})).unwrap()
}

#[test]
fn python_and_vouch_sign_for_each_other() {
    let folder = tempfile::tempdir().unwrap();
    let dir = folder.path();
    let python = Python::new(dir);
    let image = Digest::sha256(b"interop image manifest");

    // Direction 1: securesystemslib signs, Vouch verifies.
    python.run(&["sign", dir.to_str().unwrap(), image.hex()]);
    let (public_key, keyid) = parse_public_key_json("key.pub", &read(&dir.join("key.pub"))).unwrap();
    let python_keyid = String::from_utf8(read(&dir.join("keyid.txt"))).unwrap();
    assert_eq!(keyid.as_str(), python_keyid, "Vouch computes another key id than securesystemslib");

    let envelope = Envelope::from_json("envelope.json", &read(&dir.join("envelope.json"))).unwrap();
    let trusted = [(keyid.clone(), public_key)];
    let verified = envelope.verify(&trusted, 1).unwrap();
    assert_eq!(verified.signers(), std::slice::from_ref(&keyid));
    let statement = Statement::from_envelope("envelope.json", &verified).unwrap();
    assert!(statement.subject_matches(&image));
    assert!(!statement.subject_matches(&Digest::sha256(b"another image")));

    // Direction 2: Vouch imports the same key and signs, securesystemslib verifies.
    let (signing_key, imported_keyid) = parse_private_key_json("key.json", &read(&dir.join("key.json"))).unwrap();
    assert_eq!(imported_keyid, keyid);
    assert_eq!(signing_key.public_key(), public_key);

    let other_image = Digest::sha256(b"second image");
    let payload = statement_about(&other_image).to_json_bytes();
    let envelope = Envelope::sign(PAYLOAD_TYPE, payload, &[(&keyid, &signing_key)]).unwrap();
    std::fs::write(dir.join("vouch-envelope.json"), envelope.to_json()).unwrap();
    let report = python.verify(dir, "vouch-envelope.json");
    assert_eq!(report["verified"], true, "{report}");
    assert_eq!(report["keyids"], serde_json::json!([keyid.as_str()]));
    assert_eq!(report["payloadType"], PAYLOAD_TYPE);
    assert_eq!(report["subjectDigests"], serde_json::json!([other_image.hex()]));

    // securesystemslib really checks the signature: a changed payload is rejected.
    let mut tampered = envelope.clone();
    tampered.payload = statement_about(&image).to_json_bytes();
    std::fs::write(dir.join("tampered.json"), tampered.to_json()).unwrap();
    let report = python.verify(dir, "tampered.json");
    assert_eq!(report["verified"], false, "{report}");
}

#[test]
fn vouch_keyid_matches_legacy_keyid() {
    let folder = tempfile::tempdir().unwrap();
    let python = Python::new(folder.path());
    let key = SigningKey::from_seed(&[0x5a; 32]).public_key();
    let path = folder.path().join("vouch.pub");
    std::fs::write(&path, public_key_json(&key)).unwrap();

    let python_keyid = python.run(&["keyid", path.to_str().unwrap()]);
    assert_eq!(python_keyid.trim(), KeyId::of(&key).as_str());
}
