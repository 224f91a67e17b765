//! One serde deserializer over the node tree. It is instantiated for every configuration type,
//! so each method stays short and the shared work lives in plain functions.

use std::fmt;

use serde::de::value::U32Deserializer;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::forward_to_deserialize_any;

use super::{Error, Kind, Node, Scalar};
use crate::config::error::Pos;
use crate::config::keypath::Anchor;

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error {
            message: msg.to_string(),
            pos: None,
            anchor: Anchor::Value,
        }
    }

    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Error {
        Error {
            anchor: Anchor::Key,
            ..Error::custom(format_args!(
                "unknown key `{field}` (expected one of: {})",
                expected.join(", ")
            ))
        }
    }

    fn missing_field(field: &'static str) -> Error {
        Error {
            anchor: Anchor::MissingKey(field),
            ..Error::custom("missing required key")
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Error {
        Error::custom(format_args!(
            "unknown value `{variant}` (expected one of: {})",
            expected.join(", ")
        ))
    }
}

/// A value with the position where it was written (for an alias: where the alias is).
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub pos: Pos,
}

/// The newtype name by which [`Spanned`] asks [`De`] for the node's position.
const SPANNED: &str = "$arcway::Spanned";

impl<'de, T: de::Deserialize<'de>> de::Deserialize<'de> for Spanned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);

        impl<'de, T: de::Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Spanned<T>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Spanned<T>, A::Error> {
                let missing = || de::Error::custom("a value is needed");
                let line = seq.next_element()?.ok_or_else(missing)?;
                let column = seq.next_element()?.ok_or_else(missing)?;
                let value = seq.next_element()?.ok_or_else(missing)?;
                Ok(Spanned {
                    value,
                    pos: Pos { line, column },
                })
            }
        }

        d.deserialize_newtype_struct(SPANNED, V(std::marker::PhantomData))
    }
}

/// Deserializes one node. Inside an alias, positions are the alias's: a problem is shown
/// where the value is used (the key path names that place too).
#[derive(Clone, Copy)]
pub struct De<'a>(pub &'a Node, pub Option<Pos>);

/// What was found where something else was expected, for messages.
fn found(node: &Node) -> String {
    match &node.kind {
        Kind::Scalar(s) if s.null => "nothing (null)".to_owned(),
        Kind::Scalar(s) => format!("`{}`", s.text),
        Kind::Seq(_) => "a list".to_owned(),
        Kind::Map(_) => "a mapping".to_owned(),
        Kind::Anchored(n) | Kind::Alias(n) => found(n),
    }
}

/// An integer in the YAML 1.2 core schema (`0x`, `0o`, `0b` prefixes), also allowing `_`
/// between digits; leading zeros are decimal, never octal.
pub(crate) fn parse_int(text: &str) -> Option<i128> {
    let t = text.trim_matches([' ', '\t', '\r', '\n']);
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let (radix, digits) = [("0x", 16), ("0X", 16), ("0o", 8), ("0b", 2)]
        .iter()
        .find_map(|(p, r)| t.strip_prefix(p).map(|d| (*r, d)))
        .unwrap_or((10, t));
    if digits.is_empty() || digits.split('_').any(str::is_empty) {
        return None;
    }
    let n = digits
        .chars()
        .filter(|&c| c != '_')
        .try_fold(0i128, |n, c| {
            n.checked_mul(radix.into())?
                .checked_add(c.to_digit(radix)?.into())
        })?;
    Some(if negative { -n } else { n })
}

fn int_in_range(text: &str, min: i128, max: i128) -> Result<i128, String> {
    let n = parse_int(text)
        .ok_or_else(|| format!("invalid number `{text}` (expected a whole number)"))?;
    if n < min || n > max {
        return Err(format!("number `{text}` is out of range ({min} to {max})"));
    }
    Ok(n)
}

impl<'a> De<'a> {
    pub fn new(node: &'a Node) -> De<'a> {
        De(node, None)
    }

    fn node(&self) -> &'a Node {
        self.0.target()
    }

    fn pos(&self) -> Pos {
        self.1.unwrap_or(self.0.pos)
    }

    /// The alias position for the children: this node's if it is an alias.
    fn inner(&self) -> Option<Pos> {
        let alias = matches!(self.0.kind, Kind::Alias(_)).then_some(self.0.pos);
        self.1.or(alias)
    }

    fn child(&self, node: &'a Node) -> De<'a> {
        De(node, self.inner())
    }

    fn at<T>(&self, r: Result<T, Error>) -> Result<T, Error> {
        r.map_err(|e| e.at(self.pos()))
    }

    fn scalar(&self) -> Result<&'a Scalar, Error> {
        match &self.node().kind {
            Kind::Scalar(s) => Ok(s),
            _ => Err(self.expected("a single value")),
        }
    }

    /// The text of a scalar that is not null, and untagged or tagged with `tag`.
    fn text(&self, tag: &str, what: &str) -> Result<&'a str, Error> {
        let s = self.scalar()?;
        if s.null {
            return Err(Error::new("null is not allowed here", self.pos()));
        }
        match s.tag {
            Some(t) if t != tag => Err(Error::new(
                format!("expected {what}, found a value tagged `!!{t}`"),
                self.pos(),
            )),
            _ => Ok(&s.text),
        }
    }

    fn int(&self, min: i128, max: i128) -> Result<i128, Error> {
        let text = self.text("int", "a whole number")?;
        int_in_range(text, min, max).map_err(|m| Error::new(m, self.pos()))
    }

    fn expected(&self, what: &str) -> Error {
        Error::new(
            format!("expected {what}, found {}", found(self.0)),
            self.pos(),
        )
    }

    fn bool(&self) -> Result<bool, Error> {
        // Strict: `manage: no` silently meaning false is the kind of surprise to avoid.
        match self.text("bool", "true or false")? {
            "true" | "True" | "TRUE" => Ok(true),
            "false" | "False" | "FALSE" => Ok(false),
            other => Err(Error::new(
                format!("invalid boolean `{other}` (expected true or false)"),
                self.pos(),
            )),
        }
    }
}

macro_rules! deserialize_int {
    ($($method:ident $visit:ident $ty:ty),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
            let n = self.int(<$ty>::MIN.into(), <$ty>::MAX.into())?;
            // In range: checked just above.
            self.at(v.$visit(n as $ty))
        }
    )*};
}

impl<'de> Deserializer<'de> for De<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let r = match &self.node().kind {
            Kind::Scalar(s) if s.null => v.visit_unit(),
            Kind::Scalar(s) => match parse_int(&s.text).filter(|_| s.plain) {
                Some(n) => match u64::try_from(n) {
                    Ok(n) => v.visit_u64(n),
                    Err(_) => match i64::try_from(n) {
                        Ok(n) => v.visit_i64(n),
                        Err(_) => v.visit_str(&s.text),
                    },
                },
                None => v.visit_str(&s.text),
            },
            Kind::Seq(items) => v.visit_seq(Seq(items.iter(), self.inner())),
            Kind::Map(entries) => v.visit_map(Map(entries.iter(), self.inner(), None)),
            Kind::Anchored(n) | Kind::Alias(n) => return self.child(n).deserialize_any(v),
        };
        self.at(r)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let b = self.bool()?;
        self.at(v.visit_bool(b))
    }

    deserialize_int! {
        deserialize_i8 visit_i8 i8,
        deserialize_i16 visit_i16 i16,
        deserialize_i32 visit_i32 i32,
        deserialize_i64 visit_i64 i64,
        deserialize_u8 visit_u8 u8,
        deserialize_u16 visit_u16 u16,
        deserialize_u32 visit_u32 u32,
        deserialize_u64 visit_u64 u64,
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let text = self.text("str", "text")?;
        self.at(v.visit_str(text))
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.node().kind {
            Kind::Scalar(s) if s.null => self.at(v.visit_none()),
            _ => {
                let pos = self.pos();
                v.visit_some(self).map_err(|e| e.at(pos))
            }
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        let pos = self.pos();
        if name == SPANNED {
            return self.at(v.visit_seq(Position(self, 0)));
        }
        v.visit_newtype_struct(self).map_err(|e| e.at(pos))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.node().kind {
            Kind::Seq(items) => self.at(v.visit_seq(Seq(items.iter(), self.inner()))),
            _ => Err(self.expected("a list")),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.node().kind {
            Kind::Map(entries) => self.at(v.visit_map(Map(entries.iter(), self.inner(), None))),
            _ => Err(self.expected("a mapping")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let node = self.node();
        let access = match &node.kind {
            Kind::Scalar(s) if !s.null => Enum(self, None),
            Kind::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                Enum(self.child(key), Some(self.child(value)))
            }
            _ => return Err(self.expected("a name or a mapping with one key")),
        };
        self.at(v.visit_enum(access))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }

    forward_to_deserialize_any! {
        i128 u128 f32 f64 char bytes byte_buf unit unit_struct tuple tuple_struct
    }
}

struct Seq<'a>(std::slice::Iter<'a, Node>, Option<Pos>);

impl<'de> SeqAccess<'de> for Seq<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let alias = self.1;
        self.0
            .next()
            .map(|n| seed.deserialize(De(n, alias)))
            .transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct Map<'a>(
    std::slice::Iter<'a, (Node, Node)>,
    Option<Pos>,
    Option<&'a Node>,
);

impl<'de> MapAccess<'de> for Map<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.0.next() else {
            return Ok(None);
        };
        self.2 = Some(value);
        seed.deserialize(De(key, self.1)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.2.take().expect("next_value_seed after next_key_seed");
        seed.deserialize(De(value, self.1))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

/// What [`Spanned`] reads: line, column, then the value itself.
struct Position<'a>(De<'a>, u8);

impl<'de> SeqAccess<'de> for Position<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        self.1 += 1;
        let pos = self.0.pos();
        let number = |n: u32| -> U32Deserializer<Error> { n.into_deserializer() };
        match self.1 {
            1 => seed.deserialize(number(pos.line)).map(Some),
            2 => seed.deserialize(number(pos.column)).map(Some),
            3 => seed.deserialize(self.0).map(Some),
            _ => Ok(None),
        }
    }
}

/// An enum: a bare name, or a mapping of one name to the variant's content.
struct Enum<'a>(De<'a>, Option<De<'a>>);

impl<'de, 'a> EnumAccess<'de> for Enum<'a> {
    type Error = Error;
    type Variant = Variant<'a>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Variant<'a>), Error> {
        let pos = self.0.pos();
        let name = seed.deserialize(self.0)?;
        Ok((name, Variant(pos, self.1)))
    }
}

struct Variant<'a>(Pos, Option<De<'a>>);

impl<'a> Variant<'a> {
    fn content(self) -> Result<De<'a>, Error> {
        self.1
            .ok_or_else(|| Error::new("a value is needed after this name", self.0))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.1 {
            None => Ok(()),
            Some(value) => Err(Error::new("this name takes no value", value.pos())),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        seed.deserialize(self.content()?)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, Error> {
        self.content()?.deserialize_seq(v)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        self.content()?.deserialize_map(v)
    }
}
