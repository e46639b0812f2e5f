//! How a type expression becomes Rust: the stored type, the constructor argument type and its
//! conversion, the concrete type the example tests build, and whether it needs validation.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::helpers::{ArgStyle, Shape};
use crate::lookup::{resolve, Resolved};
use crate::model::{Kind, Spec};
use crate::ty::TypeExpr;

/// An identifier token.
pub fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// The type stored in a struct field (without the `Option` of optional fields).
pub fn storage(spec: &Spec, expr: &TypeExpr) -> TokenStream {
    match expr {
        TypeExpr::String => quote!(String),
        TypeExpr::Bool => quote!(bool),
        TypeExpr::I64 => quote!(i64),
        TypeExpr::U64 => quote!(u64),
        TypeExpr::F64 => quote!(f64),
        TypeExpr::Json => quote!(serde_json::Value),
        TypeExpr::List(inner) => {
            let inner = storage(spec, inner);
            quote!(Vec<#inner>)
        }
        TypeExpr::Map(inner) => {
            let inner = storage(spec, inner);
            quote!(std::collections::BTreeMap<String, #inner>)
        }
        TypeExpr::Named(name, args) => {
            let name_ident = ident(name);
            let args: Vec<TokenStream> = args.iter().map(|arg| storage(spec, arg)).collect();
            let generics = if args.is_empty() {
                quote!()
            } else {
                quote!(<#(#args),*>)
            };
            match resolve(spec, name) {
                Some(Resolved::Helper(helper)) if helper.shape == Shape::ByPosition => {
                    quote!(std::collections::BTreeMap<usize, #(#args),*>)
                }
                Some(Resolved::Helper(helper)) if helper.shape == Shape::Optional => {
                    quote!(Option<#(#args),*>)
                }
                Some(Resolved::Helper(_)) => quote!(crate::wire::#name_ident #generics),
                _ => quote!(crate::types::#name_ident #generics),
            }
        }
    }
}

/// How a constructor or setter argument becomes the stored value.
#[derive(Debug, Clone)]
pub enum Conversion {
    /// Stored as given.
    Identity,
    /// `value.into()`
    Into,
    /// `path::new(value)` or `path::from(value)`
    Call(TokenStream),
    /// `value.into_iter().map(|item| <inner>).collect()`
    Each(Box<Conversion>),
}

impl Conversion {
    /// Applies the conversion to the tokens of a value.
    pub fn apply(&self, value: TokenStream) -> TokenStream {
        match self {
            Conversion::Identity => value,
            Conversion::Into => quote!(#value.into()),
            Conversion::Call(function) => quote!(#function(#value)),
            Conversion::Each(inner) => match **inner {
                Conversion::Identity => quote!(#value.into_iter().collect()),
                _ => {
                    let item = inner.apply(quote!(item));
                    quote!(#value.into_iter().map(|item| #item).collect())
                }
            },
        }
    }
}

/// The argument type a constructor or setter takes for a value of `expr`, and its conversion.
pub fn argument(spec: &Spec, expr: &TypeExpr) -> (TokenStream, Conversion) {
    match expr {
        TypeExpr::String => (quote!(impl Into<String>), Conversion::Into),
        TypeExpr::List(inner) => {
            let (item, conversion) = argument(spec, inner);
            (
                quote!(impl IntoIterator<Item = #item>),
                Conversion::Each(Box::new(conversion)),
            )
        }
        TypeExpr::Named(name, _) => match resolve(spec, name) {
            Some(Resolved::Helper(helper)) => {
                let path = storage(spec, expr);
                match helper.arg {
                    ArgStyle::AsIs => (path, Conversion::Identity),
                    ArgStyle::IntoString => (
                        quote!(impl Into<String>),
                        Conversion::Call(quote!(#path::new)),
                    ),
                    ArgStyle::Bool => (quote!(bool), Conversion::Call(quote!(#path::from))),
                }
            }
            _ => (storage(spec, expr), Conversion::Identity),
        },
        _ => (storage(spec, expr), Conversion::Identity),
    }
}

/// A concrete type that satisfies [`argument`], for the generated example tests.
pub fn example_type(spec: &Spec, expr: &TypeExpr) -> TokenStream {
    match expr {
        TypeExpr::List(inner) => {
            let inner = example_type(spec, inner);
            quote!(Vec<#inner>)
        }
        TypeExpr::Named(name, _) => match resolve(spec, name) {
            Some(Resolved::Helper(helper)) => match helper.arg {
                ArgStyle::AsIs => storage(spec, expr),
                ArgStyle::IntoString => quote!(String),
                ArgStyle::Bool => quote!(bool),
            },
            _ => storage(spec, expr),
        },
        _ => storage(spec, expr),
    }
}

/// Whether values of `expr` carry checks that `Method::validate` must run.
pub fn needs_validation(spec: &Spec, expr: &TypeExpr) -> bool {
    match expr {
        TypeExpr::List(inner) | TypeExpr::Map(inner) => needs_validation(spec, inner),
        TypeExpr::Named(name, args) => match resolve(spec, name) {
            Some(Resolved::Helper(helper)) => {
                helper.validates || args.iter().any(|arg| needs_validation(spec, arg))
            }
            Some(Resolved::Type(ty)) => ty.kind == Kind::Struct && ty.usage.is_request(),
            None => false,
        },
        _ => false,
    }
}

/// How a getter hands out a stored value: its return type and the expression reading
/// `self.<field>`.
pub fn getter(
    spec: &Spec,
    expr: &TypeExpr,
    required: bool,
    field: &Ident,
) -> (TokenStream, TokenStream) {
    enum Shape {
        /// Returned by value (`Copy` primitives).
        Copy,
        /// A flag helper read with `.get()`.
        Flag,
        /// Borrowed as the given type (`&str`, `&[T]`, `&T`).
        Borrowed(TokenStream),
    }
    let shape = match expr {
        TypeExpr::Bool | TypeExpr::I64 | TypeExpr::U64 | TypeExpr::F64 => Shape::Copy,
        TypeExpr::String => Shape::Borrowed(quote!(str)),
        TypeExpr::List(inner) => {
            let inner = storage(spec, inner);
            Shape::Borrowed(quote!([#inner]))
        }
        TypeExpr::Named(name, _) => match resolve(spec, name) {
            Some(Resolved::Helper(helper)) if helper.arg == ArgStyle::Bool => Shape::Flag,
            _ => Shape::Borrowed(storage(spec, expr)),
        },
        TypeExpr::Json | TypeExpr::Map(_) => Shape::Borrowed(storage(spec, expr)),
    };
    let stored = storage(spec, expr);
    match (shape, required) {
        (Shape::Copy, true) => (stored, quote!(self.#field)),
        (Shape::Copy, false) => (quote!(Option<#stored>), quote!(self.#field)),
        (Shape::Flag, true) => (quote!(bool), quote!(self.#field.get())),
        (Shape::Flag, false) => (
            quote!(Option<bool>),
            quote!(self.#field.map(|flag| flag.get())),
        ),
        (Shape::Borrowed(target), true) => (quote!(&#target), quote!(&self.#field)),
        (Shape::Borrowed(target), false) => {
            let read = if matches!(expr, TypeExpr::String | TypeExpr::List(_)) {
                quote!(self.#field.as_deref())
            } else {
                quote!(self.#field.as_ref())
            };
            (quote!(Option<&#target>), read)
        }
    }
}
