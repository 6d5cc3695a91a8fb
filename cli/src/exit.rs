//! Exit codes that scripts can rely on. Usage errors exit with 2, which clap sets.

use vouch_protocol::ledger::ImageStatus;

/// The command succeeded; for `verify` and `policy test`, the image is approved.
pub const SUCCESS: u8 = 0;
/// The command failed, including a proof that does not verify.
pub const FAILURE: u8 = 1;
/// `verify` or `policy test`: the image is quarantined.
pub const QUARANTINED: u8 = 3;
/// `verify`: the image is pending (no verdict yet from every bound policy).
pub const PENDING: u8 = 4;

/// Returns the exit code of `verify` for a verified status.
pub fn for_status(status: ImageStatus) -> u8 {
    match status {
        ImageStatus::Approved => SUCCESS,
        ImageStatus::Quarantined => QUARANTINED,
        ImageStatus::Pending => PENDING,
    }
}
