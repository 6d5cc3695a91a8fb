//! The genesis checks against the protocol's limits, at and past each edge.

use super::*;
use crate::keys::SigningKey;

fn genesis() -> Genesis {
    let validator =
        GenesisValidator { name: "v".to_owned(), public_key: SigningKey::from_seed(&[1; 32]).public_key(), stake: 1 };
    Genesis::with_validators(ChainId::new("genesis-test").expect("valid chain id"), 1_700_000_000_000, vec![validator])
}

/// Returns the error message of the genesis after `change`, or `None` when it passes.
fn check_after(change: impl FnOnce(&mut Genesis)) -> Option<String> {
    let mut genesis = genesis();
    change(&mut genesis);
    genesis.check("genesis.json").err().map(|error| error.to_string())
}

#[test]
fn default_parameters_pass() {
    assert_eq!(check_after(|_| {}), None);
}

#[test]
fn limits_hold_at_the_edge() {
    type Set = fn(&mut Genesis, u64);
    let cases: &[(&str, u64, u64, Set)] = &[
        ("genesis_time_unix_ms", *GENESIS_TIME_RANGE_UNIX_MS.start(), *GENESIS_TIME_RANGE_UNIX_MS.end(), |g, v| {
            g.genesis_time_unix_ms = v
        }),
        ("consensus.block_txs_max", 1, BLOCK_TXS_MAX as u64, |g, v| g.consensus.block_txs_max = v as u32),
        ("consensus.envelope_bytes_max", u64::from(ENVELOPE_BYTES_MIN), TX_BYTES_MAX as u64, |g, v| {
            g.consensus.envelope_bytes_max = v as u32
        }),
    ];
    for (field, min, max, set) in cases {
        assert_eq!(check_after(|g| set(g, *min)), None, "{field} at its minimum {min}");
        assert_eq!(check_after(|g| set(g, *max)), None, "{field} at its maximum {max}");

        let below = check_after(|g| set(g, min - 1)).unwrap_or_else(|| panic!("{field} below its minimum passed"));
        assert!(below.contains(&format!("`{field}` is {}", min - 1)), "{below}");
        assert!(below.contains(&format!("set it between {min} and {max}")), "{below}");

        let above = check_after(|g| set(g, max + 1)).unwrap_or_else(|| panic!("{field} above its maximum passed"));
        assert!(above.contains(&format!("`{field}` is {}", max + 1)), "{above}");
    }
}

#[test]
fn largest_time_is_rejected() {
    let message = check_after(|g| g.genesis_time_unix_ms = u64::MAX).expect("u64::MAX is rejected");
    assert!(message.contains("`genesis_time_unix_ms` is 18446744073709551615"), "{message}");
}

#[test]
fn zero_counts_are_rejected() {
    type Change = fn(&mut Genesis);
    let cases: &[(&str, Change)] = &[
        ("governance.voting_period_blocks", |g| g.governance.voting_period_blocks = 0),
        ("governance.open_proposals_max", |g| g.governance.open_proposals_max = 0),
        ("consensus.attestations_per_image_max", |g| g.consensus.attestations_per_image_max = 0),
        ("consensus.reevaluations_per_block", |g| g.consensus.reevaluations_per_block = 0),
        ("policy_limits.fuel_per_evaluation", |g| g.policy_limits.fuel_per_evaluation = 0),
        ("policy_limits.memory_bytes_max", |g| g.policy_limits.memory_bytes_max = 0),
        ("policy_limits.table_elements_max", |g| g.policy_limits.table_elements_max = 0),
        ("policy_limits.wasm_stack_bytes_max", |g| g.policy_limits.wasm_stack_bytes_max = 0),
        ("policy_limits.module_bytes_max", |g| g.policy_limits.module_bytes_max = 0),
        ("policy_limits.input_bytes_max", |g| g.policy_limits.input_bytes_max = 0),
    ];
    for (field, change) in cases {
        let message = check_after(*change).unwrap_or_else(|| panic!("{field} of 0 passed"));
        assert!(message.contains(&format!("`{field}` is 0; set it to at least 1")), "{message}");
    }
}

#[test]
fn block_txs_max_of_zero_names_the_range() {
    let message = check_after(|g| g.consensus.block_txs_max = 0).expect("0 is rejected");
    assert!(message.contains(&format!("set it between 1 and {BLOCK_TXS_MAX}")), "{message}");
    assert!(message.starts_with("genesis genesis.json:"), "{message}");
}
