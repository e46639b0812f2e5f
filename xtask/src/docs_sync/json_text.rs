//! JSON as text: values with their byte spans and key order.
//!
//! `serde_json::Value` (without `preserve_order`, which would change the map type for the whole
//! workspace) sorts keys and forgets where a value was written. `--write` needs both: to replace
//! one example inside a hand-formatted spec file without reformatting the rest, and to copy a
//! docs example in the docs' own key order.

use std::ops::Range;

/// A JSON value with the byte range it occupies in the parsed text.
#[derive(Debug, Clone)]
pub enum Node {
    /// `{...}`: members in text order.
    Object {
        /// Bytes of the whole object.
        span: Range<usize>,
        /// (decoded key, value) pairs.
        members: Vec<(String, Node)>,
    },
    /// `[...]`.
    Array {
        /// Bytes of the whole array.
        span: Range<usize>,
        /// Elements.
        items: Vec<Node>,
    },
    /// A string, number, `true`, `false` or `null`, kept as written.
    Scalar {
        /// Bytes of the literal.
        span: Range<usize>,
    },
}

impl Node {
    /// The bytes this value occupies.
    pub fn span(&self) -> Range<usize> {
        match self {
            Node::Object { span, .. } | Node::Array { span, .. } | Node::Scalar { span } => {
                span.clone()
            }
        }
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object { members, .. } => members
                .iter()
                .find(|(name, _)| name == key)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    /// The elements of an array.
    pub fn items(&self) -> &[Node] {
        match self {
            Node::Array { items, .. } => items,
            _ => &[],
        }
    }
}

/// Parses `text` as one JSON value (surrounding whitespace allowed).
///
/// # Errors
/// A message with the byte offset where the text stops being JSON.
pub fn parse(text: &str) -> Result<Node, String> {
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        pos: 0,
    };
    let node = parser.value()?;
    parser.skip_ws();
    if parser.pos == parser.bytes.len() {
        Ok(node)
    } else {
        Err(format!("trailing text at byte {}", parser.pos))
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| b.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    fn error<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{what} at byte {}", self.pos))
    }

    fn value(&mut self) -> Result<Node, String> {
        self.skip_ws();
        let start = self.pos;
        match self.bytes.get(self.pos) {
            Some(b'{') => self.object(start),
            Some(b'[') => self.array(start),
            Some(b'"') => {
                self.string()?;
                Ok(Node::Scalar {
                    span: start..self.pos,
                })
            }
            Some(_) => {
                while self
                    .bytes
                    .get(self.pos)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b"+-.".contains(b))
                {
                    self.pos += 1;
                }
                let literal = &self.text[start..self.pos];
                // serde_json decides what a valid literal is.
                if literal.is_empty() || serde_json::from_str::<serde_json::Value>(literal).is_err()
                {
                    return self.error("expected a value");
                }
                Ok(Node::Scalar {
                    span: start..self.pos,
                })
            }
            None => self.error("unexpected end"),
        }
    }

    /// Consumes a string literal and returns it decoded.
    fn string(&mut self) -> Result<String, String> {
        let start = self.pos;
        self.pos += 1;
        while let Some(&b) = self.bytes.get(self.pos) {
            self.pos += 1;
            match b {
                b'\\' => self.pos += 1,
                b'"' => {
                    return serde_json::from_str(&self.text[start..self.pos])
                        .map_err(|error| format!("bad string at byte {start}: {error}"));
                }
                _ => {}
            }
        }
        self.error("unterminated string")
    }

    fn object(&mut self, start: usize) -> Result<Node, String> {
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Node::Object {
                span: start..self.pos,
                members,
            });
        }
        loop {
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b'"') {
                return self.error("expected a key");
            }
            let key = self.string()?;
            self.skip_ws();
            if self.bytes.get(self.pos) != Some(&b':') {
                return self.error("expected ':'");
            }
            self.pos += 1;
            members.push((key, self.value()?));
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Node::Object {
                        span: start..self.pos,
                        members,
                    });
                }
                _ => return self.error("expected ',' or '}'"),
            }
        }
    }

    fn array(&mut self, start: usize) -> Result<Node, String> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.bytes.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Node::Array {
                span: start..self.pos,
                items,
            });
        }
        loop {
            items.push(self.value()?);
            self.skip_ws();
            match self.bytes.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Node::Array {
                        span: start..self.pos,
                        items,
                    });
                }
                _ => return self.error("expected ',' or ']'"),
            }
        }
    }
}

/// Prints `node` (parsed from `text`) with two-space indentation, continuation lines starting at
/// `indent` spaces, keys in their original order and scalars exactly as written. A top-level
/// member named `skip_key` is left out (the `auth` of a docs request).
pub fn print(text: &str, node: &Node, indent: usize, skip_key: Option<&str>) -> String {
    let mut out = String::new();
    print_into(text, node, indent, skip_key, &mut out);
    out
}

fn print_into(text: &str, node: &Node, indent: usize, skip_key: Option<&str>, out: &mut String) {
    let pad = " ".repeat(indent + 2);
    match node {
        Node::Scalar { span } => out.push_str(&text[span.clone()]),
        Node::Object { members, .. } => {
            let members: Vec<_> = members
                .iter()
                .filter(|(key, _)| Some(key.as_str()) != skip_key)
                .collect();
            if members.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (index, (key, value)) in members.iter().enumerate() {
                out.push_str(if index == 0 { "\n" } else { ",\n" });
                out.push_str(&pad);
                // Re-encoding the decoded key gives canonical escapes.
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push_str(": ");
                print_into(text, value, indent + 2, None, out);
            }
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            out.push('}');
        }
        Node::Array { items, .. } => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                out.push_str(if index == 0 { "\n" } else { ",\n" });
                out.push_str(&pad);
                print_into(text, item, indent + 2, None, out);
            }
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            out.push(']');
        }
    }
}

/// Prints `node` on one line (`{"a": 1, "b": [2]}`), keys in order, scalars as written: for a
/// value that was written on one line in the spec file.
pub fn print_compact(text: &str, node: &Node) -> String {
    match node {
        Node::Scalar { span } => text[span.clone()].to_owned(),
        Node::Object { members, .. } => {
            let members: Vec<String> = members
                .iter()
                .map(|(key, value)| {
                    format!(
                        "{}: {}",
                        serde_json::Value::String(key.clone()),
                        print_compact(text, value)
                    )
                })
                .collect();
            format!("{{{}}}", members.join(", "))
        }
        Node::Array { items, .. } => {
            let items: Vec<String> = items.iter().map(|item| print_compact(text, item)).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

/// Indents every line but the first by `spaces` (the first continues an existing line).
pub fn indent(text: &str, spaces: usize) -> String {
    let pad = " ".repeat(spaces);
    text.lines()
        .enumerate()
        .map(|(index, line)| {
            if index == 0 || line.is_empty() {
                line.to_owned()
            } else {
                format!("{pad}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_order_survive() {
        let text = r#" {"b": [1, "x\"y"], "a": {"auth": 2, "c": null}} "#;
        let node = parse(text).unwrap();
        let b = node.get("b").unwrap();
        assert_eq!(&text[b.span()], r#"[1, "x\"y"]"#);
        assert_eq!(
            print(text, node.get("a").unwrap(), 2, Some("auth")),
            "{\n    \"c\": null\n  }"
        );
        assert_eq!(
            print(text, &node, 0, None),
            "{\n  \"b\": [\n    1,\n    \"x\\\"y\"\n  ],\n  \"a\": {\n    \"auth\": 2,\n    \"c\": null\n  }\n}"
        );
    }

    #[test]
    fn compact_keeps_order_on_one_line() {
        let text = "{\n  \"b\": [1, 2],\n  \"a\": {}\n}";
        let node = parse(text).unwrap();
        assert_eq!(print_compact(text, &node), r#"{"b": [1, 2], "a": {}}"#);
    }

    #[test]
    fn rejects_what_is_not_json() {
        assert!(parse(r#"{"a": 1,}"#).is_err());
        assert!(parse(r#"{"a": tru}"#).is_err());
        assert!(parse("[1] 2").is_err());
    }
}
