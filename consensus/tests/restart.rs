//! Crash tests of a validator behind its write-ahead log and double-sign guard. The
//! power goes out after every storage operation of a run in turn, so before and after
//! each log append, log sync and guard write. The validator restarts from what was
//! durable and must never sign two different messages at one position.

mod cluster;
mod support;

use cluster::{Cluster, SUBJECT, Torn, VALIDATORS};
use vouch_consensus::host::Recovery;

/// The subject has 2 of the 7 units of voting power, so the other three decide without it.
const POWERS: [u64; VALIDATORS] = [2, 2, 2, 1];
const HEIGHTS: usize = 8;

/// Checks agreement and that the subject signed each position once.
fn check(cluster: &Cluster, context: &str) {
    assert_eq!(cluster.conflicts, Vec::new(), "{context}: the subject signed two messages at one position");
    assert_eq!(cluster.evidence_against_subject, 0, "{context}: peers hold evidence against the subject");
    for (node, chain) in cluster.chains.iter().enumerate() {
        assert_eq!(chain.values, cluster.chains[SUBJECT].values, "{context}: validator {node} decided other values");
    }
}

#[test]
fn run_without_crash_decides_every_height() {
    let mut cluster = Cluster::new(&POWERS, HEIGHTS, None, Torn::Nothing);
    assert!(cluster.run(), "the run did not finish");
    check(&cluster, "no crash");
    assert_eq!(cluster.chains[SUBJECT].values.len(), HEIGHTS);
    assert!(!cluster.subject_signed.is_empty());
}

#[test]
fn crash_at_every_storage_operation_never_double_signs() {
    let mut reference = Cluster::new(&POWERS, HEIGHTS, None, Torn::Nothing);
    assert!(reference.run(), "the run without a crash did not finish");
    let total = reference.storage_operations();

    let (mut fresh, mut replayed, mut cut) = (0, 0, 0);
    // Operation 0 creates the first log file; before it there is nothing to lose.
    for operations in 1..total {
        for torn in Torn::ALL {
            let context = format!(
                "power cut after {operations} of {total} storage operations, {torn:?} of the unsynced bytes kept"
            );
            let mut cluster = Cluster::new(&POWERS, HEIGHTS, Some(operations), torn);
            assert!(cluster.run(), "{context}: the run did not finish");
            check(&cluster, &context);
            assert_eq!(cluster.recoveries.len(), 3, "{context}: expected a restart after the crash and one more");
            match &cluster.recoveries[1] {
                Recovery::Fresh { .. } => fresh += 1,
                Recovery::Replayed { cut_at, .. } => {
                    replayed += 1;
                    cut += usize::from(cut_at.is_some());
                }
            }
        }
    }
    assert!(fresh > 0, "no crash restarted a height without its log");
    assert!(replayed > 0, "no crash replayed a log");
    assert!(cut > 0, "no crash left a torn record to cut");
}
