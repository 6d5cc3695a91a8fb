//! Reviewer decisions (`--approve` or `--reject`) as Vouch review predicates.

use anyhow::{Context, bail};
use vouch_protocol::facts::review as review_reader;
use vouch_protocol::facts::{Decision, Review, Timestamp};
use vouch_protocol::predicate::VOUCH_REVIEW_V1;

use super::AttestArgs;
use super::duration::parse_expiry;
use super::image::Target;
use super::predicate::{Prepared, statement_about};
use super::sign::Unsigned;
use super::summary::Summary;
use super::vuln::now;

/// Builds the review statement from `--approve`/`--reject`, `--reason`, `--expires`
/// and `--reviewer`.
pub fn prepare(args: &AttestArgs, target: &Target) -> anyhow::Result<Prepared> {
    let decision = if args.approve { Decision::Approve } else { Decision::Reject };
    let reason = args.reason.clone().context("--reason TEXT is required with --approve and --reject")?;
    let expires_at = args.expires.as_deref().map(expiry_time).transpose()?;
    let reviewer = args.reviewer.as_deref().map(check_reviewer).transpose()?;
    let review = Review { decision, reason, expires_at, reviewer };

    let predicate = serde_json::to_value(&review).context("cannot encode the review")?;
    review_reader::from_value("--reason/--reviewer", &predicate)?;
    let (payload, _) = statement_about(target, VOUCH_REVIEW_V1, &predicate)?;

    let mut summary = Summary::new(VOUCH_REVIEW_V1);
    summary.line("decision", if args.approve { "approve" } else { "reject" });
    summary.line("expires", expires_at.map_or_else(|| "never".to_owned(), |time| time.to_string()));
    Ok(Prepared { unsigned: Unsigned::Statement(payload), summary })
}

/// Rejects a blank `--reviewer`, which would sign a review that names nobody.
fn check_reviewer(text: &str) -> anyhow::Result<String> {
    if text.trim().is_empty() {
        bail!("--reviewer is empty; give the reviewer's name or email, or leave out --reviewer");
    }
    Ok(text.to_owned())
}

/// Returns now plus the `--expires` duration, in whole seconds UTC.
fn expiry_time(text: &str) -> anyhow::Result<Timestamp> {
    let duration = parse_expiry(text)?;
    let seconds = now().unix_seconds() + i64::try_from(duration.as_secs()).expect("the expiry maximum fits in i64");
    Timestamp::from_unix(seconds, 0).with_context(|| format!("--expires {text} ends after the year 9999"))
}
