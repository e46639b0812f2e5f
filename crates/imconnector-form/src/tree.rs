//! The PHP array tree a form body is parsed into before it becomes a JSON value.
//!
//! Lookups scan small arrays (an event's arrays hold a handful of keys, where a scan beats
//! hashing and costs no allocation) and index large ones, so a crafted body of many keys at
//! one level still parses in linear time.
//!
//! Every allocation is charged to a [`Budget`] before it is made, and the JSON value's cost is
//! charged before it is built, so a crafted body is refused instead of amplified.

use std::collections::HashMap;
use std::mem::size_of;

use serde_json::{Map, Value};

use crate::limits::Budget;
use crate::FormError;

/// Arrays with more entries than this get a hash index of their keys.
const SCAN_LIMIT: usize = 16;

/// One entry of an array while parsing.
type Entry = (String, Node);

/// The bytes of one node of a `serde_json::Map` (a `BTreeMap`: 11 keys and values, links):
/// an internal node's size, which is a leaf's plus its 12 edges.
pub(crate) const MAP_NODE_BYTES: usize =
    11 * (size_of::<String>() + size_of::<Value>()) + 12 * size_of::<usize>() + 16;

/// The heap bytes of a `serde_json::Map` of `len` entries, at most: one node holds up to 11
/// and every node but the root at least 5.
pub(crate) fn map_bytes(len: usize) -> usize {
    match len {
        0 => 0,
        1..=11 => MAP_NODE_BYTES,
        _ => {
            let leaves = len.div_ceil(5);
            (leaves + leaves.div_ceil(5) + 1) * MAP_NODE_BYTES
        }
    }
}

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
    entries: Vec<Entry>,
    /// Position of each key in `entries`, kept once there are more than [`SCAN_LIMIT`]
    /// (boxed: most arrays never have one, and every node would carry 48 bytes instead of 8).
    #[allow(clippy::box_collection)]
    index: Option<Box<HashMap<String, usize>>>,
    next_index: i64,
}

impl PhpArray {
    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self.entries.iter().position(|(known, _)| known == key),
        }
    }

    fn push(&mut self, key: String, budget: &mut Budget) -> Result<usize, FormError> {
        if let Ok(number) = key.parse::<i64>() {
            // PHP's `$a[] = x` takes one more than the largest integer key so far.
            self.next_index = self.next_index.max(number.saturating_add(1));
        }
        let position = self.entries.len();
        if position == self.entries.capacity() {
            // Grown by hand so the budget sees each allocation before it happens: one slot
            // first (most arrays of a crafted body hold one entry), doubling after.
            // While the vector moves, the old buffer and the new one are both live.
            let more = position.max(1);
            budget.charge((position + more) * size_of::<Entry>())?;
            self.entries.reserve_exact(more);
            budget.refund(position * size_of::<Entry>());
        }
        if let Some(index) = &mut self.index {
            if index.len() == index.capacity() {
                // The table doubles (and the old one lives while it is copied); a table of
                // capacity c has at most 2c buckets.
                let bucket = size_of::<(String, usize)>() + 1;
                let old = 2 * index.capacity() * bucket;
                budget.charge(3 * old + 64)?;
                index.reserve(1);
                budget.refund(old + old / 2);
            }
            budget.charge(key.len())?;
            index.insert(key.clone(), position);
        } else if position == SCAN_LIMIT {
            budget.charge(
                4 * (SCAN_LIMIT + 1) * (size_of::<(String, usize)>() + 1)
                    + self
                        .entries
                        .iter()
                        .map(|(known, _)| known.len())
                        .sum::<usize>()
                    + key.len(),
            )?;
            let mut index: HashMap<String, usize> = self
                .entries
                .iter()
                .enumerate()
                .map(|(at, (known, _))| (known.clone(), at))
                .collect();
            index.insert(key.clone(), position);
            self.index = Some(Box::new(index));
        }
        self.entries.push((key, Node::Leaf(String::new())));
        Ok(position)
    }

    /// The node under `key`, created (as an empty leaf) when missing; `None` appends (`[]`).
    fn entry(&mut self, key: Option<&str>, budget: &mut Budget) -> Result<&mut Node, FormError> {
        let position = match key {
            Some(key) => match self.position(key) {
                Some(position) => position,
                None => {
                    budget.charge(key.len())?;
                    self.push(key.to_owned(), budget)?
                }
            },
            None => {
                let key = self.next_index.to_string();
                // Only a saturated `next_index` can name an existing key; PHP overwrites it.
                match self.position(&key) {
                    Some(position) => position,
                    None => {
                        budget.charge(key.capacity())?;
                        self.push(key, budget)?
                    }
                }
            }
        };
        Ok(&mut self.entries[position].1)
    }

    /// Whether the keys are exactly `0..n` in order: then the array is a JSON list.
    fn is_list(&self) -> bool {
        !self.entries.is_empty()
            && self
                .entries
                .iter()
                .enumerate()
                .all(|(index, (key, _))| key.parse::<usize>().ok() == Some(index))
    }

    /// The heap bytes the JSON value of this array's entries will take beyond those the
    /// tree holds already (keys and leaf texts move into it): maps' nodes, lists' slots.
    fn value_bytes(&self, as_map: bool) -> usize {
        let own = if as_map {
            map_bytes(self.entries.len())
        } else {
            self.entries.len() * size_of::<Value>()
        };
        own + self
            .entries
            .iter()
            .map(|(_, node)| match node {
                Node::Leaf(_) => 0,
                Node::Array(array) => array.value_bytes(!array.is_list()),
            })
            .sum::<usize>()
    }

    /// The entries as a JSON object, keys as they are.
    fn into_map(self) -> Map<String, Value> {
        // Inserted one by one: the keys are already unique, and collecting sorted them
        // through a buffer first (a sixth of a typed decode's instructions).
        let mut map = Map::new();
        for (key, node) in self.entries {
            map.insert(key, node.into_value());
        }
        map
    }
}

impl Node {
    /// The child under `key` (`None` appends), turning a leaf into an array first as PHP does
    /// with a scalar that gets indexed.
    pub(crate) fn child_mut(
        &mut self,
        key: Option<&str>,
        budget: &mut Budget,
    ) -> Result<&mut Node, FormError> {
        if let Node::Leaf(_) = self {
            *self = Node::Array(PhpArray::default());
        }
        match self {
            Node::Array(array) => array.entry(key, budget),
            Node::Leaf(_) => unreachable!("turned into an array just above"),
        }
    }

    /// The JSON value: arrays whose keys are exactly `0..n` in order become lists, other arrays
    /// objects, leaves strings.
    fn into_value(self) -> Value {
        match self {
            Node::Leaf(text) => Value::String(text),
            Node::Array(array) if array.is_list() => Value::Array(
                array
                    .entries
                    .into_iter()
                    .map(|(_, node)| node.into_value())
                    .collect(),
            ),
            Node::Array(array) => Value::Object(array.into_map()),
        }
    }
}

/// The root of a parse: always a JSON object, even when its keys are `0..n`.
#[derive(Debug, Default)]
pub(crate) struct Root(PhpArray);

impl Root {
    /// The top-level node of `base` (a key's name before its brackets).
    pub(crate) fn child_mut(
        &mut self,
        base: &str,
        budget: &mut Budget,
    ) -> Result<&mut Node, FormError> {
        self.0.entry(Some(base), budget)
    }

    /// Charges the JSON object's cost, then builds it.
    pub(crate) fn into_object(self, budget: &mut Budget) -> Result<Value, FormError> {
        budget.charge(self.0.value_bytes(true))?;
        Ok(Value::Object(self.0.into_map()))
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
