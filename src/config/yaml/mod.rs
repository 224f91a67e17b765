//! A small YAML front end for the configuration: the events of `granit-parser` become a tree
//! of nodes that remember where they were written, and one serde deserializer reads that tree
//! (see [`de`]). Aliases, merge keys, duplicate keys, tags and every resource limit are handled
//! here, while the tree is built, so that the deserializer stays simple.
//!
//! Only what a configuration file needs is supported: the YAML 1.2 core schema (with strict
//! booleans), anchors and aliases, `<<` merge keys, and one document.

mod de;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::collections::HashSet;
use std::fmt;
use std::rc::Rc;

use granit_parser::{Event, Marker, Parser, ScalarStyle};

pub use de::{De, Spanned};

use super::error::Pos;
use super::keypath::Anchor;

/// Bounds on the work a document may cause, whatever its size on disk.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Collections nested in collections.
    pub depth: usize,
    /// Nodes as written.
    pub nodes: usize,
    pub anchors: usize,
    pub aliases: usize,
    /// Nodes that aliases and merge keys add, on top of those written.
    pub expanded: usize,
    /// Total length of all scalars after escapes are processed.
    pub scalar_bytes: usize,
}

/// The limits applied to configuration files: far above any real configuration.
pub const LIMITS: Limits = Limits {
    depth: 32,
    nodes: 100_000,
    anchors: 1_000,
    aliases: 1_000,
    expanded: 100_000,
    scalar_bytes: 1024 * 1024,
};

/// A parse or deserialization error, with the position of the node it is about.
#[derive(Debug)]
pub struct Error {
    pub message: String,
    /// None until the node the error belongs to is known.
    pub pos: Option<Pos>,
    /// How the error relates to the node at `pos`, for finding its key path.
    pub anchor: Anchor<'static>,
}

impl Error {
    pub(crate) fn new(message: impl Into<String>, pos: Pos) -> Error {
        Error {
            message: message.into(),
            pos: Some(pos),
            anchor: Anchor::Value,
        }
    }

    /// Attaches a position if the error has none yet (errors raised by serde visitors).
    fn at(mut self, pos: Pos) -> Error {
        self.pos.get_or_insert(pos);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// A node of the document and where it starts (for a tagged or anchored node: its content).
#[derive(Debug, Clone)]
pub struct Node {
    pub pos: Pos,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    /// Entries in order, merge keys already resolved and duplicate keys refused.
    Map(Vec<(Node, Node)>),
    /// An anchored node where it is written; shared with its aliases, never copied.
    Anchored(Rc<Node>),
    /// An alias: the node is used again here.
    Alias(Rc<Node>),
}

#[derive(Debug, Clone)]
pub struct Scalar {
    pub text: String,
    /// The core schema type of an explicitly tagged scalar: `str`, `int`, `bool` or `float`.
    pub tag: Option<&'static str>,
    /// Plain and untagged, or tagged `!!int`: the text may be read as a number.
    pub plain: bool,
    /// `~`, `null` or nothing (plain), or tagged `!!null`.
    pub null: bool,
}

impl Node {
    /// The node itself, or the node an alias refers to.
    pub fn target(&self) -> &Node {
        match &self.kind {
            Kind::Anchored(n) | Kind::Alias(n) => n,
            _ => self,
        }
    }

    /// The text of a scalar key, for merge keys and duplicate detection.
    fn key_text(&self) -> Option<&str> {
        match &self.target().kind {
            Kind::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// How many nodes this one stands for (aliases count as one: they are not copied).
    fn size(&self) -> usize {
        match &self.kind {
            Kind::Seq(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Kind::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.size() + v.size())
                    .sum::<usize>()
            }
            _ => 1,
        }
    }
}

fn pos_of(m: &Marker) -> Pos {
    Pos {
        line: u32::try_from(m.line()).unwrap_or(u32::MAX),
        column: u32::try_from(m.col().saturating_add(1)).unwrap_or(u32::MAX),
    }
}

/// The tags the configuration understands: the core schema's, and `!` (a string, for a
/// scalar). Any other tag is refused.
fn tag_of(tag: Option<&granit_parser::Tag>, pos: Pos) -> Result<Option<&'static str>, Error> {
    let Some(tag) = tag else {
        return Ok(None);
    };
    if tag.parts() == ("", "!") {
        return Ok(Some("!"));
    }
    ["str", "null", "int", "bool", "float", "map", "seq"]
        .into_iter()
        .find(|&t| tag.core_suffix() == Some(t))
        .map(Some)
        .ok_or_else(|| Error::new(format!("unsupported tag `{}`", tag.original()), pos))
}

fn unsupported(tag: &str, what: &str, pos: Pos) -> Error {
    Error::new(format!("the tag `!!{tag}` cannot be used on {what}"), pos)
}

enum Frame {
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>, Option<Node>),
}

/// An open collection: its contents so far, and what its completion needs.
struct Open {
    pos: Pos,
    anchor: usize,
    /// `Builder::total` when it started, to know its expanded size.
    total_at_start: usize,
    frame: Frame,
}

struct Builder {
    limits: Limits,
    nodes: usize,
    expanded: usize,
    aliases: usize,
    scalar_bytes: usize,
    /// Anchored nodes by parser id, with their expanded size.
    anchors: HashMap<usize, (Rc<Node>, usize)>,
    stack: Vec<Open>,
    root: Option<Node>,
}

fn too_complex(what: String, pos: Pos) -> Error {
    Error::new(
        format!("the document is too large or too complex ({what})"),
        pos,
    )
}

impl Builder {
    fn total(&self) -> usize {
        self.nodes + self.expanded
    }

    fn count_node(&mut self, pos: Pos) -> Result<(), Error> {
        self.nodes += 1;
        if self.nodes > self.limits.nodes {
            return Err(too_complex(
                format!("more than {} nodes", self.limits.nodes),
                pos,
            ));
        }
        Ok(())
    }

    fn expand(&mut self, by: usize, pos: Pos) -> Result<(), Error> {
        self.expanded = self.expanded.saturating_add(by);
        if self.expanded > self.limits.expanded {
            return Err(too_complex(
                format!(
                    "aliases and merge keys expand to more than {} nodes",
                    self.limits.expanded
                ),
                pos,
            ));
        }
        Ok(())
    }

    fn open(&mut self, pos: Pos, anchor: usize, frame: Frame) -> Result<(), Error> {
        self.count_node(pos)?;
        if self.stack.len() >= self.limits.depth {
            return Err(too_complex(
                format!("nested deeper than {} levels", self.limits.depth),
                pos,
            ));
        }
        self.stack.push(Open {
            pos,
            anchor,
            total_at_start: self.total(),
            frame,
        });
        Ok(())
    }

    /// Places a finished node into its parent (or as the root), recording its anchor.
    fn finish(&mut self, mut node: Node, anchor: usize, size: usize) -> Result<(), Error> {
        if anchor != 0 {
            if self.anchors.len() >= self.limits.anchors {
                return Err(too_complex(
                    format!("more than {} anchors", self.limits.anchors),
                    node.pos,
                ));
            }
            let pos = node.pos;
            let shared = Rc::new(node);
            self.anchors.insert(anchor, (Rc::clone(&shared), size));
            node = Node {
                pos,
                kind: Kind::Anchored(shared),
            };
        }
        match self.stack.last_mut().map(|o| &mut o.frame) {
            None => self.root = Some(node),
            Some(Frame::Seq(items)) => items.push(node),
            Some(Frame::Map(entries, key)) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => *key = Some(node),
            },
        }
        Ok(())
    }

    fn event(&mut self, event: Event<'_>, pos: Pos) -> Result<(), Error> {
        match event {
            Event::Scalar(text, style, anchor, tag) => {
                self.count_node(pos)?;
                let tag = match tag_of(tag.as_deref(), pos)? {
                    Some(t @ ("map" | "seq")) => return Err(unsupported(t, "a scalar", pos)),
                    Some("!") => Some("str"),
                    t => t,
                };
                self.scalar_bytes = self.scalar_bytes.saturating_add(text.len());
                if self.scalar_bytes > self.limits.scalar_bytes {
                    return Err(too_complex(
                        format!("more than {} bytes of text", self.limits.scalar_bytes),
                        pos,
                    ));
                }
                let untagged = style == ScalarStyle::Plain && tag.is_none();
                let null = tag == Some("null")
                    || (untagged && matches!(text.as_ref(), "" | "~" | "null" | "Null" | "NULL"));
                let node = Node {
                    pos,
                    kind: Kind::Scalar(Scalar {
                        text: text.into_owned(),
                        tag: tag.filter(|&t| t != "null"),
                        plain: untagged || tag == Some("int"),
                        null,
                    }),
                };
                self.finish(node, anchor, 1)
            }
            Event::SequenceStart(_, anchor, tag) => {
                if let Some(t @ ("str" | "null" | "int" | "bool" | "float" | "map")) =
                    tag_of(tag.as_deref(), pos)?
                {
                    return Err(unsupported(t, "a sequence", pos));
                }
                self.open(pos, anchor, Frame::Seq(Vec::new()))
            }
            Event::MappingStart(_, anchor, tag) => {
                if let Some(t @ ("str" | "null" | "int" | "bool" | "float" | "seq")) =
                    tag_of(tag.as_deref(), pos)?
                {
                    return Err(unsupported(t, "a mapping", pos));
                }
                self.open(pos, anchor, Frame::Map(Vec::new(), None))
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.stack.pop() else {
                    return Ok(());
                };
                let kind = match open.frame {
                    Frame::Seq(items) => Kind::Seq(items),
                    Frame::Map(entries, _) => Kind::Map(self.merge(entries)?),
                };
                let size = self.total() - open.total_at_start + 1;
                let node = Node {
                    pos: open.pos,
                    kind,
                };
                self.finish(node, open.anchor, size)
            }
            Event::Alias(id) => {
                self.aliases += 1;
                if self.aliases > self.limits.aliases {
                    return Err(too_complex(
                        format!("more than {} aliases", self.limits.aliases),
                        pos,
                    ));
                }
                let Some((target, size)) = self.anchors.get(&id).cloned() else {
                    // The parser resolves names; an unfinished anchor means the node is its own
                    // ancestor.
                    return Err(Error::new(
                        "an alias cannot refer to a node that contains it",
                        pos,
                    ));
                };
                self.expand(size, pos)?;
                let node = Node {
                    pos,
                    kind: Kind::Alias(target),
                };
                self.finish(node, 0, size)
            }
            _ => Ok(()),
        }
    }

    /// Resolves `<<` merge keys and refuses duplicate keys. Explicit keys override merged
    /// ones, and among merged mappings the first to give a key wins, so a key coming twice
    /// only through merges is no error.
    fn merge(&mut self, entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, Error> {
        let mut out = Vec::with_capacity(entries.len());
        let mut sources = Vec::new();
        for (key, value) in entries {
            let is_merge = matches!(&key.kind, Kind::Scalar(s) if s.plain && s.text == "<<");
            if is_merge {
                sources.push(value);
            } else {
                out.push((key, value));
            }
        }
        let mut seen = HashSet::new();
        for (key, _) in &out {
            if let Some(text) = key.key_text()
                && !seen.insert(text.to_owned())
            {
                return Err(Error {
                    anchor: Anchor::Key,
                    ..Error::new(format!("duplicate key `{text}`"), key.pos)
                });
            }
        }
        for source in &sources {
            let maps: Vec<&Node> = match &source.target().kind {
                Kind::Scalar(s) if s.null => Vec::new(),
                Kind::Seq(items) => items.iter().collect(),
                _ => vec![source],
            };
            for map in maps {
                let Kind::Map(merged) = &map.target().kind else {
                    return Err(Error::new(
                        "a merge key (<<) takes a mapping or a list of mappings",
                        map.pos,
                    ));
                };
                for (key, value) in merged {
                    if key.key_text().is_some_and(|t| !seen.insert(t.to_owned())) {
                        continue;
                    }
                    self.expand(key.size() + value.size(), map.pos)?;
                    let value = match map.kind {
                        // Merged through an alias: the values are used where the alias is.
                        Kind::Alias(_) => Node {
                            pos: map.pos,
                            kind: Kind::Alias(Rc::new(value.clone())),
                        },
                        _ => value.clone(),
                    };
                    out.push((key.clone(), value));
                }
            }
        }
        Ok(out)
    }
}

/// Parses one YAML document into a tree, within `limits`.
pub fn load(text: &str, limits: Limits) -> Result<Node, Error> {
    let mut b = Builder {
        limits,
        nodes: 0,
        expanded: 0,
        aliases: 0,
        scalar_bytes: 0,
        anchors: HashMap::new(),
        stack: Vec::new(),
        root: None,
    };
    let mut parser = Parser::new_from_str(text);
    let mut documents = 0;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| Error::new(e.info(), pos_of(e.marker())))?;
        let pos = pos_of(&span.start);
        if let Event::DocumentStart(..) = event {
            documents += 1;
            if documents > 1 {
                // Point at the second document's content if it has any.
                let pos = match parser.next_event() {
                    Some(Ok((e, span))) if e.is_node() => pos_of(&span.start),
                    _ => pos,
                };
                return Err(Error {
                    anchor: Anchor::Document,
                    ..Error::new("only one YAML document is allowed", pos)
                });
            }
        }
        b.event(event, pos)?;
    }
    b.root
        .ok_or_else(|| Error::new("the document is empty", Pos::START))
}
