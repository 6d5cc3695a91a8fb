//! Tests of OCI content reading and image resolution on the shared corpus and on
//! layouts written here.
//!
//! Expected digests and platforms of corpus files come from Python's hashlib and json
//! modules, and fixture digests from the sha2 crate, never from the code under test.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use tempfile::TempDir;
use vouch_protocol::InputError;
use vouch_protocol::oci::{
    self, Chosen, INDEX_NESTING_MAX, LayoutLocation, LayoutOptions, MANIFEST_BYTES_MAX, Manifest, OCI_IMAGE_CONFIG,
    OCI_INDEX, OCI_LAYOUT_BYTES_MAX, OCI_MANIFEST, OciError, Platform,
};

// ---------------------------------------------------------------------------------
// Independent readings

/// Prints the sha256 of a manifest file, its mediaType, whether it is an index, and
/// the platform and digest of each image entry (attestation manifests left out).
const PYTHON_VIEW: &str = r#"
import hashlib, json, sys
data = open(sys.argv[1], 'rb').read()
doc = json.loads(data)
entries = []
for m in doc.get('manifests', []):
    p = m.get('platform')
    if p is None:
        continue
    kind = m.get('annotations', {}).get('vnd.docker.reference.type')
    if (p['os'] == 'unknown' and p['architecture'] == 'unknown') or kind == 'attestation-manifest':
        continue
    name = p['os'] + '/' + p['architecture'] + ('/' + p['variant'] if p.get('variant') else '')
    entries.append([name, m['digest']])
print(json.dumps({
    'digest': 'sha256:' + hashlib.sha256(data).hexdigest(),
    'media_type': doc.get('mediaType'),
    'index': 'manifests' in doc,
    'layers': len(doc.get('layers', [])),
    'entries': entries,
}))
"#;

/// Python's reading of one manifest file.
struct View {
    digest: String,
    media_type: Option<String>,
    is_index: bool,
    layers: usize,
    /// `(platform, digest)` of each image entry.
    entries: Vec<(String, String)>,
}

fn python(script: &str, args: &[&Path]) -> Value {
    let output = Command::new("python3").arg("-c").arg(script).args(args).output().expect("python3 runs");
    assert!(output.status.success(), "python3 failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("python3 prints JSON")
}

fn view(path: &Path) -> View {
    let value = python(PYTHON_VIEW, &[path]);
    let entries = value["entries"]
        .as_array()
        .expect("entries is a list")
        .iter()
        .map(|pair| (pair[0].as_str().unwrap().to_owned(), pair[1].as_str().unwrap().to_owned()))
        .collect();
    View {
        digest: value["digest"].as_str().unwrap().to_owned(),
        media_type: value["media_type"].as_str().map(str::to_owned),
        is_index: value["index"].as_bool().unwrap(),
        layers: value["layers"].as_u64().unwrap() as usize,
        entries,
    }
}

fn corpus_oci() -> Option<PathBuf> {
    match std::env::var_os("VOUCH_CORPUS") {
        Some(dir) => Some(PathBuf::from(dir).join("oci")),
        None => {
            println!("skipped: VOUCH_CORPUS is not set (point it at the shared corpus folder)");
            None
        }
    }
}

/// Lists the manifest and index files of the corpus, without the layout directory.
fn corpus_manifest_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("corpus oci folder is readable")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "expected the corpus manifests in {}", dir.display());
    files
}

fn platform(text: &str) -> Platform {
    Platform::parse(text).unwrap()
}

fn names(platforms: &[Platform]) -> Vec<String> {
    platforms.iter().map(ToString::to_string).collect()
}

// ---------------------------------------------------------------------------------
// Corpus files

#[test]
fn corpus_manifests_resolve_to_file_digest() {
    let Some(dir) = corpus_oci() else { return };
    for path in corpus_manifest_files(&dir) {
        let expected = view(&path);
        let resolved = oci::resolve_manifest_file(&path, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(resolved.digest.to_string(), expected.digest, "{}", path.display());
        assert_eq!(resolved.size, std::fs::metadata(&path).unwrap().len(), "{}", path.display());
        if let Some(media_type) = &expected.media_type {
            assert_eq!(&resolved.media_type, media_type, "{}", path.display());
        }
        match resolved.chosen {
            Chosen::Index { platforms } => {
                assert!(expected.is_index, "{} resolved as an index", path.display());
                let expected_names: Vec<String> = expected.entries.iter().map(|(name, _)| name.clone()).collect();
                assert_eq!(names(&platforms), expected_names, "{}", path.display());
            }
            Chosen::SingleManifest => assert!(!expected.is_index, "{} resolved as a manifest", path.display()),
            other => panic!("{}: unexpected choice {other}", path.display()),
        }
    }
}

#[test]
fn corpus_platforms_select_their_entry() {
    let Some(dir) = corpus_oci() else { return };
    let mut selected = 0;
    for path in corpus_manifest_files(&dir) {
        let expected = view(&path);
        for (name, digest) in &expected.entries {
            let resolved = oci::resolve_manifest_file(&path, Some(&platform(name))).unwrap();
            assert_eq!(resolved.digest.to_string(), *digest, "{name} in {}", path.display());
            let Chosen::PlatformManifest { platform: chosen, index, platforms } = &resolved.chosen else {
                panic!("{name} in {}: chose {}", path.display(), resolved.chosen);
            };
            assert_eq!(chosen.to_string(), *name);
            assert_eq!(index.to_string(), expected.digest);
            assert_eq!(platforms.len(), expected.entries.len());
            let display = resolved.chosen.to_string();
            assert_eq!(display, format!("platform manifest {name} of index {}", expected.digest));
            selected += 1;
        }
    }
    assert!(selected >= 10, "only {selected} platform entries in the corpus");
}

#[test]
fn corpus_missing_platform_lists_available() {
    let Some(dir) = corpus_oci() else { return };
    for path in corpus_manifest_files(&dir) {
        let expected = view(&path);
        if !expected.is_index {
            continue;
        }
        let error = oci::resolve_manifest_file(&path, Some(&platform("windows/riscv64"))).unwrap_err();
        assert!(matches!(error, OciError::PlatformNotFound { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("windows/riscv64"), "{message}");
        for (name, _) in &expected.entries {
            assert!(message.contains(name.as_str()), "{message} lacks {name}");
        }
    }
}

#[test]
fn corpus_attestation_manifests_are_skipped() {
    let Some(dir) = corpus_oci() else { return };
    let path = dir.join("oci-index-buildx-with-attestation-manifests.json");
    let all = python("import json,sys; print(json.dumps(len(json.load(open(sys.argv[1]))['manifests'])))", &[&path]);
    let expected = view(&path);
    assert!(all.as_u64().unwrap() as usize > expected.entries.len(), "the fixture has attestation entries");

    let error = oci::resolve_manifest_file(&path, Some(&platform("unknown/unknown"))).unwrap_err();
    assert!(matches!(error, OciError::PlatformNotFound { .. }), "{error:?}");
    let resolved = oci::resolve_manifest_file(&path, None).unwrap();
    let Chosen::Index { platforms } = resolved.chosen else { panic!("not an index") };
    assert!(platforms.iter().all(|p| p.os != "unknown"), "{platforms:?}");
}

#[test]
fn corpus_docker_variants_match_short_forms() {
    let Some(dir) = corpus_oci() else { return };
    let path = dir.join("docker-manifest-list-v2-5arch.json");
    let expected = view(&path);
    let digest_of = |name: &str| expected.entries.iter().find(|(n, _)| n == name).map(|(_, d)| d.clone()).unwrap();

    let arm = oci::resolve_manifest_file(&path, Some(&platform("linux/arm/v7"))).unwrap();
    assert_eq!(arm.digest.to_string(), digest_of("linux/arm/armv7"));
    let arm64 = oci::resolve_manifest_file(&path, Some(&platform("linux/arm64"))).unwrap();
    assert_eq!(arm64.digest.to_string(), digest_of("linux/arm64/armv8"));
    let amd64 = oci::resolve_manifest_file(&path, Some(&platform("linux/x86_64"))).unwrap();
    assert_eq!(amd64.digest.to_string(), digest_of("linux/amd64"));
}

#[test]
fn corpus_manifests_parse_with_their_layers() {
    let Some(dir) = corpus_oci() else { return };
    for path in corpus_manifest_files(&dir) {
        let expected = view(&path);
        let bytes = std::fs::read(&path).unwrap();
        match oci::parse_manifest(&path.display().to_string(), &bytes).unwrap() {
            Manifest::Image(image) => {
                assert!(!expected.is_index);
                assert_eq!(image.layers.len(), expected.layers, "{}", path.display());
            }
            Manifest::Index(index) => {
                assert!(expected.is_index);
                assert_eq!(index.image_entries().count(), expected.entries.len(), "{}", path.display());
            }
        }
    }
}

/// Prints the digest and mediaType of the only `index.json` entry and the sha256 of
/// the blob file it names.
const PYTHON_LAYOUT: &str = r#"
import hashlib, json, os, sys
root = sys.argv[1]
entry = json.load(open(os.path.join(root, 'index.json')))['manifests'][0]
algorithm, encoded = entry['digest'].split(':')
blob = open(os.path.join(root, 'blobs', algorithm, encoded), 'rb').read()
print(json.dumps({'descriptor': entry['digest'], 'media_type': entry['mediaType'],
                  'computed': 'sha256:' + hashlib.sha256(blob).hexdigest()}))
"#;

#[test]
fn corpus_layout_resolves_its_manifest() {
    let Some(dir) = corpus_oci() else { return };
    let layout = dir.join("layout-one-image");
    let expected = python(PYTHON_LAYOUT, &[&layout]);
    assert_eq!(expected["descriptor"], expected["computed"]);

    let resolved = oci::resolve_layout(&layout, None, None).unwrap();
    assert_eq!(resolved.digest.to_string(), expected["computed"].as_str().unwrap());
    assert_eq!(resolved.media_type, expected["media_type"].as_str().unwrap());
    assert_eq!(resolved.chosen, Chosen::SingleManifest);

    let location = LayoutLocation::parse(&format!("oci:{}", layout.display())).unwrap();
    assert_eq!(location.resolve(Some(&platform("linux/amd64"))).unwrap(), resolved);
}

#[test]
fn corpus_layout_without_names_lists_digests() {
    let Some(dir) = corpus_oci() else { return };
    let layout = dir.join("layout-one-image");
    let expected = python(PYTHON_LAYOUT, &[&layout]);
    let error = oci::resolve_layout(&layout, Some("latest"), None).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("no image is named `latest`"), "{message}");
    assert!(message.contains(expected["descriptor"].as_str().unwrap()), "{message}");
}

#[test]
fn descriptor_media_type_yields_to_manifest_field() {
    let Some(dir) = corpus_oci() else { return };
    // The corpus blob is a Docker manifest that its source layout listed under the OCI
    // manifest media type. Registries serve the type that the manifest itself declares.
    let bytes = std::fs::read(dir.join("docker-v2s2-manifest-gcr-eebff607.json")).unwrap();
    let declared = python(
        "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))['mediaType']))",
        &[&dir.join("docker-v2s2-manifest-gcr-eebff607.json")],
    );
    let fixture = Fixture::new();
    let entry = fixture.blob(&bytes, OCI_MANIFEST);
    fixture.write_index(vec![entry.clone()]);
    let resolved = oci::resolve_layout(fixture.path(), None, None).unwrap();
    assert_eq!(resolved.media_type, declared.as_str().unwrap());
    assert_eq!(resolved.digest.to_string(), entry["digest"]);
}

// ---------------------------------------------------------------------------------
// Layouts written by the tests

/// An OCI layout in a temporary directory, written file by file.
struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let fixture = Fixture { dir: tempfile::tempdir().unwrap() };
        fixture.write_marker("1.0.0");
        fixture
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write_marker(&self, version: &str) {
        let text = json!({ "imageLayoutVersion": version }).to_string();
        std::fs::write(self.path().join("oci-layout"), text).unwrap();
    }

    /// Writes a blob and returns its descriptor.
    fn blob(&self, bytes: &[u8], media_type: &str) -> Value {
        let hex = hex::encode(Sha256::digest(bytes));
        let dir = self.path().join("blobs").join("sha256");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(&hex), bytes).unwrap();
        json!({ "mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len() })
    }

    fn blob_path(&self, descriptor: &Value) -> PathBuf {
        let digest = descriptor["digest"].as_str().unwrap();
        self.path().join("blobs").join("sha256").join(digest.strip_prefix("sha256:").unwrap())
    }

    /// Writes a distinct image manifest blob and returns its descriptor.
    fn image(&self, seed: &str) -> Value {
        let config = json!({ "mediaType": "application/vnd.oci.image.config.v1+json",
                             "digest": format!("sha256:{}", hex::encode(Sha256::digest(seed))), "size": 2 });
        let manifest = json!({ "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [] });
        self.blob(manifest.to_string().as_bytes(), OCI_MANIFEST)
    }

    /// Writes an image config for `platform` (`os/architecture[/variant]`) and a
    /// manifest over it; returns the manifest's descriptor and the config bytes.
    fn image_with_config(&self, platform: &str, config_media_type: &str) -> (Value, Vec<u8>) {
        let parts: Vec<&str> = platform.split('/').collect();
        let mut config = json!({ "os": parts[0], "architecture": parts[1], "rootfs": { "type": "layers" } });
        if let Some(variant) = parts.get(2) {
            config["variant"] = json!(variant);
        }
        let config_bytes = config.to_string().into_bytes();
        let config_descriptor = self.blob(&config_bytes, config_media_type);
        let manifest =
            json!({ "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_descriptor, "layers": [] });
        (self.blob(manifest.to_string().as_bytes(), OCI_MANIFEST), config_bytes)
    }

    /// Writes an index blob over `entries` and returns its descriptor.
    fn index(&self, entries: Vec<Value>) -> Value {
        let index = json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries });
        self.blob(index.to_string().as_bytes(), OCI_INDEX)
    }

    fn write_index(&self, entries: Vec<Value>) {
        let index = json!({ "schemaVersion": 2, "manifests": entries });
        std::fs::write(self.path().join("index.json"), index.to_string()).unwrap();
    }
}

fn with_platform(mut descriptor: Value, text: &str) -> Value {
    let parts: Vec<&str> = text.split('/').collect();
    descriptor["platform"] = json!({ "os": parts[0], "architecture": parts[1] });
    if let Some(variant) = parts.get(2) {
        descriptor["platform"]["variant"] = json!(variant);
    }
    descriptor
}

fn named(mut descriptor: Value, name: &str) -> Value {
    descriptor["annotations"] = json!({ "org.opencontainers.image.ref.name": name });
    descriptor
}

fn digest_of(descriptor: &Value) -> String {
    descriptor["digest"].as_str().unwrap().to_owned()
}

#[test]
fn tampered_blob_names_both_digests() {
    let fixture = Fixture::new();
    let entry = fixture.image("a");
    fixture.write_index(vec![entry.clone()]);
    let path = fixture.blob_path(&entry);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let tampered = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));

    let error = oci::resolve_layout(fixture.path(), None, None).unwrap_err();
    assert!(matches!(error, OciError::BlobDigestMismatch { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&digest_of(&entry)), "{message}");
    assert!(message.contains(&tampered), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[test]
fn missing_blob_is_named() {
    let fixture = Fixture::new();
    let entry = fixture.image("a");
    std::fs::remove_file(fixture.blob_path(&entry)).unwrap();
    fixture.write_index(vec![entry.clone()]);
    let error = oci::resolve_layout(fixture.path(), None, None).unwrap_err();
    assert!(matches!(error, OciError::BlobMissing { .. }), "{error:?}");
    assert!(error.to_string().contains(&digest_of(&entry)), "{error}");
}

#[test]
fn blob_size_must_match_descriptor() {
    let fixture = Fixture::new();
    let mut entry = fixture.image("a");
    let size = entry["size"].as_u64().unwrap();
    entry["size"] = json!(size + 1);
    fixture.write_index(vec![entry]);
    let error = oci::resolve_layout(fixture.path(), None, None).unwrap_err();
    let OciError::BlobSizeMismatch { expected, found, .. } = error else { panic!("{error:?}") };
    assert_eq!(expected, size + 1);
    assert_eq!(found, size);
}

#[test]
fn oversized_descriptor_is_rejected_before_reading() {
    let fixture = Fixture::new();
    let mut entry = fixture.image("a");
    entry["size"] = json!(MANIFEST_BYTES_MAX + 1);
    fixture.write_index(vec![entry]);
    let error = oci::resolve_layout(fixture.path(), None, None).unwrap_err();
    assert!(matches!(error, OciError::BlobTooLarge { size, .. } if size == MANIFEST_BYTES_MAX + 1), "{error:?}");
}

#[test]
fn wrong_layout_version_is_rejected() {
    let fixture = Fixture::new();
    fixture.write_marker("2.0.0");
    fixture.write_index(vec![fixture.image("a")]);
    let error = oci::resolve_layout(fixture.path(), None, None).unwrap_err();
    assert!(matches!(error, OciError::UnsupportedLayoutVersion { .. }), "{error:?}");
    assert!(error.to_string().contains("`2.0.0`"), "{error}");
}

#[test]
fn missing_marker_is_not_a_layout() {
    let fixture = Fixture::new();
    std::fs::remove_file(fixture.path().join("oci-layout")).unwrap();
    let error = oci::resolve_layout(fixture.path(), None, None).unwrap_err();
    assert!(error.to_string().contains("`oci-layout` file is missing"), "{error}");
    let error = oci::resolve_layout(&fixture.path().join("absent"), None, None).unwrap_err();
    assert!(error.to_string().contains("does not exist"), "{error}");
}

#[test]
fn layout_marker_size_edge() {
    let fixture = Fixture::new();
    fixture.write_index(vec![fixture.image("a")]);
    let text = json!({ "imageLayoutVersion": "1.0.0" }).to_string();
    let padded = format!("{text}{}", " ".repeat(OCI_LAYOUT_BYTES_MAX as usize - text.len()));
    std::fs::write(fixture.path().join("oci-layout"), &padded).unwrap();
    assert!(oci::resolve_layout(fixture.path(), None, None).is_ok());

    std::fs::write(fixture.path().join("oci-layout"), format!("{padded} ")).unwrap();
    let error = oci::resolve_layout(fixture.path(), None, None).unwrap_err();
    assert!(matches!(error, OciError::Input(InputError::TooLarge { .. })), "{error:?}");
}

#[test]
fn index_json_must_be_an_index() {
    let fixture = Fixture::new();
    let manifest = json!({ "schemaVersion": 2, "config": fixture.image("c"), "layers": [] });
    std::fs::write(fixture.path().join("index.json"), manifest.to_string()).unwrap();
    let error = oci::resolve_layout(fixture.path(), None, None).unwrap_err();
    assert!(matches!(error, OciError::LayoutIndexNotIndex { .. }), "{error:?}");

    fixture.write_index(vec![]);
    let error = oci::resolve_layout(fixture.path(), None, None).unwrap_err();
    assert!(matches!(error, OciError::EmptyLayout { .. }), "{error:?}");
}

#[test]
fn tagged_entries_are_selected_by_name() {
    let fixture = Fixture::new();
    let v1 = named(fixture.image("one"), "v1");
    let v2 = named(fixture.image("two"), "v2");
    fixture.write_index(vec![v1.clone(), v2.clone()]);

    let first = oci::resolve_layout(fixture.path(), Some("v1"), None).unwrap();
    assert_eq!(first.digest.to_string(), digest_of(&v1));
    let second = oci::resolve_layout(fixture.path(), Some("v2"), None).unwrap();
    assert_eq!(second.digest.to_string(), digest_of(&v2));

    let error = oci::resolve_layout(fixture.path(), None, None).unwrap_err();
    assert!(matches!(error, OciError::SeveralImages { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("v1, v2"), "{message}");
    assert!(message.contains(":NAME`"), "{message}");

    let error = oci::resolve_layout(fixture.path(), Some("v3"), None).unwrap_err();
    assert!(error.to_string().contains("no image is named `v3`; available names: v1, v2"), "{error}");
}

#[test]
fn duplicate_names_are_reported() {
    let fixture = Fixture::new();
    let first = named(fixture.image("one"), "v1");
    let second = named(fixture.image("two"), "v1");
    fixture.write_index(vec![first.clone(), second.clone()]);
    let error = oci::resolve_layout(fixture.path(), Some("v1"), None).unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&digest_of(&first)), "{message}");
    assert!(message.contains(&digest_of(&second)), "{message}");
}

/// Writes a layout whose `index.json` names a multi-platform index with an attestation.
fn multi_platform_fixture() -> (Fixture, Value, Value, Value) {
    let fixture = Fixture::new();
    let amd64 = with_platform(fixture.image("amd64"), "linux/amd64");
    let arm64 = with_platform(fixture.image("arm64"), "linux/arm64");
    let mut attestation = with_platform(fixture.image("attestation"), "unknown/unknown");
    attestation["annotations"] = json!({ "vnd.docker.reference.type": "attestation-manifest" });
    let index = named(fixture.index(vec![amd64.clone(), arm64.clone(), attestation]), "multi");
    fixture.write_index(vec![index.clone()]);
    (fixture, index, amd64, arm64)
}

#[test]
fn nested_index_is_the_default_subject() {
    let (fixture, index, _, _) = multi_platform_fixture();
    let resolved = oci::resolve_layout(fixture.path(), Some("multi"), None).unwrap();
    assert_eq!(resolved.digest.to_string(), digest_of(&index));
    assert_eq!(resolved.media_type, OCI_INDEX);
    assert_eq!(resolved.chosen, Chosen::Index { platforms: vec![platform("linux/amd64"), platform("linux/arm64")] });
    assert_eq!(resolved.chosen.to_string(), "index (all platforms: linux/amd64, linux/arm64)");
}

#[test]
fn nested_index_selects_platform() {
    let (fixture, index, _, arm64) = multi_platform_fixture();
    let resolved = oci::resolve_layout(fixture.path(), Some("multi"), Some(&platform("linux/arm64"))).unwrap();
    assert_eq!(resolved.digest.to_string(), digest_of(&arm64));
    assert_eq!(resolved.media_type, OCI_MANIFEST);
    let Chosen::PlatformManifest { platform: chosen, index: from, .. } = &resolved.chosen else {
        panic!("chose {}", resolved.chosen);
    };
    assert_eq!(chosen.to_string(), "linux/arm64");
    assert_eq!(from.to_string(), digest_of(&index));
}

#[test]
fn nested_index_missing_platform_lists_available() {
    let (fixture, _, _, _) = multi_platform_fixture();
    let error = oci::resolve_layout(fixture.path(), None, Some(&platform("linux/s390x"))).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("no manifest for platform linux/s390x"), "{message}");
    assert!(message.contains("available platforms: linux/amd64, linux/arm64"), "{message}");
}

#[test]
fn selected_platform_blob_is_verified() {
    let (fixture, _, amd64, _) = multi_platform_fixture();
    std::fs::remove_file(fixture.blob_path(&amd64)).unwrap();
    let error = oci::resolve_layout(fixture.path(), None, Some(&platform("linux/amd64"))).unwrap_err();
    assert!(matches!(error, OciError::BlobMissing { .. }), "{error:?}");
}

#[test]
fn single_manifest_entry_checks_its_platform() {
    let fixture = Fixture::new();
    let (image, _) = fixture.image_with_config("linux/amd64", OCI_IMAGE_CONFIG);
    fixture.write_index(vec![with_platform(image, "linux/amd64")]);
    assert!(oci::resolve_layout(fixture.path(), None, Some(&platform("linux/amd64"))).is_ok());
    let error = oci::resolve_layout(fixture.path(), None, Some(&platform("linux/arm64"))).unwrap_err();
    assert!(error.to_string().contains("available platforms: linux/amd64"), "{error}");
}

/// Writes `levels` indexes, each listing the next without a platform, the last listing
/// a linux/amd64 manifest; returns the manifest's descriptor.
fn write_index_chain(fixture: &Fixture, levels: usize) -> Value {
    let manifest = with_platform(fixture.image("leaf"), "linux/amd64");
    let mut entry = fixture.index(vec![manifest.clone()]);
    for _ in 1..levels {
        entry = fixture.index(vec![entry]);
    }
    fixture.write_index(vec![entry]);
    manifest
}

#[test]
fn index_nesting_edge() {
    let fixture = Fixture::new();
    let manifest = write_index_chain(&fixture, INDEX_NESTING_MAX);
    let resolved = oci::resolve_layout(fixture.path(), None, Some(&platform("linux/amd64"))).unwrap();
    assert_eq!(resolved.digest.to_string(), digest_of(&manifest));

    let fixture = Fixture::new();
    write_index_chain(&fixture, INDEX_NESTING_MAX + 1);
    let error = oci::resolve_layout(fixture.path(), None, Some(&platform("linux/amd64"))).unwrap_err();
    assert!(matches!(error, OciError::IndexTooDeep { max: INDEX_NESTING_MAX, .. }), "{error:?}");
}

#[test]
fn ambiguous_platform_lists_candidates() {
    let fixture = Fixture::new();
    let v6 = with_platform(fixture.image("v6"), "linux/arm/v6");
    let v7 = with_platform(fixture.image("v7"), "linux/arm/v7");
    fixture.write_index(vec![fixture.index(vec![v6.clone(), v7.clone()])]);
    let error = oci::resolve_layout(fixture.path(), None, Some(&platform("linux/arm"))).unwrap_err();
    let message = error.to_string();
    assert!(message.contains(&format!("linux/arm/v6 {}", digest_of(&v6))), "{message}");
    assert!(message.contains(&format!("linux/arm/v7 {}", digest_of(&v7))), "{message}");
    let resolved = oci::resolve_layout(fixture.path(), None, Some(&platform("linux/arm/v7"))).unwrap();
    assert_eq!(resolved.digest.to_string(), digest_of(&v7));
}

#[test]
fn manifest_size_edge() {
    let fixture = Fixture::new();
    let manifest = json!({ "schemaVersion": 2, "config": fixture.image("c"), "layers": [] }).to_string();
    let padded = format!("{manifest}{}", " ".repeat(MANIFEST_BYTES_MAX as usize - manifest.len()));
    assert!(oci::parse_manifest("edge.json", padded.as_bytes()).is_ok());
    let over = format!("{padded} ");
    let error = oci::parse_manifest("over.json", over.as_bytes()).unwrap_err();
    assert!(matches!(error, OciError::ManifestTooLarge { .. }), "{error:?}");

    let path = fixture.path().join("over.json");
    std::fs::write(&path, &over).unwrap();
    let error = oci::resolve_manifest_file(&path, None).unwrap_err();
    assert!(matches!(error, OciError::Input(InputError::TooLarge { .. })), "{error:?}");
    std::fs::write(&path, &padded).unwrap();
    let resolved = oci::resolve_manifest_file(&path, None).unwrap();
    assert_eq!(resolved.digest.to_string(), format!("sha256:{}", hex::encode(Sha256::digest(&padded))));
}

#[test]
fn invalid_manifest_json_names_the_field() {
    let fixture = Fixture::new();
    let path = fixture.path().join("bad.json");
    let text = r#"{"schemaVersion":2,"manifests":[{"mediaType":"x","digest":"sha256:abc","size":1}]}"#;
    std::fs::write(&path, text).unwrap();
    let error = oci::resolve_manifest_file(&path, None).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("manifests[0].digest"), "{message}");
    assert!(message.contains("bad.json"), "{message}");
}

// ---------------------------------------------------------------------------------
// Image config platform of single manifests

/// Prints the `os/architecture[/variant]` of the config blob of the layout's first
/// manifest.
const PYTHON_CONFIG_PLATFORM: &str = r#"
import json, os, sys
root = sys.argv[1]
def blob(digest):
    algorithm, encoded = digest.split(':')
    return json.load(open(os.path.join(root, 'blobs', algorithm, encoded)))
manifest = blob(json.load(open(os.path.join(root, 'index.json')))['manifests'][0]['digest'])
config = blob(manifest['config']['digest'])
parts = [config['os'], config['architecture']] + ([config['variant']] if config.get('variant') else [])
print(json.dumps('/'.join(parts)))
"#;

#[test]
fn corpus_layout_checks_config_platform() {
    let Some(dir) = corpus_oci() else { return };
    let layout = dir.join("layout-one-image");
    let recorded = python(PYTHON_CONFIG_PLATFORM, &[&layout]);
    let recorded = recorded.as_str().unwrap();
    assert!(oci::resolve_layout(&layout, None, Some(&platform(recorded))).is_ok());

    let other = if recorded.starts_with("linux/s390x") { "linux/ppc64le" } else { "linux/s390x" };
    let error = oci::resolve_layout(&layout, None, Some(&platform(other))).unwrap_err();
    assert!(matches!(error, OciError::ConfigPlatformMismatch { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&format!("records platform {recorded}")), "{message}");
    assert!(message.contains(&format!("requested {other}")), "{message}");
}

#[test]
fn single_manifest_config_platform_must_match() {
    let fixture = Fixture::new();
    let (image, _) = fixture.image_with_config("linux/arm/v7", OCI_IMAGE_CONFIG);
    fixture.write_index(vec![image.clone()]);

    let resolved = oci::resolve_layout(fixture.path(), None, Some(&platform("linux/arm/v7"))).unwrap();
    assert_eq!(resolved.digest.to_string(), digest_of(&image));
    assert_eq!(resolved.chosen, Chosen::SingleManifest);
    assert!(oci::resolve_layout(fixture.path(), None, Some(&platform("linux/arm"))).is_ok());

    for requested in ["linux/arm/v6", "linux/amd64", "windows/arm/v7"] {
        let error = oci::resolve_layout(fixture.path(), None, Some(&platform(requested))).unwrap_err();
        assert!(matches!(error, OciError::ConfigPlatformMismatch { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("linux/arm/v7"), "{message}");
        assert!(message.contains(requested), "{message}");
    }
}

#[test]
fn single_manifest_without_platform_skips_config() {
    let fixture = Fixture::new();
    let image = fixture.image("no config blob");
    fixture.write_index(vec![image.clone()]);
    let resolved = oci::resolve_layout(fixture.path(), None, None).unwrap();
    assert_eq!(resolved.digest.to_string(), digest_of(&image));
    let error = oci::resolve_layout(fixture.path(), None, Some(&platform("linux/amd64"))).unwrap_err();
    assert!(matches!(error, OciError::BlobMissing { .. }), "{error:?}");
}

#[test]
fn tampered_config_is_rejected() {
    let fixture = Fixture::new();
    let (image, config) = fixture.image_with_config("linux/amd64", OCI_IMAGE_CONFIG);
    fixture.write_index(vec![image]);
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(fixture.blob_path(&fixture_entry(&fixture))).unwrap()).unwrap();
    let tampered = String::from_utf8(config).unwrap().replace("amd64", "arm64");
    std::fs::write(fixture.blob_path(&manifest["config"]), tampered).unwrap();

    let error = oci::resolve_layout(fixture.path(), None, Some(&platform("linux/arm64"))).unwrap_err();
    assert!(matches!(error, OciError::BlobDigestMismatch { .. }), "{error:?}");
}

#[test]
fn artifact_config_is_not_an_image_config() {
    let fixture = Fixture::new();
    let media_type = "application/vnd.oci.empty.v1+json";
    let (image, _) = fixture.image_with_config("linux/amd64", media_type);
    fixture.write_index(vec![image]);
    let error = oci::resolve_layout(fixture.path(), None, Some(&platform("linux/amd64"))).unwrap_err();
    assert!(matches!(error, OciError::NotAnImageConfig { .. }), "{error:?}");
    assert!(error.to_string().contains(media_type), "{error}");
}

#[test]
fn config_size_edge() {
    let fixture = Fixture::new();
    let (image, config) = fixture.image_with_config("linux/amd64", OCI_IMAGE_CONFIG);
    fixture.write_index(vec![image]);
    let size = config.len() as u64;
    let at = LayoutOptions { config_bytes_max: size, ..LayoutOptions::default() };
    assert!(oci::resolve_layout_with(fixture.path(), None, Some(&platform("linux/amd64")), at).is_ok());

    let under = LayoutOptions { config_bytes_max: size - 1, ..LayoutOptions::default() };
    let error = oci::resolve_layout_with(fixture.path(), None, Some(&platform("linux/amd64")), under).unwrap_err();
    assert!(matches!(error, OciError::BlobTooLarge { size: found, .. } if found == size), "{error:?}");
    assert!(error.to_string().contains("image configs"), "{error}");
}

/// Returns the only entry of the fixture's `index.json`.
fn fixture_entry(fixture: &Fixture) -> Value {
    let index: Value = serde_json::from_slice(&std::fs::read(fixture.path().join("index.json")).unwrap()).unwrap();
    index["manifests"][0].clone()
}

// ---------------------------------------------------------------------------------
// Manifest size limit of layouts

#[test]
fn layout_manifest_limit_edge() {
    let fixture = Fixture::new();
    let image = fixture.image("sized");
    fixture.write_index(vec![image.clone()]);
    let blob_size = image["size"].as_u64().unwrap();
    let index_size = std::fs::metadata(fixture.path().join("index.json")).unwrap().len();
    assert!(index_size < blob_size, "the test needs index.json ({index_size}) smaller than the blob ({blob_size})");

    let at = LayoutOptions { manifest_bytes_max: blob_size, ..LayoutOptions::default() };
    let resolved = oci::resolve_layout_with(fixture.path(), None, None, at).unwrap();
    assert_eq!(resolved.digest.to_string(), digest_of(&image));

    let past = LayoutOptions { manifest_bytes_max: blob_size - 1, ..LayoutOptions::default() };
    let error = oci::resolve_layout_with(fixture.path(), None, None, past).unwrap_err();
    assert!(matches!(error, OciError::BlobTooLarge { size, max, .. } if size == blob_size && max == blob_size - 1));
}

#[test]
fn layout_index_json_limit_edge() {
    let fixture = Fixture::new();
    fixture.write_index(vec![fixture.image("a"), fixture.image("b")]);
    let index_size = std::fs::metadata(fixture.path().join("index.json")).unwrap().len();

    let at = LayoutOptions { manifest_bytes_max: index_size, ..LayoutOptions::default() };
    assert!(oci::Layout::open_with(fixture.path(), at).is_ok());
    let past = LayoutOptions { manifest_bytes_max: index_size - 1, ..LayoutOptions::default() };
    let error = oci::Layout::open_with(fixture.path(), past).unwrap_err();
    assert!(matches!(error, OciError::Input(InputError::TooLarge { .. })), "{error:?}");
}

#[test]
fn layout_options_validate_manifest_maximum() {
    let fixture = Fixture::new();
    fixture.write_index(vec![fixture.image("a")]);
    let at = LayoutOptions { manifest_bytes_max: MANIFEST_BYTES_MAX, ..LayoutOptions::default() };
    assert!(at.validate().is_ok());
    assert_eq!(at, LayoutOptions::default());

    let past = LayoutOptions { manifest_bytes_max: MANIFEST_BYTES_MAX + 1, ..LayoutOptions::default() };
    let error = oci::Layout::open_with(fixture.path(), past).unwrap_err();
    assert!(matches!(error, OciError::InvalidLayoutOptions { field: "manifest_bytes_max", .. }), "{error:?}");
}

// ---------------------------------------------------------------------------------
// Files of a layout that are not regular files

/// How long a layout may take to resolve before the test calls it hung. It only
/// guards against a read that never returns, so it is far above any normal run.
const HANG_GUARD: std::time::Duration = std::time::Duration::from_secs(60);

/// Resolves the layout on another thread and fails the test if that thread is still
/// running after [`HANG_GUARD`], because opening a FIFO blocks until a writer appears.
#[allow(clippy::result_large_err, reason = "OciError carries the paths and digests its messages name")]
fn resolve_or_fail_on_hang(dir: &Path, requested: Option<Platform>) -> Result<oci::ResolvedImage, OciError> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let dir = dir.to_owned();
    std::thread::spawn(move || sender.send(oci::resolve_layout(&dir, None, requested.as_ref())));
    receiver.recv_timeout(HANG_GUARD).expect("resolving the layout hung")
}

/// Replaces `path` with a FIFO.
fn make_fifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let made = Command::new("mkfifo").arg(path).status().expect("run mkfifo");
    assert!(made.success(), "mkfifo {} failed", path.display());
}

/// Checks that `error` names `path` and states that it must be a regular file.
fn assert_not_regular(error: &OciError, path: &Path) {
    let message = error.to_string();
    assert!(message.starts_with(&format!("{}: ", path.display())), "{message}");
    assert!(matches!(error, OciError::NotARegularFile { .. }), "{error:?}");
    assert!(message.contains("is a FIFO"), "{message}");
    assert!(message.contains("must be regular files"), "{message}");
}

#[cfg(unix)]
#[test]
fn fifo_index_json_is_rejected() {
    let fixture = Fixture::new();
    fixture.blob(b"{}", OCI_MANIFEST);
    let path = fixture.path().join("index.json");
    make_fifo(&path);
    let error = resolve_or_fail_on_hang(fixture.path(), None).unwrap_err();
    assert_not_regular(&error, &path);
}

#[cfg(unix)]
#[test]
fn fifo_layout_marker_is_rejected() {
    let fixture = Fixture::new();
    fixture.write_index(vec![fixture.image("a")]);
    let path = fixture.path().join("oci-layout");
    make_fifo(&path);
    let error = resolve_or_fail_on_hang(fixture.path(), None).unwrap_err();
    assert_not_regular(&error, &path);
}

/// A FIFO has size 0, so an empty blob's descriptor (size 0, the sha256 of no bytes)
/// passes the size check that comes before the blob is opened.
#[cfg(unix)]
#[test]
fn fifo_empty_config_blob_is_rejected() {
    let fixture = Fixture::new();
    let empty = json!({ "mediaType": OCI_IMAGE_CONFIG, "digest": format!("sha256:{}", hex::encode(Sha256::digest(b""))), "size": 0 });
    let manifest = json!({ "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": empty, "layers": [] });
    let image = fixture.blob(manifest.to_string().as_bytes(), OCI_MANIFEST);
    fixture.write_index(vec![image]);
    let path = fixture.blob_path(&empty);
    make_fifo(&path);

    let error = resolve_or_fail_on_hang(fixture.path(), Some(platform("linux/amd64"))).unwrap_err();
    assert_not_regular(&error, &path);
}

#[cfg(unix)]
#[test]
fn fifo_manifest_blob_is_rejected() {
    let fixture = Fixture::new();
    let image = fixture.image("a");
    fixture.write_index(vec![image.clone()]);
    let path = fixture.blob_path(&image);
    make_fifo(&path);
    let error = resolve_or_fail_on_hang(fixture.path(), None).unwrap_err();
    assert!(!matches!(error, OciError::BlobSizeMismatch { .. }), "{error:?}");
    assert_not_regular(&error, &path);
}

#[cfg(unix)]
#[test]
fn symlinked_layout_files_are_followed() {
    let fixture = Fixture::new();
    let image = fixture.image("a");
    fixture.write_index(vec![image.clone()]);
    let elsewhere = tempfile::tempdir().unwrap();
    for path in [fixture.blob_path(&image), fixture.path().join("index.json"), fixture.path().join("oci-layout")] {
        let target = elsewhere.path().join(path.file_name().unwrap());
        std::fs::rename(&path, &target).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
    }
    let resolved = oci::resolve_layout(fixture.path(), None, None).unwrap();
    assert_eq!(resolved.digest.to_string(), digest_of(&image));
}

#[test]
fn layout_file_path_is_not_a_folder() {
    let fixture = Fixture::new();
    let file = fixture.path().join("oci-layout");
    let error = oci::resolve_layout(&file, None, None).unwrap_err();
    let message = error.to_string();
    assert!(message.starts_with(&format!("{}: ", file.display())), "{message}");
    assert!(message.contains("not a folder"), "{message}");
    assert!(!message.contains("does not exist"), "{message}");
}

#[test]
fn layout_marker_wrong_shape_is_named() {
    let fixture = Fixture::new();
    fixture.write_index(vec![fixture.image("a")]);
    for marker in ["[]", "\"1.0.0\"", "1"] {
        std::fs::write(fixture.path().join("oci-layout"), marker).unwrap();
        let message = oci::resolve_layout(fixture.path(), None, None).unwrap_err().to_string();
        assert!(message.contains("expected an `oci-layout` object"), "{marker}: {message}");
        assert!(!message.contains("struct "), "{marker}: {message}");
    }
}
