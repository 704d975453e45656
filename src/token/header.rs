//! The JOSE header: `typ`, `alg`, `kid` and `crit` are read; nothing else is trusted.
//!
//! `jku`, `x5u`, `jwk` and `x5c` are deliberately ignored: a key named by the token itself
//! proves nothing (RFC 8725 §3.10), and following a URL from it would let any sender make the
//! server fetch.

use super::decode_segment;
use super::object::UniqueObject;
use crate::algorithm::{Algorithm, AlgorithmSet};
use crate::error::ValidationError;
use serde_json::Value;

/// A header that passed the checks of RFC 9068 §4 steps 2 and 3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub alg: Algorithm,
    pub kid: Option<String>,
}

impl Header {
    /// Decodes and checks a header segment: JSON object without duplicates, `typ` (required,
    /// `at+jwt` or `application/at+jwt`, any letter case), `alg` in `allowed`, no `crit`.
    pub(crate) fn parse(segment: &str, allowed: AlgorithmSet) -> Result<Header, ValidationError> {
        let bytes = decode_segment(segment, "header is not base64url")?;
        let object = UniqueObject::parse(&bytes, ValidationError::InvalidHeader)?;
        let (mut typ, mut alg, mut kid, mut crit) = (None, None, None, false);
        for (name, value) in object.0 {
            match name.as_str() {
                "typ" => typ = Some(string_member(value, "`typ` must be a string")?),
                "alg" => alg = Some(string_member(value, "`alg` must be a string")?),
                "kid" => kid = Some(string_member(value, "`kid` must be a string")?),
                "crit" => crit = true,
                _ => {}
            }
        }
        match typ {
            None => return Err(ValidationError::MissingType),
            Some(t) if is_access_token_type(&t) => {}
            Some(t) => return Err(ValidationError::WrongType(t)),
        }
        let alg_name =
            alg.ok_or_else(|| ValidationError::InvalidHeader("`alg` is missing".into()))?;
        let alg = Algorithm::from_name(&alg_name)
            .filter(|a| allowed.contains(*a))
            .ok_or(ValidationError::AlgorithmNotAllowed(alg_name))?;
        if crit {
            return Err(ValidationError::CriticalHeader);
        }
        Ok(Header { alg, kid })
    }
}

/// RFC 9068 §2.1 and RFC 7515 §4.1.9: media types compare case-insensitively, and the
/// `application/` prefix may be left out.
pub(crate) fn is_access_token_type(typ: &str) -> bool {
    typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
}

fn string_member(value: Value, message: &str) -> Result<String, ValidationError> {
    match value {
        Value::String(s) => Ok(s),
        _ => Err(ValidationError::InvalidHeader(message.into())),
    }
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
                kid: Some("k1".into())
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
                kid: Some("k".into())
            })
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
