//! Type expressions (`string`, `list<MessageIn>`, `ListOrMap<Id>`...): parsed and printed.
//! What their names refer to in a loaded spec is [`crate::lookup`]'s business.

use std::fmt;

/// A parsed type expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeExpr {
    /// `string`
    String,
    /// `bool`
    Bool,
    /// `i64`
    I64,
    /// `u64`
    U64,
    /// `f64`
    F64,
    /// `json`
    Json,
    /// `list<T>`
    List(Box<TypeExpr>),
    /// `map<T>` (string keys)
    Map(Box<TypeExpr>),
    /// A named type from `types/` or a wire helper, with generic arguments for helpers.
    Named(String, Vec<TypeExpr>),
}

impl TypeExpr {
    /// Parses an expression.
    ///
    /// # Errors
    /// A message saying what is malformed.
    pub fn parse(text: &str) -> Result<TypeExpr, String> {
        let mut parser = Parser { text, pos: 0 };
        let expr = parser.expr()?;
        parser.skip_spaces();
        if parser.pos != text.len() {
            return Err(format!(
                "unexpected `{}` in type `{text}`",
                &text[parser.pos..]
            ));
        }
        Ok(expr)
    }

    /// Every name this expression refers to (helpers and named types), outermost first.
    pub fn names(&self) -> Vec<&str> {
        let mut names = Vec::new();
        self.collect_names(&mut names);
        names
    }

    fn collect_names<'a>(&'a self, names: &mut Vec<&'a str>) {
        match self {
            TypeExpr::List(inner) | TypeExpr::Map(inner) => inner.collect_names(names),
            TypeExpr::Named(name, args) => {
                names.push(name);
                for arg in args {
                    arg.collect_names(names);
                }
            }
            _ => {}
        }
    }
}

impl fmt::Display for TypeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypeExpr::String => f.write_str("string"),
            TypeExpr::Bool => f.write_str("bool"),
            TypeExpr::I64 => f.write_str("i64"),
            TypeExpr::U64 => f.write_str("u64"),
            TypeExpr::F64 => f.write_str("f64"),
            TypeExpr::Json => f.write_str("json"),
            TypeExpr::List(inner) => write!(f, "list<{inner}>"),
            TypeExpr::Map(inner) => write!(f, "map<{inner}>"),
            TypeExpr::Named(name, args) if args.is_empty() => f.write_str(name),
            TypeExpr::Named(name, args) => {
                write!(f, "{name}<")?;
                for (index, arg) in args.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{arg}")?;
                }
                f.write_str(">")
            }
        }
    }
}

/// A type expression as written in a spec file, parsed when the file is loaded, so everything
/// after loading works on the parsed [`TypeExpr`] and a malformed one is a load error naming
/// the file and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeRef {
    text: String,
    expr: TypeExpr,
}

impl TypeRef {
    /// Parses `text`.
    ///
    /// # Errors
    /// As [`TypeExpr::parse`].
    pub fn parse(text: &str) -> Result<TypeRef, String> {
        Ok(TypeRef {
            text: text.to_owned(),
            expr: TypeExpr::parse(text)?,
        })
    }

    /// The parsed expression.
    pub fn expr(&self) -> &TypeExpr {
        &self.expr
    }

    /// The expression as written in the spec.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for TypeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> serde::Deserialize<'de> for TypeRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        TypeRef::parse(&text).map_err(serde::de::Error::custom)
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) {
        while self.text[self.pos..].starts_with(' ') {
            self.pos += 1;
        }
    }

    fn eat(&mut self, symbol: char) -> bool {
        self.skip_spaces();
        if self.text[self.pos..].starts_with(symbol) {
            self.pos += symbol.len_utf8();
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Result<&str, String> {
        self.skip_spaces();
        let rest = &self.text[self.pos..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(format!(
                "expected a type name at `{rest}` in `{}`",
                self.text
            ));
        }
        self.pos += len;
        Ok(&rest[..len])
    }

    fn expr(&mut self) -> Result<TypeExpr, String> {
        let name = self.ident()?.to_owned();
        let mut args = Vec::new();
        if self.eat('<') {
            loop {
                args.push(self.expr()?);
                if self.eat('>') {
                    break;
                }
                if !self.eat(',') {
                    return Err(format!("expected `,` or `>` in `{}`", self.text));
                }
            }
        }
        let one_arg = |args: Vec<TypeExpr>| -> Result<Box<TypeExpr>, String> {
            let mut args = args;
            match (args.pop(), args.is_empty()) {
                (Some(arg), true) => Ok(Box::new(arg)),
                _ => Err(format!("`{name}` takes exactly one type argument")),
            }
        };
        let scalar = |expr: TypeExpr, args: &[TypeExpr]| -> Result<TypeExpr, String> {
            if args.is_empty() {
                Ok(expr)
            } else {
                Err(format!("`{name}` takes no type arguments"))
            }
        };
        match name.as_str() {
            "string" => scalar(TypeExpr::String, &args),
            "bool" => scalar(TypeExpr::Bool, &args),
            "i64" => scalar(TypeExpr::I64, &args),
            "u64" => scalar(TypeExpr::U64, &args),
            "f64" => scalar(TypeExpr::F64, &args),
            "json" => scalar(TypeExpr::Json, &args),
            "list" => Ok(TypeExpr::List(one_arg(args)?)),
            "map" => Ok(TypeExpr::Map(one_arg(args)?)),
            _ => Ok(TypeExpr::Named(name, args)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nested_generics_and_prints_them_back() {
        let expr = TypeExpr::parse("list< ListOrMap<map<string>> >").unwrap();
        assert_eq!(
            expr,
            TypeExpr::List(Box::new(TypeExpr::Named(
                "ListOrMap".into(),
                vec![TypeExpr::Map(Box::new(TypeExpr::String))]
            )))
        );
        assert_eq!(expr.to_string(), "list<ListOrMap<map<string>>>");
        assert_eq!(expr.names(), vec!["ListOrMap"]);
    }

    #[test]
    fn rejects_malformed_expressions() {
        for bad in [
            "",
            "list",
            "list<>",
            "map<string",
            "string<i64>",
            "a b",
            "list<a,b>",
        ] {
            assert!(TypeExpr::parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
