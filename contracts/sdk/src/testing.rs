//! Builders of inputs for policy unit tests that run natively.
//!
//! Every builder takes `'static` strings and fills fields it does not name with
//! neutral values (block height 1, time 0, no aliases, no storage).

use alloc::vec::Vec;

use crate::abi::{
    Attestation, Attester, Block, Decision, DigestRef, Facts, Input, Provenance, Review, Sbom, SbomFormat, Severity,
    SlsaVersion, Vulnerability, VulnerabilityReport,
};

/// Builds an input about `sha256:` + 64 zeros at block 100, time `time_ms`.
pub fn input(time_ms: i64, attestations: Vec<Attestation<'static>>) -> Input<'static> {
    Input {
        image_digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        repositories: Vec::new(),
        block: Block { height: 100, time_ms },
        attestations,
        parameters: "",
        storage: Vec::new(),
    }
}

/// Builds an attestation by `name` with `role`, included at time `time_ms`.
pub fn attestation(
    name: &'static str,
    role: &'static str,
    time_ms: i64,
    facts: Option<Facts<'static>>,
) -> Attestation<'static> {
    Attestation {
        id: "00",
        attester: Attester { name, key_id: name, role },
        predicate_type: "https://example.invalid/predicate",
        included: Block { height: 1, time_ms },
        facts,
    }
}

/// Builds a finding with no fix known.
pub fn vulnerability(id: &'static str, severity: Severity) -> Vulnerability<'static> {
    Vulnerability {
        id,
        aliases: Vec::new(),
        package: Some("pkg"),
        installed_version: Some("1.0"),
        fixed_version: None,
        severity,
        cvss_tenths: None,
    }
}

/// Builds vulnerability facts from `scanner`.
pub fn report(
    scanner: &'static str,
    scanned_at_ms: Option<i64>,
    vulnerabilities: Vec<Vulnerability<'static>>,
) -> Facts<'static> {
    Facts::Vulnerabilities(VulnerabilityReport { scanner, scanner_version: None, scanned_at_ms, vulnerabilities })
}

/// Builds CycloneDX 1.5 SBOM facts with `components` unnamed components and an
/// optional `algorithm:hex` subject digest.
pub fn sbom(components: usize, subject_digest: Option<&'static str>) -> Facts<'static> {
    let subject_digest =
        subject_digest.and_then(|text| text.split_once(':')).map(|(algorithm, hex)| DigestRef { algorithm, hex });
    let component = crate::abi::Component { name: "component", version: None, purl: None, kind: None };
    Facts::Sbom(Sbom {
        format: SbomFormat::CycloneDx,
        spec_version: "1.5",
        subject_name: None,
        subject_digest,
        components: alloc::vec![component; components],
    })
}

/// Builds SLSA v1 provenance facts.
pub fn provenance(builder_id: &'static str, source_repository: Option<&'static str>) -> Facts<'static> {
    Facts::Provenance(Provenance {
        slsa_version: SlsaVersion::V1,
        builder_id,
        build_type: "https://example.invalid/build",
        source_repository,
        source_ref: None,
        source_revision: None,
        entry_point: None,
        materials: Vec::new(),
    })
}

/// Builds review facts.
pub fn review(decision: Decision, expires_at_ms: Option<i64>) -> Facts<'static> {
    Facts::Review(Review { decision, reason: "reviewed", expires_at_ms, reviewer: None })
}
