//! `event.offline.get`, `.list`, `.clear`, `.error` (`events/event-offline-*.md`): reading and
//! confirming the offline event queue. Administrator only, application tokens only.

use std::cmp::Ordering;

use serde_json::{json, Value};

use super::auth::Caller;
use super::event_api::app_only;
use crate::envelope::{ApiError, Outcome};
use crate::php::{self, Params};
use crate::state::offline::OfflineRow;
use crate::state::Portal;

/// `event.offline.list` pages are always this long; `get` returns this many by default.
const PAGE: usize = 50;

/// The caller's app, if the caller is an administrator acting through an app.
fn admin_app(portal: &Portal, caller: Caller) -> Result<usize, ApiError> {
    let app = app_only(caller)?;
    if portal.user(caller.user()).is_some_and(|user| user.admin) {
        Ok(app)
    } else {
        Err(ApiError::new(403, "ACCESS_DENIED", "Access denied!"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Timestamp,
    EventName,
    MessageId,
    ProcessId,
    Error,
}

impl Field {
    /// The fields `get` filters and sorts by; `list` adds `PROCESS_ID` and `ERROR`.
    fn parse(name: &str, for_list: bool) -> Option<Field> {
        Some(match name.to_uppercase().as_str() {
            "ID" => Field::Id,
            "TIMESTAMP_X" => Field::Timestamp,
            "EVENT_NAME" => Field::EventName,
            "MESSAGE_ID" => Field::MessageId,
            "PROCESS_ID" if for_list => Field::ProcessId,
            "ERROR" if for_list => Field::Error,
            _ => return None,
        })
    }

    /// Compares the row's value of this field with a filter value, as the ORM would.
    fn compare(self, row: &OfflineRow, value: &str) -> Option<Ordering> {
        let number = |own: u64| {
            value
                .trim()
                .parse::<u64>()
                .ok()
                .map(|other| own.cmp(&other))
        };
        match self {
            Field::Id => number(row.id),
            Field::Error => number(u64::from(row.error)),
            // The portal's ISO dates share one offset, so text order is time order.
            Field::Timestamp => Some(crate::envelope::iso_date(row.timestamp).as_str().cmp(value)),
            Field::EventName => Some(row.event.to_uppercase().cmp(&value.to_uppercase())),
            Field::MessageId => Some(row.message_id.as_str().cmp(value)),
            Field::ProcessId => Some(row.process_id.as_str().cmp(value)),
        }
    }

    fn sort_key(self, left: &OfflineRow, right: &OfflineRow) -> Ordering {
        match self {
            Field::Id => left.id.cmp(&right.id),
            Field::Error => left.error.cmp(&right.error),
            Field::Timestamp => left.timestamp.total_cmp(&right.timestamp),
            Field::EventName => left.event.cmp(&right.event),
            Field::MessageId => left.message_id.cmp(&right.message_id),
            Field::ProcessId => left.process_id.cmp(&right.process_id),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// One `filter[<op><FIELD>]=value` entry (an array value means any of them).
struct Condition {
    field: Field,
    op: Op,
    values: Vec<String>,
}

impl Condition {
    fn holds(&self, row: &OfflineRow) -> bool {
        let each = |value: &String| {
            let Some(order) = self.field.compare(row, value) else {
                return false;
            };
            match self.op {
                Op::Equal => order.is_eq(),
                Op::NotEqual => order.is_ne(),
                Op::Less => order.is_lt(),
                Op::LessOrEqual => order.is_le(),
                Op::Greater => order.is_gt(),
                Op::GreaterOrEqual => order.is_ge(),
            }
        };
        match self.op {
            Op::NotEqual => self.values.iter().all(each),
            _ => self.values.iter().any(each),
        }
    }
}

fn parse_filter(params: &Params, for_list: bool) -> Result<Vec<Condition>, ApiError> {
    let Some(filter) = params
        .get("FILTER")
        .filter(|value| php::is_array(Some(value)))
    else {
        return Ok(Vec::new());
    };
    php::entries(filter)
        .into_iter()
        .map(|(key, value)| {
            let split = key
                .find(|character: char| !matches!(character, '=' | '!' | '<' | '>'))
                .unwrap_or(key.len());
            let (prefix, name) = key.split_at(split);
            let op = match prefix {
                "" | "=" => Op::Equal,
                "!" | "!=" => Op::NotEqual,
                "<" => Op::Less,
                "<=" => Op::LessOrEqual,
                ">" => Op::Greater,
                ">=" => Op::GreaterOrEqual,
                _ => return Err(unknown_filter(&key)),
            };
            let field = Field::parse(name, for_list).ok_or_else(|| unknown_filter(&key))?;
            let values = if php::is_array(Some(value)) {
                php::entries(value)
                    .into_iter()
                    .filter_map(|(_, item)| php::to_text(Some(item)))
                    .collect()
            } else {
                vec![php::to_text(Some(value)).unwrap_or_default()]
            };
            Ok(Condition { field, op, values })
        })
        .collect()
}

fn unknown_filter(key: &str) -> ApiError {
    ApiError::argument("filter", format!("Unknown field definition `{key}`"))
}

/// `order[FIELD]=ASC|DESC`; `default` when none is given.
fn parse_order(
    params: &Params,
    for_list: bool,
    default: Field,
) -> Result<Vec<(Field, bool)>, ApiError> {
    let Some(order) = params
        .get("ORDER")
        .filter(|value| php::is_array(Some(value)))
    else {
        return Ok(vec![(default, true)]);
    };
    php::entries(order)
        .into_iter()
        .map(|(key, direction)| {
            let field = Field::parse(&key, for_list).ok_or_else(|| {
                ApiError::argument("order", format!("Unknown field definition `{key}`"))
            })?;
            let ascending = !php::to_text(Some(direction))
                .is_some_and(|text| text.eq_ignore_ascii_case("DESC"));
            Ok((field, ascending))
        })
        .collect()
}

/// The rows of the caller's queue that the filter picks, in the asked order (ties by id).
fn select<'a>(
    rows: Vec<&'a OfflineRow>,
    conditions: &[Condition],
    order: &[(Field, bool)],
) -> Vec<&'a OfflineRow> {
    let mut picked: Vec<&OfflineRow> = rows
        .into_iter()
        .filter(|row| conditions.iter().all(|condition| condition.holds(row)))
        .collect();
    picked.sort_by(|left, right| {
        order
            .iter()
            .map(|(field, ascending)| {
                let order = field.sort_key(left, right);
                if *ascending {
                    order
                } else {
                    order.reverse()
                }
            })
            .find(|order| order.is_ne())
            .unwrap_or_else(|| left.id.cmp(&right.id))
    });
    picked
}

fn text_param(params: &Params, name: &str) -> String {
    php::to_text(params.get(name)).unwrap_or_default()
}

/// `0|1` parameters: anything set and not `0` counts as 1.
fn flag_param(params: &Params, name: &str, default: bool) -> bool {
    if php::is_set(params.get(name)) {
        php::to_int(params.get(name)) != 0
    } else {
        default
    }
}

pub(crate) fn get(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    match get_checked(portal, caller, &php::upper_keys(&params)) {
        Ok(result) => Outcome::Ok(result),
        Err(error) => error.into(),
    }
}

fn get_checked(portal: &mut Portal, caller: Caller, params: &Params) -> Result<Value, ApiError> {
    let app = admin_app(portal, caller)?;
    let conditions = parse_filter(params, false)?;
    let order = parse_order(params, false, Field::Timestamp)?;
    let limit = usize::try_from(php::to_int(params.get("LIMIT")))
        .ok()
        .filter(|limit| *limit > 0)
        .unwrap_or(PAGE);
    let clear = flag_param(params, "CLEAR", true);
    let errors = flag_param(params, "ERROR", false);
    let given_process = text_param(params, "PROCESS_ID");
    let source = text_param(params, "AUTH_CONNECTOR");
    // Rows reserved by another process are skipped: parallel readers get different rows.
    let available = portal
        .offline_rows(app, &source)
        .into_iter()
        .filter(|row| row.error == errors)
        .filter(|row| row.process_id.is_empty() || row.process_id == given_process)
        .collect();
    let picked: Vec<&OfflineRow> = select(available, &conditions, &order)
        .into_iter()
        .take(limit)
        .collect();
    let events: Vec<Value> = picked.iter().map(|row| row.to_get_json()).collect();
    let ids: Vec<u64> = picked.iter().map(|row| row.id).collect();
    if clear {
        portal.remove_offline(&ids);
        return Ok(json!({ "process_id": null, "events": events }));
    }
    let process_id = if given_process.is_empty() {
        portal.new_process_id()
    } else {
        given_process
    };
    portal.reserve_offline(&ids, &process_id);
    Ok(json!({ "process_id": process_id, "events": events }))
}

pub(crate) fn list(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    let params = php::upper_keys(&params);
    let run = |portal: &mut Portal| -> Result<Outcome, ApiError> {
        let app = admin_app(portal, caller)?;
        let conditions = parse_filter(&params, true)?;
        let order = parse_order(&params, true, Field::Id)?;
        let start = usize::try_from(php::to_int(params.get("START"))).unwrap_or(0);
        let source = text_param(&params, "AUTH_CONNECTOR");
        let picked = select(portal.offline_rows(app, &source), &conditions, &order);
        let total = picked.len();
        let page: Vec<Value> = picked
            .iter()
            .skip(start)
            .take(PAGE)
            .map(|row| row.to_list_json())
            .collect();
        let next = (start + PAGE < total).then_some(start + PAGE);
        Ok(Outcome::Page {
            items: Value::Array(page),
            total,
            next,
        })
    };
    run(portal).unwrap_or_else(Outcome::from)
}

/// The rows of `process_id` that `id[]` (when `by_id`; else or when absent `message_id[]`)
/// name; all of them when neither is given.
fn rows_of_process(
    portal: &Portal,
    app: usize,
    params: &Params,
    process_id: &str,
    by_id: bool,
) -> Vec<u64> {
    let listed = |name: &str| -> Option<Vec<String>> {
        let value = params.get(name)?;
        let items: Vec<String> = if php::is_array(Some(value)) {
            php::entries(value)
                .into_iter()
                .filter_map(|(_, item)| php::to_text(Some(item)))
                .collect()
        } else {
            php::to_text(Some(value)).into_iter().collect()
        };
        (!items.is_empty()).then_some(items)
    };
    let ids = if by_id { listed("ID") } else { None };
    let message_ids = if ids.is_none() {
        listed("MESSAGE_ID")
    } else {
        None
    };
    portal
        .all_offline_rows()
        .filter(|row| row.app == app && row.process_id == process_id)
        .filter(|row| {
            ids.as_ref()
                .is_none_or(|ids| ids.contains(&row.id.to_string()))
        })
        .filter(|row| {
            message_ids
                .as_ref()
                .is_none_or(|message_ids| message_ids.contains(&row.message_id))
        })
        .map(|row| row.id)
        .collect()
}

/// `event.offline.clear` (`mark_failed` false) and `event.offline.error` (true).
fn settle(portal: &mut Portal, caller: Caller, params: &Params, mark_failed: bool) -> Outcome {
    let run = |portal: &mut Portal| -> Result<(), ApiError> {
        let app = admin_app(portal, caller)?;
        let process_id = text_param(params, "PROCESS_ID");
        if process_id.is_empty() {
            return Err(ApiError::missing("process_id"));
        }
        // `error` takes only `message_id[]`.
        let rows = rows_of_process(portal, app, params, &process_id, !mark_failed);
        if mark_failed {
            portal.fail_offline(&rows);
        } else {
            portal.remove_offline(&rows);
        }
        Ok(())
    };
    match run(portal) {
        Ok(()) => Outcome::Ok(Value::Bool(true)),
        Err(error) => error.into(),
    }
}

pub(crate) fn clear(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    settle(portal, caller, &php::upper_keys(&params), false)
}

pub(crate) fn error(portal: &mut Portal, caller: Caller, params: Params) -> Outcome {
    settle(portal, caller, &php::upper_keys(&params), true)
}
