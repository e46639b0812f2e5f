//! The generator's intermediate representation: the spec resolved once ([`crate::resolve`]) into
//! plain data, the only thing the renderers ([`crate::render`]) read. Every field carries its
//! Rust types as tokens, its constructor conversion, its getter, whether it is validated and
//! whether it holds a secret; every type expression is a [`Ty`] whose named types are indices
//! ([`TypeId`]), so rendering never looks a name up.

use proc_macro2::TokenStream;

use crate::helpers::Helper;
pub use crate::model::{
    Auth, EnumValueSpec, ErrorSpec, EventExample, MethodExample, Source, Usage,
};

/// The resolved spec: what `crates/imconnector-api/src/generated/` is rendered from.
#[derive(Debug, Clone)]
pub struct Model {
    /// One per `spec/methods/*.json`, sorted by file name.
    pub methods: Vec<Method>,
    /// One per `spec/types/*.json`, sorted by file name.
    pub groups: Vec<TypeGroup>,
    /// One per `spec/events/*.json`, sorted by file name.
    pub events: Vec<Event>,
}

impl Model {
    /// The named type `id` points at.
    pub fn named(&self, id: TypeId) -> &NamedType {
        &self.groups[id.group].types[id.index]
    }
}

/// Where a named type is defined: its group (file) and its place in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TypeId {
    /// Index into [`Model::groups`].
    pub group: usize,
    /// Index into [`TypeGroup::types`].
    pub index: usize,
}

/// A resolved type expression.
#[derive(Debug, Clone)]
pub enum Ty {
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
    List(Box<Ty>),
    /// `map<T>`
    Map(Box<Ty>),
    /// A hand-written wire helper with its type arguments.
    Helper(&'static Helper, Vec<Ty>),
    /// A type from `types/`.
    Named(TypeId),
}

/// How a constructor or setter argument becomes the stored value.
#[derive(Debug, Clone)]
pub enum Conversion {
    /// Stored as given.
    Identity,
    /// `value.into()`
    Into,
    /// `path::new(value)` or `path::from(value)`: the function's path.
    Call(TokenStream),
    /// `value.into_iter().map(|item| <inner>).collect()`
    Each(Box<Conversion>),
}

/// A method parameter or a struct field, resolved.
#[derive(Debug, Clone)]
pub struct Field {
    /// Name on the wire.
    pub wire: String,
    /// Rust field, argument and getter name (the setter is `with_<rust>`).
    pub rust: String,
    /// Documentation.
    pub docs: String,
    /// Human-readable constraints, shown in the docs.
    pub constraints: Vec<String>,
    /// A constructor argument (requests) or non-`Option` (responses).
    pub required: bool,
    /// The type expression as the spec writes it (shown in the docs).
    pub spec_type: String,
    /// The resolved type.
    pub ty: Ty,
    /// The stored Rust type, without the `Option` of an optional field.
    pub storage: TokenStream,
    /// The type a constructor or setter takes.
    pub argument: TokenStream,
    /// How the argument becomes the stored value.
    pub conversion: Conversion,
    /// A concrete type satisfying [`Field::argument`], for the generated example tests.
    pub example_type: TokenStream,
    /// Values carry checks `Method::validate` must run (`wire::Validate`).
    pub validates: bool,
    /// The field is a token: compared in constant time.
    pub secret: bool,
    /// The getter's return type (with the `Option` of an optional field).
    pub getter_type: TokenStream,
    /// The getter's body, reading `self.<rust>`.
    pub getter_read: TokenStream,
}

/// A named local check of `wire::checks`.
#[derive(Debug, Clone)]
pub struct Check {
    /// The function name.
    pub name: String,
    /// What it refuses, for the request's docs.
    pub summary: &'static str,
}

/// What a method's `result` decodes into, and how.
#[derive(Debug, Clone)]
pub struct Response {
    /// The type expression as the spec writes it.
    pub spec_type: String,
    /// The Rust type of the response alias.
    pub storage: TokenStream,
    /// Documentation of the result.
    pub docs: Option<String>,
    /// The reader of `wire::responses` that decodes it (`plain`, or a soft-error reader).
    pub reader: String,
    /// The decoded value serialises back to the documented `result` (no soft-error reader
    /// reshaped it, and no token hides it).
    pub round_trips: bool,
}

/// One REST method, resolved.
#[derive(Debug, Clone)]
pub struct Method {
    /// The spec file it came from (`spec/methods/imconnector.activate.json`).
    pub source: String,
    /// Wire name, e.g. `imconnector.activate`.
    pub wire_name: String,
    /// Request type name.
    pub rust_name: String,
    /// The module (file) name: `activate_connector`.
    pub module: String,
    /// `<rust_name>Response`.
    pub response_name: String,
    /// OAuth scope.
    pub scope: String,
    /// Which credentials the portal accepts.
    pub auth: Auth,
    /// Safe to replay after an ambiguous failure.
    pub idempotent: bool,
    /// One sentence.
    pub summary: String,
    /// Longer Markdown.
    pub description: Option<String>,
    /// The official page.
    pub docs_url: Option<String>,
    /// Parameters in constructor order.
    pub params: Vec<Field>,
    /// Named local checks.
    pub checks: Vec<Check>,
    /// The `result`.
    pub response: Response,
    /// Documented error codes.
    pub errors: Vec<ErrorSpec>,
    /// Request/response/error examples.
    pub examples: Vec<MethodExample>,
}

/// One `spec/types/<group>.json`, resolved.
#[derive(Debug, Clone)]
pub struct TypeGroup {
    /// The spec file it came from.
    pub source: String,
    /// The module (file) name.
    pub module: String,
    /// Its types in file order.
    pub types: Vec<NamedType>,
}

/// A named struct or string enum.
#[derive(Debug, Clone)]
pub struct NamedType {
    /// Rust type name.
    pub name: String,
    /// Documentation.
    pub docs: String,
    /// Built by users, decoded from the server, or both.
    pub usage: Usage,
    /// Its fields or values.
    pub shape: Shape,
}

/// A struct's fields or an enum's values.
#[derive(Debug, Clone)]
pub enum Shape {
    /// A JSON object.
    Struct {
        /// Its fields in spec order.
        fields: Vec<Field>,
        /// A response struct keeping unknown keys in `extra`.
        keep_unknown: bool,
        /// It holds a token, directly or in a nested value: no `Serialize`, and a `PartialEq`
        /// comparing tokens in constant time.
        secret: bool,
    },
    /// A JSON string with known values.
    Enum {
        /// The values.
        values: Vec<EnumValueSpec>,
    },
}

/// One event, resolved.
#[derive(Debug, Clone)]
pub struct Event {
    /// The spec file it came from.
    pub source: String,
    /// Name as bound with `event.bind`.
    pub name: String,
    /// The `event` field of the POST, upper case.
    pub wire_name: String,
    /// Variant of `Event`.
    pub rust_name: String,
    /// `<rust_name>Event`.
    pub struct_name: String,
    /// The module (file) name.
    pub module: String,
    /// One sentence.
    pub summary: String,
    /// Longer Markdown.
    pub description: Option<String>,
    /// The official page.
    pub docs_url: Option<String>,
    /// The type expression of `data` as the spec writes it.
    pub data_spec_type: String,
    /// The Rust type of `data`.
    pub data: TokenStream,
    /// JSON or form examples.
    pub examples: Vec<EventExample>,
}
