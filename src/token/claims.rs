//! The claims model of an RFC 9068 access token.
//!
//! Registered claims are typed, with their JSON types enforced (a date must be a JSON number,
//! never a string); every other member is handed to the caller's own type `X`.

use super::json::{List, ListSeed, ListShape, Name, Number, Text};
use super::object::{UniqueObject, UniqueValue};
use crate::error::ValidationError;
use serde::de::DeserializeOwned;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The claims this crate does not model, by default kept as a JSON object.
pub type ExtraClaims = Map<String, Value>;

/// The verified claims of an access token (RFC 9068 §2.2), inserted into the request
/// extensions by the layer.
///
/// `iss`, `aud` and `exp` are always present: the validator cannot do its job without them.
/// `sub`, `client_id`, `iat` and `jti` are required by default too, but an identity provider
/// that omits one can be accommodated with [`Validator::allow_missing`](crate::Validator::allow_missing),
/// which is why they are `Option`s here.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AccessTokenClaims<X = ExtraClaims> {
    /// `iss`: the issuer, exactly the configured one.
    pub iss: String,
    /// `sub`: the resource owner, or the client for client-credentials grants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// `aud`: one or many audiences, one of which is configured.
    pub aud: Audience,
    /// `exp`: expiry.
    pub exp: NumericDate,
    /// `nbf`: not before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<NumericDate>,
    /// `iat`: issued at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<NumericDate>,
    /// `jti`: the token's unique identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    /// `client_id`: the client the token was issued to (RFC 8693 §4.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// `scope`: the granted scopes (RFC 8693 §4.2), a set of exact tokens.
    #[serde(skip_serializing_if = "Scope::is_empty")]
    pub scope: Scope,
    /// `groups` (RFC 9068 §2.2.3.1, RFC 7643 §4.1.2).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// `roles` (RFC 9068 §2.2.3.1, RFC 7643 §4.1.2).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// `entitlements` (RFC 9068 §2.2.3.1, RFC 7643 §4.1.2).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub entitlements: Vec<String>,
    /// `auth_time`: when the end user authenticated (RFC 9068 §2.2.1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<NumericDate>,
    /// `acr`: authentication context class reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// `amr`: authentication methods references.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// `cnf`: confirmation (RFC 7800), for sender-constrained tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Map<String, Value>>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: X,
}

impl<X: DeserializeOwned + 'static> AccessTokenClaims<X> {
    /// Reads the claims of a decoded payload in one pass: one JSON object, no duplicate
    /// member, registered claims of the right JSON types. Presence of the relaxable claims
    /// is checked by the validator, not here. Nothing is allocated that the claims do not
    /// keep (with the default `X`).
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self, ValidationError> {
        let mut error = None;
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let read = de
            .deserialize_map(ClaimsVisitor { error: &mut error })
            .and_then(|c| de.end().map(|()| c));
        let c = match (read, error) {
            (_, Some(e)) => return Err(e),
            (Ok(c), None) => c,
            (Err(e), None) => return Err(ValidationError::InvalidClaims(e.to_string())),
        };
        Ok(AccessTokenClaims {
            iss: c.iss.ok_or(ValidationError::MissingClaim("iss"))?,
            aud: c.aud.ok_or(ValidationError::MissingClaim("aud"))?,
            exp: c.exp.ok_or(ValidationError::MissingClaim("exp"))?,
            sub: c.sub,
            nbf: c.nbf,
            iat: c.iat,
            jti: c.jti,
            client_id: c.client_id,
            scope: c.scope,
            groups: c.groups,
            roles: c.roles,
            entitlements: c.entitlements,
            auth_time: c.auth_time,
            acr: c.acr,
            amr: c.amr,
            cnf: c.cnf,
            extra: extra_claims(c.rest)?,
        })
    }
}

/// The other claims as `X`: moved as they are when `X` is the default JSON map, read
/// through serde otherwise.
fn extra_claims<X: DeserializeOwned + 'static>(
    rest: Map<String, Value>,
) -> Result<X, ValidationError> {
    let mut slot = Some(rest);
    if let Some(same) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<X>>()
        && let Some(extra) = same.take()
    {
        return Ok(extra);
    }
    X::deserialize(Value::Object(slot.unwrap_or_default()))
        .map_err(|e| ValidationError::InvalidClaims(e.to_string()))
}

/// The claims gathered while reading, before the required ones are checked.
#[derive(Default)]
struct Gathered {
    iss: Option<String>,
    aud: Option<Audience>,
    exp: Option<NumericDate>,
    sub: Option<String>,
    nbf: Option<NumericDate>,
    iat: Option<NumericDate>,
    jti: Option<String>,
    client_id: Option<String>,
    scope: Scope,
    groups: Vec<String>,
    roles: Vec<String>,
    entitlements: Vec<String>,
    auth_time: Option<NumericDate>,
    acr: Option<String>,
    amr: Vec<String>,
    cnf: Option<Map<String, Value>>,
    rest: Map<String, Value>,
}

/// The registered claims, each with its bit for duplicate detection.
fn registered_bit(name: &str) -> Option<u32> {
    Some(match name {
        "iss" => 0,
        "sub" => 1,
        "aud" => 2,
        "exp" => 3,
        "nbf" => 4,
        "iat" => 5,
        "jti" => 6,
        "client_id" => 7,
        "scope" => 8,
        "groups" => 9,
        "roles" => 10,
        "entitlements" => 11,
        "auth_time" => 12,
        "acr" => 13,
        "amr" => 14,
        "cnf" => 15,
        _ => return None,
    })
}

struct ClaimsVisitor<'a> {
    error: &'a mut Option<ValidationError>,
}

impl<'de> Visitor<'de> for ClaimsVisitor<'_> {
    type Value = Gathered;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Gathered, A::Error> {
        let mut c = Gathered::default();
        let mut seen = 0u32;
        // A wrong type is reported once the whole object is read, so that a duplicate member
        // anywhere in it is what is reported, whatever the member order.
        let mut wrong_type: Option<ValidationError> = None;
        // Stops reading with a typed error of ours.
        macro_rules! refuse {
            ($e:expr) => {{
                *self.error = Some($e);
                return Err(de::Error::custom("refused"));
            }};
        }
        macro_rules! wrong {
            ($claim:literal, $expected:expr) => {{
                wrong_type.get_or_insert(type_error($claim, $expected));
                None
            }};
        }
        macro_rules! text {
            ($claim:literal) => {
                match map.next_value::<Text>()? {
                    Text::Str(s) => Some(s.into_owned()),
                    Text::Other => wrong!($claim, "a string"),
                }
            };
        }
        macro_rules! date {
            ($claim:literal) => {
                match map.next_value::<Number>()? {
                    Number::Secs(s) => Some(NumericDate(s)),
                    Number::Other => wrong!($claim, "a JSON number (NumericDate)"),
                }
            };
        }
        macro_rules! list {
            ($claim:literal, $shape:expr, $expected:expr) => {
                match map.next_value_seed(ListSeed($shape))? {
                    List::Items(items) => items,
                    List::Other => wrong!($claim, $expected).unwrap_or_default(),
                    List::Duplicate(name) => refuse!(ValidationError::DuplicateMember(name)),
                }
            };
        }
        // Any JSON value, refusing a duplicate member at any depth (it may decide access too).
        macro_rules! unique_value {
            () => {{
                let mut duplicate = None;
                let value = map.next_value_seed(UniqueValue {
                    duplicate: &mut duplicate,
                })?;
                if let Some(name) = duplicate {
                    refuse!(ValidationError::DuplicateMember(name));
                }
                value
            }};
        }
        const SCIM: &str = "an array of strings or of objects with a string `value`";
        while let Some(Name(name)) = map.next_key::<Name>()? {
            if let Some(bit) = registered_bit(&name) {
                if seen & (1 << bit) != 0 {
                    refuse!(ValidationError::DuplicateMember(name.into_owned()));
                }
                seen |= 1 << bit;
            }
            match &*name {
                "iss" => c.iss = text!("iss"),
                "sub" => c.sub = text!("sub"),
                "jti" => c.jti = text!("jti"),
                "client_id" => c.client_id = text!("client_id"),
                "acr" => c.acr = text!("acr"),
                "scope" => {
                    if let Text::Str(s) = map.next_value::<Text>()? {
                        c.scope = Scope::parse(&s);
                    } else {
                        let _: Option<()> = wrong!("scope", "a space-separated string");
                    }
                }
                "exp" => c.exp = date!("exp"),
                "nbf" => c.nbf = date!("nbf"),
                "iat" => c.iat = date!("iat"),
                "auth_time" => c.auth_time = date!("auth_time"),
                "aud" => {
                    c.aud = match map.next_value_seed(AudienceSeed)? {
                        AudienceRead::Audience(aud) => Some(aud),
                        AudienceRead::Duplicate(name) => {
                            refuse!(ValidationError::DuplicateMember(name))
                        }
                        AudienceRead::Other => wrong!("aud", "a string or an array of strings"),
                    }
                }
                "groups" => c.groups = list!("groups", ListShape::Scim, SCIM),
                "roles" => c.roles = list!("roles", ListShape::Scim, SCIM),
                "entitlements" => c.entitlements = list!("entitlements", ListShape::Scim, SCIM),
                "amr" => c.amr = list!("amr", ListShape::Strings, "an array of strings"),
                "cnf" => {
                    c.cnf = match unique_value!() {
                        Value::Object(o) => Some(o),
                        _ => wrong!("cnf", "a JSON object"),
                    }
                }
                _ => {
                    let value = unique_value!();
                    let name = name.into_owned();
                    if c.rest.contains_key(&name) {
                        refuse!(ValidationError::DuplicateMember(name));
                    }
                    c.rest.insert(name, value);
                }
            }
        }
        if let Some(e) = wrong_type {
            refuse!(e);
        }
        Ok(c)
    }
}

/// `aud`: one string, or an array of strings.
struct AudienceSeed;

enum AudienceRead {
    Audience(Audience),
    Duplicate(String),
    Other,
}

impl<'de> de::DeserializeSeed<'de> for AudienceSeed {
    type Value = AudienceRead;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Ok(match ListSeed(ListShape::StringOrStrings).deserialize(d)? {
            List::Items(items) => AudienceRead::Audience(Audience(items)),
            List::Duplicate(name) => AudienceRead::Duplicate(name),
            List::Other => AudienceRead::Other,
        })
    }
}

/// Reads only `iss` from a decoded payload, to choose among trusted issuers before any key
/// is looked up. A duplicate `iss` is refused, like everywhere else.
pub(crate) fn peek_issuer(bytes: &[u8]) -> Result<String, ValidationError> {
    let object = UniqueObject::parse(bytes, ValidationError::InvalidClaims)?;
    match object.0.into_iter().find(|(name, _)| name == "iss") {
        Some((_, Value::String(iss))) => Ok(iss),
        Some(_) => Err(type_error("iss", "a string")),
        None => Err(ValidationError::MissingClaim("iss")),
    }
}

fn type_error(claim: &'static str, expected: &'static str) -> ValidationError {
    ValidationError::ClaimType { claim, expected }
}

/// A JSON number of seconds since the epoch (RFC 7519 §2). Fractions are truncated toward
/// the past; values beyond `i64` saturate. Fractional values are parsed correctly rounded
/// (serde_json's `float_roundtrip`), so the second they floor to is the one every other
/// JSON parser sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NumericDate(i64);

impl NumericDate {
    /// From seconds since the epoch.
    pub fn from_secs(secs: i64) -> Self {
        NumericDate(secs)
    }

    /// Seconds since the epoch.
    pub fn as_secs(self) -> i64 {
        self.0
    }

    /// Now, from the system clock.
    pub fn now() -> Self {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        NumericDate(i64::try_from(secs).unwrap_or(i64::MAX))
    }

    /// This date plus a duration, saturating.
    pub fn plus(self, d: Duration) -> Self {
        NumericDate(
            self.0
                .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )
    }
}

impl Serialize for NumericDate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl fmt::Display for NumericDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The `aud` claim: one audience or several (RFC 7519 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience(Vec<String>);

impl Audience {
    /// One audience.
    pub fn one(aud: impl Into<String>) -> Self {
        Audience(vec![aud.into()])
    }

    /// Several audiences.
    pub fn many<I: IntoIterator<Item = S>, S: Into<String>>(auds: I) -> Self {
        Audience(auds.into_iter().map(Into::into).collect())
    }

    /// Whether `aud` is one of them, exactly.
    pub fn contains(&self, aud: &str) -> bool {
        self.0.iter().any(|a| a == aud)
    }

    /// The audiences.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub(crate) fn to_vec(&self) -> Vec<String> {
        self.0.clone()
    }
}

impl Serialize for Audience {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [one] => s.serialize_str(one),
            many => many.serialize(s),
        }
    }
}

/// The `scope` claim: a set of space-separated scope tokens (RFC 6749 §3.3, RFC 8693 §4.2),
/// compared exactly (`items:readonly` never satisfies `items:read`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope(Vec<String>);

impl Scope {
    /// Parses a space-separated scope string; repeated tokens count once.
    pub fn parse(s: &str) -> Self {
        let mut tokens: Vec<String> = Vec::new();
        for t in s.split(' ').filter(|t| !t.is_empty()) {
            if !tokens.iter().any(|x| x == t) {
                tokens.push(t.to_owned());
            }
        }
        Scope(tokens)
    }

    /// Whether the token was granted `scope`, exactly.
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    /// The scope tokens, in the order they were granted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Whether no scope was granted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

impl Serialize for Scope {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    fn claims(json: &str) -> Result<AccessTokenClaims, ValidationError> {
        AccessTokenClaims::from_json(json.as_bytes())
    }

    const BASE: &str = r#""iss":"https://as","aud":"api","exp":2000000000"#;

    #[test]
    fn registered_claims_are_typed_and_the_rest_is_extra() {
        let c = claims(&format!(
            r#"{{{BASE},"sub":"u","client_id":"c","iat":1,"jti":"j","scope":"a b  a","roles":["r"],"groups":[{{"value":"g","display":"G"}}],"entitlements":"e","amr":["pwd"],"acr":"1","auth_time":5,"cnf":{{"jkt":"x"}},"tenant":"t"}}"#
        ));
        let Ok(c) = c else { panic!("{c:?}") };
        assert_eq!(c.scope, Scope::parse("a b"));
        assert_eq!(c.roles, vec!["r"]);
        assert_eq!(c.groups, vec!["g"]);
        assert_eq!(c.entitlements, vec!["e"]);
        assert_eq!(c.amr, vec!["pwd"]);
        assert_eq!(c.auth_time, Some(NumericDate(5)));
        assert_eq!(c.extra.get("tenant"), Some(&Value::String("t".into())));
        assert_eq!(c.extra.len(), 1);
    }

    #[test]
    fn dates_must_be_numbers() {
        for claim in ["exp", "iat", "nbf", "auth_time"] {
            let json =
                format!(r#"{{"iss":"https://as","aud":"api","exp":1,"{claim}":"2000000000"}}"#)
                    .replacen(r#""exp":1,"exp""#, r#""exp""#, 1);
            assert!(
                matches!(claims(&json), Err(ValidationError::ClaimType { claim: c, .. }) if c == claim),
                "{claim}: {:?}",
                claims(&json)
            );
        }
    }

    #[test]
    fn fractional_and_huge_dates_do_not_panic() {
        let c = claims(r#"{"iss":"i","aud":"a","exp":1.9}"#).map(|c| c.exp);
        assert_eq!(c, Ok(NumericDate(1)));
        let c = claims(r#"{"iss":"i","aud":"a","exp":1e300}"#).map(|c| c.exp);
        assert_eq!(c, Ok(NumericDate(i64::MAX)));
        let c = claims(r#"{"iss":"i","aud":"a","exp":18446744073709551615}"#).map(|c| c.exp);
        assert_eq!(c, Ok(NumericDate(i64::MAX)));
        let c = claims(r#"{"iss":"i","aud":"a","exp":-1e300}"#).map(|c| c.exp);
        assert_eq!(c, Ok(NumericDate(i64::MIN)));
    }

    #[test]
    fn fractional_dates_are_read_correctly_rounded() {
        // Just above the midpoint between 1800000300 and the double below it: correctly
        // rounded, 1800000300; serde_json's default parser said 1800000299.9999998.
        let c = claims(r#"{"iss":"i","aud":"a","exp":1800000299.999999880790710449218751}"#)
            .map(|c| c.exp);
        assert_eq!(c, Ok(NumericDate(1_800_000_300)));
        let c = claims(r#"{"iss":"i","aud":"a","exp":0.9999999999999999}"#).map(|c| c.exp);
        assert_eq!(c, Ok(NumericDate(0)));
    }

    #[test]
    fn iss_aud_exp_are_always_required() {
        assert_eq!(
            claims(r#"{"aud":"a","exp":1}"#),
            Err(ValidationError::MissingClaim("iss"))
        );
        assert_eq!(
            claims(r#"{"iss":"i","exp":1}"#),
            Err(ValidationError::MissingClaim("aud"))
        );
        assert_eq!(
            claims(r#"{"iss":"i","aud":"a"}"#),
            Err(ValidationError::MissingClaim("exp"))
        );
    }

    #[test]
    fn wrong_shapes_are_typed_errors() {
        let cases = [
            (r#""aud":5"#, "aud"),
            (r#""aud":["a",5]"#, "aud"),
            (r#""aud":[{"value":"a"}]"#, "aud"),
            (r#""aud":{"value":"a"}"#, "aud"),
            (r#""sub":1"#, "sub"),
            (r#""scope":["a","b"]"#, "scope"),
            (r#""roles":{"a":1}"#, "roles"),
            (r#""roles":[1]"#, "roles"),
            (r#""groups":[{"display":"x"}]"#, "groups"),
            (r#""cnf":"x""#, "cnf"),
            (r#""amr":"pwd""#, "amr"),
        ];
        for (member, claim) in cases {
            let json = format!(r#"{{"iss":"i","exp":1,"aud":"a",{member}}}"#).replacen(
                r#""aud":"a","aud""#,
                r#""aud""#,
                1,
            );
            assert!(
                matches!(claims(&json), Err(ValidationError::ClaimType { claim: c, .. }) if c == claim),
                "{member}: {:?}",
                claims(&json)
            );
        }
    }

    #[test]
    fn a_custom_extra_type_gets_the_other_claims() {
        #[derive(Debug, Deserialize, PartialEq)]
        struct Tenant {
            tenant: String,
        }
        let c = AccessTokenClaims::<Tenant>::from_json(
            format!(r#"{{{BASE},"tenant":"acme"}}"#).as_bytes(),
        )
        .map(|c| c.extra);
        assert_eq!(
            c,
            Ok(Tenant {
                tenant: "acme".into()
            })
        );
        let c = AccessTokenClaims::<Tenant>::from_json(format!(r#"{{{BASE}}}"#).as_bytes());
        assert!(matches!(c, Err(ValidationError::InvalidClaims(_))));
    }

    #[test]
    fn scope_matching_is_exact() {
        let s = Scope::parse("items:readonly  items:write");
        assert!(!s.contains("items:read"));
        assert!(s.contains("items:write"));
        assert!(!s.contains(""));
        assert_eq!(s.to_string(), "items:readonly items:write");
    }

    #[test]
    fn claims_serialize_back() {
        let Ok(c) = claims(&format!(r#"{{{BASE},"scope":"a b","x":1}}"#)) else {
            panic!()
        };
        let v = serde_json::to_value(&c).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({"iss":"https://as","aud":"api","exp":2000000000,"scope":"a b","x":1})
        );
    }
}
