//! `imopenlines.config.list.get` and `imopenlines.config.get` (reference §7): how connectors
//! find line ids. Lines are full config objects built from a template of the portal's fields.

use std::cmp::Ordering;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use super::auth::Caller;
use crate::envelope::{ApiError, Outcome};
use crate::php::{self, Params};
use crate::state::records::Line;
use crate::state::Portal;

/// Page size limits of `config.list.get`.
const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 200;

/// Every field of a line config with neutral values (types as the portal sends them).
fn template() -> &'static Map<String, Value> {
    static TEMPLATE: OnceLock<Map<String, Value>> = OnceLock::new();
    TEMPLATE.get_or_init(
        || match serde_json::from_str(include_str!("line_template.json")) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        },
    )
}

fn line_config(line: &Line) -> Map<String, Value> {
    let mut config = template().clone();
    config.insert("ID".to_owned(), json!(line.id.to_string()));
    config.insert("LINE_NAME".to_owned(), json!(line.name));
    config.insert(
        "ACTIVE".to_owned(),
        json!(if line.active { "Y" } else { "N" }),
    );
    config
}

fn invalid(kind: &str, field: &str) -> ApiError {
    ApiError::new(
        400,
        "INVALID_FORMAT",
        format!("A wrong format for the {kind} field '{field}' is passed"),
    )
}

/// The operators in every line's queue: the portal's admins.
fn queue(portal: &Portal) -> Vec<u64> {
    portal
        .users()
        .iter()
        .filter(|user| user.admin)
        .map(|user| user.id)
        .collect()
}

fn queue_user_fields(portal: &Portal) -> Value {
    let fields: Map<String, Value> = portal.users().iter()
        .filter(|user| user.admin)
        .map(|user| {
            (
                user.id.to_string(),
                json!({ "USER_NAME": user.name, "USER_WORK_POSITION": null, "USER_AVATAR": "", "USER_AVATAR_ID": null }),
            )
        })
        .collect();
    php::php_array(fields.into_iter().collect())
}

pub(crate) fn list_get(portal: &mut Portal, _caller: Caller, params: Params) -> Outcome {
    match list_checked(portal, &php::upper_keys(&params)) {
        Ok(lines) => Outcome::Ok(Value::Array(lines)),
        Err(error) => error.into(),
    }
}

struct Query {
    select: Option<Vec<String>>,
    order: Vec<(String, bool)>,
    filter: Vec<(String, String)>,
    limit: usize,
    offset: usize,
}

fn parse_query(params: &Params) -> Result<Query, ApiError> {
    let mut query = Query {
        select: None,
        order: vec![("ID".to_owned(), true)],
        filter: Vec::new(),
        limit: DEFAULT_LIMIT,
        offset: 0,
    };
    let Some(raw) = params
        .get("PARAMS")
        .filter(|value| php::is_set(Some(value)))
    else {
        return Ok(query);
    };
    if !php::is_array(Some(raw)) {
        return Err(invalid("PARAMS", "PARAMS"));
    }
    let known = |field: &str| template().contains_key(field);
    for (key, value) in php::entries(raw) {
        match key.as_str() {
            "select" => {
                let fields: Option<Vec<String>> = match value {
                    Value::Array(_) | Value::Object(_) => php::entries(value)
                        .into_iter()
                        .map(|(_, field)| {
                            php::to_text(Some(field)).map(|field| field.to_uppercase())
                        })
                        .collect(),
                    _ => None,
                };
                match fields {
                    Some(fields) if fields.iter().all(|field| known(field)) => {
                        query.select = Some(fields)
                    }
                    _ => return Err(invalid("PARAMS", "select")),
                }
            }
            "order" => {
                let Value::Object(map) = value else {
                    return Err(invalid("PARAMS", "order"));
                };
                query.order.clear();
                for (field, direction) in map {
                    let ascending = match php::to_text(Some(direction))
                        .map(|text| text.to_uppercase())
                        .as_deref()
                    {
                        Some("ASC") => true,
                        Some("DESC") => false,
                        _ => return Err(invalid("PARAMS", "order")),
                    };
                    if !known(&field.to_uppercase()) {
                        return Err(invalid("PARAMS", "order"));
                    }
                    query.order.push((field.to_uppercase(), ascending));
                }
            }
            "filter" => {
                let Value::Object(map) = value else {
                    return Err(invalid("PARAMS", "filter"));
                };
                for (field, expected) in map {
                    let expected =
                        php::to_text(Some(expected)).ok_or_else(|| invalid("PARAMS", "filter"))?;
                    if !known(&field.to_uppercase()) {
                        return Err(invalid("PARAMS", "filter"));
                    }
                    query.filter.push((field.to_uppercase(), expected));
                }
            }
            "limit" | "offset" => {
                let number = match value {
                    Value::Number(number) => number.as_i64(),
                    Value::String(text) => text.parse::<i64>().ok(),
                    _ => None,
                };
                let number = number
                    .and_then(|number| usize::try_from(number).ok())
                    .ok_or_else(|| invalid("PARAMS", &key))?;
                if key == "limit" {
                    query.limit = number.min(MAX_LIMIT);
                } else {
                    query.offset = number;
                }
            }
            _ => return Err(invalid("PARAMS", &key)),
        }
    }
    Ok(query)
}

fn compare(left: &Value, right: &Value) -> Ordering {
    let text = |value: &Value| php::to_text(Some(value)).unwrap_or_default();
    let (left, right) = (text(left), text(right));
    match (left.parse::<f64>(), right.parse::<f64>()) {
        (Ok(left), Ok(right)) => left.partial_cmp(&right).unwrap_or(Ordering::Equal),
        _ => left.cmp(&right),
    }
}

fn list_checked(portal: &Portal, params: &Params) -> Result<Vec<Value>, ApiError> {
    let query = parse_query(params)?;
    let mut with_queue = false;
    let mut with_config_queue = false;
    if let Some(options) = params
        .get("OPTIONS")
        .filter(|value| php::is_set(Some(value)))
    {
        if !php::is_array(Some(options)) {
            return Err(invalid("OPTIONS", "OPTIONS"));
        }
        for (key, value) in php::entries(options) {
            let text = php::to_text(Some(value)).unwrap_or_default();
            match key.as_str() {
                "QUEUE" | "CONFIG_QUEUE" => {
                    let flag = match text.as_str() {
                        "Y" => true,
                        "N" => false,
                        _ => return Err(invalid("OPTIONS", &key)),
                    };
                    if key == "QUEUE" {
                        with_queue = flag;
                    } else {
                        with_config_queue = flag;
                    }
                }
                "CHECK_PERMISSION" => {}
                _ => return Err(invalid("OPTIONS", &key)),
            }
        }
    }
    let mut lines: Vec<Map<String, Value>> = portal
        .lines()
        .map(line_config)
        .filter(|config| {
            query.filter.iter().all(|(field, expected)| {
                config
                    .get(field)
                    .and_then(|value| php::to_text(Some(value)))
                    .as_deref()
                    == Some(expected.as_str())
            })
        })
        .collect();
    lines.sort_by(|left, right| {
        query
            .order
            .iter()
            .map(|(field, ascending)| {
                let ordering = compare(
                    left.get(field).unwrap_or(&Value::Null),
                    right.get(field).unwrap_or(&Value::Null),
                );
                if *ascending {
                    ordering
                } else {
                    ordering.reverse()
                }
            })
            .find(|ordering| ordering.is_ne())
            .unwrap_or(Ordering::Equal)
    });
    let queue_ids = queue(portal);
    Ok(lines
        .into_iter()
        .skip(query.offset)
        .take(query.limit)
        .map(|config| {
            let mut line = match &query.select {
                Some(fields) => fields
                    .iter()
                    .filter_map(|field| {
                        config
                            .get(field)
                            .map(|value| (field.clone(), value.clone()))
                    })
                    .collect(),
                None => config,
            };
            if with_queue {
                line.insert("QUEUE".to_owned(), json!(queue_ids));
                line.insert("QUEUE_USERS_FIELDS".to_owned(), queue_user_fields(portal));
            }
            if with_config_queue {
                let entries: Vec<Value> = queue_ids
                    .iter()
                    .map(|id| json!({ "ENTITY_ID": id.to_string(), "ENTITY_TYPE": "user" }))
                    .collect();
                line.insert("CONFIG_QUEUE".to_owned(), Value::Array(entries));
            }
            Value::Object(line)
        })
        .collect())
}

pub(crate) fn get(portal: &mut Portal, _caller: Caller, params: Params) -> Outcome {
    let params = php::upper_keys(&params);
    let config_id = params.get("CONFIG_ID");
    if php::is_empty(config_id) {
        return ApiError::new(400, "CONFIG_ID_EMPTY", "Config ID can't be empty").into();
    }
    let Some(line) = portal.line(php::to_int(config_id)) else {
        return Outcome::Ok(Value::Bool(false));
    };
    let mut config = line_config(line);
    let with_queue = php::to_text(params.get("WITH_QUEUE")).is_none_or(|flag| flag != "N");
    if with_queue {
        let ids = queue(portal);
        let full: Vec<(String, Value)> = ids
            .iter()
            .enumerate()
            .map(|(sort, id)| {
                let name = portal.user(*id).map(|user| user.name.clone());
                (
                    id.to_string(),
                    json!({
                        "ID": (sort + 1).to_string(), "SORT": sort.to_string(), "USER_ID": id.to_string(),
                        "DEPARTMENT_ID": "0", "USER_NAME": name, "USER_WORK_POSITION": null,
                        "USER_AVATAR": null, "USER_AVATAR_ID": "0",
                    }),
                )
            })
            .collect();
        let as_text: Vec<String> = ids.iter().map(u64::to_string).collect();
        config.insert("QUEUE".to_owned(), json!(as_text));
        config.insert("QUEUE_FULL".to_owned(), php::php_array(full));
        config.insert("QUEUE_USERS_FIELDS".to_owned(), queue_user_fields(portal));
        config.insert("QUEUE_ONLINE".to_owned(), json!("Y"));
    }
    Outcome::Ok(Value::Object(config))
}
