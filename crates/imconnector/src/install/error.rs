//! Why an install request was refused or failed, and the HTTP status that says so.

use axum::http::StatusCode;
use imconnector_transport::authorization::TokenEndpointError;
use imconnector_transport::portals::RegistryError;
use imconnector_transport::MemberId;

use crate::error::WorkflowError;

/// Why the installer refused or could not complete a request. Never contains a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The request does not have the documented shape: a missing or malformed field, an
    /// unexpected event or placement (400).
    #[error("malformed install request: {0}")]
    Malformed(String),
    /// The request could not be proven genuine: the OAuth server refused its tokens, their
    /// portal is not the one claimed, or a wrong application token or `state` (401).
    #[error("install request not proven: {0}")]
    Unproven(String),
    /// The tokens are genuine, but their user is not an administrator of the portal
    /// (`user.admin` said no): only an administrator may install the app or replace its
    /// tokens (403).
    #[error("only a portal administrator may install the app or replace its tokens")]
    NotAdministrator,
    /// The portal is not installed (an uninstall, settings page or code flow for it) (404).
    #[error("portal {0:?} is not installed")]
    NotInstalled(MemberId),
    /// The OAuth server could not be asked, so nothing could be proven (502).
    #[error("the OAuth server could not vouch for the request: {0}")]
    OAuthUnavailable(#[source] TokenEndpointError),
    /// The portal store holds as many started code-flow authorizations of other portals as it
    /// may (503); one expires within the authorization lifetime.
    #[error("too many authorizations are in progress; try again later")]
    TooManyAuthorizations,
    /// The portal registry or its store failed (500).
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The portal lists no open line to provision the connector on (409): create one, or
    /// name one with [`Installer::line`](super::Installer::line).
    #[error("the portal has no open line to connect the connector to")]
    NoOpenLine,
    /// The portal could not be called outside provisioning (its client could not be built,
    /// or listing its open lines failed) (502).
    #[error("calling the portal failed: {0}")]
    Portal(#[source] imconnector_transport::Error),
    /// The portal did not answer within the bound on proving a request with it (504): a settings
    /// page without `APPLICATION_TOKEN` whose `AUTH_ID` could not be checked in time.
    #[error("the portal did not answer within {0:?}")]
    PortalTimeout(std::time::Duration),
    /// Provisioning the connector on the portal failed (502); running the install again is safe.
    #[error("provisioning the connector failed: {0}")]
    Provision(#[from] WorkflowError),
}

impl InstallError {
    /// The HTTP status to answer.
    pub fn status(&self) -> StatusCode {
        match self {
            InstallError::Malformed(_) => StatusCode::BAD_REQUEST,
            InstallError::Unproven(_) => StatusCode::UNAUTHORIZED,
            InstallError::NotAdministrator => StatusCode::FORBIDDEN,
            InstallError::NotInstalled(_) => StatusCode::NOT_FOUND,
            InstallError::NoOpenLine => StatusCode::CONFLICT,
            InstallError::OAuthUnavailable(_)
            | InstallError::Portal(_)
            | InstallError::Provision(_) => StatusCode::BAD_GATEWAY,
            InstallError::Registry(_) => StatusCode::INTERNAL_SERVER_ERROR,
            InstallError::TooManyAuthorizations => StatusCode::SERVICE_UNAVAILABLE,
            InstallError::PortalTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// What the answer's body says: the reason for a 4xx (the caller's fault, and free of
    /// secrets), a generic line for a 5xx (details go to the log only).
    pub fn public_text(&self) -> String {
        if self.status().is_client_error() {
            self.to_string()
        } else {
            "the installation could not be completed; see the connector's log".to_owned()
        }
    }

    pub(crate) fn from_authorization(error: TokenEndpointError) -> Self {
        match error {
            TokenEndpointError::Refused {
                code, description, ..
            } => InstallError::Unproven(format!(
                "the OAuth server refused the tokens: {code} ({description})"
            )),
            other => InstallError::OAuthUnavailable(other),
        }
    }
}
