//! A direct decoder of the input layout, which costs a policy less fuel than
//! bincode's serde path over the same bytes.
//!
//! # Invariants
//! - It accepts exactly the bytes that `bincode::serde` with [`super::CONFIG`]
//!   accepts for [`Input`], and decodes them to the same value (the tests compare
//!   both decoders on every prefix of a sample).
//! - A sequence count is checked against the bytes left before anything is
//!   allocated: each element takes at least [`Decode::ENCODED_BYTES_MIN`] bytes, so
//!   a hostile count fails instead of reserving memory.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{
    Attestation, Attester, Block, Component, Decision, DigestRef, Facts, Input, Material, Provenance, Review, Sbom,
    SbomFormat, Severity, SlsaVersion, StorageEntry, Vulnerability, VulnerabilityReport,
};

/// Why the bytes are not an input; the caller wraps it in `AbiError::Malformed`.
pub(super) type DecodeError = String;

/// A cursor over the encoded input.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    /// Returns how many bytes are left after the value.
    pub(super) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    #[inline]
    fn take(&mut self, length: usize) -> Result<&'a [u8], DecodeError> {
        if length > self.bytes.len() {
            return Err(ends_early(length as u64, self.bytes.len()));
        }
        let (taken, rest) = self.bytes.split_at(length);
        self.bytes = rest;
        Ok(taken)
    }

    #[inline]
    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        Ok(bytes.try_into().expect("take returns exactly N bytes"))
    }

    #[inline]
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    #[inline]
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    #[inline]
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    /// Reads a `u64` length and checks that `length * unit` bytes could follow.
    #[inline]
    fn length(&mut self, unit: usize) -> Result<usize, DecodeError> {
        let length = self.u64()?;
        let fits = usize::try_from(length).ok().filter(|length| length.saturating_mul(unit) <= self.bytes.len());
        fits.ok_or_else(|| {
            format!("a length prefix announces {length} items, more than the {} bytes left hold", self.bytes.len())
        })
    }

    #[inline]
    fn str(&mut self) -> Result<&'a str, DecodeError> {
        let length = self.u64()?;
        let bytes = match usize::try_from(length) {
            Ok(length) => self.take(length)?,
            Err(_) => return Err(ends_early(length, self.bytes.len())),
        };
        utf8(bytes)
    }

    #[inline]
    fn variant(&mut self, type_name: &str, count: u32) -> Result<u32, DecodeError> {
        let index = self.u32()?;
        if index >= count {
            return Err(format!("variant index {index} of {type_name} is not one of the {count} variants"));
        }
        Ok(index)
    }
}

/// Checks that `bytes` are UTF-8. ASCII text, nearly every input string, is
/// checked eight bytes at a time, which costs far less fuel in wasm than
/// `core::str::from_utf8`'s byte-wise path over short, unaligned strings.
#[inline]
fn utf8(bytes: &[u8]) -> Result<&str, DecodeError> {
    const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
    let word = |start: usize| u64::from_le_bytes(bytes[start..start + 8].try_into().expect("8 bytes"));
    let high = if bytes.len() >= 8 {
        // The last word may overlap the one before it, so no byte-wise tail remains.
        let body = (0..bytes.len() - 8).step_by(8).fold(0u64, |high, start| high | word(start));
        body | word(bytes.len() - 8)
    } else {
        bytes.iter().fold(0u64, |high, byte| high | u64::from(*byte))
    };
    if high & HIGH_BITS == 0 {
        // SAFETY: every byte is below 0x80, and ASCII bytes are valid UTF-8.
        return Ok(unsafe { core::str::from_utf8_unchecked(bytes) });
    }
    core::str::from_utf8(bytes).map_err(|error| format!("a string is not valid UTF-8: {error}"))
}

#[cold]
fn ends_early(needed: u64, left: usize) -> DecodeError {
    format!("input ends early; at least {} more bytes are needed", needed - left as u64)
}

/// A type of the input layout.
pub(super) trait Decode<'a>: Sized {
    /// Fewest bytes one value takes, used to bound sequence counts.
    const ENCODED_BYTES_MIN: usize;

    /// Reads one value.
    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError>;
}

impl<'a> Decode<'a> for &'a str {
    const ENCODED_BYTES_MIN: usize = 8;

    #[inline]
    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        reader.str()
    }
}

impl<'a> Decode<'a> for i64 {
    const ENCODED_BYTES_MIN: usize = 8;

    #[inline]
    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(i64::from_le_bytes(reader.array()?))
    }
}

impl<'a> Decode<'a> for u8 {
    const ENCODED_BYTES_MIN: usize = 1;

    #[inline]
    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        reader.u8()
    }
}

impl<'a, T: Decode<'a>> Decode<'a> for Option<T> {
    const ENCODED_BYTES_MIN: usize = 1;

    #[inline]
    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        match reader.u8()? {
            0 => Ok(None),
            1 => T::decode(reader).map(Some),
            tag => Err(format!("an option tag is {tag}, not 0 or 1")),
        }
    }
}

impl<'a, T: Decode<'a>> Decode<'a> for Vec<T> {
    const ENCODED_BYTES_MIN: usize = 8;

    #[inline]
    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let count = reader.length(T::ENCODED_BYTES_MIN.max(1))?;
        let mut items = Vec::with_capacity(count);
        for _ in 0..count {
            items.push(T::decode(reader)?);
        }
        Ok(items)
    }
}

impl<'a, A: Decode<'a>, B: Decode<'a>> Decode<'a> for (A, B) {
    const ENCODED_BYTES_MIN: usize = A::ENCODED_BYTES_MIN + B::ENCODED_BYTES_MIN;

    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok((A::decode(reader)?, B::decode(reader)?))
    }
}

impl<'a> Decode<'a> for Input<'a> {
    const ENCODED_BYTES_MIN: usize = 8 + 8 + 16 + 8 + 8 + 8;

    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Input {
            image_digest: reader.str()?,
            repositories: Decode::decode(reader)?,
            block: Block::decode(reader)?,
            attestations: Decode::decode(reader)?,
            parameters: reader.str()?,
            storage: Decode::decode(reader)?,
        })
    }
}

impl<'a> Decode<'a> for Block {
    const ENCODED_BYTES_MIN: usize = 16;

    #[inline]
    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Block { height: reader.u64()?, time_ms: i64::decode(reader)? })
    }
}

impl<'a> Decode<'a> for Attestation<'a> {
    const ENCODED_BYTES_MIN: usize = 8 + 24 + 8 + 16 + 1;

    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Attestation {
            id: reader.str()?,
            attester: Attester { name: reader.str()?, key_id: reader.str()?, role: reader.str()? },
            predicate_type: reader.str()?,
            included: Block::decode(reader)?,
            facts: Decode::decode(reader)?,
        })
    }
}

impl<'a> Decode<'a> for StorageEntry<'a> {
    const ENCODED_BYTES_MIN: usize = 16;

    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(StorageEntry { key: reader.str()?, value: reader.str()? })
    }
}

impl<'a> Decode<'a> for Facts<'a> {
    const ENCODED_BYTES_MIN: usize = 4;

    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(match reader.variant("Facts", 4)? {
            0 => Facts::Vulnerabilities(VulnerabilityReport::decode(reader)?),
            1 => Facts::Sbom(Sbom::decode(reader)?),
            2 => Facts::Provenance(Provenance::decode(reader)?),
            _ => Facts::Review(Review::decode(reader)?),
        })
    }
}

impl<'a> Decode<'a> for VulnerabilityReport<'a> {
    const ENCODED_BYTES_MIN: usize = 8 + 1 + 1 + 8;

    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(VulnerabilityReport {
            scanner: reader.str()?,
            scanner_version: Decode::decode(reader)?,
            scanned_at_ms: Decode::decode(reader)?,
            vulnerabilities: Decode::decode(reader)?,
        })
    }
}

impl<'a> Decode<'a> for Vulnerability<'a> {
    const ENCODED_BYTES_MIN: usize = 8 + 8 + 1 + 1 + 1 + 4 + 1;

    #[inline]
    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Vulnerability {
            id: reader.str()?,
            aliases: Decode::decode(reader)?,
            package: Decode::decode(reader)?,
            installed_version: Decode::decode(reader)?,
            fixed_version: Decode::decode(reader)?,
            severity: Severity::decode(reader)?,
            cvss_tenths: Decode::decode(reader)?,
        })
    }
}

impl<'a> Decode<'a> for Severity {
    const ENCODED_BYTES_MIN: usize = 4;

    #[inline]
    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(match reader.variant("Severity", 6)? {
            0 => Severity::Unknown,
            1 => Severity::Negligible,
            2 => Severity::Low,
            3 => Severity::Medium,
            4 => Severity::High,
            _ => Severity::Critical,
        })
    }
}

impl<'a> Decode<'a> for Sbom<'a> {
    const ENCODED_BYTES_MIN: usize = 4 + 8 + 1 + 1 + 8;

    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let format = match reader.variant("SbomFormat", 2)? {
            0 => SbomFormat::CycloneDx,
            _ => SbomFormat::Spdx,
        };
        Ok(Sbom {
            format,
            spec_version: reader.str()?,
            subject_name: Decode::decode(reader)?,
            subject_digest: Decode::decode(reader)?,
            components: Decode::decode(reader)?,
        })
    }
}

impl<'a> Decode<'a> for DigestRef<'a> {
    const ENCODED_BYTES_MIN: usize = 16;

    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(DigestRef { algorithm: reader.str()?, hex: reader.str()? })
    }
}

impl<'a> Decode<'a> for Component<'a> {
    const ENCODED_BYTES_MIN: usize = 8 + 1 + 1 + 1;

    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Component {
            name: reader.str()?,
            version: Decode::decode(reader)?,
            purl: Decode::decode(reader)?,
            kind: Decode::decode(reader)?,
        })
    }
}

impl<'a> Decode<'a> for Provenance<'a> {
    const ENCODED_BYTES_MIN: usize = 4 + 8 + 8 + 4 + 8;

    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let slsa_version = match reader.variant("SlsaVersion", 2)? {
            0 => SlsaVersion::V0_2,
            _ => SlsaVersion::V1,
        };
        Ok(Provenance {
            slsa_version,
            builder_id: reader.str()?,
            build_type: reader.str()?,
            source_repository: Decode::decode(reader)?,
            source_ref: Decode::decode(reader)?,
            source_revision: Decode::decode(reader)?,
            entry_point: Decode::decode(reader)?,
            materials: Decode::decode(reader)?,
        })
    }
}

impl<'a> Decode<'a> for Material<'a> {
    const ENCODED_BYTES_MIN: usize = 1 + 1 + 8;

    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Material { uri: Decode::decode(reader)?, name: Decode::decode(reader)?, digests: Decode::decode(reader)? })
    }
}

impl<'a> Decode<'a> for Review<'a> {
    const ENCODED_BYTES_MIN: usize = 4 + 8 + 1 + 1;

    fn decode(reader: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let decision = match reader.variant("Decision", 2)? {
            0 => Decision::Approve,
            _ => Decision::Reject,
        };
        Ok(Review {
            decision,
            reason: reader.str()?,
            expires_at_ms: Decode::decode(reader)?,
            reviewer: Decode::decode(reader)?,
        })
    }
}
