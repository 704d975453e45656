//! The JOSE header: `typ`, `alg`, `kid` and `crit` are read; nothing else is trusted.
//!
//! `jku`, `x5u`, `jwk` and `x5c` are deliberately ignored: a key named by the token itself
//! proves nothing (RFC 8725 §3.10), and following a URL from it would let any sender make the
//! server fetch.

use super::json::{Decoded, Name, Text};
use super::object::UniqueValue;
use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::error::ValidationError;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Header members read at most: real headers have a handful; more is refused rather than
/// tracked (duplicate detection stays allocation-free).
const MAX_MEMBERS: usize = 16;

/// A header that passed the checks of RFC 9068 §4 steps 2 and 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub alg: Algorithm,
    pub kid: Option<Kid>,
}

/// A key id, inline when short (nearly always), so that reading it allocates nothing.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Kid {
    Inline([u8; 64], u8),
    Heap(String),
}

impl Kid {
    fn new(kid: &str) -> Kid {
        let bytes = kid.as_bytes();
        match u8::try_from(bytes.len()) {
            Ok(len) if bytes.len() <= 64 => {
                let mut buf = [0u8; 64];
                buf[..bytes.len()].copy_from_slice(bytes);
                Kid::Inline(buf, len)
            }
            _ => Kid::Heap(kid.to_owned()),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Copied whole from a `str`, so always UTF-8.
            Kid::Inline(buf, len) => {
                std::str::from_utf8(buf.get(..usize::from(*len)).unwrap_or_default()).unwrap_or("")
            }
            Kid::Heap(s) => s,
        }
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Header {
    /// Decodes and checks a header segment: JSON object without duplicates, `typ` (required,
    /// `at+jwt` or `application/at+jwt`, any letter case), `alg` in `allowed`, no `crit`.
    pub(crate) fn parse(segment: &str, allowed: AlgorithmSet) -> Result<Header, ValidationError> {
        let mut buf = [0u8; 512];
        let decoded = Decoded::new(segment, &mut buf)
            .ok_or(ValidationError::Malformed("header is not base64url"))?;
        let mut error = None;
        let mut de = serde_json::Deserializer::from_slice(decoded.as_slice());
        let raw = de
            .deserialize_map(HeaderVisitor { error: &mut error })
            .and_then(|raw| de.end().map(|()| raw));
        let raw = match (raw, error) {
            (_, Some(e)) => return Err(e),
            (Ok(raw), None) => raw,
            (Err(e), None) => return Err(ValidationError::InvalidHeader(e.to_string())),
        };
        match raw.typ {
            None => return Err(ValidationError::MissingType),
            Some(Text::Str(t)) if is_access_token_type(&t) => {}
            Some(Text::Str(t)) => return Err(ValidationError::WrongType(t.into_owned())),
            Some(Text::Other) => {
                return Err(ValidationError::InvalidHeader(
                    "`typ` must be a string".into(),
                ));
            }
        }
        let alg = match raw.alg {
            None => return Err(ValidationError::InvalidHeader("`alg` is missing".into())),
            Some(Text::Other) => {
                return Err(ValidationError::InvalidHeader(
                    "`alg` must be a string".into(),
                ));
            }
            Some(Text::Str(name)) => Algorithm::from_name(&name)
                .filter(|a| allowed.contains(*a))
                .ok_or_else(|| ValidationError::AlgorithmNotAllowed(name.into_owned()))?,
        };
        if raw.crit {
            return Err(ValidationError::CriticalHeader);
        }
        let kid = match raw.kid {
            None => None,
            Some(Text::Str(kid)) => Some(Kid::new(&kid)),
            Some(Text::Other) => {
                return Err(ValidationError::InvalidHeader(
                    "`kid` must be a string".into(),
                ));
            }
        };
        Ok(Header { alg, kid })
    }
}

#[derive(Default)]
struct RawHeader<'de> {
    typ: Option<Text<'de>>,
    alg: Option<Text<'de>>,
    kid: Option<Text<'de>>,
    crit: bool,
}

/// Reads the members, refusing duplicates; a typed error goes to `error` and stops parsing.
struct HeaderVisitor<'a> {
    error: &'a mut Option<ValidationError>,
}

impl<'de> Visitor<'de> for HeaderVisitor<'_> {
    type Value = RawHeader<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut names: [Cow<'de, str>; MAX_MEMBERS] = Default::default();
        let mut count = 0;
        let mut raw = RawHeader::default();
        while let Some(Name(name)) = map.next_key::<Name>()? {
            let seen = names.get(..count).unwrap_or_default();
            let problem = if seen.contains(&name) {
                Some(ValidationError::DuplicateMember(name.clone().into_owned()))
            } else if count == MAX_MEMBERS {
                Some(ValidationError::InvalidHeader(format!(
                    "more than {MAX_MEMBERS} members"
                )))
            } else {
                None
            };
            if let Some(problem) = problem {
                *self.error = Some(problem);
                return Err(de::Error::custom("refused"));
            }
            match &*name {
                "typ" => raw.typ = Some(map.next_value()?),
                "alg" => raw.alg = Some(map.next_value()?),
                "kid" => raw.kid = Some(map.next_value()?),
                "crit" => {
                    map.next_value::<IgnoredAny>()?;
                    raw.crit = true;
                }
                // `jku`, `x5u`, `jwk`, `x5c` and the rest are never used, but read like the
                // rest: a duplicate member at any depth is refused, and so is deep nesting.
                _ => {
                    let mut duplicate = None;
                    map.next_value_seed(UniqueValue {
                        duplicate: &mut duplicate,
                    })?;
                    if let Some(inner) = duplicate {
                        *self.error = Some(ValidationError::DuplicateMember(inner));
                        return Err(de::Error::custom("refused"));
                    }
                }
            }
            if let Some(slot) = names.get_mut(count) {
                *slot = name;
            }
            count += 1;
        }
        Ok(raw)
    }
}

/// RFC 9068 §2.1 and RFC 7515 §4.1.9: media types compare case-insensitively, and the
/// `application/` prefix may be left out.
pub(crate) fn is_access_token_type(typ: &str) -> bool {
    typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::encode_segment;

    fn parse(json: &str) -> Result<Header, ValidationError> {
        Header::parse(
            &encode_segment(json.as_bytes()),
            AlgorithmSet::of(Algorithm::ASYMMETRIC),
        )
    }

    #[test]
    fn access_token_header_passes() {
        let h = parse(r#"{"typ":"at+jwt","alg":"RS256","kid":"k1"}"#);
        assert_eq!(
            h,
            Ok(Header {
                alg: Algorithm::RS256,
                kid: Some(Kid::new("k1"))
            })
        );
        for typ in ["AT+JWT", "application/at+jwt", "Application/AT+JWT"] {
            let h = parse(&format!(r#"{{"typ":"{typ}","alg":"ES256"}}"#));
            assert_eq!(
                h,
                Ok(Header {
                    alg: Algorithm::ES256,
                    kid: None
                }),
                "{typ}"
            );
        }
    }

    #[test]
    fn typ_is_required_and_exact() {
        assert_eq!(
            parse(r#"{"alg":"RS256"}"#),
            Err(ValidationError::MissingType)
        );
        for typ in [
            "JWT",
            "jwt",
            "at+jwt ",
            "application/jwt",
            "at+jwt;x",
            "secevent+jwt",
        ] {
            assert_eq!(
                parse(&format!(r#"{{"typ":"{typ}","alg":"RS256"}}"#)),
                Err(ValidationError::WrongType(typ.into()))
            );
        }
    }

    #[test]
    fn alg_must_be_allowed() {
        for alg in [
            "none", "None", "NONE", "nOnE", "HS256", "rs256", "ES512", "",
        ] {
            assert_eq!(
                parse(&format!(r#"{{"typ":"at+jwt","alg":"{alg}"}}"#)),
                Err(ValidationError::AlgorithmNotAllowed(alg.into())),
                "{alg}"
            );
        }
        assert!(matches!(
            parse(r#"{"typ":"at+jwt"}"#),
            Err(ValidationError::InvalidHeader(_))
        ));
        assert!(matches!(
            parse(r#"{"typ":"at+jwt","alg":["RS256"]}"#),
            Err(ValidationError::InvalidHeader(_))
        ));
    }

    #[test]
    fn crit_is_refused() {
        assert_eq!(
            parse(r#"{"typ":"at+jwt","alg":"RS256","crit":["exp"],"exp":1}"#),
            Err(ValidationError::CriticalHeader)
        );
    }

    #[test]
    fn key_carrying_headers_are_ignored() {
        let h = parse(
            r#"{"typ":"at+jwt","alg":"RS256","kid":"k","jku":"https://evil/jwks","x5u":"https://evil","jwk":{"kty":"RSA"},"x5c":["AA"]}"#,
        );
        assert_eq!(
            h,
            Ok(Header {
                alg: Algorithm::RS256,
                kid: Some(Kid::new("k"))
            })
        );
    }

    #[test]
    fn long_kids_and_many_members() {
        let long = "k".repeat(300);
        let h = parse(&format!(
            r#"{{"typ":"at+jwt","alg":"RS256","kid":"{long}"}}"#
        ));
        assert_eq!(
            h.map(|h| h.kid.map(|k| k.as_str().to_owned())),
            Ok(Some(long))
        );
        let many: String = (0..20).map(|i| format!(r#","m{i}":{i}"#)).collect();
        assert!(matches!(
            parse(&format!(r#"{{"typ":"at+jwt","alg":"RS256"{many}}}"#)),
            Err(ValidationError::InvalidHeader(_))
        ));
        // An escaped name is the same name.
        assert_eq!(
            parse(r#"{"typ":"at+jwt","alg":"RS256","\u0061lg":"none"}"#),
            Err(ValidationError::DuplicateMember("alg".into()))
        );
    }

    #[test]
    fn duplicate_alg_is_refused() {
        assert_eq!(
            parse(r#"{"typ":"at+jwt","alg":"RS256","alg":"none"}"#),
            Err(ValidationError::DuplicateMember("alg".into()))
        );
    }

    #[test]
    fn non_string_kid_and_bad_base64_are_refused() {
        assert!(matches!(
            parse(r#"{"typ":"at+jwt","alg":"RS256","kid":7}"#),
            Err(ValidationError::InvalidHeader(_))
        ));
        assert!(matches!(
            Header::parse("!!", AlgorithmSet::of(Algorithm::ASYMMETRIC)),
            Err(ValidationError::Malformed(_))
        ));
    }
}
