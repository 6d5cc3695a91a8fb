//! Reads every Trivy, Grype, SBOM and in-toto file of the shared corpus into facts
//! and compares the result with an independent reading of the same file.
//!
//! The expected values come from small Python scripts (standard library only)
//! that apply the documented normalization rules with their own code, so no
//! expected number is copied from a file by hand. Without `VOUCH_CORPUS` each
//! test prints a skip message and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use serde_json::{Value, json};
use vouch_protocol::facts::{self, Facts, Provenance, Sbom, Severity, VulnerabilityReport};
use vouch_protocol::input::{DEFAULT_INPUT_BYTES_MAX, read_file_bounded};

const SKIP_MESSAGE: &str = "skipped: VOUCH_CORPUS is not set (point it at the shared corpus folder)";

/// Shared Python helpers: severity rank, decimal rounding to tenths, timestamps.
const PY_COMMON: &str = r#"
import json, sys, datetime
from decimal import Decimal, ROUND_HALF_UP
RANK = ["unknown", "negligible", "low", "medium", "high", "critical"]
def severity(word):
    w = (word or "").strip().lower()
    return w if w in RANK else "unknown"
def worse(a, b):
    return a if RANK.index(a) >= RANK.index(b) else b
def tenths(number):
    if number is None:
        return None
    return int((Decimal(repr(number)) * 10).quantize(Decimal(1), rounding=ROUND_HALF_UP))
def highest(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None
def unix_seconds(text):
    if not text:
        return None
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
def blank_to_none(text):
    return text if text and text.strip() else None
def load():
    return json.load(open(sys.argv[1]))
"#;

/// Trivy: the rules of `facts::trivy`, written again over plain JSON.
const PY_TRIVY: &str = r#"
doc = load()
results = doc if isinstance(doc, list) else (doc.get("Results") or [])
header = {} if isinstance(doc, list) else doc
findings = {}
for result in results:
    if result.get("Class") not in (None, "os-pkgs", "lang-pkgs"):
        continue
    for v in result.get("Vulnerabilities") or []:
        key = "|".join([v["VulnerabilityID"], v["PkgName"], v.get("InstalledVersion") or "-"])
        scores = v.get("CVSS") or {}
        nvd = tenths((scores.get("nvd") or {}).get("V3Score"))
        vendor = highest([tenths(s.get("V3Score")) for name, s in scores.items() if name != "nvd"])
        entry = findings.setdefault(key, {"severity": "unknown", "cvss": None, "fixed": None})
        entry["severity"] = worse(entry["severity"], severity(v.get("Severity")))
        entry["cvss"] = highest([entry["cvss"], nvd if nvd is not None else vendor])
        entry["fixed"] = entry["fixed"] or blank_to_none(v.get("FixedVersion"))
print(json.dumps({
    "findings": findings,
    "repo_digests": (header.get("Metadata") or {}).get("RepoDigests") or [],
    "scanner_version": blank_to_none((header.get("Trivy") or {}).get("Version")),
    "artifact_name": blank_to_none(header.get("ArtifactName")),
    "scanned_at": unix_seconds(header.get("CreatedAt")),
}))
"#;

/// Grype: the rules of `facts::grype`, written again over plain JSON.
const PY_GRYPE: &str = r#"
doc = load()
findings = {}
for m in doc["matches"]:
    v, a = m["vulnerability"], m["artifact"]
    key = "|".join([v["id"], a["name"], a.get("version") or "-"])
    fix = v.get("fix")
    if fix is None:
        fixed = blank_to_none(v.get("fixedInVersion"))
    elif (fix.get("state") or "").strip().lower() in ("fixed", ""):
        fixed = next((x for x in fix.get("versions") or [] if x.strip()), None)
    else:
        fixed = None
    v3 = [tenths((c.get("metrics") or {}).get("baseScore")) for c in v.get("cvss") or [] if str(c.get("version", "")).startswith("3")]
    aliases = set(r["id"] for r in m.get("relatedVulnerabilities") or [])
    entry = findings.setdefault(key, {"severity": "unknown", "cvss": None, "fixed": None, "aliases": set()})
    entry["severity"] = worse(entry["severity"], severity(v.get("severity")))
    entry["cvss"] = highest([entry["cvss"], highest(v3)])
    entry["fixed"] = entry["fixed"] or fixed
    entry["aliases"] |= aliases
for key, entry in findings.items():
    entry["aliases"] = sorted(a for a in entry["aliases"] if a and a != key.split("|")[0])
target = (doc.get("source") or {}).get("target")
descriptor = doc.get("descriptor") or {}
print(json.dumps({
    "findings": findings,
    "repo_digests": (target.get("repoDigests") or []) if isinstance(target, dict) else [],
    "scanner_version": blank_to_none(descriptor.get("version")),
    "artifact_name": blank_to_none(target.get("userInput") if isinstance(target, dict) else target),
    "scanned_at": unix_seconds(descriptor.get("timestamp")),
}))
"#;

/// SBOMs: components, subject name and format of CycloneDX and SPDX documents.
const PY_SBOM: &str = r#"
doc = load()
import re
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$|^sha512:[0-9a-f]{128}$")
def cyclonedx(bom):
    components = []
    def walk(items):
        for c in items or []:
            components.append([c["name"], blank_to_none(c.get("version")), blank_to_none(c.get("purl")), blank_to_none(c.get("type"))])
            walk(c.get("components"))
    walk(bom.get("components"))
    subject = (bom.get("metadata") or {}).get("component") or {}
    digest = subject.get("version") if DIGEST.match(subject.get("version") or "") else None
    return {"format": "cycloneDx", "spec_version": bom["specVersion"], "subject_name": blank_to_none(subject.get("name")),
            "subject_digest": digest, "components": components}
def spdx(document):
    described = set(document.get("documentDescribes") or [])
    for r in document.get("relationships") or []:
        if r["relationshipType"] == "DESCRIBES" and r["spdxElementId"] == "SPDXRef-DOCUMENT":
            described.add(r["relatedSpdxElement"])
    packages = document.get("packages") or []
    subject = None
    if len(described) == 1:
        subject = next((p for p in packages if p["SPDXID"] in described), None)
    components = []
    for p in packages:
        if p is subject:
            continue
        purl = next((r["referenceLocator"] for r in p.get("externalRefs") or [] if r["referenceType"] == "purl"), None)
        purpose = p.get("primaryPackagePurpose")
        components.append([p["name"], blank_to_none(p.get("versionInfo")), blank_to_none(purl),
                           purpose.lower().replace("_", "-") if purpose else None])
    name = subject["name"] if subject else document.get("name")
    return {"format": "spdx", "spec_version": document["spdxVersion"].replace("SPDX-", ""),
            "subject_name": blank_to_none(name), "subject_digest": None, "components": components}
print(json.dumps(cyclonedx(doc) if doc.get("bomFormat") == "CycloneDX" else spdx(doc)))
"#;

/// in-toto envelopes: decode each payload and summarize what its predicate should give.
const PY_INTOTO: &str = r#"
import base64
def summary(statement):
    kind, p = statement["predicateType"], statement["predicate"]
    if kind == "https://slsa.dev/provenance/v0.2":
        return {"facts": "provenance", "builder_id": p["builder"]["id"], "build_type": p["buildType"],
                "materials": len(p.get("materials") or [])}
    if kind == "https://slsa.dev/provenance/v1":
        d = p["buildDefinition"]
        return {"facts": "provenance", "builder_id": p["runDetails"]["builder"]["id"], "build_type": d["buildType"],
                "materials": len(d.get("resolvedDependencies") or [])}
    if kind == "https://cyclonedx.org/bom":
        count = 0
        stack = list(p.get("components") or [])
        while stack:
            c = stack.pop()
            count += 1
            stack.extend(c.get("components") or [])
        return {"facts": "sbom", "components": count, "subject_name": (p.get("metadata") or {}).get("component", {}).get("name")}
    if kind == "https://cosign.sigstore.dev/attestation/vuln/v1":
        result = p["scanner"]["result"]
        sarif_results = sum(len(run.get("results") or []) for run in result.get("runs", []))
        driver = result["runs"][0]["tool"]["driver"]["name"].lower() if "runs" in result else None
        return {"facts": "vulnerabilities", "sarif_results": sarif_results, "scanner": driver,
                "scanner_version": p["scanner"].get("version"), "scanned_at": unix_seconds(p["metadata"]["scanFinishedOn"])}
    return {"facts": None, "predicate_type": kind}
try:
    lines = open(sys.argv[1]).read().strip().splitlines() if sys.argv[1].endswith(".jsonl") else [open(sys.argv[1]).read()]
    envelopes = [json.loads(line) for line in lines]
except ValueError:
    envelopes = []
out = []
for envelope in envelopes:
    if not isinstance(envelope, dict) or "payload" not in envelope:
        continue
    statement = json.loads(base64.b64decode(envelope["payload"]))
    out.append(dict(summary(statement), predicate_type=statement["predicateType"]))
print(json.dumps(out))
"#;

/// Returns the corpus folder, or None after printing the skip message.
fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VOUCH_CORPUS") {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            println!("{SKIP_MESSAGE}");
            None
        }
    }
}

/// Lists the files of one corpus folder, sorted, asserting that there is at least one.
fn files(corpus: &Path, folder: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus.join(folder))
        .unwrap_or_else(|e| panic!("cannot list {folder}: {e}"))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no files in {folder}");
    files
}

/// Runs a Python script over `path` and parses what it prints.
fn python(script: &str, path: &Path) -> Value {
    let output = Command::new("python3")
        .arg("-c")
        .arg(format!("{PY_COMMON}\n{script}"))
        .arg(path)
        .output()
        .expect("python3 runs (the standard library is enough)");
    assert!(
        output.status.success(),
        "python failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("python prints JSON")
}

fn read(path: &Path) -> Vec<u8> {
    read_file_bounded(path, DEFAULT_INPUT_BYTES_MAX).unwrap_or_else(|e| panic!("{e}"))
}

/// Turns a report into the shape that the Python scripts print.
fn report_summary(report: &VulnerabilityReport, with_aliases: bool) -> Value {
    let mut findings = serde_json::Map::new();
    for v in &report.vulnerabilities {
        let key = format!(
            "{}|{}|{}",
            v.id,
            v.package.as_deref().unwrap_or("-"),
            v.installed_version.as_deref().unwrap_or("-")
        );
        let mut entry = json!({
            "severity": v.severity.name(),
            "cvss": v.cvss_score.map(|s| s.tenths()),
            "fixed": v.fixed_version,
        });
        if with_aliases {
            entry["aliases"] = json!(v.aliases);
        }
        findings.insert(key, entry);
    }
    json!({
        "findings": findings,
        "repo_digests": report.repo_digests,
        "scanner_version": report.scanner.version,
        "artifact_name": report.artifact_name,
        "scanned_at": report.scanned_at.map(|t| t.unix_seconds()),
    })
}

/// Checks that facts survive JSON and bincode encoding unchanged.
fn assert_round_trips(facts: &Facts) {
    let json = serde_json::to_vec(facts).expect("facts encode as JSON");
    assert_eq!(&serde_json::from_slice::<Facts>(&json).expect("facts decode from JSON"), facts);

    let config = bincode::config::standard();
    let bytes = bincode::serde::encode_to_vec(facts, config).expect("facts encode with bincode");
    let (decoded, _): (Facts, usize) =
        bincode::serde::decode_from_slice(&bytes, config).expect("facts decode with bincode");
    assert_eq!(&decoded, facts);
}

fn check_counts_match_findings(report: &VulnerabilityReport) {
    let counts = report.counts();
    assert_eq!(counts.total(), report.vulnerabilities.len() as u64);
    for severity in Severity::ALL {
        let listed = report.vulnerabilities.iter().filter(|v| v.severity == severity).count() as u64;
        assert_eq!(counts.get(severity), listed, "{severity}");
    }
}

#[test]
fn trivy_reports_match_independent_reading() {
    let Some(corpus) = corpus() else { return };
    for path in files(&corpus, "trivy") {
        let report = facts::trivy::parse(&path.display().to_string(), &read(&path)).unwrap_or_else(|e| panic!("{e}"));
        let expected = python(PY_TRIVY, &path);
        assert_eq!(report_summary(&report, false), expected, "{}", path.display());
        assert_eq!(report.scanner.name, "trivy");
        assert!(report.warnings.is_empty(), "{}: {:?}", path.display(), report.warnings);
        check_counts_match_findings(&report);
        assert_round_trips(&Facts::Vulnerabilities(report));
    }
}

#[test]
fn grype_reports_match_independent_reading() {
    let Some(corpus) = corpus() else { return };
    for path in files(&corpus, "grype") {
        let report = facts::grype::parse(&path.display().to_string(), &read(&path)).unwrap_or_else(|e| panic!("{e}"));
        let expected = python(PY_GRYPE, &path);
        assert_eq!(report_summary(&report, true), expected, "{}", path.display());
        assert_eq!(report.scanner.name, "grype");
        check_counts_match_findings(&report);
        assert_round_trips(&Facts::Vulnerabilities(report));
    }
}

#[test]
fn grype_duplicate_matches_are_merged() {
    let Some(corpus) = corpus() else { return };
    for path in files(&corpus, "grype") {
        let report = facts::grype::parse("grype", &read(&path)).unwrap_or_else(|e| panic!("{e}"));
        let document: Value = serde_json::from_slice(&read(&path)).expect("corpus file is JSON");
        let matches = document["matches"].as_array().expect("matches is an array").len();
        assert!(report.vulnerabilities.len() <= matches, "{}", path.display());
    }
}

fn sbom_summary(sbom: &Sbom) -> Value {
    let components: Vec<Value> = sbom.components.iter().map(|c| json!([c.name, c.version, c.purl, c.kind])).collect();
    json!({
        "format": serde_json::to_value(sbom.format).expect("format encodes"),
        "spec_version": sbom.spec_version,
        "subject_name": sbom.subject_name,
        "subject_digest": sbom.subject_digest.as_ref().map(ToString::to_string),
        "components": components,
    })
}

#[test]
fn sboms_match_independent_reading() {
    let Some(corpus) = corpus() else { return };
    for path in files(&corpus, "sbom") {
        let bytes = read(&path);
        let name = path.display().to_string();
        let document: Value = serde_json::from_slice(&bytes).expect("corpus file is JSON");
        let sbom = if document.get("bomFormat").is_some() {
            facts::cyclonedx::parse(&name, &bytes)
        } else {
            facts::spdx::parse(&name, &bytes)
        }
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(sbom_summary(&sbom), python(PY_SBOM, &path), "{name}");
        assert_round_trips(&Facts::Sbom(sbom));
    }
}

/// Decodes the statements of an envelope file (one JSON object, or one per line).
fn statements(path: &Path) -> Vec<Value> {
    let text = String::from_utf8(read(path)).expect("envelope is UTF-8");
    let lines: Vec<&str> = if path.extension().is_some_and(|e| e == "jsonl") {
        text.trim().lines().collect()
    } else {
        vec![text.as_str()]
    };
    let mut statements = Vec::new();
    for line in lines {
        let Ok(envelope) = serde_json::from_str::<Value>(line) else { continue };
        let Some(payload) = envelope.get("payload").and_then(Value::as_str) else { continue };
        let decoded = base64::engine::general_purpose::STANDARD.decode(payload).expect("payload is base64");
        statements.push(serde_json::from_slice(&decoded).expect("payload is a JSON statement"));
    }
    statements
}

fn check_provenance(provenance: &Provenance, expected: &Value) {
    assert_eq!(provenance.builder_id, expected["builder_id"]);
    assert_eq!(provenance.build_type, expected["build_type"]);
    assert_eq!(provenance.materials.len() as u64, expected["materials"]);
}

fn check_statement(statement: &Value, expected: &Value, path: &Path) {
    let predicate_type = statement["predicateType"].as_str().expect("predicateType is a string");
    assert_eq!(predicate_type, expected["predicate_type"]);
    let facts = facts::from_statement(predicate_type, &statement["predicate"]).unwrap_or_else(|e| panic!("{e}"));

    match (&facts, expected["facts"].as_str()) {
        (None, None) => {}
        (Some(Facts::Provenance(provenance)), Some("provenance")) => check_provenance(provenance, expected),
        (Some(Facts::Sbom(sbom)), Some("sbom")) => {
            assert_eq!(sbom.components.len() as u64, expected["components"]);
            assert_eq!(json!(sbom.subject_name), expected["subject_name"]);
        }
        (Some(Facts::Vulnerabilities(report)), Some("vulnerabilities")) => {
            assert_eq!(report.vulnerabilities.len() as u64, expected["sarif_results"]);
            assert_eq!(json!(report.scanner.name), expected["scanner"]);
            assert_eq!(json!(report.scanner.version), expected["scanner_version"]);
            assert_eq!(json!(report.scanned_at.map(|t| t.unix_seconds())), expected["scanned_at"]);
        }
        (other, wanted) => panic!("{}: got {other:?}, expected {wanted:?}", path.display()),
    }
    if let Some(facts) = &facts {
        assert_round_trips(facts);
    }
}

#[test]
fn intoto_statements_match_independent_reading() {
    let Some(corpus) = corpus() else { return };
    let mut statements_read = 0;
    for path in files(&corpus, "intoto") {
        let expected = python(PY_INTOTO, &path);
        let expected = expected.as_array().expect("python prints a list");
        let statements = statements(&path);
        assert_eq!(statements.len(), expected.len(), "{}", path.display());
        for (statement, expected) in statements.iter().zip(expected) {
            check_statement(statement, expected, &path);
        }
        statements_read += statements.len();
    }
    assert!(statements_read > 0, "no in-toto statement found in the corpus");
}

#[test]
fn intoto_files_without_envelopes_are_keys() {
    let Some(corpus) = corpus() else { return };
    for path in files(&corpus, "intoto") {
        if statements(&path).is_empty() {
            let text = String::from_utf8_lossy(&read(&path)).into_owned();
            let is_key = text.contains("BEGIN CERTIFICATE") || text.contains("\"keyval\"");
            assert!(is_key, "{} holds no envelope and is not a key or certificate", path.display());
        }
    }
}
