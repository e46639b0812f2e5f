//! Small token helpers of the renderers: identifiers and applying a resolved [`Conversion`].

use proc_macro2::{Ident, Span, TokenStream};
use quote::quote;

use crate::ir::Conversion;

/// An identifier token.
pub fn ident(name: &str) -> Ident {
    Ident::new(name, Span::call_site())
}

/// Applies `conversion` to the tokens of a value.
pub fn convert(conversion: &Conversion, value: TokenStream) -> TokenStream {
    match conversion {
        Conversion::Identity => value,
        Conversion::Into => quote!(#value.into()),
        Conversion::Call(function) => quote!(#function(#value)),
        Conversion::Each(inner) => match **inner {
            Conversion::Identity => quote!(#value.into_iter().collect()),
            _ => {
                let item = convert(inner, quote!(item));
                quote!(#value.into_iter().map(|item| #item).collect())
            }
        },
    }
}
