//! `vouch policy test`: evaluates a policy module locally with the node's runtime on
//! attestation envelopes, as the ledger would after committing them.
//!
//! The attester of each envelope is its first signature's key id, named after the
//! keyring key with that key id when there is one. Roles come from `--role`.
// NOTE: signatures are not verified here and attesters are not looked up on a chain;
// the node checks both when an attestation is submitted.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde::Serialize;
use vouch_keyring::Keyring;
use vouch_node::policy::{EncodedInput, Verdict, abi, facts as fact_views};
use vouch_protocol::digest::Digest;
use vouch_protocol::dsse::{ENVELOPE_BYTES_MAX, Envelope};
use vouch_protocol::facts::{self, Facts};
use vouch_protocol::intoto::{PAYLOAD_TYPE, Statement};

use crate::exit;
use crate::output::{self, OutputFormat};

/// Role of attesters that no `--role` entry names.
pub const DEFAULT_ROLE: &str = "scanner";
/// Maximum number of `--attestation` files, the ledger's default per image.
pub const ATTESTATIONS_MAX: usize = 256;

/// Options of `vouch policy test`.
#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// The WebAssembly policy module.
    pub wasm: PathBuf,
    /// A signed DSSE envelope about the image; repeat for several.
    #[arg(long = "attestation", value_name = "FILE", required = true)]
    pub attestations: Vec<PathBuf>,
    /// The binding's parameters as JSON; the policy's defaults when absent.
    #[arg(long, value_name = "JSON")]
    pub parameters: Option<String>,
    /// The image digest; by default the first subject digest of the first attestation.
    #[arg(long, value_name = "DIGEST")]
    pub image: Option<String>,
    /// An entry of the policy's storage; repeat for several.
    #[arg(long = "storage", value_name = "KEY=VALUE")]
    pub storage: Vec<String>,
    /// An attester's role as NAME=ROLE (NAME is a keyring key name or a key id), or
    /// the role of every other attester as ROLE [default: scanner].
    #[arg(long = "role", value_name = "[NAME=]ROLE")]
    pub roles: Vec<String>,
    /// Block height of the evaluation and of the attestations' inclusion.
    #[arg(long, default_value_t = 1, value_name = "HEIGHT")]
    pub height: u64,
    /// Block time of the evaluation in Unix milliseconds [default: now].
    #[arg(long, value_name = "MS")]
    pub time_ms: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// One attestation read from a file, owning what the ABI input borrows.
struct Loaded {
    id: String,
    key_id: String,
    name: String,
    role: String,
    statement: Statement,
    facts: Option<Facts>,
}

/// The result that `--output json` prints.
#[derive(Serialize)]
struct TestOutput {
    image: String,
    verdict: &'static str,
    reasons: Vec<String>,
    expires_at_ms: Option<i64>,
    fuel_used: u64,
    failure: Option<String>,
}

/// Runs `vouch policy test` and returns the exit code: 0 approved, 3 quarantined,
/// 4 pending.
pub fn run(args: TestArgs, keyring: &Keyring) -> anyhow::Result<u8> {
    if args.attestations.len() > ATTESTATIONS_MAX {
        bail!("{} attestation files given, over the limit of {ATTESTATIONS_MAX}", args.attestations.len());
    }
    let (wasm, runtime) = super::read_checked_module(&args.wasm)?;
    let roles = Roles::parse(&args.roles)?;
    let names = keyring_names(keyring);
    let loaded = args.attestations.iter().map(|path| load(path, &names, &roles)).collect::<anyhow::Result<Vec<_>>>()?;
    let image = image_digest(args.image.as_deref(), &loaded)?;
    check_subjects(&image, &args.attestations, &loaded)?;
    if let Some(json) = &args.parameters {
        serde_json::from_str::<serde_json::Value>(json).context("--parameters is not valid JSON")?;
    }
    let storage = parse_storage(&args.storage)?;

    let time_ms = args.time_ms.unwrap_or_else(now_ms);
    let block = abi::Block { height: args.height, time_ms };
    let image_text = image.to_string();
    let input = build_input(&image_text, &image, block, &loaded, args.parameters.as_deref().unwrap_or(""), &storage);

    let policy = runtime.deploy(&wasm).context("cannot compile the policy module")?;
    let evaluation = runtime.evaluate(&policy, &EncodedInput::encode(&input)).context("policy evaluation failed")?;
    let result = TestOutput {
        image: image_text,
        verdict: verdict_name(evaluation.verdict),
        reasons: evaluation.reasons,
        expires_at_ms: evaluation.expires_at_ms,
        fuel_used: evaluation.fuel_used,
        failure: evaluation.failure.map(|failure| failure.to_string()),
    };
    print(args.output, &result)?;
    Ok(match evaluation.verdict {
        Verdict::Approved => exit::SUCCESS,
        Verdict::Quarantined => exit::QUARANTINED,
        Verdict::Pending => exit::PENDING,
    })
}

/// Roles from `--role`: per attester name or key id, and a default.
struct Roles {
    by_name: BTreeMap<String, String>,
    default: String,
}

impl Roles {
    fn parse(entries: &[String]) -> anyhow::Result<Roles> {
        let mut roles = Roles { by_name: BTreeMap::new(), default: DEFAULT_ROLE.to_owned() };
        for entry in entries {
            match entry.split_once('=') {
                Some((name, role)) if !name.is_empty() && !role.is_empty() => {
                    roles.by_name.insert(name.to_owned(), role.to_owned());
                }
                None if !entry.is_empty() => roles.default = entry.clone(),
                _ => bail!("invalid --role {entry:?}; write NAME=ROLE or ROLE"),
            }
        }
        Ok(roles)
    }

    fn of(&self, name: &str, key_id: &str) -> String {
        self.by_name.get(name).or_else(|| self.by_name.get(key_id)).unwrap_or(&self.default).clone()
    }
}

/// Maps key ids of the keyring's keys to their names; unreadable keys are skipped.
fn keyring_names(keyring: &Keyring) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    let Ok(keys) = keyring.list() else {
        return names;
    };
    for key in keys.into_iter().flatten() {
        if let Ok(key_id) = key.keyid() {
            names.insert(key_id.to_string(), key.name.to_string());
        }
    }
    names
}

fn load(path: &Path, names: &BTreeMap<String, String>, roles: &Roles) -> anyhow::Result<Loaded> {
    let source = path.display().to_string();
    let bytes = vouch_protocol::input::read_file_bounded(path, ENVELOPE_BYTES_MAX as u64)?;
    let envelope = Envelope::from_json(&source, &bytes)?;
    if envelope.payload_type != PAYLOAD_TYPE {
        bail!("{source}: payload type is {:?}, expected {PAYLOAD_TYPE:?}", envelope.payload_type);
    }
    let Some(signature) = envelope.signatures.first() else {
        bail!("{source}: the envelope has no signature; sign it with `vouch attest --envelope`");
    };
    let key_id = signature.keyid.clone();
    let statement = Statement::from_json(&format!("{source} payload"), &envelope.payload)?;
    let facts = facts::from_statement(&statement.predicate_type, &statement.predicate)
        .with_context(|| format!("{source}: invalid predicate"))?;

    let name = names.get(&key_id).cloned().unwrap_or_else(|| key_id.clone());
    let role = roles.of(&name, &key_id);
    let id = blake3::hash(&bytes).to_hex().to_string();
    Ok(Loaded { id, key_id, name, role, statement, facts })
}

/// Returns `--image`, or the first attestation's first supported subject digest.
fn image_digest(image: Option<&str>, loaded: &[Loaded]) -> anyhow::Result<Digest> {
    if let Some(text) = image {
        return Digest::parse(text).with_context(|| format!("invalid --image {text:?}"));
    }
    let first = loaded.first().context("no attestation given")?;
    first
        .statement
        .subjects
        .iter()
        .flat_map(|subject| subject.digest.iter())
        .find_map(|(algorithm, hex)| Digest::parse(&format!("{algorithm}:{hex}")).ok())
        .context("the first attestation has no subject digest Vouch supports; pass --image DIGEST")
}

fn check_subjects(image: &Digest, paths: &[PathBuf], loaded: &[Loaded]) -> anyhow::Result<()> {
    for (path, attestation) in paths.iter().zip(loaded) {
        if !attestation.statement.subject_matches(image) {
            bail!("{}: no subject of the statement has digest {image}; the ledger would not count it", path.display());
        }
    }
    Ok(())
}

/// Parses `--storage KEY=VALUE` entries, sorted by key; a repeated key is an error.
fn parse_storage(entries: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut storage = BTreeMap::new();
    for entry in entries {
        let Some((key, value)) = entry.split_once('=').filter(|(key, _)| !key.is_empty()) else {
            bail!("invalid --storage {entry:?}; write KEY=VALUE");
        };
        if storage.insert(key.to_owned(), value.to_owned()).is_some() {
            bail!("--storage gives key {key:?} twice");
        }
    }
    Ok(storage)
}

fn build_input<'a>(
    image_text: &'a str,
    image: &'a Digest,
    block: abi::Block,
    loaded: &'a [Loaded],
    parameters: &'a str,
    storage: &'a BTreeMap<String, String>,
) -> abi::Input<'a> {
    let mut repositories: Vec<&str> = loaded
        .iter()
        .flat_map(|attestation| attestation.statement.matching_subjects(image))
        .map(|subject| subject.name.as_str())
        .filter(|name| !name.is_empty())
        .collect();
    repositories.sort_unstable();
    repositories.dedup();
    let attestations = loaded
        .iter()
        .map(|attestation| abi::Attestation {
            id: &attestation.id,
            attester: abi::Attester { name: &attestation.name, key_id: &attestation.key_id, role: &attestation.role },
            predicate_type: &attestation.statement.predicate_type,
            included: block,
            facts: attestation.facts.as_ref().map(fact_views::view),
        })
        .collect();
    let storage = storage.iter().map(|(key, value)| abi::StorageEntry { key, value }).collect();
    abi::Input { image_digest: image_text, repositories, block, attestations, parameters, storage }
}

fn now_ms() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

fn verdict_name(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Approved => "approved",
        Verdict::Quarantined => "quarantined",
        Verdict::Pending => "pending",
    }
}

fn print(format: OutputFormat, result: &TestOutput) -> anyhow::Result<()> {
    if format == OutputFormat::Json {
        return output::print_json(result);
    }
    let mut rows = vec![
        vec!["IMAGE".to_owned(), result.image.clone()],
        vec!["VERDICT".to_owned(), result.verdict.to_owned()],
        vec!["FUEL".to_owned(), result.fuel_used.to_string()],
    ];
    if let Some(expiry) = result.expires_at_ms {
        rows.push(vec!["EXPIRES".to_owned(), format!("{expiry} (Unix ms)")]);
    }
    if let Some(failure) = &result.failure {
        rows.push(vec!["FAILURE".to_owned(), failure.clone()]);
    }
    for reason in &result.reasons {
        rows.push(vec!["REASON".to_owned(), reason.clone()]);
    }
    output::print_table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_by_name_and_default() {
        let roles = Roles::parse(&["ci=builder".to_owned(), "reviewer".to_owned()]).unwrap();
        assert_eq!(roles.of("ci", "k1"), "builder");
        assert_eq!(roles.of("other", "k2"), "reviewer");
        let by_key_id = Roles::parse(&["k3=scanner".to_owned()]).unwrap();
        assert_eq!(by_key_id.of("k3-name", "k3"), "scanner");
        assert_eq!(Roles::parse(&[]).unwrap().of("x", "y"), DEFAULT_ROLE);
    }

    #[test]
    fn roles_reject_empty_parts() {
        for entry in ["", "=x", "x="] {
            assert!(Roles::parse(&[entry.to_owned()]).is_err(), "{entry:?}");
        }
    }

    #[test]
    fn storage_is_sorted_and_unique() {
        let storage = parse_storage(&["b=2".to_owned(), "a=1=1".to_owned()]).unwrap();
        assert_eq!(storage.into_iter().collect::<Vec<_>>(), [("a".into(), "1=1".into()), ("b".into(), "2".into())]);
        assert!(parse_storage(&["a=1".to_owned(), "a=2".to_owned()]).is_err());
        assert!(parse_storage(&["novalue".to_owned()]).is_err());
    }
}
