//! Black-box tests of `vouch keys` against a temporary keyring.

mod common;

use common::{Vouch, python3};
use serde_json::Value;

fn list_json(vouch: &Vouch) -> Vec<Value> {
    let run = vouch.run(&["keys", "list", "--output", "json"]).success();
    serde_json::from_str::<Value>(&run.stdout).unwrap().as_array().unwrap().clone()
}

#[test]
fn generate_without_passphrase_is_listed_unencrypted() {
    let vouch = Vouch::new();
    let keyid = vouch.generate_unencrypted("ci");
    assert_eq!(keyid.len(), 64, "{keyid}");

    let keys = list_json(&vouch);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["name"], "ci");
    assert_eq!(keys[0]["keyid"], keyid.as_str());
    assert_eq!(keys[0]["encrypted"], false);
    assert_eq!(keys[0]["kind"], "signing");

    let table = vouch.run(&["keys", "list"]).success().stdout;
    let row = table.lines().find(|line| line.starts_with("ci ")).unwrap();
    assert!(row.contains(&keyid), "{table}");
    assert!(row.contains(" no "), "{table}");
    let show = vouch.run(&["keys", "show", "ci"]).success();
    assert!(show.stderr.contains("UNENCRYPTED"), "{}", show.stderr);
}

#[test]
fn generate_with_passphrase_is_listed_encrypted() {
    let vouch = Vouch::new();
    let keyid = vouch.run_with_passphrase("hunter2", &["keys", "generate", "alice"]).success().stdout;
    let keys = list_json(&vouch);
    assert_eq!(keys[0]["keyid"], keyid.trim());
    assert_eq!(keys[0]["encrypted"], true);
    let file = std::fs::read_to_string(vouch.keyring().join("alice.json")).unwrap();
    assert!(file.contains("argon2id-xchacha20poly1305"), "{file}");
    assert!(!file.contains("\"seed\""), "{file}");
}

#[test]
fn generate_without_any_passphrase_source_fails() {
    let vouch = Vouch::new();
    let run = vouch.run(&["keys", "generate", "alice"]).failure();
    assert!(run.stderr.contains("VOUCH_PASSPHRASE"), "{}", run.stderr);
    assert!(run.stderr.contains("--no-passphrase"), "{}", run.stderr);
    assert!(!vouch.keyring().join("alice.json").exists());
}

#[test]
fn passphrase_file_unlocks_export() {
    let vouch = Vouch::new();
    let pass = vouch.path("pass.txt");
    std::fs::write(&pass, "from a file\n").unwrap();
    let pass = pass.to_str().unwrap();
    vouch.run(&["keys", "generate", "alice", "--passphrase-file", pass]).success();
    let export = vouch.run(&["keys", "export", "alice", "--private", "--passphrase-file", pass]).success();
    assert!(export.stdout.contains("\"private\""), "{}", export.stdout);
    let wrong = vouch.run_with_passphrase("from a file\n", &["keys", "export", "alice", "--private"]).failure();
    assert!(wrong.stderr.contains("wrong passphrase"), "{}", wrong.stderr);
}

#[test]
fn wrong_passphrase_is_a_clear_error() {
    let vouch = Vouch::new();
    vouch.run_with_passphrase("right", &["keys", "generate", "alice"]).success();
    let run = vouch.run_with_passphrase("wrong", &["keys", "export", "alice", "--private"]).failure();
    assert_eq!(run.stderr.trim(), "error: cannot decrypt key `alice`: wrong passphrase, or the key file was modified");
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[test]
fn swapped_ciphertext_does_not_decrypt() {
    let vouch = Vouch::new();
    vouch.run_with_passphrase("same", &["keys", "generate", "alice"]).success();
    vouch.run_with_passphrase("same", &["keys", "generate", "bob"]).success();
    let alice: Value =
        serde_json::from_str(&std::fs::read_to_string(vouch.keyring().join("alice.json")).unwrap()).unwrap();
    let bob_path = vouch.keyring().join("bob.json");
    let mut bob: Value = serde_json::from_str(&std::fs::read_to_string(&bob_path).unwrap()).unwrap();
    bob["private"] = alice["private"].clone();
    std::fs::write(&bob_path, serde_json::to_vec(&bob).unwrap()).unwrap();

    let run = vouch.run_with_passphrase("same", &["keys", "export", "bob", "--private"]).failure();
    assert!(run.stderr.contains("cannot decrypt key `bob`"), "{}", run.stderr);
}

#[cfg(unix)]
#[test]
fn keyring_and_key_files_are_owner_only() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    vouch.run_with_passphrase("pw", &["keys", "generate", "alice"]).success();
    assert_eq!(common::mode(&vouch.keyring()), 0o700);
    assert_eq!(common::mode(&vouch.keyring().join("ci.json")), 0o600);
    assert_eq!(common::mode(&vouch.keyring().join("alice.json")), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(vouch.keyring()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 2, "{leftovers:?}");
}

#[cfg(unix)]
#[test]
fn open_key_file_mode_is_warned() {
    use std::os::unix::fs::PermissionsExt;
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let path = vouch.keyring().join("ci.json");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = vouch.run(&["keys", "show", "ci"]).success();
    assert!(run.stderr.contains("chmod 600"), "{}", run.stderr);
}

#[test]
fn duplicate_name_needs_force() {
    let vouch = Vouch::new();
    let first = vouch.generate_unencrypted("ci");
    let run = vouch.run(&["keys", "generate", "ci", "--no-passphrase"]).failure();
    assert!(run.stderr.contains("key `ci` already exists"), "{}", run.stderr);
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(list_json(&vouch)[0]["keyid"], first.as_str());

    let second = vouch.run(&["keys", "generate", "ci", "--no-passphrase", "--force"]).success().stdout;
    assert_ne!(second.trim(), first);
    assert_eq!(list_json(&vouch)[0]["keyid"], second.trim());
}

#[test]
fn bad_names_are_rejected_with_the_value() {
    let vouch = Vouch::new();
    let long = "n".repeat(65);
    for name in ["a/b", "..", "white space", long.as_str()] {
        let run = vouch.run(&["keys", "generate", name, "--no-passphrase"]).failure();
        assert!(run.stderr.contains(&format!("invalid key name `{name}`")), "{}", run.stderr);
    }
    vouch.run(&["keys", "generate", &"n".repeat(64), "--no-passphrase"]).success();
}

#[test]
fn missing_key_names_the_keyring() {
    let vouch = Vouch::new();
    let run = vouch.run(&["keys", "show", "nobody"]).failure();
    assert!(run.stderr.contains("no key named `nobody`"), "{}", run.stderr);
    assert!(run.stderr.contains(vouch.keyring().to_str().unwrap()), "{}", run.stderr);
}

#[test]
fn delete_requires_yes_without_terminal() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let run = vouch.run(&["keys", "delete", "ci"]).failure();
    assert!(run.stderr.contains("pass --yes"), "{}", run.stderr);
    assert!(vouch.keyring().join("ci.json").exists());

    vouch.run(&["keys", "delete", "ci", "--yes"]).success();
    assert!(!vouch.keyring().join("ci.json").exists());
    assert!(list_json(&vouch).is_empty());
    let again = vouch.run(&["keys", "delete", "ci", "--yes"]).failure();
    assert!(again.stderr.contains("no key named `ci`"), "{}", again.stderr);
}

#[test]
fn export_import_round_trip_keeps_keyid() {
    let vouch = Vouch::new();
    let keyid = vouch.run_with_passphrase("pw", &["keys", "generate", "alice"]).success().stdout.trim().to_owned();
    let exported = vouch.path("alice.sslib.json");
    let out = exported.to_str().unwrap();
    let run = vouch.run_with_passphrase("pw", &["keys", "export", "alice", "--private", "--out", out]).success();
    assert!(run.stderr.contains("warning:"), "{}", run.stderr);
    #[cfg(unix)]
    assert_eq!(common::mode(&exported), 0o600);

    let imported = vouch.run_with_passphrase("other", &["keys", "import", "alice2", out]).success().stdout;
    assert_eq!(imported.trim(), keyid);
    let public = vouch.run(&["keys", "show", "alice2"]).success().stdout;
    let original = vouch.run(&["keys", "show", "alice"]).success().stdout;
    assert_eq!(public, original);
}

#[test]
fn export_out_refuses_existing_file() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let out = vouch.path("ci.pub");
    std::fs::write(&out, "keep").unwrap();
    let run = vouch.run(&["keys", "export", "ci", "--out", out.to_str().unwrap()]).failure();
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep");
}

/// The key id of a securesystemslib key JSON file: SHA-256 of its public fields in
/// canonical JSON, computed with Python's json and hashlib modules.
const PYTHON_KEYID: &str = r#"
import hashlib, json, sys
key = json.load(open(sys.argv[1]))
fields = {k: key[k] for k in ("keytype", "scheme", "keyid_hash_algorithms") if k in key}
fields["keyval"] = {"public": key["keyval"]["public"]}
print(hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest())
"#;

#[test]
fn exported_public_key_matches_python_keyid() {
    let vouch = Vouch::new();
    let keyid = vouch.generate_unencrypted("ci");
    let public = vouch.path("ci.pub");
    vouch.run(&["keys", "export", "ci", "--out", public.to_str().unwrap()]).success();
    assert_eq!(python3(PYTHON_KEYID, &[&public]).trim(), keyid);
}

#[test]
fn public_only_import_cannot_export_private() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let public = vouch.path("ci.pub");
    vouch.run(&["keys", "export", "ci", "--out", public.to_str().unwrap()]).success();
    let keyid = vouch.run(&["keys", "import", "verifier", public.to_str().unwrap()]).success().stdout;

    let keys = list_json(&vouch);
    let verifier = keys.iter().find(|k| k["name"] == "verifier").unwrap();
    assert_eq!(verifier["kind"], "public-only");
    assert_eq!(verifier["keyid"], keyid.trim());
    let run = vouch.run(&["keys", "export", "verifier", "--private"]).failure();
    assert!(run.stderr.contains("holds only a public key"), "{}", run.stderr);
}

#[test]
fn import_keeps_keyid_without_hash_algorithms() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let exported = vouch.run(&["keys", "export", "ci", "--private"]).success().stdout;
    let mut key: Value = serde_json::from_str(&exported).unwrap();
    let object = key.as_object_mut().unwrap();
    object.remove("keyid");
    object.remove("keyid_hash_algorithms");
    let path = vouch.path("modern.json");
    std::fs::write(&path, serde_json::to_vec(&key).unwrap()).unwrap();

    let keyid = vouch.run(&["keys", "import", "modern", path.to_str().unwrap(), "--no-passphrase"]).success().stdout;
    assert_eq!(python3(PYTHON_KEYID, &[&path]).trim(), keyid.trim());
    let show = vouch.run(&["keys", "show", "modern"]).success().stdout;
    assert!(!show.contains("keyid_hash_algorithms"), "{show}");
}

#[test]
fn import_treats_empty_private_as_public() {
    let vouch = Vouch::new();
    let keyid = vouch.run(&["keys", "generate", "ci", "--no-passphrase"]).success().stdout;
    let shown = vouch.run(&["keys", "show", "ci"]).success().stdout;
    let mut key: Value = serde_json::from_str(&shown).unwrap();
    key["keyval"]["private"] = Value::String(String::new());
    let path = vouch.path("empty-private.json");
    std::fs::write(&path, serde_json::to_vec(&key).unwrap()).unwrap();

    let imported = vouch.run(&["keys", "import", "verifier", path.to_str().unwrap()]).success();
    assert_eq!(imported.stdout.trim(), keyid.trim());
    assert!(imported.stderr.contains("public key only"), "{}", imported.stderr);
}

#[test]
fn import_rejects_mismatched_keyid() {
    let vouch = Vouch::new();
    vouch.generate_unencrypted("ci");
    let exported = vouch.run(&["keys", "export", "ci", "--private"]).success().stdout;
    let mut key: Value = serde_json::from_str(&exported).unwrap();
    key["keyid"] = Value::String("0".repeat(64));
    let path = vouch.path("bad.json");
    std::fs::write(&path, serde_json::to_vec(&key).unwrap()).unwrap();
    let run = vouch.run(&["keys", "import", "bad", path.to_str().unwrap(), "--no-passphrase"]).failure();
    assert!(run.stderr.contains("field `keyid`"), "{}", run.stderr);
}

#[test]
fn import_corpus_public_key_matches_python_keyid() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let vouch = Vouch::new();
    let path = corpus.join("intoto/dsse-ed25519-pubkey.json");
    let keyid = vouch.run(&["keys", "import", "attestation-verifier", path.to_str().unwrap()]).success().stdout;
    assert_eq!(keyid.trim(), python3(PYTHON_KEYID, &[&path]).trim());
}

#[test]
fn import_of_truncated_file_names_offset() {
    let vouch = Vouch::new();
    let path = vouch.path("truncated.json");
    std::fs::write(&path, br#"{"keytype": "ed25519", "scheme": "ed25519", "keyval": {"pub"#).unwrap();
    let run = vouch.run(&["keys", "import", "t", path.to_str().unwrap()]).failure();
    assert!(run.stderr.contains("truncated.json"), "{}", run.stderr);
    assert!(run.stderr.contains("truncated"), "{}", run.stderr);
}

#[test]
fn usage_error_exits_2() {
    let vouch = Vouch::new();
    vouch.run(&["keys", "generate"]).expect_code(2);
    vouch.run(&["keys", "frobnicate"]).expect_code(2);
}

#[test]
fn list_skips_unreadable_key_file() {
    let vouch = Vouch::new();
    let keyid = vouch.generate_unencrypted("good");
    std::fs::write(vouch.keyring().join("broken.json"), b"{\"format\": \"vouch-key\"").unwrap();

    let run = vouch.run(&["keys", "list", "--output", "json"]).success();
    let keys: Vec<Value> = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["keyid"], keyid.as_str());
    assert!(run.stderr.contains("broken.json"), "{}", run.stderr);
}

/// Builds `vouch ARGS` without `--keyring`, with HOME and XDG_CONFIG_HOME inside the
/// test's temporary folder.
fn command_without_keyring_flag(vouch: &Vouch, args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_vouch"));
    command
        .args(args)
        .env_remove("VOUCH_PASSPHRASE")
        .env_remove("VOUCH_KEYRING")
        .env_remove("RUST_LOG")
        .env("HOME", vouch.path("home"))
        .env("XDG_CONFIG_HOME", vouch.path("config"))
        .stdin(std::process::Stdio::null());
    command
}

#[test]
fn keyring_env_names_the_folder() {
    let vouch = Vouch::new();
    let mut command = command_without_keyring_flag(&vouch, &["keys", "generate", "ci", "--no-passphrase"]);
    command.env("VOUCH_KEYRING", vouch.path("from-env"));
    vouch.run_command(command).success();
    assert!(vouch.path("from-env").join("ci.json").is_file());
    assert!(!vouch.path("config").exists());
}

#[test]
fn keyring_defaults_to_config_folder() {
    let vouch = Vouch::new();
    let command = command_without_keyring_flag(&vouch, &["keys", "generate", "ci", "--no-passphrase"]);
    vouch.run_command(command).success();
    assert!(vouch.path("config").join("vouch/keyring/ci.json").is_file());
}
