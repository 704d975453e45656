//! An immutable key set for one issuer, indexed by `kid`.
//!
//! A JWKS is read tolerantly: an entry this crate cannot use (an encryption key, an `oct`
//! key, an unknown `kty` or curve, a malformed member, a repeated `kid`) is skipped and
//! logged, so that one odd key never breaks the keys that work.

use super::jwk::VerifyingKey;
use crate::algorithm::Algorithm;
use crate::error::{ConfigError, ValidationError};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// How many keys one set may hold; the rest of a larger JWKS is skipped.
pub(crate) const MAX_KEYS: usize = 256;

/// The verification keys of one issuer.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<Arc<VerifyingKey>>,
    by_kid: HashMap<String, usize>,
}

/// A JWKS entry that was left out, and why. The entries beyond the key cap are reported
/// together, as one `SkippedKey` at the first of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// The entry's position in `keys`.
    pub index: usize,
    /// Its `kid`, if it had a readable one.
    pub kid: Option<String>,
    /// Why it was left out.
    pub reason: String,
}

impl KeySet {
    /// An empty set.
    pub fn new() -> Self {
        KeySet::default()
    }

    /// Reads a JWKS document (RFC 7517 §5), skipping unusable entries (see
    /// [`KeySet::from_jwks_lenient`] to see them). Fails if the document is not a JWKS or no
    /// entry is usable.
    pub fn from_jwks(json: &str) -> Result<Self, ConfigError> {
        let (set, _skipped) = KeySet::from_jwks_lenient(json.as_bytes())?;
        if set.is_empty() {
            return Err(ConfigError::InvalidKeySet("no usable signature key".into()));
        }
        Ok(set)
    }

    /// Reads a JWKS document and reports the entries left out. An empty result is not an
    /// error here.
    pub fn from_jwks_lenient(bytes: &[u8]) -> Result<(Self, Vec<SkippedKey>), ConfigError> {
        KeySet::parse_jwks(bytes, MAX_KEYS)
    }

    /// Reads a JWKS document keeping at most `max_keys` keys.
    ///
    /// The `keys` array is read one entry at a time: each entry is parsed, used or skipped,
    /// and dropped before the next; once the set is full, the remaining entries are only
    /// scanned (never built in memory) and reported as one [`SkippedKey`]. Skipped entries
    /// are logged one by one up to a small number, then counted in one line, so a hostile
    /// key server cannot flood the logs with a document of tiny unusable entries.
    pub(crate) fn parse_jwks(
        bytes: &[u8],
        max_keys: usize,
    ) -> Result<(Self, Vec<SkippedKey>), ConfigError> {
        let mut reader = JwksReader {
            set: KeySet::new(),
            skipped: Vec::new(),
            max_keys,
            logged: 0,
        };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        de.deserialize_map(JwksVisitor(&mut reader))
            .and_then(|()| de.end())
            .map_err(|e| ConfigError::InvalidKeySet(format!("not a JWKS document: {e}")))?;
        let unlogged = reader.skipped.len().saturating_sub(reader.logged);
        if unlogged > 0 {
            tracing::warn!(
                more = unlogged,
                "more JWKS entries skipped (not logged one by one)"
            );
        }
        Ok((reader.set, reader.skipped))
    }

    /// A set of one PEM public key.
    pub fn from_pem(pem: &str, kid: Option<&str>) -> Result<Self, ConfigError> {
        let mut set = KeySet::new();
        set.insert(VerifyingKey::from_pem(pem, kid)?)
            .map_err(|e| ConfigError::InvalidKeySet(e.into()))?;
        Ok(set)
    }

    /// Adds a key; a second key with the same `kid` is refused.
    pub fn with_key(mut self, key: VerifyingKey) -> Result<Self, ConfigError> {
        self.insert(key)
            .map_err(|e| ConfigError::InvalidKeySet(e.into()))?;
        Ok(self)
    }

    fn insert(&mut self, key: VerifyingKey) -> Result<(), &'static str> {
        if let Some(kid) = key.kid() {
            if let Some(&index) = self.by_kid.get(kid) {
                // An encryption key sharing the kid of a signature key must not shadow it.
                let replaceable =
                    self.keys.get(index).is_some_and(|k| !k.can_verify()) && key.can_verify();
                if !replaceable {
                    return Err("duplicate `kid`");
                }
                tracing::warn!(
                    kid,
                    "JWKS entry replaced by a later one with the same kid that can verify"
                );
                self.keys[index] = Arc::new(key);
                return Ok(());
            }
            self.by_kid.insert(kid.to_owned(), self.keys.len());
        }
        self.keys.push(Arc::new(key));
        Ok(())
    }

    /// How many keys the set holds.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set holds no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key ids in the set.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|k| k.kid())
    }

    /// Picks the key for a token (RFC 9068 §4 step 4). With a `kid`: that key, which must fit
    /// `alg`. Without: the one key that fits `alg`, if exactly one does.
    pub(crate) fn select(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&Arc<VerifyingKey>, ValidationError> {
        match kid {
            Some(kid) => {
                let key = self
                    .by_kid
                    .get(kid)
                    .and_then(|i| self.keys.get(*i))
                    .ok_or_else(|| ValidationError::UnknownKey(kid.to_owned()))?;
                key.fits(alg)
                    .map_err(|reason| ValidationError::KeyMismatch {
                        kid: Some(kid.to_owned()),
                        alg,
                        reason,
                    })?;
                Ok(key)
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.fits(alg).is_ok());
                match (fitting.next(), fitting.count()) {
                    (None, _) => Err(ValidationError::NoKeyForAlgorithm(alg)),
                    (Some(key), 0) => Ok(key),
                    (Some(_), more) => Err(ValidationError::AmbiguousKey {
                        alg,
                        count: more + 1,
                    }),
                }
            }
        }
    }
}

/// Skipped entries logged one by one per document; the rest are counted in one line.
const LOGGED_SKIPS: usize = 16;

/// The state of one JWKS read.
struct JwksReader {
    set: KeySet,
    skipped: Vec<SkippedKey>,
    max_keys: usize,
    logged: usize,
}

impl JwksReader {
    fn entry(&mut self, index: usize, entry: &Value) {
        let kid = entry.get("kid").and_then(Value::as_str).map(str::to_owned);
        let outcome = VerifyingKey::from_jwk(entry)
            .map_err(|e| e.to_string())
            .and_then(|key| self.set.insert(key).map_err(str::to_owned));
        if let Err(reason) = outcome {
            self.skip(SkippedKey { index, kid, reason });
        }
    }

    fn skip(&mut self, skipped: SkippedKey) {
        if self.logged < LOGGED_SKIPS {
            self.logged += 1;
            tracing::warn!(index = skipped.index, kid = ?skipped.kid, reason = %skipped.reason, "JWKS entry skipped");
        }
        self.skipped.push(skipped);
    }
}

/// The JWKS object: `keys` (required, once), other members ignored.
struct JwksVisitor<'a>(&'a mut JwksReader);

impl<'de> Visitor<'de> for JwksVisitor<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JWKS object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen_keys = false;
        while let Some(name) = map.next_key::<String>()? {
            if name != "keys" {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if seen_keys {
                return Err(de::Error::duplicate_field("keys"));
            }
            seen_keys = true;
            map.next_value_seed(KeysSeed(&mut *self.0))?;
        }
        if !seen_keys {
            return Err(de::Error::missing_field("keys"));
        }
        Ok(())
    }
}

/// The `keys` array, read entry by entry.
struct KeysSeed<'a>(&'a mut JwksReader);

impl<'de> DeserializeSeed<'de> for KeysSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for KeysSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of JWKs")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let reader = self.0;
        let mut index = 0;
        while reader.set.len() < reader.max_keys {
            match seq.next_element::<Value>()? {
                Some(entry) => reader.entry(index, &entry),
                None => return Ok(()),
            }
            index += 1;
        }
        // The set is full: the rest is scanned, not built, and reported once.
        let first_over = index;
        let mut over = 0usize;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            over += 1;
        }
        if over > 0 {
            reader.skip(SkippedKey {
                index: first_over,
                kid: None,
                reason: format!(
                    "this entry and the {} after it: more than {} keys",
                    over - 1,
                    reader.max_keys
                ),
            });
        }
        Ok(())
    }
}

/// Whether a selection failure may be cured by fetching the key set again.
pub(crate) fn is_missing_key(e: &ValidationError) -> bool {
    matches!(
        e,
        ValidationError::UnknownKey(_) | ValidationError::NoKeyForAlgorithm(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A real public key on `crv` (generated once per curve), with `kid` (or none).
    fn ec(kid: Option<&str>, crv: &str, _size: usize) -> Value {
        use std::sync::OnceLock;
        static P256: OnceLock<Value> = OnceLock::new();
        static P384: OnceLock<Value> = OnceLock::new();
        let generate = |alg| {
            crate::SigningKey::generate(alg, "x")
                .expect("key")
                .public_jwk()
                .clone()
        };
        let mut j = if crv == "P-256" {
            P256.get_or_init(|| generate(Algorithm::ES256)).clone()
        } else {
            P384.get_or_init(|| generate(Algorithm::ES384)).clone()
        };
        let o = j.as_object_mut().expect("object");
        o.remove("alg");
        o.remove("use");
        o.remove("kid");
        if let Some(kid) = kid {
            o.insert("kid".into(), json!(kid));
        }
        j
    }

    fn set(keys: Vec<Value>) -> (KeySet, Vec<SkippedKey>) {
        KeySet::from_jwks_lenient(json!({ "keys": keys }).to_string().as_bytes()).expect("jwks")
    }

    #[test]
    fn bad_entries_are_skipped_not_fatal() {
        let (s, skipped) = set(vec![
            ec(Some("a"), "P-256", 32),
            json!({"kty":"oct","k":"AAAA","kid":"h"}),
            json!({"kty":"RSA","kid":"enc","use":"enc"}),
            json!(42),
            ec(Some("a"), "P-384", 48),
            ec(Some("b"), "P-384", 48),
        ]);
        assert_eq!(s.kids().collect::<Vec<_>>(), vec!["a", "b"]);
        assert_eq!(
            skipped.iter().map(|k| k.index).collect::<Vec<_>>(),
            vec![1, 2, 3, 4]
        );
        assert_eq!(skipped[3].reason, "duplicate `kid`");
    }

    #[test]
    fn a_signature_key_is_not_shadowed_by_an_encryption_key_with_its_kid() {
        let mut enc = ec(Some("k"), "P-256", 32);
        enc["use"] = json!("enc");
        let sig = ec(Some("k"), "P-256", 32);
        let (s, skipped) = set(vec![enc.clone(), sig.clone()]);
        assert!(s.select(Some("k"), Algorithm::ES256).is_ok());
        assert!(skipped.is_empty());
        let (s, skipped) = set(vec![sig, enc]);
        assert!(s.select(Some("k"), Algorithm::ES256).is_ok());
        assert_eq!(skipped.len(), 1);
    }

    #[test]
    fn select_by_kid() {
        let (s, _) = set(vec![ec(Some("a"), "P-256", 32), ec(Some("b"), "P-384", 48)]);
        assert!(s.select(Some("a"), Algorithm::ES256).is_ok());
        assert_eq!(
            s.select(Some("zz"), Algorithm::ES256).err(),
            Some(ValidationError::UnknownKey("zz".into()))
        );
        assert!(matches!(
            s.select(Some("a"), Algorithm::ES384),
            Err(ValidationError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn select_without_kid_needs_exactly_one_fitting_key() {
        let (s, _) = set(vec![ec(Some("a"), "P-256", 32), ec(Some("b"), "P-384", 48)]);
        assert!(s.select(None, Algorithm::ES256).is_ok());
        assert_eq!(
            s.select(None, Algorithm::RS256).err(),
            Some(ValidationError::NoKeyForAlgorithm(Algorithm::RS256))
        );
        let (s, _) = set(vec![ec(Some("a"), "P-256", 32), ec(None, "P-256", 32)]);
        assert_eq!(
            s.select(None, Algorithm::ES256).err(),
            Some(ValidationError::AmbiguousKey {
                alg: Algorithm::ES256,
                count: 2
            })
        );
    }

    #[test]
    fn not_a_jwks_is_an_error_and_empty_is_refused_for_static_sets() {
        assert!(KeySet::from_jwks_lenient(b"[]").is_err());
        assert!(KeySet::from_jwks_lenient(b"{\"keys\":{}}").is_err());
        assert!(KeySet::from_jwks("{\"keys\":[]}").is_err());
    }

    #[test]
    fn key_count_is_capped() {
        let keys = (0..MAX_KEYS + 5)
            .map(|i| ec(Some(&i.to_string()), "P-256", 32))
            .collect();
        let (s, skipped) = set(keys);
        assert_eq!(s.len(), MAX_KEYS);
        assert_eq!(
            skipped,
            vec![SkippedKey {
                index: MAX_KEYS,
                kid: None,
                reason: format!("this entry and the 4 after it: more than {MAX_KEYS} keys"),
            }]
        );
        // Unusable entries do not count toward the cap.
        let mut keys: Vec<Value> = vec![json!({"kty":"oct"}); 10];
        keys.extend((0..MAX_KEYS).map(|i| ec(Some(&i.to_string()), "P-256", 32)));
        let (s, skipped) = set(keys);
        assert_eq!(s.len(), MAX_KEYS);
        assert_eq!(skipped.len(), 10);
    }

    #[test]
    fn the_document_shape_is_checked() {
        assert!(KeySet::from_jwks_lenient(br#"{"keys":[],"keys":[]}"#).is_err());
        assert!(KeySet::from_jwks_lenient(br#"{"other":1}"#).is_err());
        assert!(KeySet::from_jwks_lenient(br#"{"keys":[]} x"#).is_err());
        assert!(KeySet::from_jwks_lenient(br#"{"keys":null}"#).is_err());
        let ok = KeySet::from_jwks_lenient(br#"{"x":{"y":[1]},"keys":[42]}"#);
        assert_eq!(ok.map(|(s, k)| (s.len(), k.len())).ok(), Some((0, 1)));
    }
}
