//! Bad input for every facts reader: each error names the file, the field or byte
//! offset and the fix, and no input makes a reader panic.

use proptest::prelude::*;
use serde_json::{Value, json};
use vouch_protocol::facts::{self, FactsError, SlsaVersion};
use vouch_protocol::input::{InputError, read_file_bounded};
use vouch_protocol::predicate::PREDICATE_ALIASES;

const FILE: &str = "scan.json";

/// Builds a small Trivy report with one finding whose fields the tests replace.
fn trivy_report(vulnerability: Value) -> Value {
    json!({
        "SchemaVersion": 2,
        "ArtifactName": "registry.example/app:1.0",
        "Metadata": {"RepoDigests": [format!("registry.example/app@sha256:{}", "a".repeat(64))]},
        "Results": [{"Target": "app", "Class": "os-pkgs", "Vulnerabilities": [vulnerability]}]
    })
}

fn trivy_vulnerability() -> Value {
    json!({
        "VulnerabilityID": "CVE-2024-0001", "PkgName": "zlib", "InstalledVersion": "1.2.13",
        "FixedVersion": "1.3", "Severity": "HIGH",
        "CVSS": {"nvd": {"V3Score": 7.5}, "redhat": {"V3Score": 8.1}}
    })
}

fn trivy_bytes() -> Vec<u8> {
    serde_json::to_vec_pretty(&trivy_report(trivy_vulnerability())).expect("report encodes")
}

fn grype_report() -> Value {
    json!({
        "matches": [{
            "vulnerability": {"id": "CVE-2024-0001", "severity": "High", "fix": {"versions": ["1.3"], "state": "fixed"},
                              "cvss": [{"version": "3.1", "metrics": {"baseScore": 7.5}}]},
            "relatedVulnerabilities": [{"id": "GHSA-xxxx-yyyy-zzzz"}],
            "artifact": {"name": "zlib", "version": "1.2.13"}
        }],
        "source": {"type": "image", "target": {"userInput": "app:1.0", "repoDigests": []}},
        "descriptor": {"name": "grype", "version": "0.94.0", "timestamp": "2025-06-19T11:43:35Z"}
    })
}

/// Asserts that an error message starts with the file name and mentions every part.
fn assert_names(error: &FactsError, parts: &[&str]) {
    let text = error.to_string();
    assert!(text.starts_with(FILE), "message does not name the file: {text}");
    assert!(!text.contains('\n'), "message is not one line: {text}");
    for part in parts {
        assert!(text.contains(part), "message lacks {part:?}: {text}");
    }
}

#[test]
fn truncated_report_names_offset() {
    let bytes = trivy_bytes();
    let error = facts::trivy::parse(FILE, &bytes[..bytes.len() / 2]).unwrap_err();
    assert!(matches!(error, FactsError::Input(InputError::Truncated { .. })), "{error:?}");
    assert_names(&error, &["byte", "truncated"]);
}

#[test]
fn log_lines_before_json_point_at_report() {
    let mut bytes = b"2024-01-01T00:00:00Z INFO Vulnerability scanning is enabled\n".to_vec();
    let json_start = bytes.len();
    bytes.extend(trivy_bytes());
    let error = facts::trivy::parse(FILE, &bytes).unwrap_err();
    assert_names(&error, &["byte 0", &format!("JSON seems to start at byte {json_start}"), "stderr"]);
}

#[test]
fn unknown_trivy_schema_version_names_supported() {
    let mut report = trivy_report(trivy_vulnerability());
    report["SchemaVersion"] = json!(3);
    let bytes = serde_json::to_vec(&report).expect("report encodes");
    let error = facts::trivy::parse(FILE, &bytes).unwrap_err();
    assert_names(&error, &["field `SchemaVersion`", "byte", "SchemaVersion 3", "supports SchemaVersion 2", "legacy"]);
}

#[test]
fn severity_of_wrong_type_names_field() {
    let mut vulnerability = trivy_vulnerability();
    vulnerability["Severity"] = json!(3);
    let bytes = serde_json::to_vec(&trivy_report(vulnerability)).expect("report encodes");
    let error = facts::trivy::parse(FILE, &bytes).unwrap_err();
    assert_names(&error, &["field `Results[0].Vulnerabilities[0].Severity`", "byte", "invalid type"]);

    let mut grype = grype_report();
    grype["matches"][0]["vulnerability"]["severity"] = json!(["High"]);
    let error = facts::grype::parse(FILE, &serde_json::to_vec(&grype).expect("report encodes")).unwrap_err();
    assert_names(&error, &["field `matches[0].vulnerability.severity`", "byte"]);
}

#[test]
fn invalid_cvss_scores_name_field() {
    let cases = [
        (json!("NaN"), "not a decimal number"),
        (json!(-1.5), "negative"),
        (json!(-3), "negative"),
        (json!(10.1), "above 10.0"),
        (json!(11), "above 10.0"),
        (json!("9,8"), "not a decimal number"),
    ];
    for (score, reason) in cases {
        let mut vulnerability = trivy_vulnerability();
        vulnerability["CVSS"]["nvd"]["V3Score"] = score.clone();
        let bytes = serde_json::to_vec(&trivy_report(vulnerability)).expect("report encodes");
        let error = facts::trivy::parse(FILE, &bytes).unwrap_err();
        assert_names(&error, &["field `Results[0].Vulnerabilities[0].CVSS.nvd.V3Score`", "byte", reason]);

        let mut grype = grype_report();
        grype["matches"][0]["vulnerability"]["cvss"][0]["metrics"]["baseScore"] = score;
        let error = facts::grype::parse(FILE, &serde_json::to_vec(&grype).expect("report encodes")).unwrap_err();
        assert_names(&error, &["field `matches[0].vulnerability.cvss[0].metrics.baseScore`", reason]);
    }
}

#[test]
fn huge_exponent_cvss_is_rejected() {
    let text = String::from_utf8(trivy_bytes()).expect("report is UTF-8").replace("7.5", "1e400");
    let error = facts::trivy::parse(FILE, text.as_bytes()).unwrap_err();
    assert_names(&error, &["byte"]);
}

#[test]
fn oversize_file_is_rejected_at_limit() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join(FILE);
    let bytes = trivy_bytes();
    std::fs::write(&path, &bytes).expect("write report");
    let size = bytes.len() as u64;

    let at_limit = read_file_bounded(&path, size).expect("a file of exactly the limit is read");
    assert!(facts::trivy::parse(FILE, &at_limit).is_ok());

    let error = read_file_bounded(&path, size - 1).unwrap_err();
    assert!(matches!(error, InputError::TooLarge { .. }), "{error:?}");
    let text = FactsError::from(error).to_string();
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("over the limit"), "{text}");
}

#[test]
fn empty_input_is_rejected_by_every_reader() {
    for bytes in [&b""[..], b"  \n\t"] {
        for result in every_reader(bytes) {
            let error = result.expect_err("empty input must fail");
            assert!(matches!(error, FactsError::Input(InputError::Empty { .. })), "{error:?}");
            assert_names(&error, &["empty"]);
        }
    }
}

#[test]
fn wrong_document_for_reader_names_field() {
    let grype = serde_json::to_vec(&grype_report()).expect("report encodes");
    let error = facts::cyclonedx::parse(FILE, &grype).unwrap_err();
    assert_names(&error, &["missing field `bomFormat`"]);
    let error = facts::slsa::parse(SlsaVersion::V1, FILE, &grype).unwrap_err();
    assert_names(&error, &["missing field `buildDefinition`"]);
    let error = facts::trivy::parse(FILE, b"\"a string\"").unwrap_err();
    assert_names(&error, &["byte", "SchemaVersion 2 or a legacy array"]);
}

#[test]
fn unknown_predicate_types_are_opaque() {
    let predicate = json!({"anything": [1, 2, 3]});
    for predicate_type in ["https://example.com/attestation/v1", "", "https://slsa.dev/provenance/v0.1"] {
        assert!(matches!(facts::from_statement(predicate_type, &predicate), Ok(None)), "{predicate_type}");
    }
}

#[test]
fn invalid_predicate_names_type_and_field() {
    let predicate = json!({"builder": {"id": 7}, "buildType": "x"});
    let error = facts::from_statement("https://slsa.dev/provenance/v0.2", &predicate).unwrap_err();
    let text = error.to_string();
    assert!(text.starts_with("predicate https://slsa.dev/provenance/v0.2: field `builder.id`"), "{text}");
}

/// Runs every file reader over the same bytes.
fn every_reader(bytes: &[u8]) -> Vec<Result<(), FactsError>> {
    vec![
        facts::trivy::parse(FILE, bytes).map(drop),
        facts::grype::parse(FILE, bytes).map(drop),
        facts::cosign::parse(FILE, bytes).map(drop),
        facts::intoto_vulns::parse(FILE, bytes).map(drop),
        facts::cyclonedx::parse(FILE, bytes).map(drop),
        facts::spdx::parse(FILE, bytes).map(drop),
        facts::slsa::parse(SlsaVersion::V0_2, FILE, bytes).map(drop),
        facts::slsa::parse(SlsaVersion::V1, FILE, bytes).map(drop),
        facts::review::parse(FILE, bytes).map(drop),
    ]
}

/// Valid documents of every format, the starting points of mutation.
fn seeds() -> Vec<Value> {
    let mut seeds = vec![
        trivy_report(trivy_vulnerability()),
        json!([{"Target": "debian", "Vulnerabilities": [trivy_vulnerability()]}]),
        grype_report(),
        json!({"scanner": {"uri": "https://github.com/aquasecurity/trivy", "version": "0.29.2",
               "result": trivy_report(trivy_vulnerability())},
               "metadata": {"scanFinishedOn": "2022-07-29T02:28:48Z"}}),
        json!({"scanner": {"uri": "pkg:github/aquasecurity/trivy@1", "result": [
               {"id": "CVE-1", "severity": [{"method": "nvd", "score": "high"}, {"method": "cvss_score", "score": "7.5"}]}]}}),
        json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "metadata": {"component": {"type": "container", "name": "app",
               "version": format!("sha256:{}", "b".repeat(64))}},
               "components": [{"type": "library", "name": "zlib", "version": "1.3", "purl": "pkg:apk/zlib@1.3",
                               "components": [{"type": "file", "name": "libz.so"}]}]}),
        json!({"spdxVersion": "SPDX-2.3", "name": "doc", "documentDescribes": ["SPDXRef-app"], "packages": [
               {"SPDXID": "SPDXRef-app", "name": "app", "checksums": [{"algorithm": "SHA256", "checksumValue": "c".repeat(64)}]},
               {"SPDXID": "SPDXRef-zlib", "name": "zlib", "versionInfo": "1.3", "primaryPackagePurpose": "LIBRARY",
                "externalRefs": [{"referenceType": "purl", "referenceLocator": "pkg:apk/zlib@1.3"}]}]}),
        json!({"builder": {"id": "https://tekton.dev/chains/v2"}, "buildType": "tekton.dev/v1beta1/TaskRun",
               "invocation": {"configSource": {"uri": "git+https://github.com/org/repo@refs/heads/main",
               "digest": {"sha1": "abc"}, "entryPoint": "build.yaml"}},
               "materials": [{"uri": "git+https://github.com/org/repo", "digest": {"sha1": "abc"}}]}),
        json!({"buildDefinition": {"buildType": "https://example.com/b", "externalParameters": {"workflow":
               {"repository": "https://github.com/org/repo", "ref": "refs/tags/v1", "path": "w.yml"}},
               "resolvedDependencies": [{"uri": "git+https://github.com/org/repo@refs/tags/v1", "digest": {"gitCommit": "abc"}}]},
               "runDetails": {"builder": {"id": "https://github.com/actions/runner"}}}),
        json!({"decision": "approve", "reason": "reviewed", "expiresAt": "2030-01-01T00:00:00Z", "reviewer": "alice"}),
    ];
    seeds.extend(corpus_seeds());
    seeds
}

/// Small corpus documents join the seeds when `VOUCH_CORPUS` is set.
fn corpus_seeds() -> Vec<Value> {
    let Some(corpus) = std::env::var_os("VOUCH_CORPUS") else { return Vec::new() };
    let mut seeds = Vec::new();
    for folder in ["trivy", "grype", "sbom"] {
        let Ok(entries) = std::fs::read_dir(std::path::Path::new(&corpus).join(folder)) else { continue };
        for entry in entries.flatten() {
            let bytes = std::fs::read(entry.path()).unwrap_or_default();
            if bytes.len() <= 64 * 1024 {
                seeds.extend(serde_json::from_slice::<Value>(&bytes).ok());
            }
        }
    }
    seeds
}

/// One structural change to a JSON document.
#[derive(Clone, Debug)]
enum Mutation {
    Replace { at: usize, with: Value },
    Remove { at: usize },
}

/// Leaf values that readers must handle at any position.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite()).prop_map(Value::from),
        "[a-zA-Z0-9:@./ -]{0,12}".prop_map(Value::from),
        Just(json!("")),
        Just(json!("NaN")),
        Just(json!("2024-02-30T00:00:00Z")),
        Just(json!({})),
        Just(json!([])),
        Just(json!([{}])),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), leaf()).prop_map(|(at, with)| Mutation::Replace { at, with }),
        any::<usize>().prop_map(|at| Mutation::Remove { at }),
    ]
}

/// Counts the nodes of a document in depth-first order.
fn node_count(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(node_count).sum(),
        Value::Object(map) => map.values().map(node_count).sum(),
        _ => 0,
    }
}

/// Applies a mutation to the node at depth-first position `target`, counting
/// visited nodes in `seen`. Removing the root replaces it with null.
fn apply(value: &mut Value, mutation: &Mutation, target: usize, seen: &mut usize) -> bool {
    if *seen == target {
        *value = match mutation {
            Mutation::Replace { with, .. } => with.clone(),
            Mutation::Remove { .. } => Value::Null,
        };
        return true;
    }
    *seen += 1;
    let removes = matches!(mutation, Mutation::Remove { .. });
    match value {
        Value::Array(items) => {
            for index in 0..items.len() {
                if removes && *seen == target {
                    items.remove(index);
                    return true;
                }
                if apply(&mut items[index], mutation, target, seen) {
                    return true;
                }
            }
            false
        }
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().cloned().collect();
            for key in keys {
                if removes && *seen == target {
                    map.remove(&key);
                    return true;
                }
                let child = map.get_mut(&key).expect("key listed from the same map");
                if apply(child, mutation, target, seen) {
                    return true;
                }
            }
            false
        }
        _ => false,
    }
}

fn mutate(mut document: Value, mutations: &[Mutation]) -> Value {
    for mutation in mutations {
        let at = match mutation {
            Mutation::Replace { at, .. } | Mutation::Remove { at } => *at,
        };
        let target = at % node_count(&document);
        apply(&mut document, mutation, target, &mut 0);
    }
    document
}

/// Number of property cases: `PROPTEST_CASES` when set, else 512.
fn cases_from_env() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|cases| cases.parse().ok()).unwrap_or(512)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases_from_env(), ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = every_reader(&bytes);
    }

    #[test]
    fn mutated_documents_never_panic(
        seed in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let seeds = seeds();
        let document = mutate(seeds[seed.index(seeds.len())].clone(), &mutations);
        let bytes = serde_json::to_vec(&document).expect("document encodes");
        let _ = every_reader(&bytes);
        let _ = every_reader(&bytes[..cut.index(bytes.len() + 1)]);
        for alias in PREDICATE_ALIASES {
            let _ = facts::from_statement(alias.name, &document);
        }
    }
}
