//! HTTPS (feature `tls`): a certificate authority and a server certificate made at start, or
//! a certificate and key read from files, served with rustls on the ring provider.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// Where the emulator's certificate comes from.
#[derive(Debug, Clone)]
pub(crate) enum TlsSource {
    /// Made at start for `127.0.0.1`, `localhost` and the advertised host; the CA's PEM is
    /// written to `ca_file` (or a file in the temporary directory).
    Generated { ca_file: Option<PathBuf> },
    /// A PEM certificate chain and a PEM private key.
    Files { cert: PathBuf, key: PathBuf },
}

/// A ready TLS server side plus the PEM a client should trust.
pub(crate) struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    /// The CA certificate (generated) or the given certificate chain, PEM.
    pub(crate) trust_pem: String,
}

/// Builds the TLS side. `names` are the DNS names and IP addresses the generated certificate
/// must cover.
pub(crate) fn build(source: &TlsSource, names: &[String]) -> Result<Tls, String> {
    let (chain, key, trust_pem) = match source {
        TlsSource::Generated { .. } => generate(names)?,
        TlsSource::Files { cert, key } => read_files(cert, key)?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS setup: {error}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| format!("TLS certificate refused: {error}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Tls {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        trust_pem,
    })
}

type Material = (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String);

fn generate(names: &[String]) -> Result<Material, String> {
    let failed = |error: rcgen::Error| format!("could not generate the TLS certificate: {error}");
    let now = time::OffsetDateTime::now_utc();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(failed)?;
    let mut ca_name = DistinguishedName::new();
    ca_name.push(DnType::CommonName, "imconnector-emulator local CA");
    ca_params.distinguished_name = ca_name;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = now - time::Duration::days(1);
    ca_params.not_after = now + time::Duration::days(365);
    let ca_key = KeyPair::generate().map_err(failed)?;
    let ca_cert = ca_params.self_signed(&ca_key).map_err(failed)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let mut leaf_params = CertificateParams::new(names.to_vec()).map_err(failed)?;
    let mut leaf_name = DistinguishedName::new();
    leaf_name.push(DnType::CommonName, "imconnector-emulator");
    leaf_params.distinguished_name = leaf_name;
    leaf_params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.not_before = now - time::Duration::days(1);
    leaf_params.not_after = now + time::Duration::days(365);
    let leaf_key = KeyPair::generate().map_err(failed)?;
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(failed)?;

    let key = PrivateKeyDer::try_from(leaf_key.serialize_der())
        .map_err(|error| format!("could not encode the TLS key: {error}"))?;
    let chain = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    Ok((chain, key, ca_cert.pem()))
}

fn read_files(cert: &Path, key: &Path) -> Result<Material, String> {
    let trust_pem = std::fs::read_to_string(cert)
        .map_err(|error| format!("cannot read {}: {error}", cert.display()))?;
    let chain = CertificateDer::pem_slice_iter(trust_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| format!("{}: not a PEM certificate: {error}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{}: no certificate in it", cert.display()));
    }
    // The error never quotes the file's content, so the key cannot leak through it.
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| format!("{}: not a PEM private key: {error}", key.display()))?;
    Ok((chain, key, trust_pem))
}

/// Writes the PEM clients should trust; a file made here is the caller's to remove.
pub(crate) fn write_trust_file(pem: &str, path: &Path) -> Result<(), String> {
    std::fs::write(path, pem).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// The default place of the generated CA: the temporary directory, named after the process
/// and the port so parallel emulators do not collide.
pub(crate) fn default_ca_file(port: u16) -> PathBuf {
    std::env::temp_dir().join(format!(
        "imconnector-emulator-{}-{port}-ca.pem",
        std::process::id()
    ))
}
