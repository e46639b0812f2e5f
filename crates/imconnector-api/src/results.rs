//! Hand-written conveniences on generated result types.

use crate::types::{MessageResult, MessagesResult};

impl MessagesResult {
    /// The per-message results of `imconnector.send/update/delete.messages`, in the order of
    /// `MESSAGES` (a message the portal left out of its answer has none).
    pub fn items(&self) -> impl Iterator<Item = &MessageResult> + '_ {
        self.results.values()
    }

    /// The result of the message at `index` of the request's `MESSAGES`; `None` when the
    /// answer says nothing of it.
    pub fn get(&self, index: usize) -> Option<&MessageResult> {
        self.results.get(&index)
    }

    /// The results of messages the portal did not take (`SUCCESS: false`), each with its
    /// `ERRORS`.
    pub fn failures(&self) -> impl Iterator<Item = &MessageResult> + '_ {
        self.items().filter(|item| !item.success)
    }
}

#[cfg(test)]
mod tests {
    use crate::methods::SendMessages;
    use crate::transport::{Method, ResultError};
    use crate::types::MessagesResult;

    fn decode(result: serde_json::Value) -> Result<MessagesResult, ResultError> {
        SendMessages::decode_response(&result)
    }

    #[test]
    fn results_keep_each_messages_position_in_lists_and_sparse_objects() {
        let list = decode(serde_json::json!({
            "SUCCESS": true,
            "DATA": {"RESULT": [
                {"SUCCESS": true, "user": "585", "message": {"id": "m1", "date": {}}},
                {"SUCCESS": false, "ERRORS": ["Incomplete data"]}
            ]}
        }))
        .unwrap();
        assert!(list.success);
        assert_eq!(list.items().count(), 2);
        let failed: Vec<_> = list.failures().collect();
        assert_eq!(failed.len(), 1);
        assert_eq!(
            failed[0].errors.as_deref(),
            Some(&["Incomplete data".to_owned()][..])
        );
        assert!(list.get(1).is_some_and(|item| !item.success));

        let sparse = decode(serde_json::json!({
            "SUCCESS": true,
            "DATA": {"RESULT": {"1": {"SUCCESS": true, "user": 7}}}
        }))
        .unwrap();
        assert_eq!(sparse.items().count(), 1);
        assert!(sparse.get(0).is_none());
        assert!(sparse.get(1).is_some_and(|item| item.success));
    }

    #[test]
    fn an_old_servers_success_false_fails_the_call() {
        let old = decode(serde_json::json!({"SUCCESS": false, "DATA": []}));
        assert!(
            matches!(old, Err(ResultError::Soft(ref soft)) if soft.code == crate::soft_errors::SUCCESS_FALSE),
            "{old:?}"
        );
    }
}
