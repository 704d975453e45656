//! The compact JWS form (RFC 7515 §7.1): three base64url segments, the header, and the claims.
//!
//! Nothing here verifies anything; it only takes a token apart, strictly.

pub(crate) mod claims;
pub(crate) mod header;
mod json;
mod object;

use crate::error::ValidationError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A token split into its segments, still encoded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CompactJws<'a> {
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    pub header: &'a str,
    pub payload: &'a str,
    pub signature: &'a str,
}

impl<'a> CompactJws<'a> {
    /// Splits a token after the size cap; a five-segment JWE gets its own reason.
    pub(crate) fn split(token: &'a str, max_bytes: usize) -> Result<Self, ValidationError> {
        if token.len() > max_bytes {
            return Err(ValidationError::TooLarge {
                size: token.len(),
                limit: max_bytes,
            });
        }
        const THREE: &str = "expected three dot-separated segments";
        // memchr-style searches for the two dots, then a branch-free count of any others.
        let (header, rest) = token
            .split_once('.')
            .ok_or(ValidationError::Malformed(THREE))?;
        let (payload, signature) = rest
            .split_once('.')
            .ok_or(ValidationError::Malformed(THREE))?;
        match signature.bytes().filter(|b| *b == b'.').count() {
            0 => {}
            2 => return Err(ValidationError::Encrypted),
            _ => return Err(ValidationError::Malformed(THREE)),
        }
        if header.is_empty() || payload.is_empty() {
            return Err(ValidationError::Malformed(
                "empty header or payload segment",
            ));
        }
        if signature.is_empty() {
            return Err(ValidationError::Malformed(
                "unsigned token (empty signature)",
            ));
        }
        Ok(CompactJws {
            signing_input: &token[..header.len() + 1 + payload.len()],
            header,
            payload,
            signature,
        })
    }

    /// The signature, decoded into `buf` (512 bytes hold RSA-4096), or on the heap beyond.
    pub(crate) fn signature_bytes<'b>(
        &self,
        buf: &'b mut [u8],
    ) -> Result<json::Decoded<'b>, ValidationError> {
        json::Decoded::new(self.signature, buf)
            .ok_or(ValidationError::Malformed("signature is not base64url"))
    }

    /// The payload, decoded into `buf` when it fits, or on the heap.
    pub(crate) fn payload_bytes<'b>(
        &self,
        buf: &'b mut [u8],
    ) -> Result<json::Decoded<'b>, ValidationError> {
        json::Decoded::new(self.payload, buf)
            .ok_or(ValidationError::Malformed("payload is not base64url"))
    }
}

/// Decodes one segment. The engine refuses padding and non-canonical trailing bits, so one
/// signature has exactly one encoding (no malleability through the last character).
pub(crate) fn decode_segment(
    segment: &str,
    what: &'static str,
) -> Result<Vec<u8>, ValidationError> {
    URL_SAFE_NO_PAD
        .decode(segment)
        .map_err(|_| ValidationError::Malformed(what))
}

/// Encodes bytes as one segment.
pub(crate) fn encode_segment(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_segments_split() {
        let jws = CompactJws::split("aGk.eyJ9.c2ln", 100).map_err(|e| e.to_string());
        let jws = jws
            .as_ref()
            .map(|j| (j.signing_input, j.header, j.payload, j.signature));
        assert_eq!(jws, Ok(("aGk.eyJ9", "aGk", "eyJ9", "c2ln")));
    }

    #[test]
    fn size_cap_applies_before_anything_else() {
        let long = "a".repeat(101);
        assert_eq!(
            CompactJws::split(&long, 100).err(),
            Some(ValidationError::TooLarge {
                size: 101,
                limit: 100
            })
        );
    }

    #[test]
    fn jwe_has_its_own_reason() {
        assert_eq!(
            CompactJws::split("a.b.c.d.e", 100).err(),
            Some(ValidationError::Encrypted)
        );
    }

    #[test]
    fn wrong_segment_counts_are_malformed() {
        for t in ["", "a", "a.b", "a.b.c.d", "a.b.c.d.e.f", "a..c", ".b.c"] {
            assert!(
                matches!(
                    CompactJws::split(t, 100),
                    Err(ValidationError::Malformed(_))
                ),
                "{t:?}"
            );
        }
    }

    #[test]
    fn empty_signature_is_refused() {
        assert_eq!(
            CompactJws::split("a.b.", 100).err(),
            Some(ValidationError::Malformed(
                "unsigned token (empty signature)"
            ))
        );
    }

    #[test]
    fn padding_and_non_canonical_base64_are_refused() {
        assert!(decode_segment("aGk=", "x").is_err());
        assert!(decode_segment("aGk+", "x").is_err());
        // "aGl" decodes to "hi" but with non-zero trailing bits: not canonical.
        assert!(decode_segment("aGl", "x").is_err());
        assert_eq!(decode_segment("aGk", "x").ok(), Some(b"hi".to_vec()));
    }
}
