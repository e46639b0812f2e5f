//! Finishing half-done provisioning at start-up: a portal stored by an installation whose
//! provisioning failed (or whose process died in the middle) is provisioned again. The
//! portal never resends ONAPPINSTALL, so nothing else would finish it.

use imconnector_transport::portals::PortalStore;
use imconnector_transport::MemberId;

use super::{InstallError, Installer};
use crate::log_text::untrusted;

/// What [`Installer::reconcile`] found and did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Reconciled {
    /// Portals provisioned already (nothing done).
    pub provisioned: usize,
    /// Portals whose provisioning was finished now.
    pub finished: Vec<MemberId>,
    /// Portals whose provisioning failed again, with why (try again later).
    pub failed: Vec<(MemberId, InstallError)>,
}

impl<S: PortalStore> Installer<S> {
    /// Provisions the connector on every stored portal not marked provisioned: run it at
    /// start-up (and now and then), on any replica; provisioning is idempotent, so two
    /// replicas reconciling at once do no harm.
    ///
    /// # Errors
    /// [`InstallError::Registry`] when the store cannot list its portals. A portal that fails
    /// is reported in [`Reconciled::failed`] and the others are still tried.
    pub async fn reconcile(&self) -> Result<Reconciled, InstallError> {
        let mut reconciled = Reconciled::default();
        for member_id in self.registry.portals().await? {
            match self.registry.record(&member_id).await {
                Ok(Some(record)) if record.provisioned => reconciled.provisioned += 1,
                // Listed but gone (uninstalled meanwhile): nothing to finish.
                Ok(None) => {}
                Ok(Some(_)) => match self.provision(&member_id).await {
                    Ok(_) => {
                        tracing::info!(member_id = %untrusted(&member_id), "unfinished provisioning finished");
                        reconciled.finished.push(member_id);
                    }
                    Err(error) => {
                        tracing::warn!(member_id = %untrusted(&member_id), error = %untrusted(&error), "provisioning still fails");
                        reconciled.failed.push((member_id, error));
                    }
                },
                Err(error) => reconciled.failed.push((member_id, error.into())),
            }
        }
        Ok(reconciled)
    }
}
