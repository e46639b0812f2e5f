//! The generator's model of `spec/`: one serde type per file kind, unknown keys rejected.
//!
//! `spec/schema.json` describes the same shapes for editors; `spec-lint` checks both agree.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::ty::TypeRef;

/// A REST method file: `spec/methods/<wire name>.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSpec {
    /// Editor hint pointing at `../schema.json`.
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    /// Wire name, e.g. `imconnector.activate`.
    pub name: String,
    /// Request type name, e.g. `Activate`.
    pub rust_name: String,
    /// OAuth scope the method belongs to.
    pub scope: String,
    /// Which credentials the portal accepts.
    pub auth: Auth,
    /// Whether a replay after an ambiguous failure is safe.
    pub idempotent: bool,
    /// `false` for methods known only from the server source.
    pub documented: bool,
    /// One sentence for the doc comment.
    pub summary: String,
    /// Longer Markdown.
    #[serde(default)]
    pub description: Option<String>,
    /// Link to the official page (absent only for undocumented methods).
    #[serde(default)]
    pub docs_url: Option<String>,
    /// Parameters in constructor order: required ones first.
    #[serde(default)]
    pub params: Vec<FieldSpec>,
    /// Named local checks from `wire::checks`.
    #[serde(default)]
    pub validate: Vec<String>,
    /// What `result` holds.
    pub response: ResponseSpec,
    /// Documented error codes.
    #[serde(default)]
    pub errors: Vec<ErrorSpec>,
    /// Request/response/error examples.
    pub examples: Vec<MethodExample>,
    /// Where the spec deliberately differs from the docs page (`cargo xtask docs-sync`).
    #[serde(default)]
    pub docs_differences: Vec<DocsDifference>,
}

/// A deliberate difference from the docs page: `docs-sync` does not report the finding
/// `finding` about any of `names`, because the spec follows the server there.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocsDifference {
    /// What `docs-sync` would report.
    pub finding: DriftKind,
    /// What it is about: parameter paths (`MESSAGES[].user.id`), error codes, field names, or
    /// example kinds (`request`, `response`, `error`, `event`). One reason may cover several.
    pub names: Vec<String>,
    /// Why the spec differs (the server's behaviour, a docs mistake).
    pub reason: String,
}

/// The kinds of difference between a docs page and its spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftKind {
    /// The page documents a parameter the spec lacks.
    ParamAdded,
    /// The spec has a parameter the page does not document.
    ParamRemoved,
    /// The page's type of a parameter does not fit the spec's.
    ParamType,
    /// The page and the spec disagree on whether a parameter is required.
    ParamRequired,
    /// The page's error table lists a code the spec lacks.
    ErrorAdded,
    /// The spec lists an error code the page's table does not.
    ErrorRemoved,
    /// The page gives a code another HTTP status than the spec.
    ErrorStatus,
    /// A documented example differs from the spec's `source: docs` example of that kind.
    ExampleChanged,
    /// The page prints an example the spec does not have.
    ExampleNew,
    /// The spec has a `source: docs` example the page no longer prints.
    ExampleGone,
    /// An example on the page is not JSON.
    ExampleUnreadable,
    /// The page documents a `result` field the response type lacks.
    ResponseFieldAdded,
    /// The page documents a `data` field the event's data type lacks.
    DataFieldAdded,
}

impl DriftKind {
    /// The name used in spec files and reports (`param_required`).
    pub fn as_str(self) -> &'static str {
        match self {
            DriftKind::ParamAdded => "param_added",
            DriftKind::ParamRemoved => "param_removed",
            DriftKind::ParamType => "param_type",
            DriftKind::ParamRequired => "param_required",
            DriftKind::ErrorAdded => "error_added",
            DriftKind::ErrorRemoved => "error_removed",
            DriftKind::ErrorStatus => "error_status",
            DriftKind::ExampleChanged => "example_changed",
            DriftKind::ExampleNew => "example_new",
            DriftKind::ExampleGone => "example_gone",
            DriftKind::ExampleUnreadable => "example_unreadable",
            DriftKind::ResponseFieldAdded => "response_field_added",
            DriftKind::DataFieldAdded => "data_field_added",
        }
    }
}

/// Which credentials a method accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Auth {
    /// OAuth application token only.
    Oauth,
    /// OAuth token or incoming webhook.
    OauthOrWebhook,
}

/// A parameter of a method or a field of a struct type.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Name on the wire.
    pub wire: String,
    /// Rust field, argument and setter name.
    pub rust: String,
    /// Type expression (see `ty`).
    #[serde(rename = "type")]
    pub ty: TypeRef,
    /// Required fields are constructor arguments (requests) or non-`Option` (responses).
    #[serde(default)]
    pub required: bool,
    /// Documentation.
    pub docs: String,
    /// Human-readable constraints, shown in the docs.
    #[serde(default)]
    pub constraints: Vec<String>,
}

/// The `response` block of a method.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    /// Type expression of `result`.
    #[serde(rename = "type")]
    pub ty: TypeRef,
    /// Wire helper whose value can carry a soft error inside a 200 result.
    #[serde(default)]
    pub soft_error: Option<String>,
    /// Documentation of the result.
    #[serde(default)]
    pub docs: Option<String>,
}

/// A documented error code.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorSpec {
    /// The `error` string.
    pub code: String,
    /// HTTP status it comes with (200 for soft errors).
    pub http_status: u16,
    /// When it happens.
    pub description: String,
}

/// Where an example comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Printed on the official page.
    Docs,
    /// What the real server sends where it differs from the docs.
    Server,
}

/// One method example.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodExample {
    /// Provenance.
    pub source: Source,
    /// Request body without `auth`.
    #[serde(default)]
    pub request: Option<Value>,
    /// Whole success envelope.
    #[serde(default)]
    pub response: Option<Value>,
    /// Whole error body.
    #[serde(default)]
    pub error: Option<Value>,
    /// HTTP status of the response or error.
    #[serde(default)]
    pub http_status: Option<u16>,
    /// Why the example is here, if not obvious.
    #[serde(default)]
    pub note: Option<String>,
}

/// A `spec/types/<group>.json` file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypesFile {
    /// Editor hint.
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    /// The named types of this group.
    pub types: Vec<TypeSpec>,
}

/// A named struct or string enum.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypeSpec {
    /// Rust type name.
    pub name: String,
    /// Struct or string enum.
    pub kind: Kind,
    /// Built by users, decoded from the server, or both.
    pub usage: Usage,
    /// Documentation.
    pub docs: String,
    /// Struct fields.
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    /// Enum values.
    #[serde(default)]
    pub values: Vec<EnumValueSpec>,
    /// Response structs: keep unknown keys in `extra`.
    #[serde(default)]
    pub keep_unknown: bool,
}

/// Struct or enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A JSON object.
    Struct,
    /// A JSON string with known values.
    Enum,
}

/// Who builds values of a type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Usage {
    /// Built by users and sent.
    Request,
    /// Decoded from the server.
    Response,
    /// Both.
    Both,
}

impl Usage {
    /// Users build it (constructor, setters, validation).
    pub fn is_request(self) -> bool {
        matches!(self, Usage::Request | Usage::Both)
    }
    /// It is decoded from the server (public fields, lenient decoding).
    pub fn is_response(self) -> bool {
        matches!(self, Usage::Response | Usage::Both)
    }
}

/// One value of a string enum.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnumValueSpec {
    /// Value on the wire.
    pub wire: String,
    /// Variant name.
    pub rust: String,
    /// Documentation.
    pub docs: String,
}

/// An event file: `spec/events/<EventName>.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// Editor hint.
    #[serde(rename = "$schema", default)]
    pub schema: Option<String>,
    /// Name as bound with `event.bind`.
    pub name: String,
    /// The `event` field of the POST (upper case).
    pub wire_name: String,
    /// Variant of `Event`; the struct is `<rust_name>Event`.
    pub rust_name: String,
    /// One sentence.
    pub summary: String,
    /// Longer Markdown.
    #[serde(default)]
    pub description: Option<String>,
    /// Official page.
    #[serde(default)]
    pub docs_url: Option<String>,
    /// Type expression of `data`.
    pub data: TypeRef,
    /// JSON or form examples.
    pub examples: Vec<EventExample>,
    /// Where the spec deliberately differs from the docs page (`cargo xtask docs-sync`).
    #[serde(default)]
    pub docs_differences: Vec<DocsDifference>,
}

/// One event example: exactly one of `json` and `form`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventExample {
    /// Provenance.
    pub source: Source,
    /// The event as a JSON object.
    #[serde(default)]
    pub json: Option<Value>,
    /// The event as the form body Bitrix24 POSTs.
    #[serde(default)]
    pub form: Option<String>,
    /// Why the example is here.
    #[serde(default)]
    pub note: Option<String>,
}

/// A parsed file with where it came from.
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    /// Path shown in headers and messages: `spec/methods/imconnector.activate.json`.
    pub display_path: String,
    /// File stem (`imconnector.activate`, `messages`, `OnImConnectorMessageAdd`).
    pub stem: String,
    /// The raw JSON, for schema validation.
    pub raw: Value,
    /// The parsed model.
    pub item: T,
}

/// The whole spec directory.
#[derive(Debug, Clone, Default)]
pub struct Spec {
    /// Methods sorted by file name.
    pub methods: Vec<Loaded<MethodSpec>>,
    /// Type groups sorted by file name.
    pub types: Vec<Loaded<TypesFile>>,
    /// Events sorted by file name.
    pub events: Vec<Loaded<EventSpec>>,
}

/// A problem tied to a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The file (display path).
    pub file: String,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem in `file`.
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

impl Spec {
    /// Reads every file under `spec_dir` (`methods/`, `types/`, `events/`), sorted by name.
    ///
    /// # Errors
    /// Every unreadable or ill-formed file, each as a [`Problem`].
    pub fn load(spec_dir: &Path) -> Result<Spec, Vec<Problem>> {
        let mut problems = Vec::new();
        let spec = Spec {
            methods: load_dir(spec_dir, "methods", &mut problems),
            types: load_dir(spec_dir, "types", &mut problems),
            events: load_dir(spec_dir, "events", &mut problems),
        };
        if problems.is_empty() {
            Ok(spec)
        } else {
            Err(problems)
        }
    }

    /// Every type defined in `types/`, with the file defining it.
    pub fn named_types(&self) -> impl Iterator<Item = (&Loaded<TypesFile>, &TypeSpec)> {
        self.types
            .iter()
            .flat_map(|file| file.item.types.iter().map(move |ty| (file, ty)))
    }

    /// The type named `name`, if `types/` defines it.
    pub fn find_type(&self, name: &str) -> Option<&TypeSpec> {
        self.named_types()
            .map(|(_, ty)| ty)
            .find(|ty| ty.name == name)
    }
}

fn load_dir<T: serde::de::DeserializeOwned>(
    spec_dir: &Path,
    kind: &str,
    problems: &mut Vec<Problem>,
) -> Vec<Loaded<T>> {
    let dir = spec_dir.join(kind);
    let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .collect(),
        Err(error) => {
            problems.push(Problem::new(
                format!("spec/{kind}"),
                format!("cannot read the directory: {error}"),
            ));
            return Vec::new();
        }
    };
    paths.sort();
    let mut loaded = Vec::new();
    for path in paths {
        let file_name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let display_path = format!("spec/{kind}/{file_name}");
        let Some(stem) = file_name.strip_suffix(".json") else {
            problems.push(Problem::new(display_path, "not a .json file"));
            continue;
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                problems.push(Problem::new(display_path, format!("cannot read: {error}")));
                continue;
            }
        };
        let raw: Value = match serde_json::from_str(&text) {
            Ok(raw) => raw,
            Err(error) => {
                problems.push(Problem::new(display_path, format!("not JSON: {error}")));
                continue;
            }
        };
        match serde_path_to_error::deserialize::<_, T>(raw.clone()) {
            Ok(item) => loaded.push(Loaded {
                display_path,
                stem: stem.to_owned(),
                raw,
                item,
            }),
            Err(error) => problems.push(Problem::new(
                display_path,
                format!("at `{}`: {}", error.path(), error.inner()),
            )),
        }
    }
    loaded
}
