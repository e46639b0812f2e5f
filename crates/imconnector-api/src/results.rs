//! Hand-written conveniences on generated result types: reading what users read most without
//! walking the wire shapes (`DATA.RESULT` may be a list, an object keyed by index, or `[]`).

use crate::types::{MessageResult, MessagesResult};

impl MessagesResult {
    /// The per-message results of `imconnector.send/update/delete.messages`, in the order of
    /// `MESSAGES` (sparse indices keep their order; an old server's `DATA: []` yields none).
    pub fn items(&self) -> impl Iterator<Item = &MessageResult> + '_ {
        self.data
            .get("RESULT")
            .into_iter()
            .flat_map(|results| results.values())
    }

    /// The result of the message at `index` of the request's `MESSAGES` (a sparse answer keys
    /// its items by that index); `None` when the answer says nothing of it.
    pub fn get(&self, index: usize) -> Option<&MessageResult> {
        self.data
            .get("RESULT")
            .and_then(|results| results.get(index))
    }

    /// The results of messages the portal did not take (`SUCCESS: false`), each with its
    /// `ERRORS`.
    pub fn failures(&self) -> impl Iterator<Item = &MessageResult> + '_ {
        self.items().filter(|item| !item.success)
    }
}

#[cfg(test)]
mod tests {
    use crate::types::MessagesResult;

    #[test]
    fn items_read_lists_sparse_objects_and_the_old_empty_list() {
        let list: MessagesResult = serde_json::from_value(serde_json::json!({
            "SUCCESS": true,
            "DATA": {"RESULT": [
                {"SUCCESS": true, "user": "585", "message": {"id": "m1"}},
                {"SUCCESS": false, "ERRORS": ["Incomplete data"]}
            ]}
        }))
        .unwrap();
        assert_eq!(list.items().count(), 2);
        let failed: Vec<_> = list.failures().collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(
            failed[0].errors.as_deref(),
            Some(&["Incomplete data".to_owned()][..])
        );

        let sparse: MessagesResult = serde_json::from_value(serde_json::json!({
            "SUCCESS": true,
            "DATA": {"RESULT": {"1": {"SUCCESS": true, "user": 7}}}
        }))
        .unwrap();
        assert_eq!(sparse.items().count(), 1);
        assert!(sparse.get(0).is_none());
        assert!(sparse.get(1).is_some_and(|item| item.success));
        assert!(list.get(1).is_some_and(|item| !item.success));

        let old: MessagesResult =
            serde_json::from_value(serde_json::json!({"SUCCESS": false, "DATA": []})).unwrap();
        assert_eq!(old.items().count(), 0);
    }
}
