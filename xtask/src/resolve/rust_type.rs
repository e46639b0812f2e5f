//! How a resolved type becomes Rust: the stored type, the constructor argument type and its
//! conversion, the concrete type the example tests build, whether it needs validation, whether
//! it holds a secret, and how a getter hands it out. Computed once per field by
//! [`super::Resolver`] and kept in the IR.

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use super::Resolver;
use crate::helpers::{ArgStyle, Shape};
use crate::ir::{Conversion, Ty, TypeId};
use crate::model::Kind;

fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

impl Resolver<'_> {
    /// The type stored in a struct field (without the `Option` of optional fields).
    pub(super) fn storage(&self, ty: &Ty) -> TokenStream {
        match ty {
            Ty::String => quote!(String),
            Ty::Bool => quote!(bool),
            Ty::I64 => quote!(i64),
            Ty::U64 => quote!(u64),
            Ty::F64 => quote!(f64),
            Ty::Json => quote!(serde_json::Value),
            Ty::List(inner) => {
                let inner = self.storage(inner);
                quote!(Vec<#inner>)
            }
            Ty::Map(inner) => {
                let inner = self.storage(inner);
                quote!(std::collections::BTreeMap<String, #inner>)
            }
            Ty::Helper(helper, args) => {
                let args: Vec<TokenStream> = args.iter().map(|arg| self.storage(arg)).collect();
                match helper.shape {
                    Shape::ByPosition => quote!(std::collections::BTreeMap<usize, #(#args),*>),
                    Shape::Optional => quote!(Option<#(#args),*>),
                    Shape::Own => {
                        let name = ident(helper.name);
                        if args.is_empty() {
                            quote!(crate::wire::#name)
                        } else {
                            quote!(crate::wire::#name<#(#args),*>)
                        }
                    }
                }
            }
            Ty::Named(id) => {
                let name = ident(&self.type_spec(*id).name);
                quote!(crate::types::#name)
            }
        }
    }

    /// The argument type a constructor or setter takes for a value of `ty`, and its conversion.
    pub(super) fn argument(&self, ty: &Ty) -> (TokenStream, Conversion) {
        match ty {
            Ty::String => (quote!(impl Into<String>), Conversion::Into),
            Ty::List(inner) => {
                let (item, conversion) = self.argument(inner);
                (
                    quote!(impl IntoIterator<Item = #item>),
                    Conversion::Each(Box::new(conversion)),
                )
            }
            Ty::Helper(helper, _) => {
                let path = self.storage(ty);
                match helper.arg {
                    ArgStyle::AsIs => (path, Conversion::Identity),
                    ArgStyle::IntoString => (
                        quote!(impl Into<String>),
                        Conversion::Call(quote!(#path::new)),
                    ),
                    ArgStyle::Bool => (quote!(bool), Conversion::Call(quote!(#path::from))),
                    ArgStyle::IntoTextId | ArgStyle::IntoIntegerId => {
                        (quote!(impl Into<#path>), Conversion::Into)
                    }
                }
            }
            _ => (self.storage(ty), Conversion::Identity),
        }
    }

    /// A concrete type that satisfies [`Resolver::argument`], for the generated example tests.
    pub(super) fn example_type(&self, ty: &Ty) -> TokenStream {
        match ty {
            Ty::List(inner) => {
                let inner = self.example_type(inner);
                quote!(Vec<#inner>)
            }
            Ty::Helper(helper, _) => match helper.arg {
                ArgStyle::AsIs => self.storage(ty),
                ArgStyle::IntoString | ArgStyle::IntoTextId => quote!(String),
                ArgStyle::Bool => quote!(bool),
                ArgStyle::IntoIntegerId => quote!(i64),
            },
            _ => self.storage(ty),
        }
    }

    /// Whether values of `ty` carry checks that `Method::validate` must run.
    pub(super) fn validates(&self, ty: &Ty) -> bool {
        match ty {
            Ty::List(inner) | Ty::Map(inner) => self.validates(inner),
            Ty::Helper(helper, args) => {
                helper.validates || args.iter().any(|arg| self.validates(arg))
            }
            Ty::Named(id) => {
                let named = self.type_spec(*id);
                named.kind == Kind::Struct && named.usage.is_request()
            }
            _ => false,
        }
    }

    /// Does a value of `ty` hold a secret (so it must not derive `Serialize` or `PartialEq`)?
    pub(super) fn holds_secret(&self, ty: &Ty) -> bool {
        self.holds_secret_inner(ty, &mut Vec::new())
    }

    fn holds_secret_inner(&self, ty: &Ty, seen: &mut Vec<TypeId>) -> bool {
        match ty {
            Ty::List(inner) | Ty::Map(inner) => self.holds_secret_inner(inner, seen),
            Ty::Helper(helper, args) => {
                helper.secret || args.iter().any(|arg| self.holds_secret_inner(arg, seen))
            }
            Ty::Named(id) => {
                // Types may refer to each other; each is looked into once.
                if seen.contains(id) {
                    return false;
                }
                seen.push(*id);
                let named = self.type_spec(*id);
                named.kind == Kind::Struct
                    && named.fields.iter().any(|field| {
                        self.ty(field.ty.expr())
                            .is_ok_and(|field_ty| self.holds_secret_inner(&field_ty, seen))
                    })
            }
            _ => false,
        }
    }

    /// How a getter hands out a stored value: its return type and the expression reading
    /// `self.<field>`. Strings and lists are lent as `&str` / `&[T]`, flags (`ActiveFlag`,
    /// `YesNo`) read as `bool`, numbers are copied, anything else is lent; optional fields wrap
    /// that in `Option`.
    pub(super) fn getter(
        &self,
        ty: &Ty,
        required: bool,
        field: &str,
    ) -> (TokenStream, TokenStream) {
        enum Lent {
            /// Returned by value (`Copy` primitives).
            Copy,
            /// A flag helper read with `.get()`.
            Flag,
            /// Borrowed as the given type (`&str`, `&[T]`, `&T`).
            Borrowed(TokenStream),
        }
        let field = ident(field);
        let lent = match ty {
            Ty::Bool | Ty::I64 | Ty::U64 | Ty::F64 => Lent::Copy,
            Ty::String => Lent::Borrowed(quote!(str)),
            Ty::List(inner) => {
                let inner = self.storage(inner);
                Lent::Borrowed(quote!([#inner]))
            }
            Ty::Helper(helper, _) if helper.arg == ArgStyle::Bool => Lent::Flag,
            _ => Lent::Borrowed(self.storage(ty)),
        };
        let stored = self.storage(ty);
        match (lent, required) {
            (Lent::Copy, true) => (stored, quote!(self.#field)),
            (Lent::Copy, false) => (quote!(Option<#stored>), quote!(self.#field)),
            (Lent::Flag, true) => (quote!(bool), quote!(self.#field.get())),
            (Lent::Flag, false) => (
                quote!(Option<bool>),
                quote!(self.#field.map(|flag| flag.get())),
            ),
            (Lent::Borrowed(target), true) => (quote!(&#target), quote!(&self.#field)),
            (Lent::Borrowed(target), false) => {
                let read = if matches!(ty, Ty::String | Ty::List(_)) {
                    quote!(self.#field.as_deref())
                } else {
                    quote!(self.#field.as_ref())
                };
                (quote!(Option<&#target>), read)
            }
        }
    }
}
