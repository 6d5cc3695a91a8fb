//! JSON of the wrong shape for every reader of untrusted input: an array, string or
//! number where an object belongs, at the top level and in nested fields. Each error
//! names what was expected in plain words and no Rust type name.

use serde_json::{Value, json};
use vouch_protocol::dsse::Envelope;
use vouch_protocol::facts::{self, SlsaVersion};
use vouch_protocol::intoto::Statement;
use vouch_protocol::keys::sslib;
use vouch_protocol::oci;

const FILE: &str = "input.json";

/// A reader of one kind of file, returning its error message.
type Reader = fn(&[u8]) -> Result<(), String>;

/// Each reader with the words its error uses for the expected document.
const READERS: [(&str, Reader, &str); 14] = [
    ("trivy", |b| facts::trivy::parse(FILE, b).map(drop).map_err(|e| e.to_string()), "a Trivy report"),
    ("grype", |b| facts::grype::parse(FILE, b).map(drop).map_err(|e| e.to_string()), "a Grype JSON report object"),
    (
        "cyclonedx",
        |b| facts::cyclonedx::parse(FILE, b).map(drop).map_err(|e| e.to_string()),
        "a CycloneDX JSON SBOM object",
    ),
    ("spdx", |b| facts::spdx::parse(FILE, b).map(drop).map_err(|e| e.to_string()), "an SPDX JSON document object"),
    (
        "slsa v0.2",
        |b| facts::slsa::parse(SlsaVersion::V0_2, FILE, b).map(drop).map_err(|e| e.to_string()),
        "a SLSA provenance v0.2 predicate object",
    ),
    (
        "slsa v1",
        |b| facts::slsa::parse(SlsaVersion::V1, FILE, b).map(drop).map_err(|e| e.to_string()),
        "a SLSA provenance v1 predicate object",
    ),
    (
        "cosign vuln",
        |b| facts::cosign::parse(FILE, b).map(drop).map_err(|e| e.to_string()),
        "a cosign vuln predicate object",
    ),
    (
        "in-toto vulns",
        |b| facts::intoto_vulns::parse(FILE, b).map(drop).map_err(|e| e.to_string()),
        "an in-toto vulns predicate object",
    ),
    (
        "review",
        |b| facts::review::parse(FILE, b).map(drop).map_err(|e| e.to_string()),
        "a Vouch review predicate object",
    ),
    (
        "statement",
        |b| Statement::from_json(FILE, b).map(drop).map_err(|e| e.to_string()),
        "an in-toto statement object",
    ),
    ("envelope", |b| Envelope::from_json(FILE, b).map(drop).map_err(|e| e.to_string()), "a DSSE envelope object"),
    (
        "manifest",
        |b| oci::parse_manifest(FILE, b).map(drop).map_err(|e| e.to_string()),
        "an OCI image manifest or index object",
    ),
    (
        "public key",
        |b| sslib::parse_public_key_json_form(FILE, b).map(drop).map_err(|e| e.to_string()),
        "a securesystemslib key object",
    ),
    (
        "private key",
        |b| sslib::parse_private_key_json_form(FILE, b).map(drop).map_err(|e| e.to_string()),
        "a securesystemslib key object",
    ),
];

/// Checks that `message` names `expected` and no Rust type.
fn assert_plain(case: &str, message: &str, expected: &str) {
    assert!(message.contains(&format!("expected {expected}")), "{case}: {message}");
    assert!(!message.contains("struct "), "{case}: {message}");
    assert!(!message.contains("enum "), "{case}: {message}");
    assert!(!message.contains("variant "), "{case}: {message}");
}

#[test]
fn top_level_wrong_shape_is_named() {
    for (name, read, expected) in READERS {
        for document in [r#""text""#, "42", "-1.5e3", "true", "null"] {
            let message = read(document.as_bytes()).expect_err(name);
            assert_plain(&format!("{name} given {document}"), &message, expected);
        }
    }
}

/// An empty array is a wrong shape for every reader but Trivy's, whose legacy form is
/// an array of results, so its elements are checked instead.
///
/// NOTE: serde also reads a struct from an array of its field values in order, so an
/// array of the right length and element shapes is read like the object.
#[test]
fn top_level_array_is_named() {
    for (name, read, expected) in READERS {
        let (document, expected) = match name {
            "trivy" => ("[1]", "a Trivy result object"),
            _ => ("[]", expected),
        };
        let message = read(document.as_bytes()).expect_err(name);
        assert_plain(&format!("{name} given {document}"), &message, expected);
    }
}

fn trivy(document: Value) -> Result<(), String> {
    facts::trivy::parse(FILE, document.to_string().as_bytes()).map(drop).map_err(|e| e.to_string())
}

fn grype(document: Value) -> Result<(), String> {
    facts::grype::parse(FILE, document.to_string().as_bytes()).map(drop).map_err(|e| e.to_string())
}

fn cyclonedx(document: Value) -> Result<(), String> {
    facts::cyclonedx::parse(FILE, document.to_string().as_bytes()).map(drop).map_err(|e| e.to_string())
}

fn spdx(document: Value) -> Result<(), String> {
    facts::spdx::parse(FILE, document.to_string().as_bytes()).map(drop).map_err(|e| e.to_string())
}

fn slsa(version: SlsaVersion, document: Value) -> Result<(), String> {
    facts::slsa::parse(version, FILE, document.to_string().as_bytes()).map(drop).map_err(|e| e.to_string())
}

fn cosign(document: Value) -> Result<(), String> {
    facts::cosign::parse(FILE, document.to_string().as_bytes()).map(drop).map_err(|e| e.to_string())
}

fn intoto_vulns(document: Value) -> Result<(), String> {
    facts::intoto_vulns::parse(FILE, document.to_string().as_bytes()).map(drop).map_err(|e| e.to_string())
}

fn statement(document: Value) -> Result<(), String> {
    Statement::from_json(FILE, document.to_string().as_bytes()).map(drop).map_err(|e| e.to_string())
}

fn envelope(document: Value) -> Result<(), String> {
    Envelope::from_json(FILE, document.to_string().as_bytes()).map(drop).map_err(|e| e.to_string())
}

fn manifest(document: Value) -> Result<(), String> {
    oci::parse_manifest(FILE, document.to_string().as_bytes()).map(drop).map_err(|e| e.to_string())
}

fn key(document: Value) -> Result<(), String> {
    sslib::parse_public_key_json_form(FILE, document.to_string().as_bytes()).map(drop).map_err(|e| e.to_string())
}

/// Returns a copy of the object `value` with `field` set.
fn with_field(value: &Value, field: &str, replacement: Value) -> Value {
    let mut copy = value.clone();
    copy[field] = replacement;
    copy
}

#[test]
fn nested_wrong_shape_is_named() {
    let digest = format!("sha256:{}", "a".repeat(64));
    let descriptor = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": 2});
    let grype_match = |field: &str, value: Value| {
        let mut entry = json!({"vulnerability": {"id": "CVE-1"}, "artifact": {"name": "zlib"}});
        entry[field] = value;
        json!({ "matches": [entry] })
    };
    let grype_vulnerability = |field: &str, value: Value| {
        let mut vulnerability = json!({"id": "CVE-1"});
        vulnerability[field] = value;
        json!({"matches": [{"vulnerability": vulnerability, "artifact": {"name": "zlib"}}]})
    };
    let v02 = |field: &str, value: Value| {
        let mut document = json!({"builder": {"id": "b"}, "buildType": "t"});
        document[field] = value;
        document
    };
    let trivy_finding = json!({"VulnerabilityID": "CVE-1", "PkgName": "zlib", "CVSS": {"nvd": "high"}});
    let spdx_package = |field: &str, value: Value| {
        let mut package = json!({"SPDXID": "SPDXRef-a", "name": "a"});
        package[field] = value;
        json!({"spdxVersion": "SPDX-2.3", "packages": [package]})
    };

    let cases: Vec<(&str, Result<(), String>, &str)> = vec![
        ("trivy Trivy", trivy(json!({"SchemaVersion": 2, "Trivy": 1})), "a Trivy tool object"),
        ("trivy Metadata", trivy(json!({"SchemaVersion": 2, "Metadata": "x"})), "a Trivy metadata object"),
        ("trivy Results", trivy(json!({"SchemaVersion": 2, "Results": ["x"]})), "a Trivy result object"),
        (
            "trivy Vulnerabilities",
            trivy(json!({"SchemaVersion": 2, "Results": [{"Vulnerabilities": [1]}]})),
            "a Trivy vulnerability object",
        ),
        (
            "trivy CVSS source",
            trivy(json!({"SchemaVersion": 2, "Results": [{"Vulnerabilities": [trivy_finding]}]})),
            "a Trivy CVSS score object",
        ),
        ("grype matches", grype(json!({"matches": [1]})), "a Grype match object"),
        ("grype vulnerability", grype(grype_match("vulnerability", json!("x"))), "a Grype vulnerability object"),
        ("grype artifact", grype(grype_match("artifact", json!(1))), "a Grype artifact object"),
        (
            "grype related",
            grype(grype_match("relatedVulnerabilities", json!([1]))),
            "a Grype related vulnerability object",
        ),
        ("grype cvss", grype(grype_vulnerability("cvss", json!([1]))), "a Grype CVSS object"),
        ("grype metrics", grype(grype_vulnerability("cvss", json!([{"metrics": 1}]))), "a Grype CVSS metrics object"),
        ("grype fix", grype(grype_vulnerability("fix", json!("1.3"))), "a Grype fix object"),
        ("grype source", grype(json!({"matches": [], "source": 1})), "a Grype source object"),
        ("grype descriptor", grype(json!({"matches": [], "descriptor": "x"})), "a Grype descriptor object"),
        (
            "cyclonedx metadata",
            cyclonedx(json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "metadata": 1})),
            "a CycloneDX metadata object",
        ),
        (
            "cyclonedx components",
            cyclonedx(json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": ["a"]})),
            "a CycloneDX component object",
        ),
        (
            "cyclonedx properties",
            cyclonedx(
                json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "components": [{"name": "a", "properties": [1]}]}),
            ),
            "a CycloneDX property object",
        ),
        ("spdx packages", spdx(json!({"spdxVersion": "SPDX-2.3", "packages": [1]})), "an SPDX package object"),
        ("spdx externalRefs", spdx(spdx_package("externalRefs", json!([1]))), "an SPDX external reference object"),
        ("spdx checksums", spdx(spdx_package("checksums", json!([1]))), "an SPDX checksum object"),
        (
            "spdx relationships",
            spdx(json!({"spdxVersion": "SPDX-2.3", "relationships": [1]})),
            "an SPDX relationship object",
        ),
        ("slsa v0.2 builder", slsa(SlsaVersion::V0_2, v02("builder", json!("b"))), "a SLSA builder object"),
        ("slsa v0.2 invocation", slsa(SlsaVersion::V0_2, v02("invocation", json!(1))), "a SLSA invocation object"),
        (
            "slsa v0.2 configSource",
            slsa(SlsaVersion::V0_2, v02("invocation", json!({"configSource": 1}))),
            "a SLSA config source object",
        ),
        ("slsa v0.2 materials", slsa(SlsaVersion::V0_2, v02("materials", json!([1]))), "a SLSA material object"),
        (
            "slsa v1 buildDefinition",
            slsa(SlsaVersion::V1, json!({"buildDefinition": 1, "runDetails": {"builder": {"id": "b"}}})),
            "a SLSA build definition object",
        ),
        (
            "slsa v1 runDetails",
            slsa(SlsaVersion::V1, json!({"buildDefinition": {"buildType": "t"}, "runDetails": "x"})),
            "a SLSA run details object",
        ),
        (
            "slsa v1 resolvedDependencies",
            slsa(
                SlsaVersion::V1,
                json!({"buildDefinition": {"buildType": "t", "resolvedDependencies": [1]}, "runDetails": {"builder": {"id": "b"}}}),
            ),
            "a SLSA resource descriptor object",
        ),
        ("cosign scanner", cosign(json!({"scanner": 1})), "a cosign scanner object"),
        (
            "cosign metadata",
            cosign(json!({"scanner": {"result": {"matches": []}}, "metadata": 1})),
            "a scan metadata object",
        ),
        ("cosign SARIF runs", cosign(json!({"scanner": {"result": {"runs": [1]}}})), "a SARIF run object"),
        ("cosign SARIF tool", cosign(json!({"scanner": {"result": {"runs": [{"tool": 1}]}}})), "a SARIF tool object"),
        (
            "cosign SARIF driver",
            cosign(json!({"scanner": {"result": {"runs": [{"tool": {"driver": 1}}]}}})),
            "a SARIF tool driver object",
        ),
        ("in-toto vulns scanner", intoto_vulns(json!({"scanner": "x"})), "an in-toto vulns scanner object"),
        (
            "in-toto vulns result",
            intoto_vulns(json!({"scanner": {"uri": "u", "result": [1]}})),
            "an in-toto vulns result object",
        ),
        (
            "in-toto vulns vulnerability",
            intoto_vulns(json!({"scanner": {"uri": "u", "result": [{"vulnerability": 1}]}})),
            "an in-toto vulnerability object",
        ),
        (
            "in-toto vulns severity",
            intoto_vulns(json!({"scanner": {"uri": "u", "result": [{"id": "CVE-1", "severity": [1]}]}})),
            "an in-toto severity object",
        ),
        (
            "statement subject",
            statement(json!({"_type": "https://in-toto.io/Statement/v1", "subject": [1], "predicateType": "p"})),
            "an in-toto subject object",
        ),
        (
            "envelope signatures",
            envelope(json!({"payloadType": "t", "payload": "", "signatures": [1]})),
            "a DSSE signature object",
        ),
        (
            "manifest config",
            manifest(json!({"schemaVersion": 2, "config": 1, "layers": []})),
            "an OCI content descriptor object",
        ),
        (
            "manifest platform",
            manifest(
                json!({"schemaVersion": 2, "manifests": [with_field(&descriptor, "platform", json!("linux/amd64"))]}),
            ),
            "an OCI platform object",
        ),
        (
            "key keyval",
            key(json!({"keytype": "ed25519", "scheme": "ed25519", "keyval": "x"})),
            "a securesystemslib key value object",
        ),
    ];
    for (case, result, expected) in cases {
        let message = result.expect_err(case);
        assert_plain(case, &message, expected);
    }
}
