//! `generated/examples.rs`, the one `#[cfg(test)]` module built from the spec's examples. The
//! examples are embedded as string literals (the api crate is published alone, so it cannot
//! read `spec/` at test time); the checks themselves live in the hand-written `test_support`
//! module of the api crate.

use std::str::FromStr;

use proc_macro2::{Literal, TokenStream};
use quote::quote;
use serde_json::Value;

use super::tokens::ident;
use crate::ir::{Event, Method, Model, Source};

/// A raw string literal holding `text`, with enough `#`s to be unambiguous.
pub fn raw_literal(text: &str) -> TokenStream {
    let mut hashes = String::from("#");
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    let source = format!("r{hashes}\"{text}\"{hashes}");
    match Literal::from_str(&source) {
        Ok(literal) => quote!(#literal),
        // Unreachable: a raw string with a fresh delimiter always lexes; keep a plain literal.
        Err(_) => quote!(#text),
    }
}

fn json_literal(value: &Value) -> TokenStream {
    raw_literal(&value.to_string())
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::Docs => "docs",
        Source::Server => "server",
    }
}

/// The example tests of one method: a module named after its file, with its documented error
/// codes once (`ERRORS`) and one test per example, each example written once.
pub fn method_tests(method: &Method) -> TokenStream {
    let module = ident(&method.module);
    let request = ident(&method.rust_name);
    let response_serializable = method.response.round_trips;
    let codes: Vec<&str> = method
        .errors
        .iter()
        .map(|error| error.code.as_str())
        .collect();
    let mut tests = Vec::new();
    for (index, example) in method.examples.iter().enumerate() {
        let prefix = format!("{}_example_{index}", source_name(example.source));
        if let Some(body) = &example.request {
            let test = ident(&format!("{prefix}_request_serializes_as_documented"));
            let literal = json_literal(body);
            tests.push(quote! {
                #[test]
                fn #test() {
                    crate::test_support::check_request::<#request>(#literal);
                }
            });
        }
        if let Some(envelope) = &example.response {
            let test = ident(&format!("{prefix}_response_decodes"));
            let literal = json_literal(envelope);
            let round_trip = if response_serializable {
                quote!(crate::test_support::check_response_keeps_every_field::<#request>(example);)
            } else {
                quote!()
            };
            tests.push(quote! {
                #[test]
                fn #test() {
                    let example = #literal;
                    crate::test_support::check_response::<#request>(example);
                    #round_trip
                }
            });
        }
        if let Some(body) = &example.error {
            let test = ident(&format!("{prefix}_error_decodes"));
            let literal = json_literal(body);
            tests.push(quote! {
                #[test]
                fn #test() {
                    crate::test_support::check_error::<#request>(#literal, ERRORS);
                }
            });
        }
    }
    let errors = if method
        .examples
        .iter()
        .any(|example| example.error.is_some())
    {
        let doc = format!(" The documented error codes of `{}`.", method.wire_name);
        quote! {
            #[doc = #doc]
            const ERRORS: &[&str] = &[#(#codes),*];
        }
    } else {
        quote!()
    };
    let doc = format!(" `{}`: {}", method.wire_name, method.rust_name);
    quote! {
        #[doc = #doc]
        mod #module {
            use crate::methods::#request;

            #errors
            #(#tests)*
        }
    }
}

/// The example tests of one event, in a module named after its file.
pub fn event_tests(event: &Event) -> TokenStream {
    let module = ident(&event.module);
    let variant = ident(&event.rust_name);
    let mut tests = Vec::new();
    for (index, example) in event.examples.iter().enumerate() {
        let prefix = format!("{}_example_{index}", source_name(example.source));
        if let Some(json) = &example.json {
            let test = ident(&format!("{prefix}_json_decodes"));
            let literal = json_literal(json);
            tests.push(quote! {
                #[test]
                fn #test() {
                    crate::test_support::check_event_json(#literal, |event| {
                        matches!(event, crate::events::Event::#variant(_))
                    });
                }
            });
        }
        if let Some(form) = &example.form {
            let test = ident(&format!("{prefix}_form_decodes"));
            let literal = raw_literal(form);
            tests.push(quote! {
                #[test]
                fn #test() {
                    crate::test_support::check_event_form(#literal, |event| {
                        matches!(event, crate::events::Event::#variant(_))
                    });
                }
            });
        }
    }
    let doc = format!(" `{}`", event.name);
    quote! {
        #[doc = #doc]
        mod #module {
            #(#tests)*
        }
    }
}

/// `examples.rs`: every `FromExample` impl and every example test, in one `#[cfg(test)]`
/// module, so the method, type and event files read like declarations.
pub fn render_module(model: &Model) -> TokenStream {
    let method_impls = model.methods.iter().map(|method| {
        let name = ident(&method.rust_name);
        super::fields::from_example(&quote!(crate::methods::#name), &method.params)
    });
    let type_impls = model.groups.iter().map(super::types::from_example_impls);
    let method_tests = model.methods.iter().map(method_tests);
    let event_tests = model.events.iter().map(event_tests);
    quote! {
        #![doc = " Tests built from the spec's examples: every documented request is built through `new(..)` and the setters (the `FromExample` impls below) and serialised, every response and error decoded, every event decoded."]

        #(#method_impls)*

        #(#type_impls)*

        /// One module per method.
        mod methods {
            #(#method_tests)*
        }

        /// One module per event.
        mod events {
            #(#event_tests)*
        }
    }
}
