//! Helpers that pick facts out of an input by the rules the standard policies share.

use alloc::vec::Vec;

use crate::abi::{Attestation, Facts, Input, VulnerabilityReport};

impl<'a> Input<'a> {
    /// Iterates over the attestations that carry facts, oldest inclusion first.
    pub fn facts(&self) -> impl Iterator<Item = (&Attestation<'a>, &Facts<'a>)> {
        self.attestations.iter().filter_map(|attestation| attestation.facts.as_ref().map(|facts| (attestation, facts)))
    }

    /// Iterates over the vulnerability reports, oldest inclusion first.
    pub fn vulnerability_reports(&self) -> impl Iterator<Item = (&Attestation<'a>, &VulnerabilityReport<'a>)> {
        self.facts().filter_map(|(attestation, facts)| match facts {
            Facts::Vulnerabilities(report) => Some((attestation, report)),
            _ => None,
        })
    }

    /// Returns the newest vulnerability report of each scanner, sorted by scanner
    /// name. "Newest" is the last in ledger order (inclusion height, then position in
    /// the block), so a rescan by the same scanner replaces the earlier report while
    /// reports of different scanners all count.
    pub fn newest_scans(&self) -> Vec<(&Attestation<'a>, &VulnerabilityReport<'a>)> {
        let mut newest: Vec<(&Attestation<'a>, &VulnerabilityReport<'a>)> = Vec::new();
        for (attestation, report) in self.vulnerability_reports() {
            match newest.binary_search_by(|(_, kept)| kept.scanner.cmp(report.scanner)) {
                Ok(index) => newest[index] = (attestation, report),
                Err(index) => newest.insert(index, (attestation, report)),
            }
        }
        newest
    }
}

/// Returns true when `text` equals `pattern`, or starts with the part of `pattern`
/// before a final `*` (`https://github.com/org/*` matches every repository of `org`).
pub fn matches_pattern(pattern: &str, text: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => text.starts_with(prefix),
        None => text == pattern,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{Attester, Block};
    use alloc::vec;

    fn scan(scanner: &'static str, height: u64) -> Attestation<'static> {
        Attestation {
            id: "id",
            attester: Attester { name: "s", key_id: "k", role: "scanner" },
            predicate_type: "vuln",
            included: Block { height, time_ms: 0 },
            facts: Some(Facts::Vulnerabilities(VulnerabilityReport {
                scanner,
                scanner_version: None,
                scanned_at_ms: None,
                vulnerabilities: vec![],
            })),
        }
    }

    #[test]
    fn newest_scan_per_scanner() {
        let input = Input {
            image_digest: "sha256:00",
            repositories: vec![],
            block: Block { height: 9, time_ms: 0 },
            attestations: vec![scan("trivy", 1), scan("grype", 2), scan("trivy", 3)],
            parameters: "",
            storage: vec![],
        };
        let newest: Vec<(&str, u64)> =
            input.newest_scans().iter().map(|(a, r)| (r.scanner, a.included.height)).collect();
        assert_eq!(newest, [("grype", 2), ("trivy", 3)]);
    }

    #[test]
    fn pattern_exact_and_prefix() {
        assert!(matches_pattern("https://tekton.dev/chains/v2", "https://tekton.dev/chains/v2"));
        assert!(!matches_pattern("https://tekton.dev/chains/v2", "https://tekton.dev/chains/v22"));
        assert!(matches_pattern("https://github.com/org/*", "https://github.com/org/repo"));
        assert!(!matches_pattern("https://github.com/org/*", "https://github.com/other/repo"));
        assert!(matches_pattern("*", "anything"));
    }
}
