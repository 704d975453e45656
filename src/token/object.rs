//! A JSON object read member by member, refusing duplicate names.
//!
//! RFC 7515 §4 and RFC 7519 §4 let parsers either reject duplicates or take the last one;
//! different parsers taking different ones is how two components disagree about one token
//! (RFC 8725 §2.8). We reject.

use crate::error::ValidationError;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::collections::HashSet;
use std::fmt;

/// The members of a JSON object, in document order, each name once.
pub(crate) struct UniqueObject(pub Vec<(String, Value)>);

/// What went wrong while reading the object.
enum ObjectError {
    Duplicate(String),
}

impl UniqueObject {
    /// Parses `bytes` as one JSON object; `what` names it in errors.
    pub(crate) fn parse(
        bytes: &[u8],
        invalid: fn(String) -> ValidationError,
    ) -> Result<Self, ValidationError> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let result = de
            .deserialize_map(ObjectVisitor)
            .and_then(|r| de.end().map(|()| r));
        match result {
            Ok(Ok(object)) => Ok(object),
            Ok(Err(ObjectError::Duplicate(name))) => Err(ValidationError::DuplicateMember(name)),
            Err(e) => Err(invalid(e.to_string())),
        }
    }
}

struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Result<UniqueObject, ObjectError>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::new();
        let mut seen = HashSet::new();
        let mut duplicate = None;
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value::<Value>()?;
            if duplicate.is_none() && !seen.insert(name.clone()) {
                duplicate = Some(name);
                continue;
            }
            members.push((name, value));
        }
        Ok(match duplicate {
            Some(name) => Err(ObjectError::Duplicate(name)),
            None => Ok(UniqueObject(members)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<String>, ValidationError> {
        UniqueObject::parse(s.as_bytes(), ValidationError::InvalidClaims)
            .map(|o| o.0.into_iter().map(|(k, _)| k).collect())
    }

    #[test]
    fn members_in_order() {
        assert_eq!(
            parse(r#"{"b":1,"a":[2]}"#),
            Ok(vec!["b".into(), "a".into()])
        );
    }

    #[test]
    fn duplicates_are_refused() {
        assert_eq!(
            parse(r#"{"aud":"a","aud":"b"}"#),
            Err(ValidationError::DuplicateMember("aud".into()))
        );
        // An escaped name is the same name.
        assert_eq!(
            parse(r#"{"alg":"a","\u0061lg":"b"}"#),
            Err(ValidationError::DuplicateMember("alg".into()))
        );
    }

    #[test]
    fn non_objects_and_trailing_data_are_refused() {
        for s in ["[]", "1", "\"x\"", "{", "{}x", "{} {}", "", "null"] {
            assert!(
                matches!(parse(s), Err(ValidationError::InvalidClaims(_))),
                "{s}"
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            parse(&deep),
            Err(ValidationError::InvalidClaims(_))
        ));
    }
}
