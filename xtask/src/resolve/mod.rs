//! The middle step of load → lint → resolve → render.
//!
//! Loading ([`Spec::load`]) parses every file and every type expression in it; the lint
//! ([`crate::lint::cross_check`]) checks what the JSON Schema cannot. Resolving turns the spec
//! into the IR ([`crate::ir::Model`]): every name of every type expression is looked up here,
//! once, and every field gets its Rust types, conversion, getter, checks and secrecy. The
//! renderers read only the IR, so they never meet a name to look up (nor fall back to a
//! default type).

mod rust_type;

use std::collections::BTreeMap;

use heck::ToSnakeCase;

use crate::helpers;
use crate::ir::{
    Check, Event, Field, Method, Model, NamedType, Response, Shape, Ty, TypeGroup, TypeId,
};
use crate::lookup::{self, Resolved};
use crate::model::{EventSpec, FieldSpec, Kind, MethodSpec, Problem, Spec, TypeSpec};
use crate::ty::TypeExpr;

/// Resolves `spec` into the IR.
///
/// # Errors
/// Every name that does not resolve, each naming its spec file and the field or key. Run the
/// lint first: it reports these and everything else that would make the output wrong.
pub fn resolve(spec: &Spec) -> Result<Model, Vec<Problem>> {
    let resolver = Resolver::new(spec);
    let mut problems = Vec::new();
    let mut methods = Vec::new();
    for loaded in &spec.methods {
        match resolver.method(&loaded.display_path, &loaded.item) {
            Ok(method) => methods.push(method),
            Err(message) => problems.push(Problem::new(&loaded.display_path, message)),
        }
    }
    let mut groups = Vec::new();
    for loaded in &spec.types {
        let mut types = Vec::new();
        for ty in &loaded.item.types {
            match resolver.named_type(ty) {
                Ok(named) => types.push(named),
                Err(message) => problems.push(Problem::new(&loaded.display_path, message)),
            }
        }
        groups.push(TypeGroup {
            source: loaded.display_path.clone(),
            module: loaded.stem.to_snake_case(),
            types,
        });
    }
    let mut events = Vec::new();
    for loaded in &spec.events {
        match resolver.event(&loaded.display_path, &loaded.item) {
            Ok(event) => events.push(event),
            Err(message) => problems.push(Problem::new(&loaded.display_path, message)),
        }
    }
    if problems.is_empty() {
        Ok(Model {
            methods,
            groups,
            events,
        })
    } else {
        Err(problems)
    }
}

/// The spec with every named type numbered by its place ([`TypeId`]).
pub(crate) struct Resolver<'a> {
    spec: &'a Spec,
    ids: BTreeMap<&'a str, TypeId>,
}

impl<'a> Resolver<'a> {
    fn new(spec: &'a Spec) -> Self {
        let mut ids = BTreeMap::new();
        for (group, loaded) in spec.types.iter().enumerate() {
            for (index, ty) in loaded.item.types.iter().enumerate() {
                // The first definition wins; the lint reports a second one.
                ids.entry(ty.name.as_str())
                    .or_insert(TypeId { group, index });
            }
        }
        Self { spec, ids }
    }

    fn type_spec(&self, id: TypeId) -> &'a TypeSpec {
        &self.spec.types[id.group].item.types[id.index]
    }

    /// Resolves every name of `expr`.
    fn ty(&self, expr: &TypeExpr) -> Result<Ty, String> {
        lookup::check(self.spec, expr)?;
        Ok(match expr {
            TypeExpr::String => Ty::String,
            TypeExpr::Bool => Ty::Bool,
            TypeExpr::I64 => Ty::I64,
            TypeExpr::U64 => Ty::U64,
            TypeExpr::F64 => Ty::F64,
            TypeExpr::Json => Ty::Json,
            TypeExpr::List(inner) => Ty::List(Box::new(self.ty(inner)?)),
            TypeExpr::Map(inner) => Ty::Map(Box::new(self.ty(inner)?)),
            TypeExpr::Named(name, args) => match lookup::resolve(self.spec, name) {
                Some(Resolved::Helper(helper)) => Ty::Helper(
                    helper,
                    args.iter()
                        .map(|arg| self.ty(arg))
                        .collect::<Result<_, _>>()?,
                ),
                Some(Resolved::Type(_)) => match self.ids.get(name.as_str()) {
                    Some(id) => Ty::Named(*id),
                    None => return Err(format!("unknown type `{name}`")),
                },
                None => return Err(format!("unknown type `{name}`")),
            },
        })
    }

    fn field(&self, owner: &str, field: &FieldSpec) -> Result<Field, String> {
        let ty = self
            .ty(field.ty.expr())
            .map_err(|message| format!("{owner}.{}: {message}", field.wire))?;
        let (argument, conversion) = self.argument(&ty);
        let (getter_type, getter_read) = self.getter(&ty, field.required, &field.rust);
        Ok(Field {
            wire: field.wire.clone(),
            rust: field.rust.clone(),
            docs: field.docs.clone(),
            constraints: field.constraints.clone(),
            required: field.required,
            spec_type: field.ty.to_string(),
            storage: self.storage(&ty),
            argument,
            conversion,
            example_type: self.example_type(&ty),
            validates: self.validates(&ty),
            secret: matches!(&ty, Ty::Helper(helper, _) if helper.secret),
            getter_type,
            getter_read,
            ty,
        })
    }

    fn fields(&self, owner: &str, fields: &[FieldSpec]) -> Result<Vec<Field>, String> {
        fields
            .iter()
            .map(|field| self.field(owner, field))
            .collect()
    }

    fn method(&self, file: &str, method: &MethodSpec) -> Result<Method, String> {
        let response_ty = self
            .ty(method.response.ty.expr())
            .map_err(|message| format!("response.type: {message}"))?;
        Ok(Method {
            wire_name: method.name.clone(),
            rust_name: method.rust_name.clone(),
            module: method.rust_name.to_snake_case(),
            response_name: format!("{}Response", method.rust_name),
            scope: method.scope.clone(),
            auth: method.auth,
            idempotent: method.idempotent,
            summary: method.summary.clone(),
            description: method.description.clone(),
            docs_url: method.docs_url.clone(),
            params: self.fields(&method.name, &method.params)?,
            checks: method
                .validate
                .iter()
                .map(|check| Check {
                    name: check.clone(),
                    summary: helpers::check_summary(check),
                })
                .collect(),
            response: Response {
                spec_type: method.response.ty.to_string(),
                storage: self.storage(&response_ty),
                docs: method.response.docs.clone(),
                // The one decoder of the answer: a named reader of `wire::responses` when the
                // portal may report a failure inside a 200 answer, else the type's `WireDecode`.
                reader: method
                    .response
                    .soft_error
                    .clone()
                    .unwrap_or_else(|| "plain".to_owned()),
                // A soft-error reader reshapes the answer (`result.result`, `DATA.RESULT`) into
                // what it means, so only the other responses serialise back to the `result`.
                round_trips: !self.holds_secret(&response_ty)
                    && method.response.soft_error.is_none(),
            },
            errors: method.errors.clone(),
            examples: method.examples.clone(),
            source: file.to_owned(),
        })
    }

    fn named_type(&self, ty: &TypeSpec) -> Result<NamedType, String> {
        let shape = match ty.kind {
            Kind::Struct => {
                let id = self
                    .ids
                    .get(ty.name.as_str())
                    .copied()
                    .ok_or_else(|| format!("unknown type `{}`", ty.name))?;
                Shape::Struct {
                    fields: self.fields(&ty.name, &ty.fields)?,
                    keep_unknown: ty.keep_unknown && ty.usage.is_response(),
                    secret: self.holds_secret(&Ty::Named(id)),
                }
            }
            Kind::Enum => Shape::Enum {
                values: ty.values.clone(),
            },
        };
        Ok(NamedType {
            name: ty.name.clone(),
            docs: ty.docs.clone(),
            usage: ty.usage,
            shape,
        })
    }

    fn event(&self, file: &str, event: &EventSpec) -> Result<Event, String> {
        let data = self
            .ty(event.data.expr())
            .map_err(|message| format!("data: {message}"))?;
        Ok(Event {
            source: file.to_owned(),
            name: event.name.clone(),
            wire_name: event.wire_name.clone(),
            rust_name: event.rust_name.clone(),
            struct_name: format!("{}Event", event.rust_name),
            module: event.rust_name.to_snake_case(),
            summary: event.summary.clone(),
            description: event.description.clone(),
            docs_url: event.docs_url.clone(),
            data_spec_type: event.data.to_string(),
            data: self.storage(&data),
            examples: event.examples.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Shape;

    fn golden() -> Model {
        let dir = crate::workspace_root().join("xtask/tests/golden/spec");
        resolve(&Spec::load(&dir).unwrap()).unwrap()
    }

    fn tokens(tokens: &proc_macro2::TokenStream) -> String {
        tokens.to_string().replace(' ', "")
    }

    #[test]
    fn every_field_is_resolved_once_into_rust_types_checks_and_secrecy() {
        let model = golden();
        let method = &model.methods[0];
        assert_eq!(method.module, "widget_set");
        let messages = &method.params[3];
        assert_eq!(messages.rust, "messages");
        // `list<Widget>`: the named type is an index, not a name to look up again.
        let Ty::List(inner) = &messages.ty else {
            panic!("{:?}", messages.ty)
        };
        let Ty::Named(id) = **inner else {
            panic!("{inner:?}")
        };
        assert_eq!(model.named(id).name, "Widget");
        assert_eq!(tokens(&messages.storage), "Vec<crate::types::Widget>");
        assert_eq!(
            tokens(&messages.argument),
            "implIntoIterator<Item=crate::types::Widget>"
        );
        assert!(messages.validates, "a request struct carries checks");
        let connector = &method.params[0];
        assert!(connector.validates && !connector.secret);
        assert_eq!(tokens(&connector.storage), "crate::wire::ConnectorId");
        let active = &method.params[2];
        assert_eq!(tokens(&active.getter_type), "bool");
        assert_eq!(tokens(&active.getter_read), "self.active.get()");
        assert_eq!(method.response.reader, "success_flag");
        assert!(
            !method.response.round_trips,
            "a soft-error reader reshapes it"
        );
        assert_eq!(method.checks[0].name, "messages_not_empty");
        assert_eq!(
            method.checks[0].summary,
            helpers::check_summary("messages_not_empty")
        );

        let auth = model.groups[0]
            .types
            .iter()
            .find(|ty| ty.name == "EventAuth")
            .unwrap();
        let Shape::Struct { fields, secret, .. } = &auth.shape else {
            panic!("EventAuth is a struct")
        };
        assert!(*secret, "EventAuth holds the application token");
        assert!(fields[0].secret && !fields[1].secret);
        let data = model.groups[0]
            .types
            .iter()
            .find(|ty| ty.name == "WidgetEventData")
            .unwrap();
        let Shape::Struct { fields, secret, .. } = &data.shape else {
            panic!("WidgetEventData is a struct")
        };
        assert!(!*secret);
        assert_eq!(
            tokens(&fields[1].storage),
            "std::collections::BTreeMap<usize,crate::wire::Id>"
        );
        assert_eq!(
            tokens(&model.events[0].data),
            "crate::types::WidgetEventData"
        );
    }

    #[test]
    fn a_name_that_does_not_resolve_is_a_problem_naming_file_and_field() {
        let dir = crate::workspace_root().join("xtask/tests/golden/spec");
        let mut spec = Spec::load(&dir).unwrap();
        spec.methods[0].item.params[0].ty = crate::ty::TypeRef::parse("NoSuchType").unwrap();
        let problems = resolve(&spec).unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert_eq!(problems[0].file, "spec/methods/demo.widget.set.json");
        assert!(
            problems[0].message.contains("CONNECTOR") && problems[0].message.contains("NoSuchType"),
            "{}",
            problems[0].message
        );
    }
}
