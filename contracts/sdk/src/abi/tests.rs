use super::*;
use alloc::string::ToString;
use alloc::vec;

fn sample_input() -> Input<'static> {
    Input {
        image_digest: "sha256:ab",
        repositories: vec!["docker.io/library/alpine"],
        block: Block { height: 7, time_ms: 1_700_000_000_000 },
        attestations: vec![Attestation {
            id: "00ff",
            attester: Attester { name: "trivy-ci", key_id: "k1", role: "scanner" },
            predicate_type: "https://cosign.sigstore.dev/attestation/vuln/v1",
            included: Block { height: 5, time_ms: 1_699_999_000_000 },
            facts: Some(Facts::Vulnerabilities(VulnerabilityReport {
                scanner: "trivy",
                scanner_version: Some("0.50.0"),
                scanned_at_ms: Some(-5),
                vulnerabilities: vec![Vulnerability {
                    id: "CVE-2024-0001",
                    aliases: vec!["GHSA-xxxx"],
                    package: Some("openssl"),
                    installed_version: Some("3.0.0"),
                    fixed_version: None,
                    severity: Severity::High,
                    cvss_tenths: Some(75),
                }],
            })),
        }],
        parameters: "{}",
        storage: vec![
            StorageEntry { key: "allow/a", value: "1" },
            StorageEntry { key: "exemption/CVE-1", value: "2" },
            StorageEntry { key: "exemption/CVE-2", value: "3" },
            StorageEntry { key: "z", value: "4" },
        ],
    }
}

#[test]
fn input_round_trips() {
    let input = sample_input();
    let bytes = input.encode();
    assert_eq!(Input::decode(&bytes).unwrap(), input);
}

#[test]
fn input_golden_prefix() {
    // image_digest: u64 length 9 then the bytes; repositories: u64 count 1, then the
    // string; block: u64 height, i64 time.
    let bytes = sample_input().encode();
    let mut expected = vec![9, 0, 0, 0, 0, 0, 0, 0];
    expected.extend_from_slice(b"sha256:ab");
    expected.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0]);
    expected.extend_from_slice(b"docker.io/library/alpine");
    expected.extend_from_slice(&7u64.to_le_bytes());
    expected.extend_from_slice(&1_700_000_000_000i64.to_le_bytes());
    assert_eq!(&bytes[..expected.len()], &expected[..]);
}

#[test]
fn input_trailing_bytes_rejected() {
    let mut bytes = sample_input().encode();
    bytes.push(0);
    assert_eq!(Input::decode(&bytes), Err(AbiError::TrailingBytes { what: "input", trailing: 1 }));
}

#[test]
fn input_truncated_rejected() {
    let bytes = sample_input().encode();
    let error = Input::decode(&bytes[..bytes.len() - 3]).unwrap_err();
    assert!(matches!(error, AbiError::Malformed { what: "input", .. }), "{error}");
    assert!(error.to_string().contains("more bytes are needed"), "{error}");
}

#[test]
fn storage_lookup_and_prefix() {
    let input = sample_input();
    assert_eq!(input.storage("z"), Some("4"));
    assert_eq!(input.storage("exemption/"), None);
    let keys: Vec<&str> = input.storage_with_prefix("exemption/").map(|entry| entry.key).collect();
    assert_eq!(keys, ["exemption/CVE-1", "exemption/CVE-2"]);
    assert_eq!(input.storage_with_prefix("nothing/").count(), 0);
}

#[test]
fn output_round_trips() {
    let mut output = Output::quarantined("CVE-1 is critical");
    output.expire_by(50);
    output.expire_by(70);
    assert_eq!(output.expires_at_ms, Some(50));
    assert_eq!(Output::decode(&output.encode()).unwrap(), output);
}

#[test]
fn output_reason_cut_at_char_boundary() {
    let long = "é".repeat(REASON_BYTES_MAX);
    let output = Output::pending(long);
    assert_eq!(output.reasons[0].len(), REASON_BYTES_MAX);
    let exact = "a".repeat(REASON_BYTES_MAX + 1);
    assert_eq!(Output::pending(exact).reasons[0].len(), REASON_BYTES_MAX);
}

#[test]
fn output_reasons_capped() {
    let mut output = Output::approved();
    for index in 0..REASONS_MAX + 5 {
        output.push_reason(alloc::format!("reason {index}"));
    }
    assert_eq!(output.reasons.len(), REASONS_MAX);
    assert_eq!(output.reasons[REASONS_MAX - 2], alloc::format!("reason {}", REASONS_MAX - 2));
    assert_eq!(output.reasons[REASONS_MAX - 1], "further reasons omitted");
    assert!(Output::decode(&output.encode()).is_ok());
}

#[test]
fn largest_valid_output_fits_limit() {
    let output = Output {
        verdict: Verdict::Quarantined,
        reasons: vec!["x".repeat(REASON_BYTES_MAX); REASONS_MAX],
        expires_at_ms: Some(i64::MAX),
    };
    assert_eq!(output.encode().len(), 4245);
    assert!(output.encode().len() <= OUTPUT_BYTES_MAX);
    assert!(Output::decode(&output.encode()).is_ok());
}

#[test]
fn output_limits_checked_on_decode() {
    let too_many =
        Output { verdict: Verdict::Approved, reasons: vec![String::new(); REASONS_MAX + 1], expires_at_ms: None };
    assert_eq!(Output::decode(&too_many.encode()), Err(AbiError::TooManyReasons { count: REASONS_MAX + 1 }));

    let too_long = Output {
        verdict: Verdict::Approved,
        reasons: vec!["ok".to_string(), "x".repeat(REASON_BYTES_MAX + 1)],
        expires_at_ms: None,
    };
    assert_eq!(
        Output::decode(&too_long.encode()),
        Err(AbiError::ReasonTooLong { index: 1, length: REASON_BYTES_MAX + 1 })
    );

    let oversize = vec![0u8; OUTPUT_BYTES_MAX + 1];
    assert_eq!(
        Output::decode(&oversize),
        Err(AbiError::TooLarge { what: "output", size: OUTPUT_BYTES_MAX + 1, max: OUTPUT_BYTES_MAX })
    );
}

#[test]
fn output_bad_verdict_rejected() {
    let mut bytes = Output::approved().encode();
    bytes[0] = 9;
    let error = Output::decode(&bytes).unwrap_err();
    assert!(matches!(error, AbiError::Malformed { what: "output", .. }), "{error}");
}

#[test]
fn severity_order_and_names() {
    assert!(Severity::Unknown < Severity::Negligible && Severity::High < Severity::Critical);
    assert_eq!(serde_json::from_str::<Severity>("\"medium\"").unwrap(), Severity::Medium);
    assert_eq!(Severity::Critical.to_string(), "critical");
}

fn every_facts_kind() -> Input<'static> {
    let mut input = sample_input();
    let attestation = input.attestations[0].clone();
    let with = |facts| Attestation { facts: Some(facts), ..attestation.clone() };
    input.attestations.push(with(Facts::Sbom(Sbom {
        format: SbomFormat::Spdx,
        spec_version: "2.3",
        subject_name: Some("alpine"),
        subject_digest: None,
        components: vec![Component { name: "musl", version: Some("1.2"), purl: None, kind: Some("library") }],
    })));
    input.attestations.push(with(Facts::Provenance(Provenance {
        slsa_version: SlsaVersion::V0_2,
        builder_id: "https://tekton.dev/chains/v2",
        build_type: "t",
        source_repository: Some("https://github.com/a/b"),
        source_ref: None,
        source_revision: Some("abc"),
        entry_point: None,
        materials: vec![Material { uri: Some("git+x"), name: None, digests: vec![("sha1", "abc")] }],
    })));
    input.attestations.push(with(Facts::Review(Review {
        decision: Decision::Reject,
        reason: "no",
        expires_at_ms: Some(9),
        reviewer: None,
    })));
    input.attestations.push(Attestation { facts: None, ..attestation });
    input
}

#[test]
fn every_facts_kind_round_trips() {
    let input = every_facts_kind();
    let bytes = input.encode();
    assert_eq!(Input::decode(&bytes).unwrap(), input);
}

#[test]
fn every_prefix_rejected() {
    let bytes = every_facts_kind().encode();
    for end in 0..bytes.len() {
        assert!(Input::decode(&bytes[..end]).is_err(), "prefix of {end} bytes decoded");
    }
}

#[test]
fn hostile_length_rejected() {
    let mut bytes = sample_input().encode();
    // The repositories count follows the 8 + 9 bytes of the image digest.
    bytes[17..25].copy_from_slice(&u64::MAX.to_le_bytes());
    let error = Input::decode(&bytes).unwrap_err();
    assert!(matches!(error, AbiError::Malformed { what: "input", .. }), "{error}");
}

/// Decodes with bincode's serde path, the reference the direct decoder must match.
fn serde_decode(bytes: &[u8]) -> Option<Input<'_>> {
    let (input, read): (Input<'_>, usize) = bincode::serde::borrow_decode_from_slice(bytes, CONFIG).ok()?;
    (read == bytes.len()).then_some(input)
}

#[test]
fn direct_decoder_matches_serde_on_prefixes_and_byte_changes() {
    let bytes = every_facts_kind().encode();
    for end in 0..=bytes.len() {
        assert_eq!(Input::decode(&bytes[..end]).ok(), serde_decode(&bytes[..end]), "prefix of {end} bytes");
    }
    for position in 0..bytes.len() {
        for value in [0u8, 1, 2, 5, 0x80, 0xff] {
            let mut changed = bytes.clone();
            changed[position] = value;
            assert_eq!(Input::decode(&changed).ok(), serde_decode(&changed), "byte {position} set to {value}");
        }
    }
}

#[test]
fn bad_tags_and_utf8_rejected_with_their_value() {
    let mut bytes = sample_input().encode();
    // The option tag of `facts` is the first byte where an encoding without facts
    // differs; its 4-byte variant index follows.
    let mut no_facts = sample_input();
    no_facts.attestations[0].facts = None;
    let tag_at = bytes.iter().zip(no_facts.encode()).position(|(a, b)| *a != b).unwrap();
    assert_eq!(bytes[tag_at], 1);
    bytes[tag_at] = 2;
    let error = Input::decode(&bytes).unwrap_err().to_string();
    assert!(error.contains("option tag is 2"), "{error}");
    bytes[tag_at] = 1;
    bytes[tag_at + 1] = 9;
    let error = Input::decode(&bytes).unwrap_err().to_string();
    assert!(error.contains("variant index 9 of Facts"), "{error}");

    let mut bytes = sample_input().encode();
    bytes[8] = 0xff; // the first byte of the image digest
    let error = Input::decode(&bytes).unwrap_err().to_string();
    assert!(error.contains("not valid UTF-8"), "{error}");
}

#[test]
fn non_ascii_strings_round_trip() {
    let mut input = sample_input();
    input.parameters = "{\"note\": \"Überprüfung läuft\"}";
    input.repositories = vec!["é", "registry.example/ünïcode/path"];
    let bytes = input.encode();
    assert_eq!(Input::decode(&bytes).unwrap(), input);
}
