use super::*;
use crate::chain::Height;
use crate::digest::Digest;
use crate::keys::SigningKey;
use crate::signing::ChainId;

fn chain(name: &str) -> ChainId {
    ChainId::new(name).unwrap()
}

fn revoke(nonce: u64) -> TxBody {
    let action = Action::Revoke { image: Digest::sha256(b"image"), envelope_hash: [3; 32], reason: "rescanned".into() };
    TxBody { nonce, action }
}

#[test]
fn signed_tx_round_trips_through_block_bytes() {
    let key = SigningKey::from_seed(&[7; 32]);
    let tx = LedgerTx::Account(Box::new(SignedTx::sign(&revoke(4), &key, &chain("dev"))));
    let decoded = LedgerTx::from_bytes(tx.to_transaction().bytes()).unwrap();
    let LedgerTx::Account(signed) = decoded else { panic!("decoded another kind: {decoded:?}") };
    assert_eq!(signed.verify(&chain("dev")).unwrap(), revoke(4));
    assert_eq!(signed.signer, key.public_key());
}

#[test]
fn signed_tx_is_bound_to_its_chain_and_bytes() {
    let key = SigningKey::from_seed(&[7; 32]);
    let signed = SignedTx::sign(&revoke(0), &key, &chain("dev"));
    assert!(matches!(signed.verify(&chain("prod")), Err(TxError::Signature(_))));
    let mut altered = signed.clone();
    let last = altered.body.len() - 1;
    altered.body[last] ^= 1;
    assert!(matches!(altered.verify(&chain("dev")), Err(TxError::Signature(_))));
}

#[test]
fn oversize_tx_and_fields_are_rejected_with_limits() {
    let bytes = vec![0u8; TX_BYTES_MAX + 1];
    let error = LedgerTx::from_bytes(&bytes).unwrap_err();
    assert!(error.to_string().contains(&TX_BYTES_MAX.to_string()), "{error}");

    let key = SigningKey::from_seed(&[1; 32]);
    let register = |name: String| TxBody {
        nonce: 0,
        action: Action::Propose {
            action: GovAction::RegisterAttester { name, role: "scanner".into(), key: key.public_key() },
            description: String::new(),
        },
    };
    let at_limit = SignedTx::sign(&register("a".repeat(NAME_BYTES_MAX)), &key, &chain("dev"));
    assert!(at_limit.verify(&chain("dev")).is_ok());
    let over = SignedTx::sign(&register("a".repeat(NAME_BYTES_MAX + 1)), &key, &chain("dev"));
    assert!(matches!(over.verify(&chain("dev")), Err(TxError::FieldTooLong { field: "attester name", .. })));
    let empty = SignedTx::sign(&register(String::new()), &key, &chain("dev"));
    assert!(matches!(empty.verify(&chain("dev")), Err(TxError::EmptyField { .. })));
}

fn verdict(policy: &str, verdict: Verdict) -> VerdictRecord {
    VerdictRecord {
        policy: policy.into(),
        policy_version: 1,
        code_hash: [0; 32],
        verdict,
        reasons: vec![],
        expires_at_ms: None,
        height: Height(3),
        time_unix_ms: 0,
        attestations: vec![],
    }
}

fn name(name: &str, policies: &[&str]) -> NameBinding {
    NameBinding { name: name.into(), scope: "*".into(), policies: policies.iter().map(|p| p.to_string()).collect() }
}

#[test]
fn image_status_follows_the_named_repository() {
    let record = ImageRecord {
        names: vec![name("ghcr.io/acme/api", &["scan"]), name("ghcr.io/acme/web", &["scan", "sbom"])],
        verdicts: vec![verdict("scan", Verdict::Approved)],
    };
    assert_eq!(record.status(Some("ghcr.io/acme/api")), ImageStatus::Approved);
    assert_eq!(record.status(Some("ghcr.io/acme/web")), ImageStatus::Pending);
    assert_eq!(record.status(None), ImageStatus::Pending);
    assert_eq!(record.status(Some("ghcr.io/other")), ImageStatus::Pending);

    let quarantined = ImageRecord {
        names: record.names.clone(),
        verdicts: vec![verdict("sbom", Verdict::Quarantined), verdict("scan", Verdict::Approved)],
    };
    assert_eq!(quarantined.status(None), ImageStatus::Quarantined);
    assert_eq!(quarantined.status(Some("ghcr.io/acme/api")), ImageStatus::Approved);
}

#[test]
fn pending_verdict_keeps_the_image_pending() {
    let names = vec![name("ghcr.io/acme/api", &["scan", "review"])];
    let pending = ImageRecord {
        names: names.clone(),
        verdicts: vec![verdict("review", Verdict::Pending), verdict("scan", Verdict::Approved)],
    };
    assert_eq!(pending.status(None), ImageStatus::Pending);
    let quarantined = ImageRecord {
        names,
        verdicts: vec![verdict("review", Verdict::Pending), verdict("scan", Verdict::Quarantined)],
    };
    assert_eq!(quarantined.status(None), ImageStatus::Quarantined);
}
