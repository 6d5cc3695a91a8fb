//! The predicate type alias table: which `predicateType` strings Vouch reads.
//!
//! # Invariants
//! - A predicate type is matched by exact, case-sensitive string against
//!   [`PREDICATE_ALIASES`]; no prefix, version or scheme guessing.
//! - Each alias names one [`PredicateKind`]. Types not in the table are unknown:
//!   the ledger may keep them as opaque attestations, but they carry no facts.

/// Kind of content of a recognized predicate type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PredicateKind {
    /// cosign's vulnerability scan record, with a Trivy or Grype report in `scanner.result`.
    CosignVuln,
    /// in-toto's vulnerabilities predicate v0.1.
    InTotoVulns,
    /// A CycloneDX JSON BOM.
    CycloneDx,
    /// An SPDX 2.x JSON document.
    Spdx,
    /// SLSA provenance v0.2.
    SlsaProvenanceV0_2,
    /// SLSA provenance v1.
    SlsaProvenanceV1,
    /// Vouch's reviewer decision.
    VouchReview,
    /// cosign's custom predicate (`{"Data": …, "Timestamp": …}`): recognized, no facts.
    CosignCustom,
    /// in-toto link: recognized, no facts.
    InTotoLink,
    /// OpenVEX: recognized, no facts yet.
    OpenVex,
}

/// One accepted spelling of a predicate type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PredicateAlias {
    /// The exact string, as a statement's `predicateType` or a CLI `--type` gives it.
    pub name: &'static str,
    /// Kind of content.
    pub kind: PredicateKind,
}

const fn alias(name: &'static str, kind: PredicateKind) -> PredicateAlias {
    PredicateAlias { name, kind }
}

/// The Vouch reviewer decision predicate type.
pub const VOUCH_REVIEW_V1: &str = "https://vouch.dev/review/v1";

/// Every accepted predicate type string. Short names are the values of cosign's
/// `attest --type` option (cosign v2 `cmd/cosign/cli/options/predicate.go`), which
/// cosign turns into the URI before signing; they are listed so that the CLI
/// accepts the same words.
pub const PREDICATE_ALIASES: &[PredicateAlias] = &[
    alias("https://cosign.sigstore.dev/attestation/vuln/v1", PredicateKind::CosignVuln),
    alias("cosign.sigstore.dev/attestation/vuln/v1", PredicateKind::CosignVuln),
    alias("vuln", PredicateKind::CosignVuln),
    alias("https://in-toto.io/attestation/vulns/v0.1", PredicateKind::InTotoVulns),
    alias("https://cyclonedx.org/bom", PredicateKind::CycloneDx),
    alias("https://cyclonedx.org/bom/v1.4", PredicateKind::CycloneDx),
    alias("https://cyclonedx.org/bom/v1.5", PredicateKind::CycloneDx),
    alias("https://cyclonedx.org/bom/v1.6", PredicateKind::CycloneDx),
    alias("cyclonedx", PredicateKind::CycloneDx),
    alias("https://spdx.dev/Document", PredicateKind::Spdx),
    alias("https://spdx.dev/Document/v2.3", PredicateKind::Spdx),
    alias("spdx", PredicateKind::Spdx),
    alias("spdxjson", PredicateKind::Spdx),
    alias("https://slsa.dev/provenance/v0.2", PredicateKind::SlsaProvenanceV0_2),
    alias("slsaprovenance", PredicateKind::SlsaProvenanceV0_2),
    alias("slsaprovenance02", PredicateKind::SlsaProvenanceV0_2),
    alias("https://slsa.dev/provenance/v1", PredicateKind::SlsaProvenanceV1),
    alias("slsaprovenance1", PredicateKind::SlsaProvenanceV1),
    alias(VOUCH_REVIEW_V1, PredicateKind::VouchReview),
    alias("https://cosign.sigstore.dev/attestation/v1", PredicateKind::CosignCustom),
    alias("cosign.sigstore.dev/attestation/v1", PredicateKind::CosignCustom),
    alias("custom", PredicateKind::CosignCustom),
    alias("https://in-toto.io/Link/v1", PredicateKind::InTotoLink),
    alias("link", PredicateKind::InTotoLink),
    alias("https://openvex.dev/ns", PredicateKind::OpenVex),
    alias("openvex", PredicateKind::OpenVex),
];

/// Looks up a predicate type by exact string.
pub fn lookup(predicate_type: &str) -> Option<PredicateKind> {
    PREDICATE_ALIASES.iter().find(|a| a.name == predicate_type).map(|a| a.kind)
}

impl PredicateKind {
    /// Returns the URI that Vouch writes for this kind (the first alias in the table).
    pub fn canonical_type(self) -> &'static str {
        PREDICATE_ALIASES
            .iter()
            .find(|a| a.kind == self)
            .map(|a| a.name)
            .expect("every PredicateKind has at least one alias in PREDICATE_ALIASES")
    }

    /// Returns true when predicates of this kind are read into facts.
    pub fn has_facts(self) -> bool {
        !matches!(self, PredicateKind::CosignCustom | PredicateKind::InTotoLink | PredicateKind::OpenVex)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_are_unique() {
        for (i, a) in PREDICATE_ALIASES.iter().enumerate() {
            assert!(PREDICATE_ALIASES[i + 1..].iter().all(|b| b.name != a.name), "{} listed twice", a.name);
        }
    }

    #[test]
    fn matching_is_exact() {
        assert_eq!(lookup("https://slsa.dev/provenance/v1"), Some(PredicateKind::SlsaProvenanceV1));
        assert_eq!(lookup("cosign.sigstore.dev/attestation/v1"), Some(PredicateKind::CosignCustom));
        assert_eq!(lookup("vuln"), Some(PredicateKind::CosignVuln));
        assert_eq!(lookup("https://slsa.dev/provenance/v1/"), None);
        assert_eq!(lookup("HTTPS://SLSA.DEV/PROVENANCE/V1"), None);
        assert_eq!(lookup("https://example.com/custom/v1"), None);
    }

    #[test]
    fn canonical_types_are_uris() {
        for a in PREDICATE_ALIASES {
            let canonical = a.kind.canonical_type();
            assert!(canonical.starts_with("https://"), "{canonical}");
            assert_eq!(lookup(canonical), Some(a.kind));
        }
    }
}
