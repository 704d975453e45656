//! A JSON object read member by member, refusing duplicate names at every depth.
//!
//! RFC 7515 §4 and RFC 7519 §4 let parsers either reject duplicates or take the last one;
//! different parsers taking different ones is how two components disagree about one token
//! (RFC 8725 §2.8). We reject, in the top-level object and in every object nested in it (a
//! SCIM group's `value`, `cnf`, the caller's own claims), since those decide access too.

use crate::error::ValidationError;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
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
        // The first duplicate name found, at any depth, in document order.
        let mut duplicate = None;
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(UniqueValue {
                duplicate: &mut duplicate,
            })?;
            if !seen.insert(name.clone()) {
                duplicate.get_or_insert(name);
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

/// Any JSON value, read like `serde_json::Value` except that a duplicate member in any
/// nested object is recorded (the first one wins the report) instead of silently replacing
/// the earlier one. The reading goes on, so that syntax errors still take precedence in the
/// same way for every document. Depth is bounded by serde_json's recursion limit (128).
pub(crate) struct UniqueValue<'a> {
    pub(crate) duplicate: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for UniqueValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // What serde_json's own `Value` does; its parser never yields NaN or infinities.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let duplicate = self.duplicate;
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(UniqueValue {
            duplicate: &mut *duplicate,
        })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let duplicate = self.duplicate;
        let mut object = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            let value = map.next_value_seed(UniqueValue {
                duplicate: &mut *duplicate,
            })?;
            if object.contains_key(&name) {
                duplicate.get_or_insert(name);
                continue;
            }
            object.insert(name, value);
        }
        Ok(Value::Object(object))
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
    fn nested_duplicates_are_refused_too() {
        for (json, name) in [
            (
                r#"{"groups":[{"value":"users","value":"admins"}]}"#,
                "value",
            ),
            (r#"{"cnf":{"jkt":"a","jkt":"b"}}"#, "jkt"),
            (r#"{"a":{"b":{"c":1,"\u0063":2}}}"#, "c"),
            (r#"{"a":[[{"x":1}],[{"y":1,"y":1}]]}"#, "y"),
            // The first duplicate in document order is the one reported.
            (r#"{"a":{"n":1,"n":2},"a":3}"#, "n"),
            (r#"{"a":3,"a":{"n":1,"n":2}}"#, "n"),
        ] {
            assert_eq!(
                parse(json),
                Err(ValidationError::DuplicateMember(name.into())),
                "{json}"
            );
        }
        // The same name in sibling objects is not a duplicate.
        assert_eq!(
            parse(r#"{"g":[{"value":"a"},{"value":"b"}],"h":{"value":"c"}}"#),
            Ok(vec!["g".into(), "h".into()])
        );
    }

    #[test]
    fn values_read_like_serde_json_values() {
        let json = r#"{"a":[1,-2,3.5,18446744073709551615,true,null,"s",{"k":[]}],"b":{}}"#;
        let object = UniqueObject::parse(json.as_bytes(), ValidationError::InvalidClaims)
            .map(|o| Value::Object(o.0.into_iter().collect()));
        let expected: Result<Value, serde_json::Error> = serde_json::from_str(json);
        assert_eq!(object.ok(), expected.ok());
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
