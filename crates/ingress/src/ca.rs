//! The installation's certificate authority.
//!
//! `serve` creates it on first start in its data directory (`ca.pem`, and `ca.key` with mode
//! 0600) and reuses it afterwards, so agents can pin one bundle (`GET /v1/ca.pem`,
//! `linkplane ca`). It issues short server certificates for host names such as
//! `<clusterId>.external.<baseDomain>`.
//!
//! The CA's subject is fixed, so the issuer is rebuilt from the stored key alone: no X.509
//! parsing is needed to reload it.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

const CA_CERT_FILE: &str = "ca.pem";
const CA_KEY_FILE: &str = "ca.key";
const CA_COMMON_NAME: &str = "linkplane local CA";

#[derive(Debug, thiserror::Error)]
pub enum CaError {
    #[error("CA file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("CA key {path} is not a valid PEM private key: {source}")]
    BadKey {
        path: PathBuf,
        #[source]
        source: rcgen::Error,
    },
    #[error("{path} exists but {missing} does not; remove both to create a new CA")]
    HalfPresent { path: PathBuf, missing: PathBuf },
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
}

/// A certificate and its private key, PEM and DER.
pub struct IssuedCert {
    pub cert_pem: String,
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl std::fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCert")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"<redacted>")
            .finish()
    }
}

/// The certificate authority of one installation.
pub struct Ca {
    cert_pem: String,
    cert_der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca")
            .field("cert_pem", &self.cert_pem)
            .finish()
    }
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_COMMON_NAME);
    dn.push(DnType::OrganizationName, "linkplane");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = rcgen::date_time_ymd(2024, 1, 1);
    params.not_after = rcgen::date_time_ymd(2049, 12, 31);
    params
}

impl Ca {
    /// Load the CA from `dir`, or create it there on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, CaError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let key_path = dir.join(CA_KEY_FILE);
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => Self::load(&cert_path, &key_path),
            (false, false) => Self::create(dir, &cert_path, &key_path),
            (true, false) => Err(CaError::HalfPresent {
                path: cert_path,
                missing: key_path,
            }),
            (false, true) => Err(CaError::HalfPresent {
                path: key_path,
                missing: cert_path,
            }),
        }
    }

    fn load(cert_path: &Path, key_path: &Path) -> Result<Self, CaError> {
        let cert_pem = read(cert_path)?;
        let key_pem = read(key_path)?;
        let key = KeyPair::from_pem(&key_pem).map_err(|source| CaError::BadKey {
            path: key_path.to_path_buf(),
            source,
        })?;
        let cert_der = first_cert_der(&cert_pem).ok_or_else(|| CaError::Io {
            path: cert_path.to_path_buf(),
            source: std::io::Error::other("no PEM certificate in file"),
        })?;
        Ok(Self {
            cert_pem,
            cert_der,
            issuer: Issuer::new(ca_params(), key),
        })
    }

    fn create(dir: &Path, cert_path: &Path, key_path: &Path) -> Result<Self, CaError> {
        fs::create_dir_all(dir).map_err(|source| CaError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let key = KeyPair::generate()?;
        let params = ca_params();
        let cert = params.self_signed(&key)?;
        write_private(key_path, &key.serialize_pem())?;
        write_public(cert_path, &cert.pem())?;
        tracing::info!(path = %cert_path.display(), "created the installation CA");
        Ok(Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }

    /// The CA certificate (the bundle clients trust), PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// Issue a server certificate for `names` (DNS names or IP addresses), valid for a year.
    pub fn issue(&self, names: &[String]) -> Result<IssuedCert, CaError> {
        let mut params = CertificateParams::new(names.to_vec())?;
        let mut dn = DistinguishedName::new();
        if let Some(first) = names.first() {
            dn.push(DnType::CommonName, first.as_str());
        }
        params.distinguished_name = dn;
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = std::time::SystemTime::now();
        params.not_before = (now - std::time::Duration::from_secs(3600)).into();
        params.not_after = (now + std::time::Duration::from_secs(365 * 24 * 3600)).into();
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        })
    }

    /// A rustls server configuration presenting a fresh certificate for `names`
    /// (chain: leaf, CA), HTTP/1.1 and HTTP/2 by ALPN.
    pub fn server_config(&self, names: &[String]) -> Result<Arc<rustls::ServerConfig>, CaError> {
        let issued = self.issue(names)?;
        let chain = vec![issued.cert_der.clone(), self.cert_der.clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(issued.key_der.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// A root store holding only this CA, for clients.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        // A certificate we generated ourselves always parses.
        let _ = roots.add(self.cert_der.clone());
        roots
    }
}

fn first_cert_der(pem: &str) -> Option<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .next()
        .and_then(Result::ok)
}

fn read(path: &Path) -> Result<String, CaError> {
    fs::read_to_string(path).map_err(|source| CaError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write_private(path: &Path, contents: &str) -> Result<(), CaError> {
    let io = |source| CaError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?;
    f.write_all(contents.as_bytes()).map_err(io)?;
    f.sync_all().map_err(io)
}

fn write_public(path: &Path, contents: &str) -> Result<(), CaError> {
    let io = |source| CaError::Io {
        path: path.to_path_buf(),
        source,
    };
    fs::write(path, contents).map_err(io)?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn created_once_then_reused_with_a_private_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = Ca::load_or_create(dir.path()).unwrap();
        let b = Ca::load_or_create(dir.path()).unwrap();
        assert_eq!(a.cert_pem(), b.cert_pem(), "second start must reuse the CA");
        let mode = fs::metadata(dir.path().join(CA_KEY_FILE)).unwrap().mode() & 0o777;
        assert_eq!(mode, 0o600, "CA key must be readable by its owner only");
        assert!(!format!("{a:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn half_present_ca_is_refused_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        Ca::load_or_create(dir.path()).unwrap();
        fs::remove_file(dir.path().join(CA_KEY_FILE)).unwrap();
        let err = Ca::load_or_create(dir.path()).unwrap_err();
        assert!(err.to_string().contains("remove both"), "{err}");
    }

    #[test]
    fn issued_certificate_verifies_against_the_reloaded_ca() {
        use rustls::client::danger::ServerCertVerifier;
        let dir = tempfile::tempdir().unwrap();
        let host = "cl0abc.external.linkplane.test".to_string();
        let leaf = {
            let ca = Ca::load_or_create(dir.path()).unwrap();
            ca.issue(std::slice::from_ref(&host)).unwrap()
        };
        // Verify with a CA loaded afresh from disk: the issuer rebuilt from the key must
        // match the stored certificate.
        let ca = Ca::load_or_create(dir.path()).unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(ca.root_store()),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        let now = rustls::pki_types::UnixTime::now();
        let name = rustls::pki_types::ServerName::try_from(host.clone()).unwrap();
        verifier
            .verify_server_cert(&leaf.cert_der, &[], &name, &[], now)
            .expect("leaf verifies for its host name");
        let other = rustls::pki_types::ServerName::try_from("evil.example").unwrap();
        assert!(
            verifier
                .verify_server_cert(&leaf.cert_der, &[], &other, &[], now)
                .is_err(),
            "leaf must not verify for another host name"
        );
        // A CA from another installation does not validate it.
        let dir2 = tempfile::tempdir().unwrap();
        let stranger = Ca::load_or_create(dir2.path()).unwrap();
        let v2 = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(stranger.root_store()),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        assert!(
            v2.verify_server_cert(&leaf.cert_der, &[], &name, &[], now)
                .is_err()
        );
    }
}
