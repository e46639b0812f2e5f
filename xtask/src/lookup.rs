//! What the names of a type expression refer to in a loaded spec: a wire helper or a type from
//! `types/`. Kept apart from the parser ([`crate::ty`]), which the spec model itself uses.

use crate::helpers::{self, Helper};
use crate::model::{Kind, Spec, TypeSpec};
use crate::ty::TypeExpr;

/// What a name in a type expression refers to.
#[derive(Debug, Clone, Copy)]
pub enum Resolved<'a> {
    /// A hand-written wire helper.
    Helper(&'static Helper),
    /// A type from `types/`.
    Type(&'a TypeSpec),
}

/// Looks `name` up among the wire helpers, then the spec's named types.
pub fn resolve<'a>(spec: &'a Spec, name: &str) -> Option<Resolved<'a>> {
    if let Some(helper) = helpers::find(name) {
        return Some(Resolved::Helper(helper));
    }
    spec.find_type(name).map(Resolved::Type)
}

/// Checks that every name exists, helpers get their arity, and named types take no arguments.
///
/// # Errors
/// The first problem found.
pub fn check(spec: &Spec, expr: &TypeExpr) -> Result<(), String> {
    match expr {
        TypeExpr::List(inner) | TypeExpr::Map(inner) => check(spec, inner),
        TypeExpr::Named(name, args) => {
            match resolve(spec, name) {
                None => return Err(format!("unknown type `{name}`")),
                Some(Resolved::Helper(helper)) if helper.arity != args.len() => {
                    return Err(format!(
                        "`{name}` takes {} type argument(s), got {}",
                        helper.arity,
                        args.len()
                    ))
                }
                Some(Resolved::Type(_)) if !args.is_empty() => {
                    return Err(format!("`{name}` takes no type arguments"))
                }
                _ => {}
            }
            args.iter().try_for_each(|arg| check(spec, arg))
        }
        _ => Ok(()),
    }
}

/// Does a value of this type hold a secret (so it must not derive `Serialize` or `PartialEq`)?
pub fn holds_secret(spec: &Spec, expr: &TypeExpr) -> bool {
    holds_secret_inner(spec, expr, &mut Vec::new())
}

fn holds_secret_inner(spec: &Spec, expr: &TypeExpr, seen: &mut Vec<String>) -> bool {
    match expr {
        TypeExpr::List(inner) | TypeExpr::Map(inner) => holds_secret_inner(spec, inner, seen),
        TypeExpr::Named(name, args) => {
            if args.iter().any(|arg| holds_secret_inner(spec, arg, seen)) {
                return true;
            }
            match resolve(spec, name) {
                Some(Resolved::Helper(helper)) => helper.secret,
                Some(Resolved::Type(ty)) => {
                    // Types may refer to each other; each is looked into once.
                    if seen.contains(&ty.name) {
                        return false;
                    }
                    seen.push(ty.name.clone());
                    ty.kind == Kind::Struct
                        && ty
                            .fields
                            .iter()
                            .any(|field| holds_secret_inner(spec, field.ty.expr(), seen))
                }
                None => false,
            }
        }
        _ => false,
    }
}
