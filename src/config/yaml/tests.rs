//! Unit tests of the YAML front end: scalar resolution, aliases, merge keys, limits,
//! duplicate keys, tags, documents and positions.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{De, Error, Kind, LIMITS, Limits, Node, Spanned, load};
use crate::config::error::Pos;
use crate::config::keypath::Anchor;

fn de<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, Error> {
    let root = load(text, LIMITS)?;
    T::deserialize(De::new(&root))
}

/// The message and `line:column` of an error.
fn err<T: for<'de> Deserialize<'de> + std::fmt::Debug>(text: &str) -> (String, String) {
    let e = de::<T>(text).expect_err("an error");
    let pos = e.pos.expect("a position");
    (e.message, format!("{}:{}", pos.line, pos.column))
}

fn limited(text: &str, limits: Limits) -> String {
    load(text, limits).expect_err("over a limit").message
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
struct Conf {
    name: Option<String>,
    port: Option<u32>,
    on: Option<bool>,
    list: Option<Vec<String>>,
}

#[test]
fn scalars_resolve_by_target_type() {
    let c: Conf = de("name: 123\nport: \"1420\"\non: true\nlist: [a, 2, false]\n").unwrap();
    assert_eq!(c.name.as_deref(), Some("123"));
    assert_eq!(c.port, Some(1420));
    assert_eq!(c.on, Some(true));
    assert_eq!(c.list.unwrap(), ["a", "2", "false"]);
    for (text, port) in [
        ("0x10", 16),
        ("0o17", 15),
        ("0b11", 3),
        ("+5", 5),
        ("1_000", 1000),
        ("007", 7),
    ] {
        let c: Conf = de(&format!("port: {text}\n")).unwrap();
        assert_eq!(c.port, Some(port), "{text}");
    }
}

#[test]
fn null_and_empty_are_none_but_quoted_empty_is_text() {
    for text in [
        "name: ~\n",
        "name: null\n",
        "name: NULL\n",
        "name:\n",
        "name: !!null x\n",
    ] {
        assert_eq!(de::<Conf>(text).unwrap().name, None, "{text}");
    }
    assert_eq!(
        de::<Conf>("name: \"\"\n").unwrap().name.as_deref(),
        Some("")
    );
    assert_eq!(
        de::<Conf>("name: !!str ~\n").unwrap().name.as_deref(),
        Some("~")
    );
    assert_eq!(
        de::<Conf>("name: '~'\n").unwrap().name.as_deref(),
        Some("~")
    );
    let (message, at) = err::<Conf>("list: [a, ~]\n");
    assert_eq!(
        (message.as_str(), at.as_str()),
        ("null is not allowed here", "1:11")
    );
}

#[test]
fn block_scalars_keep_their_text() {
    let c: Conf = de("name: |\n  two\n  lines\nlist:\n  - >-\n    folded\n    text\n").unwrap();
    assert_eq!(c.name.as_deref(), Some("two\nlines\n"));
    assert_eq!(c.list.unwrap(), ["folded text"]);
}

#[test]
fn numbers_and_booleans_are_checked() {
    let (m, at) = err::<Conf>("port: -5\n");
    assert!(m.contains("`-5` is out of range (0 to 4294967295)"), "{m}");
    assert_eq!(at, "1:7");
    assert!(err::<Conf>("port: 4294967296\n").0.contains("out of range"));
    for bad in ["big", "1.5", "1e3", "0x", "1__0", "\"\""] {
        let (m, _) = err::<Conf>(&format!("port: {bad}\n"));
        assert!(m.starts_with("invalid number"), "{bad}: {m}");
    }
    for bad in ["yes", "no", "on", "1", "y"] {
        let (m, at) = err::<Conf>(&format!("on: {bad}\n"));
        assert!(m.contains("true or false"), "{bad}: {m}");
        assert_eq!(at, "1:5");
    }
    assert_eq!(de::<Conf>("on: False\n").unwrap().on, Some(false));
}

#[test]
fn tags() {
    let c: Conf = de("name: !!str 123\nport: !!int \"5\"\non: !!bool true\n").unwrap();
    assert_eq!(
        (c.name.as_deref(), c.port, c.on),
        (Some("123"), Some(5), Some(true))
    );
    assert_eq!(
        de::<Conf>("name: ! 5\n").unwrap().name.as_deref(),
        Some("5")
    );
    let (m, at) = err::<Conf>("port: !!str 5\n");
    assert!(m.contains("tagged `!!str`"), "{m}");
    assert_eq!(at, "1:13");
    assert!(err::<Conf>("name: !!int 5\n").0.contains("tagged `!!int`"));
    for (text, tag) in [
        ("name: !custom x\n", "unsupported tag `!custom`"),
        ("name: !!binary aGVsbG8=\n", "unsupported tag `!!binary`"),
        ("list: !!map [a]\n", "`!!map` cannot be used on a sequence"),
        ("list: !!str [a]\n", "`!!str` cannot be used on a sequence"),
        ("!!seq {name: a}\n", "`!!seq` cannot be used on a mapping"),
    ] {
        let e = load(text, LIMITS).expect_err(text);
        assert!(e.message.contains(tag), "{text}: {}", e.message);
    }
    assert!(de::<Conf>("!!map {list: !!seq [a]}\n").is_ok());
}

#[test]
fn aliases_and_anchors() {
    let m: BTreeMap<String, BTreeMap<String, u32>> =
        de("a: &x {p: 1, q: 2}\nb: *x\nc: *x\n").unwrap();
    assert_eq!(m["b"], m["a"]);
    assert_eq!(m["c"]["q"], 2);
    let l: Vec<String> = de("[&v text, *v, *v]").unwrap();
    assert_eq!(l, ["text", "text", "text"]);
    // Inside an alias, positions are where the alias is.
    let s: BTreeMap<String, Spanned<BTreeMap<String, Spanned<u32>>>> =
        de("a: &x {p: 1}\nb: *x\n").unwrap();
    assert_eq!(
        s["a"].value["p"].pos,
        Pos {
            line: 1,
            column: 11
        }
    );
    assert_eq!(s["b"].pos, Pos { line: 2, column: 4 });
    assert_eq!(s["b"].value["p"].pos, Pos { line: 2, column: 4 });
    let e = load("a: &x [1, *x]\n", LIMITS).unwrap_err();
    assert!(
        e.message
            .contains("cannot refer to a node that contains it"),
        "{}",
        e.message
    );
    assert!(load("a: *nope\n", LIMITS).is_err());
}

#[test]
fn merge_keys() {
    type M = BTreeMap<String, u32>;
    let one: BTreeMap<String, M> = de("d: &d {a: 1, b: 2}\nx:\n  <<: *d\n  b: 3\n").unwrap();
    assert_eq!(one["x"], M::from([("a".into(), 1), ("b".into(), 3)]));
    // Explicit keys override merged ones wherever the merge key is.
    let after: M = de("b: 3\n<<: {a: 1, b: 2}\n").unwrap();
    assert_eq!(after, M::from([("a".into(), 1), ("b".into(), 3)]));
    // Of a list of mappings, the first to give a key wins; no duplicate-key error.
    let list: M = de("<<: [{a: 1}, {a: 2, b: 2}]\nc: 3\n").unwrap();
    assert_eq!(
        list,
        M::from([("a".into(), 1), ("b".into(), 2), ("c".into(), 3)])
    );
    let twice: M = de("<<: {a: 1}\n<<: {a: 2}\n").unwrap();
    assert_eq!(twice["a"], 1);
    let none: M = de("<<: ~\na: 1\n").unwrap();
    assert_eq!(none["a"], 1);
    let nested: M = de("<<: {<<: {a: 1}, b: 2}\n").unwrap();
    assert_eq!(nested.len(), 2);
    // A quoted `<<` is an ordinary key.
    let quoted: M = de("\"<<\": 1\n").unwrap();
    assert_eq!(quoted["<<"], 1);
    for bad in ["<<: 5\n", "<<: [{a: 1}, 5]\n", "<<: [[a]]\n"] {
        let e = load(bad, LIMITS).unwrap_err();
        assert!(e.message.contains("merge key"), "{bad}: {}", e.message);
    }
}

#[test]
fn duplicate_keys_are_refused_at_the_second_key() {
    for (text, at) in [
        ("a: 1\nb: 2\na: 3\n", Pos { line: 3, column: 1 }),
        (
            "x: {a: 1, \"a\": 2}\n",
            Pos {
                line: 1,
                column: 11,
            },
        ),
        ("a: 1\n? a\n: 2\n", Pos { line: 2, column: 3 }),
    ] {
        let e = load(text, LIMITS).unwrap_err();
        assert_eq!(e.message, "duplicate key `a`", "{text}");
        assert_eq!((e.pos, e.anchor), (Some(at), Anchor::Key), "{text}");
    }
}

fn small() -> Limits {
    Limits {
        depth: 3,
        nodes: 20,
        anchors: 2,
        aliases: 3,
        expanded: 10,
        scalar_bytes: 25,
    }
}

#[test]
fn every_limit_is_enforced() {
    assert!(load("[[[1]]]", small()).is_ok());
    assert!(limited("[[[[1]]]]", small()).contains("nested deeper than 3 levels"));
    assert!(limited("{a: {b: {c: {d: 1}}}}", small()).contains("nested deeper"));
    let many = format!("[{}]", vec!["1"; 20].join(", "));
    assert!(limited(&many, small()).contains("more than 20 nodes"));
    assert!(limited("[&a 1, &b 2, &c 3]", small()).contains("more than 2 anchors"));
    assert!(limited("[&a 1, *a, *a, *a, *a]", small()).contains("more than 3 aliases"));
    let bomb = "- &a [1, 2, 3, 4, 5]\n- [*a, *a]\n";
    let m = limited(bomb, small());
    assert!(m.contains("too large or too complex"), "{m}");
    assert!(m.contains("expand to more than 10 nodes"), "{m}");
    let merges = "- &a {a: 1, b: 2, c: 3}\n- {<<: *a}\n- {<<: *a}\n";
    assert!(limited(merges, small()).contains("expand to more than 10 nodes"));
    let text = "[0123456789, 0123456789, 0123456789]";
    assert!(limited(text, small()).contains("more than 25 bytes"));
    // The error points at the node over the limit.
    let e = load("- &a [1, 2, 3, 4, 5]\n- [*a, *a]\n", small()).unwrap_err();
    assert_eq!(e.pos, Some(Pos { line: 2, column: 8 }));
}

#[test]
fn one_document_only() {
    assert!(load("a: 1\n...\n", LIMITS).is_ok());
    assert!(load("---\na: 1\n", LIMITS).is_ok());
    for (text, at) in [
        ("a: 1\n---\nb: 2\n", Pos { line: 3, column: 1 }),
        ("a: 1\n--- x\n", Pos { line: 2, column: 5 }),
    ] {
        let e = load(text, LIMITS).unwrap_err();
        assert_eq!(e.message, "only one YAML document is allowed");
        assert_eq!((e.pos, e.anchor), (Some(at), Anchor::Document), "{text}");
    }
}

#[test]
fn positions_are_where_nodes_start() {
    let root = load("a:\n  b: [x, {c: y}]\n  é: \"z\"\n", LIMITS).unwrap();
    let Kind::Map(top) = &root.kind else { panic!() };
    let Kind::Map(inner) = &top[0].1.kind else {
        panic!()
    };
    let at = |n: &Node| (n.pos.line, n.pos.column);
    assert_eq!(at(&inner[0].0), (2, 3));
    assert_eq!(at(&inner[0].1), (2, 6));
    let Kind::Seq(items) = &inner[0].1.kind else {
        panic!()
    };
    assert_eq!((at(&items[0]), at(&items[1])), ((2, 7), (2, 10)));
    // Columns count characters, not bytes.
    assert_eq!(at(&inner[1].1), (3, 6));
    // Syntax errors carry the parser's position and message.
    let e = load("a: [1\n", LIMITS).unwrap_err();
    assert!(e.pos.is_some() && !e.message.is_empty());
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Outer {
    inner: Spanned<Inner>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Inner {
    need: u32,
    kind: Option<Kind2>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum Kind2 {
    Plain,
    Value(u32),
}

#[test]
fn visitor_errors_get_the_node_position() {
    let e = de::<Outer>("inner:\n  need: 1\n  nede: 2\n").unwrap_err();
    assert!(
        e.message
            .starts_with("unknown key `nede` (expected one of: need, kind)")
    );
    assert_eq!(
        (e.pos, e.anchor),
        (Some(Pos { line: 3, column: 3 }), Anchor::Key)
    );
    let e = de::<Outer>("inner: {kind: plain}\n").unwrap_err();
    assert_eq!(e.message, "missing required key");
    assert_eq!(
        (e.pos, e.anchor),
        (Some(Pos { line: 1, column: 8 }), Anchor::MissingKey("need"))
    );
    let e = de::<Outer>("inner: {need: 1, kind: magic}\n").unwrap_err();
    assert_eq!(
        e.message,
        "unknown value `magic` (expected one of: plain, value)"
    );
    assert_eq!(
        e.pos,
        Some(Pos {
            line: 1,
            column: 24
        })
    );
    assert!(de::<Outer>("inner: {need: 1, kind: {value: 3}}\n").is_ok());
    let e = de::<Outer>("inner: {need: 1, kind: {plain: 3}}\n").unwrap_err();
    assert_eq!(
        e.pos,
        Some(Pos {
            line: 1,
            column: 32
        })
    );
    let e = de::<Outer>("inner: [1]\n").unwrap_err();
    assert_eq!(e.message, "expected a mapping, found a list");
    assert_eq!(e.pos, Some(Pos { line: 1, column: 8 }));
}
