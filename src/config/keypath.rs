//! Finds the key path (`classes[1].paths[0]`) of a position in the YAML text.
//!
//! The parser reports where a syntax or type error is, but not under which key. Only when
//! such an error happens, the text is walked once more as raw YAML events, recording the
//! position and path of every key and value node; the error's position is then looked up.

use serde_saphyr::granit_parser::{Event, Parser};

use super::error::Pos;

/// How the error relates to the node at its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor<'a> {
    /// The error is about a mapping key (unknown or duplicate key).
    Key,
    /// The error is about the mapping at this position, which lacks the named key.
    MissingKey(&'a str),
    /// The error is about a value.
    Value,
}

#[derive(Debug)]
pub(crate) struct Node {
    pub pos: Pos,
    pub path: String,
    pub is_key: bool,
    pub shape: Shape,
}

/// What a node is, for messages that say what was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// A scalar as written, with its tag if it has one (`!!binary`, `!custom`).
    Scalar {
        text: String,
        tag: Option<String>,
    },
    Alias,
    List,
    Mapping,
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

/// Every node of the document in order, as far as the text could be parsed.
pub(crate) fn index(text: &str) -> Vec<Node> {
    let mut nodes = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut parser = Parser::new_from_str(text);
    // The first document is the one deserialized; stop at its end.
    while let Some(Ok((event, span))) = parser.next_event() {
        let pos = Pos {
            line: u32::try_from(span.start.line()).unwrap_or(u32::MAX),
            column: u32::try_from(span.start.col().saturating_add(1)).unwrap_or(u32::MAX),
        };
        let shape = match &event {
            Event::Scalar(value, ..) => Shape::Scalar {
                text: value.to_string(),
                tag: event.tag().map(|t| t.original()),
            },
            Event::Alias(_) => Shape::Alias,
            Event::MappingStart(..) => Shape::Mapping,
            _ => Shape::List,
        };
        let (is_node, opens, label) = match &event {
            Event::Scalar(value, ..) => (true, false, Some(value.as_ref())),
            Event::Alias(_) => (true, false, None),
            Event::MappingStart(..) | Event::SequenceStart(..) => (true, true, None),
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
                continue;
            }
            Event::DocumentEnd => break,
            _ => continue,
        };
        if !is_node {
            continue;
        }
        let (path, is_key) = match stack.last_mut() {
            None => (String::new(), false),
            Some(Frame::Seq { path, next }) => {
                *next += 1;
                (format!("{path}[{}]", *next - 1), false)
            }
            Some(Frame::Map { path, key }) => match key.take() {
                Some(value_path) => (value_path, false),
                None => {
                    let name = label.unwrap_or("?");
                    let key_path = if path.is_empty() {
                        name.to_owned()
                    } else {
                        format!("{path}.{name}")
                    };
                    *key = Some(key_path.clone());
                    (key_path, true)
                }
            },
        };
        if opens {
            stack.push(match event {
                Event::MappingStart(..) => Frame::Map {
                    path: path.clone(),
                    key: None,
                },
                _ => Frame::Seq {
                    path: path.clone(),
                    next: 0,
                },
            });
        }
        nodes.push(Node {
            pos,
            path,
            is_key,
            shape,
        });
    }
    nodes
}

/// The value node that starts at `pos`, if one does.
pub fn shape_at(text: &str, pos: Pos) -> Option<Shape> {
    index(text)
        .into_iter()
        .rfind(|n| n.pos == pos && !n.is_key)
        .map(|n| n.shape)
}

/// The key path for an error at `pos`; empty when it is the document itself.
pub fn path_at(text: &str, pos: Pos, anchor: Anchor<'_>) -> String {
    let nodes = index(text);
    let here = || nodes.iter().filter(|n| n.pos == pos);
    let found = match anchor {
        Anchor::Key => here().rfind(|n| n.is_key),
        Anchor::MissingKey(_) => here().find(|n| !n.is_key),
        Anchor::Value => here().rfind(|n| !n.is_key),
    };
    let found = found
        .or_else(|| here().next_back())
        // Nothing starts exactly there (a syntax error inside a node): the node before it.
        .or_else(|| nodes.iter().rfind(|n| n.pos <= pos));
    let base = found.map(|n| n.path.clone()).unwrap_or_default();
    match anchor {
        Anchor::MissingKey(field) if base.is_empty() => field.to_owned(),
        Anchor::MissingKey(field) => format!("{base}.{field}"),
        _ => base,
    }
}
