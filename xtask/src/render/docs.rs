//! Doc comments, and the example code written into them (compiled as doctests).

use std::collections::BTreeSet;

use proc_macro2::TokenStream;
use quote::quote;
use serde_json::Value;

use crate::helpers::{ArgStyle, ExampleStyle};
use crate::ir::{Field, Model, Shape, Ty, TypeId};

/// The fence of generated doc examples: `no_run` once `transport::Client::call` exists (it
/// does: the examples are compiled by `cargo test --doc`), `ignore` before that.
pub const EXAMPLE_FENCE: &str = "```no_run";

/// `#[doc = ...]` attributes, one per line of `text` (prettyplease prints them as `///`).
///
/// Spec prose may say `<url>`; outside code, a `<` that does not open an autolink is escaped so
/// rustdoc does not read an HTML tag.
pub fn doc_attrs(text: &str) -> TokenStream {
    let mut in_fence = false;
    let lines = text.trim_end().lines().map(|line| {
        let line = if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            line.to_owned()
        } else if in_fence {
            line.to_owned()
        } else {
            escape_angle_brackets(line)
        };
        let line = if line.is_empty() {
            String::new()
        } else {
            format!(" {line}")
        };
        quote!(#[doc = #line])
    });
    quote!(#(#lines)*)
}

fn escape_angle_brackets(line: &str) -> String {
    let mut escaped = String::with_capacity(line.len());
    let mut in_code = false;
    for (index, c) in line.char_indices() {
        match c {
            '`' => in_code = !in_code,
            '<' if !in_code && !line[index..].starts_with("<http") => {
                escaped.push('\\');
            }
            _ => {}
        }
        escaped.push(c);
    }
    escaped
}

/// Markdown list of documented items: "- `rust` (`WIRE`, required): docs Constraints: ...".
pub fn field_list(fields: &[Field]) -> String {
    let mut text = String::new();
    for field in fields {
        let requirement = if field.required {
            "required"
        } else {
            "optional"
        };
        text.push_str(&format!(
            "- `{}` (`{}`, `{}`, {requirement}): {}",
            field.rust,
            field.wire,
            field.spec_type,
            one_line(&field.docs)
        ));
        if !field.constraints.is_empty() {
            text.push_str(&format!(" Constraints: {}.", field.constraints.join("; ")));
        }
        text.push('\n');
    }
    text
}

/// Joins the lines of a Markdown paragraph so it fits in a list item.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Writes Rust expressions for values of spec types, remembering what the example must import.
pub struct ExampleWriter<'a> {
    model: &'a Model,
    /// Names to import from `imconnector_api::ids`.
    pub wire_imports: BTreeSet<String>,
    /// Names to import from `imconnector_api::types`.
    pub type_imports: BTreeSet<String>,
}

impl<'a> ExampleWriter<'a> {
    /// A writer with nothing imported yet.
    pub fn new(model: &'a Model) -> Self {
        Self {
            model,
            wire_imports: BTreeSet::new(),
            type_imports: BTreeSet::new(),
        }
    }

    /// The hidden `use` lines of the example.
    pub fn import_lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for (module, names) in [("types", &self.type_imports), ("ids", &self.wire_imports)] {
            match names.len() {
                0 => {}
                1 => lines.push(format!(
                    "# use imconnector_api::{module}::{};",
                    names.iter().next().map_or("", String::as_str)
                )),
                _ => lines.push(format!(
                    "# use imconnector_api::{module}::{{{}}};",
                    names.iter().cloned().collect::<Vec<_>>().join(", ")
                )),
            }
        }
        lines
    }

    /// The arguments of `new(..)` for these (required) fields, taking values from `example`.
    pub fn constructor_args(&mut self, fields: &[Field], example: Option<&Value>) -> Vec<String> {
        fields
            .iter()
            .filter(|field| field.required)
            .map(|field| {
                let value = example.and_then(|example| example.get(&field.wire));
                self.value(&field.ty, value)
            })
            .collect()
    }

    /// A Rust expression of the argument type for `expr`, close to `example` when given.
    pub fn value(&mut self, ty: &Ty, example: Option<&Value>) -> String {
        match ty {
            Ty::String => format!("{:?}", text_of(example).unwrap_or_else(|| "text".into())),
            Ty::Bool => truthy(example).unwrap_or(true).to_string(),
            Ty::I64 | Ty::U64 => integer_of(example).unwrap_or(1).to_string(),
            Ty::F64 => "1.0".to_owned(),
            Ty::Json => format!(
                "serde_json::json!({})",
                example.map_or_else(|| "null".to_owned(), Value::to_string)
            ),
            Ty::List(inner) => {
                let first = example.and_then(|example| example.get(0));
                format!("[{}]", self.value(inner, first))
            }
            Ty::Map(_) => "std::collections::BTreeMap::new()".to_owned(),
            Ty::Helper(helper, _) => {
                let name = helper.name;
                match helper.example {
                    ExampleStyle::CheckedString => {
                        self.wire_imports.insert(name.to_owned());
                        let text = text_of(example).unwrap_or_else(|| "text".into());
                        format!("{name}::new({text:?})?")
                    }
                    ExampleStyle::ParsedString => {
                        self.wire_imports.insert(name.to_owned());
                        let text =
                            text_of(example).unwrap_or_else(|| "https://example.com/".into());
                        format!("{name}::parse({text:?})?")
                    }
                    ExampleStyle::CheckedInteger => {
                        self.wire_imports.insert(name.to_owned());
                        format!("{name}::new({})?", integer_of(example).unwrap_or(1))
                    }
                    ExampleStyle::Literal => match helper.arg {
                        ArgStyle::Bool => truthy(example).unwrap_or(true).to_string(),
                        ArgStyle::IntoIntegerId => integer_of(example).unwrap_or(1).to_string(),
                        _ => format!("{:?}", text_of(example).unwrap_or_else(|| "text".into())),
                    },
                    ExampleStyle::Default => "Default::default()".to_owned(),
                }
            }
            Ty::Named(id) => self.named(*id, example),
        }
    }

    fn named(&mut self, id: TypeId, example: Option<&Value>) -> String {
        let model = self.model;
        let ty = model.named(id);
        let name = &ty.name;
        self.type_imports.insert(name.clone());
        match &ty.shape {
            Shape::Enum { values } => {
                let wanted = text_of(example);
                let value = values
                    .iter()
                    .find(|value| Some(&value.wire) == wanted.as_ref())
                    .or_else(|| values.first());
                value.map_or_else(
                    || format!("{name}::Unknown(String::new())"),
                    |value| format!("{name}::{}", value.rust),
                )
            }
            Shape::Struct { fields, .. } => {
                let args = self.constructor_args(fields, example);
                let mut text = format!("{name}::new({})", args.join(", "));
                // A value with no required fields says little as `new()`; show up to two
                // of the example's optional scalars, text first.
                if !fields.iter().any(|field| field.required) {
                    let mut present: Vec<(bool, &Field, &Value)> = fields
                        .iter()
                        .filter_map(|field| {
                            let value = example?.get(&field.wire)?;
                            let text_like = is_scalar(&field.ty)?;
                            Some((text_like, field, value))
                        })
                        .collect();
                    // Stable sort: text-like fields first, spec order otherwise.
                    present.sort_by_key(|(text_like, ..)| !text_like);
                    for (_, field, value) in present.into_iter().take(2) {
                        let value = self.value(&field.ty, Some(value));
                        text.push_str(&format!(".with_{}({value})", field.rust));
                    }
                }
                text
            }
        }
    }
}

/// `Some(true)` for text-like scalars, `Some(false)` for other scalars, `None` otherwise.
fn is_scalar(ty: &Ty) -> Option<bool> {
    match ty {
        Ty::String => Some(true),
        Ty::Bool | Ty::I64 | Ty::U64 => Some(false),
        Ty::Helper(helper, _) if helper.example == ExampleStyle::Literal => Some(matches!(
            helper.arg,
            ArgStyle::IntoString | ArgStyle::IntoTextId
        )),
        _ => None,
    }
}

fn text_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn integer_of(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn truthy(value: Option<&Value>) -> Option<bool> {
    match value? {
        Value::Bool(flag) => Some(*flag),
        Value::Number(number) => Some(number.as_f64() != Some(0.0)),
        Value::String(text) => Some(!matches!(text.as_str(), "" | "0" | "N" | "n" | "false")),
        _ => None,
    }
}

/// Lays out `let <binding> = <head>(<args>)<tail>;` on one line or with one argument per line.
pub fn call_statement(binding: &str, head: &str, args: &[String], tail: &str) -> Vec<String> {
    let single = format!("let {binding} = {head}({}){tail};", args.join(", "));
    if single.len() <= 96 || args.is_empty() {
        return vec![single];
    }
    let mut lines = vec![format!("let {binding} = {head}(")];
    lines.extend(args.iter().map(|arg| format!("    {arg},")));
    lines.push(format!("){tail};"));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn angle_brackets_are_escaped_outside_code_and_autolinks() {
        assert_eq!(
            escape_angle_brackets("post: <url> `Vec<T>` <https://x.example>"),
            "post: \\<url> `Vec<T>` <https://x.example>"
        );
        let attrs = doc_attrs("a <b>\n```\nlet x: Vec<u8>;\n```").to_string();
        assert!(attrs.contains(r#"" a \\<b>""#), "{attrs}");
        assert!(attrs.contains("Vec<u8>"), "{attrs}");
    }
}
