//! `rediss://`: TLS with rustls, trusting the system's root certificates or the CA certificates
//! given to [`RedisBackendBuilder::tls_root_certificates`](crate::RedisBackendBuilder::tls_root_certificates).

use std::fmt;

use redis::{ConnectionAddr, IntoConnectionInfo, TlsCertificates};
use rustls_pki_types::{pem::PemObject, CertificateDer};

use crate::error::RedisBackendError;

/// CA certificates (PEM) a `rediss://` connection trusts instead of the system's roots.
#[derive(Clone)]
pub(crate) struct TlsRoots {
    pem: Vec<u8>,
}

impl TlsRoots {
    pub(crate) fn new(pem: Vec<u8>) -> Self {
        Self { pem }
    }

    /// How many certificates the PEM holds; an error names the setting when it holds none or
    /// cannot be read.
    fn count(&self) -> Result<usize, RedisBackendError> {
        let invalid = |reason: String| RedisBackendError::InvalidSetting {
            name: "tls_root_certificates",
            reason,
        };
        let mut count = 0;
        for certificate in CertificateDer::pem_slice_iter(&self.pem) {
            certificate.map_err(|error| invalid(format!("not PEM certificates ({error})")))?;
            count += 1;
        }
        if count == 0 {
            return Err(invalid("holds no PEM certificate".to_owned()));
        }
        Ok(count)
    }
}

impl fmt::Debug for TlsRoots {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "TlsRoots({} bytes of PEM)", self.pem.len())
    }
}

/// The client library's client for `url`: TLS for `rediss://`, with `roots` when given.
pub(crate) fn client(
    url: &str,
    roots: Option<&TlsRoots>,
) -> Result<redis::Client, RedisBackendError> {
    let invalid_url = |error: redis::RedisError| RedisBackendError::InvalidUrl {
        kind: format!("{:?}", error.kind()),
    };
    let info = url.into_connection_info().map_err(invalid_url)?;
    let tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. });
    if tls {
        ensure_crypto_provider();
    }
    match roots {
        None => redis::Client::open(info).map_err(invalid_url),
        Some(_) if !tls => Err(RedisBackendError::InvalidSetting {
            name: "tls_root_certificates",
            reason: "needs a `rediss://` URL".to_owned(),
        }),
        Some(roots) => {
            roots.count()?;
            let certificates = TlsCertificates {
                client_tls: None,
                root_cert: Some(roots.pem.clone()),
            };
            redis::Client::build_with_tls(info, certificates).map_err(invalid_url)
        }
    }
}

/// The client library builds its TLS configuration on the process's default rustls provider
/// and panics when there is none and the build enables several. When the application chose
/// none, install the one the transport's HTTPS (reqwest) uses; if another thread installs one
/// first, that one serves as well.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn roots_need_a_rediss_url_and_real_certificates() {
        let garbage = TlsRoots::new(b"not a certificate".to_vec());
        let error = client("rediss://localhost:6380/", Some(&garbage)).unwrap_err();
        assert!(
            error.to_string().contains("tls_root_certificates"),
            "{error}"
        );
        let error = client("redis://localhost:6379/", Some(&garbage)).unwrap_err();
        assert!(error.to_string().contains("rediss://"), "{error}");
        assert!(client("rediss://localhost:6380/", None).is_ok());
    }
}
