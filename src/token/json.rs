//! Single-pass JSON readers that borrow from the decoded segment and tolerate any JSON type,
//! so that a wrong type becomes a typed error of ours rather than a parser error, and
//! nothing is allocated that the claims do not keep.

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// A JSON value seen as "a string, or something else" (the something else is skipped).
pub(crate) enum Text<'de> {
    Str(Cow<'de, str>),
    Other,
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

/// Visitor methods answering `Other` for every non-string JSON type, draining containers.
macro_rules! other_for_non_strings {
    ($other:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok($other)
        }
    };
}

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Text::Str(Cow::Borrowed(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Text::Str(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Self::Value, E> {
        Ok(Text::Str(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Text::Other)
    }

    other_for_non_strings!(Text::Other);
}

/// A member name. JSON names are always strings; borrowed unless escaped.
pub(crate) struct Name<'de>(pub Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Text::deserialize(d)? {
            Text::Str(s) => Ok(Name(s)),
            Text::Other => Err(de::Error::custom("a member name must be a string")),
        }
    }
}

/// A JSON number as seconds (NumericDate), or something else.
pub(crate) enum Number {
    Secs(i64),
    Other,
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumberVisitor)
    }
}

struct NumberVisitor;

impl<'de> Visitor<'de> for NumberVisitor {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Number::Secs(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Number::Secs(i64::try_from(v).unwrap_or(i64::MAX)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // Fractions toward the past; `as` saturates (serde_json yields no NaN or infinity).
        Ok(Number::Secs(v.floor() as i64))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Number::Other)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Number::Other)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Number::Other)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Number::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Number::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Number::Other)
    }
}

/// A list of strings, in one of the shapes a claim allows.
pub(crate) enum List {
    Items(Vec<String>),
    Other,
    /// An object in the list has this member twice (at any depth).
    Duplicate(String),
}

/// Which shapes a list claim accepts.
#[derive(Clone, Copy)]
pub(crate) enum ListShape {
    /// An array of strings only (`amr`).
    Strings,
    /// One string or an array of strings (`aud`).
    StringOrStrings,
    /// RFC 7643 multi-valued attributes: an array of strings or of objects with a string
    /// `value`, or one string (one element, never split).
    Scim,
}

pub(crate) struct ListSeed(pub ListShape);

impl<'de> de::DeserializeSeed<'de> for ListSeed {
    type Value = List;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<List, D::Error> {
        d.deserialize_any(ListVisitor(self.0))
    }
}

struct ListVisitor(ListShape);

impl<'de> Visitor<'de> for ListVisitor {
    type Value = List;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<List, E> {
        Ok(match self.0 {
            ListShape::Scim | ListShape::StringOrStrings => List::Items(vec![s.to_owned()]),
            ListShape::Strings => List::Other,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<List, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        let mut ok = true;
        let mut duplicate = None;
        while let Some(item) = seq.next_element_seed(ItemSeed(self.0))? {
            match item {
                Item::Value(s) if ok => items.push(s),
                Item::Duplicate(name) => {
                    duplicate.get_or_insert(name);
                }
                _ => ok = false,
            }
        }
        Ok(match duplicate {
            Some(name) => List::Duplicate(name),
            None if ok => List::Items(items),
            None => List::Other,
        })
    }

    other_for_non_strings!(List::Other);
}

struct ItemSeed(ListShape);

/// One element of a list claim.
enum Item {
    Value(String),
    Bad,
    Duplicate(String),
}

impl<'de> de::DeserializeSeed<'de> for ItemSeed {
    type Value = Item;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Item, D::Error> {
        d.deserialize_any(ItemVisitor(self.0))
    }
}

struct ItemVisitor(ListShape);

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Item::Value(s.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Item::Bad)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // SCIM: {"value": "admin", "display": ...}; exactly one string `value`, and no
        // member twice at any depth (they are read like every other object).
        let mut value = None;
        let mut ok = matches!(self.0, ListShape::Scim);
        let mut names: Vec<std::borrow::Cow<'de, str>> = Vec::new();
        let mut duplicate = None;
        while let Some(Name(name)) = map.next_key::<Name>()? {
            if names.contains(&name) {
                duplicate.get_or_insert_with(|| name.clone().into_owned());
            }
            if name == "value" {
                match map.next_value::<Text>()? {
                    Text::Str(s) if value.is_none() => value = Some(s.into_owned()),
                    _ => ok = false,
                }
            } else {
                let mut inner = None;
                map.next_value_seed(super::object::UniqueValue {
                    duplicate: &mut inner,
                })?;
                if let Some(inner) = inner {
                    duplicate.get_or_insert(inner);
                }
            }
            names.push(name);
        }
        Ok(match (duplicate, value) {
            (Some(name), _) => Item::Duplicate(name),
            (None, Some(v)) if ok => Item::Value(v),
            _ => Item::Bad,
        })
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Item::Bad)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Item::Bad)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Item::Bad)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Item::Bad)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Item::Bad)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Item::Bad)
    }
}

/// A decoded segment: in the caller's (stack) buffer when it fits, on the heap otherwise.
pub(crate) enum Decoded<'b> {
    Borrowed(&'b [u8]),
    Heap(Vec<u8>),
}

impl<'b> Decoded<'b> {
    /// Decodes one base64url segment (no padding, canonical) into `buf` if it fits.
    pub(crate) fn new(segment: &str, buf: &'b mut [u8]) -> Option<Self> {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        if base64::decoded_len_estimate(segment.len()) <= buf.len() {
            let len = URL_SAFE_NO_PAD.decode_slice(segment, buf).ok()?;
            Some(Decoded::Borrowed(buf.get(..len)?))
        } else {
            URL_SAFE_NO_PAD.decode(segment).ok().map(Decoded::Heap)
        }
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            Decoded::Borrowed(b) => b,
            Decoded::Heap(v) => v,
        }
    }
}
