//! The portal's plan, learned once from `app.info`, so that each portal is paced by its own
//! bucket (`limits.md`: Enterprise 250 + 5/s, every other plan 50 + 2/s) without configuration.

use serde_json::Value;
use tracing::Instrument;

use crate::{
    call::Call, method::AuthKind, policy::RateLimit, result_reader::Success, shared::Shared,
};

impl Shared {
    /// Asks `app.info` once, within one request timeout, and paces by the plan it names; any
    /// failure (no answer, a refusal, an unknown shape) keeps [`RateLimit::Standard`], the
    /// bucket every plan has at least.
    pub(crate) async fn learn_plan(&self) -> RateLimit {
        let call = Call {
            method: "app.info",
            auth: AuthKind::OAuthOrWebhook,
            idempotent: true,
            params: "{}".to_owned(),
        };
        let request_id = self.next_request_id();
        let span = tracing::info_span!("imconnector_plan", request_id = %request_id);
        let asked = tokio::time::timeout(
            self.request_timeout,
            self.run(&call, &request_id, span.clone(), None),
        )
        .instrument(span)
        .await;
        let plan = match asked {
            Ok(Ok((Success::Text(response), _))) => {
                serde_json::from_str::<Value>(response.result.get())
                    .ok()
                    .and_then(|info| plan_of(&info))
            }
            // An untyped call gives no reader: its `result` is always text.
            Ok(Ok((Success::Read(_), _))) => None,
            Ok(Err(error)) => {
                tracing::info!(%error, "app.info failed; pacing by the standard bucket");
                None
            }
            Err(_) => {
                tracing::info!("app.info did not answer in time; pacing by the standard bucket");
                None
            }
        };
        let plan = plan.unwrap_or(RateLimit::Standard);
        tracing::debug!(?plan, "the portal's plan");
        self.pacer.adopt(plan);
        plan
    }
}

/// The bucket of the plan `app.info` names: `LICENSE_FAMILY` (`ent`), else `LICENSE_TYPE`
/// (`ent250`), else `LICENSE` (`en_ent250`); `None` when it names none.
pub(crate) fn plan_of(info: &Value) -> Option<RateLimit> {
    let text = |key: &str| {
        info.get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
    };
    let family = text("LICENSE_FAMILY")
        .or_else(|| text("LICENSE_TYPE"))
        .or_else(|| text("LICENSE").map(|license| license.rsplit('_').next().unwrap_or(license)))?;
    Some(if family.to_ascii_lowercase().starts_with("ent") {
        RateLimit::Enterprise
    } else {
        RateLimit::Standard
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::plan_of;
    use crate::policy::RateLimit;

    #[test]
    fn enterprise_only_when_app_info_says_so() {
        for enterprise in [
            json!({"LICENSE_FAMILY": "ent", "LICENSE_TYPE": "ent250"}),
            json!({"LICENSE_TYPE": "ent500"}),
            json!({"LICENSE": "de_ent250"}),
        ] {
            assert_eq!(
                plan_of(&enterprise),
                Some(RateLimit::Enterprise),
                "{enterprise}"
            );
        }
        for standard in [
            json!({"LICENSE_FAMILY": "pro", "LICENSE_TYPE": "pro100"}),
            json!({"LICENSE": "en_basic"}),
            json!({"LICENSE_FAMILY": "nfr"}),
        ] {
            assert_eq!(plan_of(&standard), Some(RateLimit::Standard), "{standard}");
        }
        assert_eq!(plan_of(&json!({"CODE": "app"})), None);
        assert_eq!(plan_of(&json!([])), None);
    }
}
