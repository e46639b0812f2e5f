//! Events: one file per event (`<Name>Event`), and `events/mod.rs` with the `Event` enum.

use proc_macro2::TokenStream;
use quote::quote;

use super::docs;
use super::tokens::ident;
use crate::ir::Event;

/// The envelope fields every event shares (`event`, handler id, `ts`, `auth`).
fn envelope_fields() -> TokenStream {
    quote! {
        /// The `event` field as sent, e.g. `ONIMCONNECTORMESSAGEADD`.
        pub event: String,
        /// The id of the handler binding (`event_handler_id`; some doc pages call it `eventId`).
        pub handler_id: Option<crate::wire::Id>,
        /// When the portal sent the event, in Unix seconds (`ts`).
        pub ts: Option<i64>,
        /// The portal, the user's tokens and the application token to verify the sender (`auth`).
        pub auth: crate::types::EventAuth,
    }
}

/// Renders the file of one event.
pub fn render(event: &Event) -> TokenStream {
    let name = ident(&event.struct_name);
    let data_type = &event.data;
    let mut doc_text = format!("{}\n\n", event.summary.trim());
    if let Some(description) = &event.description {
        doc_text.push_str(description.trim());
        doc_text.push_str("\n\n");
    }
    doc_text.push_str(&format!(
        "Bound as `{}`; the POST carries `event={}`. Decoded by [`Event::from_form`](crate::events::Event::from_form) into [`Event::{}`](crate::events::Event::{}).",
        event.name, event.wire_name, event.rust_name, event.rust_name
    ));
    if let Some(url) = &event.docs_url {
        doc_text.push_str(&format!(" [Official documentation]({url})."));
    }
    let doc = docs::doc_attrs(&doc_text);
    let data_doc = docs::doc_attrs(&format!(
        "The payload (`data`): `{}`.",
        event.data_spec_type
    ));
    let envelope = envelope_fields();
    let envelope_reads = envelope_reads();
    let deserialize = super::types::deserialize_via_wire(&name);
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub struct #name {
            #envelope
            #data_doc
            pub data: #data_type,
        }

        impl crate::wire::WireDecode for #name {
            fn from_wire(value: serde_json::Value) -> Result<Self, String> {
                let mut fields = crate::wire::Fields::of(value)?;
                Ok(Self {
                    #envelope_reads
                    data: fields.event_data()?,
                })
            }
        }

        #deserialize
    }
}

/// Reads the envelope fields out of `fields` (see [`envelope_fields`]).
fn envelope_reads() -> TokenStream {
    quote! {
        event: fields.required("event")?,
        handler_id: fields.optional_aliased("event_handler_id", "eventId")?,
        ts: fields.optional("ts")?,
        auth: fields.required("auth")?,
    }
}

/// Renders `events/mod.rs`: module declarations, `Event`, `UnknownEvent` and dispatch.
pub fn render_mod(events: &[Event]) -> TokenStream {
    let modules = events.iter().map(|event| {
        let module = ident(&event.module);
        let name = ident(&event.struct_name);
        quote! {
            mod #module;
            pub use #module::#name;
        }
    });
    let variants = events.iter().map(|event| {
        let variant = ident(&event.rust_name);
        let name = ident(&event.struct_name);
        let doc = docs::doc_attrs(&format!("`{}`: {}", event.name, event.summary.trim()));
        quote!(#doc #variant(#name),)
    });
    let names = events.iter().map(|event| event.name.as_str());
    let name_arms = events.iter().map(|event| {
        let variant = ident(&event.rust_name);
        quote!(Self::#variant(event) => &event.event,)
    });
    let auth_arms = events.iter().map(|event| {
        let variant = ident(&event.rust_name);
        quote!(Self::#variant(event) => &event.auth,)
    });
    let dispatch_arms = events.iter().map(|event| {
        let variant = ident(&event.rust_name);
        let wire = event.wire_name.to_ascii_uppercase();
        let name = ident(&event.struct_name);
        quote!(#wire => #name::from_wire(value).map(Self::#variant),)
    });
    let envelope = envelope_fields();
    let envelope_reads = envelope_reads();
    let unknown_deserialize = super::types::deserialize_via_wire(&ident("UnknownEvent"));
    quote! {
        #![doc = " Events Bitrix24 POSTs to the app's handler, decoded from the form body or JSON."]
        #![doc = ""]
        #![doc = " Start at [`Event::from_form`](crate::events::Event::from_form); check the application token with [`Event::has_application_token`](crate::events::Event::has_application_token)."]

        #(#modules)*

        pub use crate::event_decode::EventDecodeError;

        /// An event, told apart by its `event` field (case-insensitive). Equal events carry
        /// equal tokens (compared in constant time).
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum Event {
            #(#variants)*
            /// An event this SDK does not describe: its name, decoded `auth`, and raw `data`.
            Unknown(UnknownEvent),
        }

        /// An event this SDK does not describe, kept with its name and raw `data`.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub struct UnknownEvent {
            #envelope
            /// The payload as sent (`data`).
            pub data: serde_json::Value,
        }

        impl crate::wire::WireDecode for UnknownEvent {
            fn from_wire(value: serde_json::Value) -> Result<Self, String> {
                let mut fields = crate::wire::Fields::of(value)?;
                Ok(Self {
                    #envelope_reads
                    data: fields.take("data").unwrap_or_default(),
                })
            }
        }

        #unknown_deserialize

        impl Event {
            /// The events this SDK decodes, by the name given to `event.bind`.
            pub const KNOWN: &'static [&'static str] = &[#(#names),*];

            /// The `event` field as sent, e.g. `ONIMCONNECTORMESSAGEADD`.
            pub fn name(&self) -> &str {
                match self {
                    #(#name_arms)*
                    Self::Unknown(event) => &event.event,
                }
            }

            /// The `auth` block: compare its application token with the one saved at install
            /// before trusting the event.
            pub fn auth(&self) -> &crate::types::EventAuth {
                match self {
                    #(#auth_arms)*
                    Self::Unknown(event) => &event.auth,
                }
            }

            /// Decodes an event object whose `event` field is `name`.
            pub(crate) fn decode_named(name: &str, value: serde_json::Value) -> Result<Self, String> {
                use crate::wire::WireDecode as _;
                match name.to_ascii_uppercase().as_str() {
                    #(#dispatch_arms)*
                    _ => UnknownEvent::from_wire(value).map(Self::Unknown),
                }
            }
        }
    }
}
