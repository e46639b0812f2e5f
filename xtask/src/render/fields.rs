//! Struct fields, constructors, setters, validation and example construction, shared by method
//! requests and the named struct types.

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use super::docs;
use super::tokens::{convert, ident};
use crate::ir::{Conversion, Field};

/// How fields are exposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// `pub(crate)`: built only through `new(..)` and setters (requests).
    Crate,
    /// `pub`, and decoded leniently from the server by the type's `WireDecode` (responses).
    PublicDecoded,
}

fn field_doc(field: &Field) -> TokenStream {
    let mut text = format!("{} (`{}`)", field.docs.trim(), field.wire);
    if !field.constraints.is_empty() {
        text.push_str(&format!(
            "\n\nConstraints: {}.",
            field.constraints.join("; ")
        ));
    }
    docs::doc_attrs(&text)
}

/// The field declarations of a struct (with their serde names).
pub fn struct_fields(fields: &[Field], visibility: Visibility) -> TokenStream {
    struct_fields_with(fields, visibility, true)
}

/// Like [`struct_fields`]; `serialized: false` for a type without a serde derive (it holds a
/// token), whose fields then carry no serde attributes.
pub fn struct_fields_with(
    fields: &[Field],
    visibility: Visibility,
    serialized: bool,
) -> TokenStream {
    let declarations = fields.iter().map(|field| {
        let name = ident(&field.rust);
        let wire = &field.wire;
        let stored = &field.storage;
        let doc = field_doc(field);
        let ty = if field.required {
            quote!(#stored)
        } else {
            quote!(Option<#stored>)
        };
        let mut attrs = vec![quote!(rename = #wire)];
        if !field.required {
            attrs.push(quote!(skip_serializing_if = "Option::is_none"));
        }
        // Decoded types are read by their one `WireDecode`, never by a serde derive.
        let vis = match visibility {
            Visibility::Crate => quote!(pub(crate)),
            Visibility::PublicDecoded => quote!(pub),
        };
        let serde = if serialized {
            quote!(#[serde(#(#attrs),*)])
        } else {
            quote!()
        };
        quote! {
            #doc
            #serde
            #vis #name: #ty,
        }
    });
    quote!(#(#declarations)*)
}

/// `new(..)` taking the required fields in order, and one setter per optional field.
pub fn builder(fields: &[Field], new_doc: &str) -> TokenStream {
    builder_with_extra(fields, new_doc, &quote!())
}

/// Like [`builder`], with extra initialisers for fields the spec does not list (`extra`).
pub fn builder_with_extra(
    fields: &[Field],
    new_doc: &str,
    extra_init: &TokenStream,
) -> TokenStream {
    let mut params = Vec::new();
    let mut inits = Vec::new();
    let mut setters = Vec::new();
    let mut arg_docs = String::new();
    for field in fields {
        let name = ident(&field.rust);
        let arg_type = &field.argument;
        let conversion = &field.conversion;
        if field.required {
            params.push(quote!(#name: #arg_type));
            if matches!(conversion, Conversion::Identity) {
                inits.push(quote!(#name));
            } else {
                let value = convert(conversion, quote!(#name));
                inits.push(quote!(#name: #value));
            }
            arg_docs.push_str(&format!(
                "- `{}`: {} (`{}`)\n",
                field.rust,
                docs::one_line(&field.docs),
                field.wire
            ));
        } else {
            let value = convert(conversion, quote!(#name));
            let doc = field_doc(field);
            let setter = setter_name(field);
            inits.push(quote!(#name: None));
            setters.push(quote! {
                #doc
                pub fn #setter(mut self, #name: #arg_type) -> Self {
                    self.#name = Some(#value);
                    self
                }
            });
        }
    }
    let new_doc = if arg_docs.is_empty() {
        docs::doc_attrs(new_doc)
    } else {
        docs::doc_attrs(&format!("{new_doc}\n\n{arg_docs}"))
    };
    let too_many = if params.len() > 7 {
        quote!(#[allow(clippy::too_many_arguments)])
    } else {
        quote!()
    };
    quote! {
        #new_doc
        #too_many
        pub fn new(#(#params),*) -> Self {
            Self {
                #(#inits,)*
                #extra_init
            }
        }

        #(#setters)*
    }
}

/// The setter of an optional field: `with_<field>(self, value) -> Self`, the convention of every
/// by-value setter across the workspace (`RetryPolicy::with_max_attempts`, `Tokens::with_scope`),
/// which leaves the plain name to the getter.
pub fn setter_name(field: &Field) -> Ident {
    ident(&format!("with_{}", field.rust))
}

/// One read-only getter per field of a type users build (whose fields are private):
/// `<field>()` (Rust API guidelines C-GETTER; setters are `with_<field>`). Strings and lists are lent as `&str` / `&[T]`, flags (`ActiveFlag`,
/// `YesNo`) read as `bool`, numbers are copied, anything else is lent; optional fields wrap
/// that in `Option`.
pub fn getters(fields: &[Field]) -> TokenStream {
    let getters = fields.iter().map(|field| {
        let getter_name = ident(&field.rust);
        let ty = &field.getter_type;
        let read = &field.getter_read;
        let doc = docs::doc_attrs(&format!(
            "Reads `{}`{}: {}",
            field.wire,
            if field.required {
                ""
            } else {
                " (`None` when not set)"
            },
            docs::one_line(&field.docs)
        ));
        quote! {
            #doc
            pub fn #getter_name(&self) -> #ty {
                #read
            }
        }
    });
    quote!(#(#getters)*)
}

/// `crate::wire::Validate::validate_at(..)?;` for every field that carries checks.
///
/// `path` is `None` for a method (parameters are named by their wire name) or the variable
/// holding the path of the enclosing value (`ICON`, `MESSAGES[0]`).
pub fn validations(fields: &[Field], path: Option<&Ident>) -> TokenStream {
    let calls = fields.iter().filter(|field| field.validates).map(|field| {
        let name = ident(&field.rust);
        let wire = &field.wire;
        let at = match path {
            None => quote!(#wire),
            Some(path) => quote!(&crate::wire::join_path(#path, #wire)),
        };
        quote!(crate::wire::Validate::validate_at(&self.#name, #at)?;)
    });
    quote!(#(#calls)*)
}

/// `impl FromExample` (in the generated `examples` test module): builds the value through
/// `new(..)` and the setters from a documented JSON example, so the example tests exercise the
/// public constructors. `path` is the type's path, e.g. `crate::methods::Activate`.
pub fn from_example(path: &TokenStream, fields: &[Field]) -> TokenStream {
    let args = fields.iter().filter(|field| field.required).map(|field| {
        let wire = &field.wire;
        let ty = &field.example_type;
        quote!(crate::test_support::required::<#ty>(example, #wire))
    });
    let setters = fields.iter().filter(|field| !field.required).map(|field| {
        let wire = &field.wire;
        let setter = setter_name(field);
        let ty = &field.example_type;
        quote! {
            if let Some(value) = crate::test_support::optional::<#ty>(example, #wire) {
                built = built.#setter(value);
            }
        }
    });
    let has_setters = fields.iter().any(|field| !field.required);
    let body = if has_setters {
        quote! {
            let mut built = Self::new(#(#args),*);
            #(#setters)*
            built
        }
    } else {
        quote!(Self::new(#(#args),*))
    };
    let parameter = if fields.is_empty() {
        quote!(_example)
    } else {
        quote!(example)
    };
    quote! {
        impl crate::test_support::FromExample for #path {
            fn from_example(#parameter: &serde_json::Value) -> Self {
                #body
            }
        }
    }
}
