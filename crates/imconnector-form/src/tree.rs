//! The PHP array tree a form body is parsed into before it becomes a JSON value.
//!
//! Lookups scan small arrays (an event's arrays hold a handful of keys, where a scan beats
//! hashing and costs no allocation) and index large ones, so a crafted body of many keys at
//! one level still parses in linear time.

use std::collections::HashMap;

use serde_json::{Map, Value};

/// Arrays with more entries than this get a hash index of their keys.
const SCAN_LIMIT: usize = 16;

/// One node of the tree while parsing: PHP arrays keep insertion order and mix int and string
/// keys.
#[derive(Debug)]
pub(crate) enum Node {
    Leaf(String),
    Array(PhpArray),
}

/// An ordered map with PHP's "next integer key".
#[derive(Debug, Default)]
pub(crate) struct PhpArray {
    entries: Vec<(String, Node)>,
    /// Position of each key in `entries`, kept once there are more than [`SCAN_LIMIT`].
    index: Option<HashMap<String, usize>>,
    next_index: i64,
}

impl PhpArray {
    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(known, _)| known == key),
        }
    }

    fn push(&mut self, key: String) -> usize {
        if let Ok(number) = key.parse::<i64>() {
            // PHP's `$a[] = x` takes one more than the largest integer key so far.
            self.next_index = self.next_index.max(number.saturating_add(1));
        }
        let position = self.entries.len();
        if let Some(index) = &mut self.index {
            index.insert(key.clone(), position);
        } else if position == SCAN_LIMIT {
            let mut index: HashMap<String, usize> = self
                .entries
                .iter()
                .enumerate()
                .map(|(at, (known, _))| (known.clone(), at))
                .collect();
            index.insert(key.clone(), position);
            self.index = Some(index);
        }
        self.entries.push((key, Node::Leaf(String::new())));
        position
    }

    /// The node under `key`, created (as an empty leaf) when missing; `None` appends (`[]`).
    fn entry(&mut self, key: Option<&str>) -> &mut Node {
        let position = match key {
            Some(key) => match self.position(key) {
                Some(position) => position,
                None => self.push(key.to_owned()),
            },
            None => {
                let key = self.next_index.to_string();
                // Only a saturated `next_index` can name an existing key; PHP overwrites it.
                match self.position(&key) {
                    Some(position) => position,
                    None => self.push(key),
                }
            }
        };
        &mut self.entries[position].1
    }
}

impl Node {
    /// An empty array: the root of a parse.
    pub(crate) fn root() -> Self {
        Node::Array(PhpArray::default())
    }

    /// The child under `key` (`None` appends), turning a leaf into an array first as PHP does
    /// with a scalar that gets indexed.
    pub(crate) fn child_mut(&mut self, key: Option<&str>) -> &mut Node {
        if let Node::Leaf(_) = self {
            *self = Node::root();
        }
        match self {
            Node::Array(array) => array.entry(key),
            Node::Leaf(_) => unreachable!("turned into an array just above"),
        }
    }

    /// The JSON value: arrays whose keys are exactly `0..n` in order become lists, other arrays
    /// objects, leaves strings.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Node::Leaf(text) => Value::String(text),
            Node::Array(PhpArray { entries, .. }) => {
                let sequential = entries
                    .iter()
                    .enumerate()
                    .all(|(index, (key, _))| key.parse::<usize>().ok() == Some(index));
                if sequential && !entries.is_empty() {
                    Value::Array(
                        entries
                            .into_iter()
                            .map(|(_, node)| node.into_value())
                            .collect(),
                    )
                } else {
                    // Inserted one by one: the keys are already unique, and collecting sorted
                    // them through a buffer first (a sixth of a typed decode's instructions).
                    let mut map = Map::new();
                    for (key, node) in entries {
                        map.insert(key, node.into_value());
                    }
                    Value::Object(map)
                }
            }
        }
    }
}

/// The bracket segments of a key after its base name: `[b][][c]` yields `Some("b")`, `None`
/// (for `[]`) and `Some("c")`. It stops at a bracket that does not close or at text outside
/// brackets, as PHP ignores the rest of such a key.
#[derive(Debug, Clone)]
pub(crate) struct Segments<'k> {
    rest: &'k str,
}

impl<'k> Iterator for Segments<'k> {
    type Item = Option<&'k str>;

    fn next(&mut self) -> Option<Self::Item> {
        let after_open = self.rest.strip_prefix('[')?;
        // Segments are a few bytes long: a byte scan beats `str::find`'s `memchr` call.
        let close = after_open.bytes().position(|byte| byte == b']')?;
        let segment = &after_open[..close];
        self.rest = &after_open[close + 1..];
        Some((!segment.is_empty()).then_some(segment))
    }
}

/// Splits `a[b][][c]` into `a` and its bracket [`Segments`]. A key that starts with a bracket,
/// or whose first bracket never closes, is taken literally, as PHP does.
pub(crate) fn split_key(key: &str) -> (&str, Segments<'_>) {
    let bytes = key.as_bytes();
    match bytes.iter().position(|&byte| byte == b'[') {
        Some(open) if open > 0 && bytes[open + 1..].iter().rev().any(|&byte| byte == b']') => {
            (&key[..open], Segments { rest: &key[open..] })
        }
        _ => (key, Segments { rest: "" }),
    }
}
