//! Standard policy: approve an image once at least k distinct registered attesters
//! vouch for it, with the roles the binding requires.
//!
//! Parameters (JSON, all optional): `threshold` (k, default 1, at least 1),
//! `attesters` (names that count; default empty: every registered attester),
//! `roles` (roles that count; default empty: every role), `required_roles` (roles
//! that must each appear among the counted attesters; default none) and
//! `predicate_types` (predicate types that count; default empty: every type).
//!
//! An attestation counts when its attester, role and predicate type are allowed;
//! a review counts only when it approves and has not expired. Attesters are counted
//! once each, by registered name, however many attestations they signed. An allowed
//! reviewer's rejection that has not expired quarantines the image. An approval
//! that relies on expiring reviews expires with the earliest of them.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use serde::Deserialize;
use vouch_policy_sdk::{Attestation, Decision, Facts, Input, Output, Review, Verdict};

vouch_policy_sdk::entry!(evaluate);

/// The binding's parameters.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Parameters {
    /// How many distinct attesters must vouch.
    pub threshold: u32,
    /// Attester names that count; empty for all.
    pub attesters: Vec<String>,
    /// Roles that count; empty for all.
    pub roles: Vec<String>,
    /// Roles that must each be represented among the counted attesters.
    pub required_roles: Vec<String>,
    /// Predicate types that count; empty for all.
    pub predicate_types: Vec<String>,
}

impl Default for Parameters {
    fn default() -> Parameters {
        Parameters {
            threshold: 1,
            attesters: Vec::new(),
            roles: Vec::new(),
            required_roles: Vec::new(),
            predicate_types: Vec::new(),
        }
    }
}

impl Parameters {
    /// Checks that the threshold can be met.
    fn check(&self) -> Result<(), String> {
        if self.threshold == 0 {
            return Err(String::from("invalid policy parameters: threshold must be at least 1"));
        }
        if !self.attesters.is_empty() && self.threshold as usize > self.attesters.len() {
            return Err(format!(
                "invalid policy parameters: threshold {} is more than the {} listed attesters",
                self.threshold,
                self.attesters.len()
            ));
        }
        Ok(())
    }

    fn allows(&self, attestation: &Attestation<'_>) -> bool {
        let listed = |list: &[String], value: &str| list.is_empty() || list.iter().any(|item| item == value);
        listed(&self.attesters, attestation.attester.name)
            && listed(&self.roles, attestation.attester.role)
            && listed(&self.predicate_types, attestation.predicate_type)
    }
}

/// The attesters counted so far, sorted by name.
#[derive(Default)]
struct Tally<'a> {
    /// (name, role) of each counted attester.
    counted: Vec<(&'a str, &'a str)>,
    /// Earliest expiry of a counted review.
    expires_at_ms: Option<i64>,
}

impl<'a> Tally<'a> {
    fn count(&mut self, attestation: &Attestation<'a>) {
        let attester = attestation.attester;
        if let Err(index) = self.counted.binary_search_by(|(name, _)| (*name).cmp(attester.name)) {
            self.counted.insert(index, (attester.name, attester.role));
        }
    }

    fn missing_roles<'p>(&self, parameters: &'p Parameters) -> Vec<&'p str> {
        let present = |role: &str| self.counted.iter().any(|(_, counted_role)| *counted_role == role);
        parameters.required_roles.iter().map(String::as_str).filter(|role| !present(role)).collect()
    }
}

/// Evaluates the image against the attester requirements.
pub fn evaluate(input: &Input<'_>) -> Output {
    let parameters: Parameters =
        match vouch_policy_sdk::parameters(input).and_then(|p: Parameters| p.check().map(|()| p)) {
            Ok(parameters) => parameters,
            Err(error) => return Output::quarantined(error),
        };

    let mut tally = Tally::default();
    for attestation in input.attestations.iter().filter(|a| parameters.allows(a)) {
        match &attestation.facts {
            Some(Facts::Review(review)) if in_force(review, input.block.time_ms) => {
                if review.decision == Decision::Reject {
                    return rejected(attestation, review);
                }
                tally.count(attestation);
                if let Some(expires_at_ms) = review.expires_at_ms {
                    tally.expires_at_ms = Some(tally.expires_at_ms.map_or(expires_at_ms, |e| e.min(expires_at_ms)));
                }
            }
            Some(Facts::Review(_)) => {}
            _ => tally.count(attestation),
        }
    }
    decide(&parameters, &tally)
}

fn in_force(review: &Review<'_>, time_ms: i64) -> bool {
    review.expires_at_ms.is_none_or(|expires_at_ms| time_ms < expires_at_ms)
}

fn rejected(attestation: &Attestation<'_>, review: &Review<'_>) -> Output {
    let mut output =
        Output::quarantined(format!("{} rejected the image: {}", attestation.attester.name, review.reason));
    if let Some(expires_at_ms) = review.expires_at_ms {
        output.expire_by(expires_at_ms);
    }
    output
}

fn decide(parameters: &Parameters, tally: &Tally<'_>) -> Output {
    let names: Vec<&str> = tally.counted.iter().map(|(name, _)| *name).collect();
    let attested_by = if names.is_empty() { String::from("nobody") } else { names.join(", ") };
    let summary = format!("attested by {attested_by} ({} distinct, {} required)", names.len(), parameters.threshold);
    let missing = tally.missing_roles(parameters);
    if names.len() < parameters.threshold as usize || !missing.is_empty() {
        let mut output = Output::new(Verdict::Pending).with_reason(summary);
        if !missing.is_empty() {
            output.push_reason(format!("no attester yet with the roles: {}", missing.join(", ")));
        }
        return output;
    }
    let mut output = Output::approved().with_reason(summary);
    if let Some(expires_at_ms) = tally.expires_at_ms {
        output.expire_by(expires_at_ms);
    }
    output
}

#[cfg(test)]
mod tests;
