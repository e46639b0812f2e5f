//! One file per `spec/types/<group>.json`: its structs and string enums.

use proc_macro2::TokenStream;
use quote::quote;

use super::docs;
use super::fields::{self, Visibility};
use super::tokens::ident;
use crate::ir::{EnumValueSpec, Field, NamedType, Shape, TypeGroup, Usage};

/// Renders every type of one group file.
pub fn render(group: &TypeGroup) -> TokenStream {
    let items = group.types.iter().map(|ty| match &ty.shape {
        Shape::Struct {
            fields,
            keep_unknown,
            secret,
        } => render_struct(ty, fields, *keep_unknown, *secret),
        Shape::Enum { values } => render_enum(ty, values),
    });
    quote!(#(#items)*)
}

fn render_struct(
    ty: &NamedType,
    fields: &[Field],
    keep_unknown: bool,
    secret: bool,
) -> TokenStream {
    let name = ident(&ty.name);
    let mut derives = vec![quote!(Debug), quote!(Clone)];
    if !secret {
        derives.push(quote!(PartialEq));
        derives.push(quote!(serde::Serialize));
    }
    if ty.usage.is_request() && !fields.iter().any(|field| field.required) {
        // `new()` takes nothing; `Default` says the same.
        derives.push(quote!(Default));
    }
    let mut doc_text = ty.docs.trim().to_owned();
    if !fields.is_empty() {
        doc_text.push_str("\n\n# Fields\n\n");
        doc_text.push_str(&docs::field_list(fields));
    }
    if ty.usage == Usage::Request {
        doc_text.push_str(
            "\nBuilt with `new(..)` and the setters; checked when the request is validated.",
        );
    }
    let doc = docs::doc_attrs(&doc_text);
    let must_use = if ty.usage.is_request() {
        quote!(#[must_use])
    } else {
        quote!()
    };
    let visibility = if ty.usage == Usage::Request {
        Visibility::Crate
    } else {
        Visibility::PublicDecoded
    };
    let struct_fields = fields::struct_fields_with(fields, visibility, !secret);
    let flatten = if secret {
        quote!()
    } else {
        quote!(#[serde(flatten)])
    };
    let extra_field = if keep_unknown {
        quote! {
            /// Keys this SDK does not model, kept as sent.
            #flatten
            pub extra: serde_json::Map<String, serde_json::Value>,
        }
    } else {
        quote!()
    };
    let request_side = if ty.usage.is_request() {
        let extra_init = if keep_unknown {
            quote!(extra: serde_json::Map::new(),)
        } else {
            quote!()
        };
        let builder = fields::builder_with_extra(
            fields,
            &format!("Builds the `{}` from its required fields.", ty.name),
            &extra_init,
        );
        let path = ident("path");
        let validations = fields::validations(fields, Some(&path));
        let path_param = if validations.is_empty() {
            quote!(_path)
        } else {
            quote!(path)
        };
        // Fields of `both` types are public already.
        let getters = if visibility == Visibility::Crate {
            fields::getters(fields)
        } else {
            quote!()
        };
        quote! {
            impl #name {
                #builder

                #getters
            }

            impl crate::wire::Validate for #name {
                fn validate_at(&self, #path_param: &str) -> Result<(), crate::transport::InvalidRequest> {
                    #validations
                    Ok(())
                }
            }
        }
    } else {
        quote!()
    };
    let decode = if ty.usage.is_response() {
        struct_decode_impl(&name, fields, keep_unknown)
    } else {
        quote!()
    };
    let secret_eq = if secret {
        secret_partial_eq(&name, fields, keep_unknown)
    } else {
        quote!()
    };
    quote! {
        #doc
        #[derive(#(#derives),*)]
        #[non_exhaustive]
        #must_use
        pub struct #name {
            #struct_fields
            #extra_field
        }

        #request_side

        #decode

        #secret_eq
    }
}

/// `PartialEq` of a struct that holds a token: tokens compared in constant time
/// (`wire::secrets_equal`), every other field with `==` (a nested struct holding a token has
/// this impl too).
fn secret_partial_eq(
    name: &proc_macro2::Ident,
    fields: &[Field],
    keep_unknown: bool,
) -> TokenStream {
    let mut comparisons: Vec<TokenStream> = fields
        .iter()
        .map(|field| {
            let rust = ident(&field.rust);
            match (field.secret, field.required) {
                (true, true) => quote!(crate::wire::secrets_equal(&self.#rust, &other.#rust)),
                (true, false) => {
                    quote!(crate::wire::optional_secrets_equal(&self.#rust, &other.#rust))
                }
                (false, _) => quote!(self.#rust == other.#rust),
            }
        })
        .collect();
    if keep_unknown {
        comparisons.push(quote!(self.extra == other.extra));
    }
    if comparisons.is_empty() {
        comparisons.push(quote!(true));
    }
    quote! {
        impl PartialEq for #name {
            fn eq(&self, other: &Self) -> bool {
                #(#comparisons)&&*
            }
        }
    }
}

/// `FromFields` of a struct (its `WireDecode` with it): each field taken out of the object and
/// decoded in place (no serde round trip, which re-buffers every level of a nested value).
fn struct_decode_impl(
    name: &proc_macro2::Ident,
    fields: &[Field],
    keep_unknown: bool,
) -> TokenStream {
    let reads = fields.iter().map(|field| {
        let rust = ident(&field.rust);
        let wire = &field.wire;
        if field.required {
            quote!(#rust: fields.required(#wire)?,)
        } else {
            quote!(#rust: fields.optional(#wire)?,)
        }
    });
    let extra = if keep_unknown {
        quote!(extra: fields.into_rest(),)
    } else {
        quote!()
    };
    let deserialize = deserialize_via_wire(name);
    let binding = match (fields.is_empty(), keep_unknown) {
        (false, _) => quote!(mut fields),
        (true, true) => quote!(fields),
        (true, false) => quote!(_fields),
    };
    quote! {
        impl crate::wire::FromFields for #name {
            fn from_fields(#binding: crate::wire::Fields) -> Result<Self, String> {
                Ok(Self {
                    #(#reads)*
                    #extra
                })
            }
        }

        #deserialize
    }
}

/// `Deserialize` through the type's `WireDecode`: one decoder per type, whichever way it is
/// reached.
pub fn deserialize_via_wire(name: &proc_macro2::Ident) -> TokenStream {
    quote! {
        impl<'de> serde::Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                crate::wire::decode(deserializer)
            }
        }
    }
}

fn render_enum(ty: &NamedType, values: &[EnumValueSpec]) -> TokenStream {
    let name = ident(&ty.name);
    let mut doc_text = ty.docs.trim().to_owned();
    doc_text.push_str(
        "\n\nSent and received as a string; a value this SDK does not know decodes as `Unknown`.",
    );
    let doc = docs::doc_attrs(&doc_text);
    let variants = values.iter().map(|value| {
        let variant = ident(&value.rust);
        let doc = docs::doc_attrs(&format!("{} (`{}`)", value.docs.trim(), value.wire));
        quote!(#doc #variant,)
    });
    let to_wire = values.iter().map(|value| {
        let variant = ident(&value.rust);
        let wire = &value.wire;
        quote!(Self::#variant => #wire,)
    });
    let from_wire = values.iter().map(|value| {
        let variant = ident(&value.rust);
        let wire = &value.wire;
        quote!(#wire => Self::#variant,)
    });
    let decode = quote! {
        impl crate::wire::WireDecode for #name {
            fn from_wire(value: serde_json::Value) -> Result<Self, String> {
                <String as crate::wire::WireDecode>::from_wire(value).map(|text| Self::from(text.as_str()))
            }
        }
    };
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum #name {
            #(#variants)*
            /// A value this SDK does not know yet, kept as sent.
            Unknown(String),
        }

        impl #name {
            /// The value as it is sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#to_wire)*
                    Self::Unknown(value) => value,
                }
            }
        }

        impl From<&str> for #name {
            fn from(value: &str) -> Self {
                match value {
                    #(#from_wire)*
                    other => Self::Unknown(other.to_owned()),
                }
            }
        }

        impl std::fmt::Display for #name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for #name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for #name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value: String = crate::wire::decode(deserializer)?;
                Ok(Self::from(value.as_str()))
            }
        }

        #decode
    }
}

/// The `FromExample` impls of one group's request structs and enums, for the generated
/// `examples` test module.
pub fn from_example_impls(group: &TypeGroup) -> TokenStream {
    let impls = group.types.iter().map(|ty| {
        let name = ident(&ty.name);
        let path = quote!(crate::types::#name);
        match &ty.shape {
            Shape::Struct { fields, .. } if ty.usage.is_request() => {
                fields::from_example(&path, fields)
            }
            Shape::Struct { .. } => quote!(),
            Shape::Enum { .. } => quote! {
                impl crate::test_support::FromExample for #path {
                    fn from_example(example: &serde_json::Value) -> Self {
                        Self::from(<String as crate::test_support::FromExample>::from_example(example).as_str())
                    }
                }
            },
        }
    });
    quote!(#(#impls)*)
}
