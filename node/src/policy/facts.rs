//! Views of the protocol's normalized facts in the policy ABI's types, borrowing
//! every string, so the node encodes an input without copying the facts.

use vouch_policy_sdk::abi;
use vouch_protocol::facts::{self, Timestamp};

/// Converts a timestamp to Unix milliseconds, dropping sub-millisecond digits.
pub fn unix_ms(timestamp: Timestamp) -> i64 {
    timestamp.unix_seconds() * 1000 + i64::from(timestamp.nanos() / 1_000_000)
}

/// Returns the ABI view of `facts`.
pub fn view(facts: &facts::Facts) -> abi::Facts<'_> {
    match facts {
        facts::Facts::Vulnerabilities(report) => abi::Facts::Vulnerabilities(vulnerability_report(report)),
        facts::Facts::Sbom(sbom) => abi::Facts::Sbom(self::sbom(sbom)),
        facts::Facts::Provenance(provenance) => abi::Facts::Provenance(self::provenance(provenance)),
        facts::Facts::Review(review) => abi::Facts::Review(self::review(review)),
    }
}

/// Returns the ABI view of a vulnerability report.
pub fn vulnerability_report(report: &facts::VulnerabilityReport) -> abi::VulnerabilityReport<'_> {
    abi::VulnerabilityReport {
        scanner: &report.scanner.name,
        scanner_version: report.scanner.version.as_deref(),
        scanned_at_ms: report.scanned_at.map(unix_ms),
        vulnerabilities: report.vulnerabilities.iter().map(vulnerability).collect(),
    }
}

fn vulnerability(finding: &facts::Vulnerability) -> abi::Vulnerability<'_> {
    abi::Vulnerability {
        id: &finding.id,
        aliases: finding.aliases.iter().map(String::as_str).collect(),
        package: finding.package.as_deref(),
        installed_version: finding.installed_version.as_deref(),
        fixed_version: finding.fixed_version.as_deref(),
        severity: severity(finding.severity),
        cvss_tenths: finding.cvss_score.map(|score| score.tenths()),
    }
}

fn severity(severity: facts::Severity) -> abi::Severity {
    match severity {
        facts::Severity::Unknown => abi::Severity::Unknown,
        facts::Severity::Negligible => abi::Severity::Negligible,
        facts::Severity::Low => abi::Severity::Low,
        facts::Severity::Medium => abi::Severity::Medium,
        facts::Severity::High => abi::Severity::High,
        facts::Severity::Critical => abi::Severity::Critical,
    }
}

fn sbom(sbom: &facts::Sbom) -> abi::Sbom<'_> {
    abi::Sbom {
        format: match sbom.format {
            facts::SbomFormat::CycloneDx => abi::SbomFormat::CycloneDx,
            facts::SbomFormat::Spdx => abi::SbomFormat::Spdx,
        },
        spec_version: &sbom.spec_version,
        subject_name: sbom.subject_name.as_deref(),
        subject_digest: sbom
            .subject_digest
            .as_ref()
            .map(|digest| abi::DigestRef { algorithm: digest.algorithm().name(), hex: digest.hex() }),
        components: sbom.components.iter().map(component).collect(),
    }
}

fn component(component: &facts::Component) -> abi::Component<'_> {
    abi::Component {
        name: &component.name,
        version: component.version.as_deref(),
        purl: component.purl.as_deref(),
        kind: component.kind.as_deref(),
    }
}

fn provenance(provenance: &facts::Provenance) -> abi::Provenance<'_> {
    abi::Provenance {
        slsa_version: match provenance.slsa_version {
            facts::SlsaVersion::V0_2 => abi::SlsaVersion::V0_2,
            facts::SlsaVersion::V1 => abi::SlsaVersion::V1,
        },
        builder_id: &provenance.builder_id,
        build_type: &provenance.build_type,
        source_repository: provenance.source_repository.as_deref(),
        source_ref: provenance.source_ref.as_deref(),
        source_revision: provenance.source_revision.as_deref(),
        entry_point: provenance.entry_point.as_deref(),
        materials: provenance.materials.iter().map(material).collect(),
    }
}

fn material(material: &facts::Material) -> abi::Material<'_> {
    abi::Material {
        uri: material.uri.as_deref(),
        name: material.name.as_deref(),
        digests: material.digest.iter().map(|(algorithm, hex)| (algorithm.as_str(), hex.as_str())).collect(),
    }
}

fn review(review: &facts::Review) -> abi::Review<'_> {
    abi::Review {
        decision: match review.decision {
            facts::Decision::Approve => abi::Decision::Approve,
            facts::Decision::Reject => abi::Decision::Reject,
        },
        reason: &review.reason,
        expires_at_ms: review.expires_at.map(unix_ms),
        reviewer: review.reviewer.as_deref(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_ms_truncates_below_a_millisecond() {
        let timestamp = Timestamp::parse("2024-02-22T19:46:26.372724916Z").unwrap();
        assert_eq!(unix_ms(timestamp), 1_708_631_186_372);
        let before_epoch = Timestamp::parse("1969-12-31T23:59:59.5Z").unwrap();
        assert_eq!(unix_ms(before_epoch), -500);
    }
}
