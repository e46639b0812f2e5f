//! One file per method: the request struct, its constructor and setters, the response alias,
//! the `Method` impl, and the tests built from the spec's examples.

use proc_macro2::TokenStream;
use quote::quote;

use super::docs::{self, ExampleWriter};
use super::fields;
use super::tokens::ident;
use crate::ir::{Auth, Method, Model};

/// Renders the file of one method.
pub fn render(model: &Model, method: &Method) -> TokenStream {
    let name = ident(&method.rust_name);
    let wire_name = &method.wire_name;
    let doc = docs::doc_attrs(&request_doc(model, method));
    let struct_fields = fields::struct_fields(&method.params, fields::Visibility::Crate);
    let builder = fields::builder(
        &method.params,
        "Builds the request from its required parameters.",
    );
    let getters = fields::getters(&method.params);
    let validations = fields::validations(&method.params, None);
    let checks = method.checks.iter().map(|check| {
        let check = ident(&check.name);
        quote!(crate::wire::checks::#check(self)?;)
    });
    let auth = match method.auth {
        Auth::Oauth => quote!(crate::transport::AuthKind::OAuthOnly),
        Auth::OauthOrWebhook => quote!(crate::transport::AuthKind::OAuthOrWebhook),
    };
    let idempotent = method.idempotent;
    let response_name = ident(&method.response_name);
    let response_type = &method.response.storage;
    let response_doc = docs::doc_attrs(&format!(
        "The `result` of [`{}`] (`{wire_name}`): `{}`.{}",
        method.rust_name,
        method.response.spec_type,
        method
            .response
            .docs
            .as_deref()
            .map(|text| format!("\n\n{text}"))
            .unwrap_or_default()
    ));
    let reader = ident(&method.response.reader);
    let derive_default = if method.params.iter().any(|param| param.required) {
        quote!()
    } else {
        quote!(Default,)
    };
    quote! {
        #doc
        #[derive(Debug, Clone, PartialEq, #derive_default serde::Serialize)]
        #[non_exhaustive]
        #[must_use = "a request does nothing until it is sent with `Client::call`"]
        pub struct #name {
            #struct_fields
        }

        impl #name {
            #builder

            #getters
        }

        #response_doc
        pub type #response_name = #response_type;

        impl crate::transport::Method for #name {
            const NAME: &'static str = #wire_name;
            const AUTH: crate::transport::AuthKind = #auth;
            const IDEMPOTENT: bool = #idempotent;
            type Response = #response_name;

            fn validate(&self) -> Result<(), crate::transport::InvalidRequest> {
                #validations
                #(#checks)*
                Ok(())
            }

            fn decode_response<'de, D: serde::Deserializer<'de>>(
                result: D,
            ) -> Result<Self::Response, crate::transport::ResultError> {
                crate::wire::responses::#reader(result)
            }
        }
    }
}

fn request_doc(model: &Model, method: &Method) -> String {
    let mut text = format!("{}\n\n", method.summary.trim());
    if let Some(description) = &method.description {
        text.push_str(description.trim());
        text.push_str("\n\n");
    }
    let auth = match method.auth {
        Auth::Oauth => "an OAuth application token only (no webhooks)",
        Auth::OauthOrWebhook => "an OAuth token or an incoming webhook",
    };
    let retry = if method.idempotent {
        "safe to replay after an ambiguous failure"
    } else {
        "not replayed after an ambiguous failure"
    };
    text.push_str(&format!(
        "Wire name `{}`, scope `{}`; accepts {auth}; {retry}.",
        method.wire_name, method.scope
    ));
    match &method.docs_url {
        Some(url) => text.push_str(&format!(" [Official documentation]({url}).\n\n")),
        None => {
            text.push_str(" Not in the official documentation (known from the server source).\n\n")
        }
    }
    if !method.params.is_empty() {
        text.push_str("# Parameters\n\n");
        text.push_str(&docs::field_list(&method.params));
        text.push('\n');
    }
    if !method.checks.is_empty() {
        text.push_str(&format!(
            "Checked before sending: {}.\n\n",
            method
                .checks
                .iter()
                .map(|check| check.summary)
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    if !method.errors.is_empty() {
        text.push_str("# Errors\n\n");
        for error in &method.errors {
            let soft = if error.http_status == 200 {
                " (soft: inside a successful result)"
            } else {
                ""
            };
            text.push_str(&format!(
                "- `{}` (HTTP {}{soft}): {}\n",
                error.code,
                error.http_status,
                docs::one_line(&error.description)
            ));
        }
        text.push('\n');
    }
    text.push_str("# Example\n\n");
    text.push_str(&example_code(model, method));
    text
}

fn example_code(model: &Model, method: &Method) -> String {
    let request_example = method
        .examples
        .iter()
        .find_map(|example| example.request.as_ref());
    let mut writer = ExampleWriter::new(model);
    let args = writer.constructor_args(&method.params, request_example);
    let mut tail = String::new();
    let first_optional = method.params.iter().find(|param| {
        !param.required && request_example.is_some_and(|example| example.get(&param.wire).is_some())
    });
    if let Some(param) = first_optional {
        let value = writer.value(
            &param.ty,
            request_example.and_then(|example| example.get(&param.wire)),
        );
        tail = format!(".with_{}({value})", param.rust);
    }
    let mut lines = vec![docs::EXAMPLE_FENCE.to_owned()];
    lines.push(format!(
        "# use imconnector_api::methods::{};",
        method.rust_name
    ));
    lines.extend(writer.import_lines());
    lines.push(
        "# async fn run(client: &imconnector_api::transport::Client) -> Result<(), imconnector_api::transport::Error> {"
            .to_owned(),
    );
    lines.extend(docs::call_statement(
        "request",
        &format!("{}::new", method.rust_name),
        &args,
        &tail,
    ));
    lines.push("let response = client.call(&request).await?;".to_owned());
    lines.push("# let _ = response;".to_owned());
    lines.push("# Ok(()) }".to_owned());
    lines.push("```".to_owned());
    lines.join("\n")
}
