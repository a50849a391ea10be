//! Secrets at rest: every document secret is sealed with AES-256-GCM under the
//! installation's secrets key before it reaches the database, and opened again only by
//! [`crate::Store::get_secret`]. No caller ever handles ciphertext.
//!
//! Stored form: `v1.<base64(nonce ‖ ciphertext ‖ tag)>` — the version prefix lets the
//! scheme change; the nonce is random per secret (96 bits); the document id is the
//! associated data, so a ciphertext copied to another row fails to open.
//!
//! The key is 32 random bytes, kept hex-encoded in a key file created 0600 (by default
//! `<data-dir>/secrets.key`). A database holding sealed secrets never gets a new key
//! silently: a missing key file is then a startup error.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom as _, SystemRandom};
use secrecy::zeroize::Zeroizing;
pub use secrecy::{ExposeSecret, SecretString};

use crate::StoreError;

/// File name of the default secrets key inside the data directory.
pub const SECRETS_KEY_FILE: &str = "secrets.key";

/// The version prefix of the current sealing scheme.
const V1: &str = "v1.";

const KEY_LEN: usize = 32;

/// Why the secrets key could not be loaded or created. Never contains key material.
#[derive(Debug, thiserror::Error)]
pub enum SecretsKeyError {
    #[error(
        "the secrets key file {path} is missing, but the database holds {rows} encrypted secret(s): restore the key file (or pass it with --secrets-key-file); a new key cannot decrypt them"
    )]
    Missing { path: PathBuf, rows: i64 },
    #[error("cannot read the secrets key file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create the secrets key file {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the secrets key file {path} is not valid: it must hold 64 hexadecimal characters")]
    Malformed { path: PathBuf },
    #[error("cannot generate a random secrets key")]
    Random,
}

/// The installation's secrets key (AES-256-GCM). Its `Debug` never shows the key.
pub struct SecretsKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsKey(<redacted>)")
    }
}

impl SecretsKey {
    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).ok()?;
        Some(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    /// A fresh random key (kept in memory only: for tests and throwaway stores).
    pub fn generate() -> Result<Self, SecretsKeyError> {
        let bytes = random_key()?;
        Self::from_bytes(bytes.as_slice()).ok_or(SecretsKeyError::Random)
    }

    /// Read the key file at `path`.
    pub fn load(path: &Path) -> Result<Self, SecretsKeyError> {
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
            SecretsKeyError::Read {
                path: path.to_owned(),
                source,
            }
        })?);
        let malformed = || SecretsKeyError::Malformed {
            path: path.to_owned(),
        };
        let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| malformed())?);
        if bytes.len() != KEY_LEN {
            return Err(malformed());
        }
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "the secrets key file is readable by others; chmod 600 it");
        }
        Self::from_bytes(bytes.as_slice()).ok_or_else(malformed)
    }

    /// Create a new key file at `path` (0600; fails if the file exists).
    pub fn create(path: &Path) -> Result<Self, SecretsKeyError> {
        let bytes = random_key()?;
        let err = |source| SecretsKeyError::Create {
            path: path.to_owned(),
            source,
        };
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(err)?;
        let text = Zeroizing::new(format!("{}\n", hex::encode(bytes.as_slice())));
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        tracing::info!(path = %path.display(), "created the secrets key");
        Self::from_bytes(bytes.as_slice()).ok_or(SecretsKeyError::Random)
    }

    /// Seal `plaintext` for the document `id`.
    pub(crate) fn seal(&self, id: &str, plaintext: &SecretString) -> Result<String, StoreError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| StoreError::Secret("cannot generate a nonce".into()))?;
        let mut buf = Zeroizing::new(plaintext.expose_secret().as_bytes().to_vec());
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(id.as_bytes()),
                &mut *buf,
            )
            .map_err(|_| StoreError::Secret("cannot encrypt the secret".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&buf);
        Ok(format!(
            "{V1}{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(out)
        ))
    }

    /// Open what [`SecretsKey::seal`] made for the document `id`.
    pub(crate) fn open(&self, id: &str, stored: &str) -> Result<SecretString, StoreError> {
        let bad = || {
            StoreError::Secret(format!(
                "the secret of {id} cannot be decrypted with this secrets key (wrong key, or the row was tampered with)"
            ))
        };
        let Some(b64) = stored.strip_prefix(V1) else {
            return Err(StoreError::Secret(format!(
                "the secret of {id} uses an unknown encryption scheme"
            )));
        };
        let raw = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(b64)
            .map_err(|_| bad())?;
        if raw.len() < NONCE_LEN {
            return Err(bad());
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| bad())?;
        let mut buf = Zeroizing::new(sealed.to_vec());
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(id.as_bytes()), &mut buf)
            .map_err(|_| bad())?;
        let s = std::str::from_utf8(plain).map_err(|_| bad())?;
        Ok(SecretString::from(s))
    }
}

fn random_key() -> Result<Zeroizing<[u8; KEY_LEN]>, SecretsKeyError> {
    let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
    SystemRandom::new()
        .fill(&mut *bytes)
        .map_err(|_| SecretsKeyError::Random)?;
    Ok(bytes)
}

/// Where the secrets key comes from when a store opens.
#[derive(Debug, Clone, Default)]
pub enum KeySource {
    /// `<data-dir>/secrets.key`, created on first start.
    #[default]
    DataDir,
    /// This file (created 0600 if missing and the database holds no sealed secret).
    File(PathBuf),
}

impl KeySource {
    pub(crate) fn path(&self, data_dir: &Path) -> PathBuf {
        match self {
            Self::DataDir => data_dir.join(SECRETS_KEY_FILE),
            Self::File(p) => p.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_round_trip_and_bound_to_the_id() {
        let k = SecretsKey::generate().unwrap();
        let s = SecretString::from("distinctive_key_123");
        let a = k.seal("vpn_a", &s).unwrap();
        let b = k.seal("vpn_a", &s).unwrap();
        assert!(a.starts_with("v1."));
        assert_ne!(a, b, "a random nonce per secret");
        assert!(!a.contains("distinctive"));
        assert_eq!(
            k.open("vpn_a", &a).unwrap().expose_secret(),
            "distinctive_key_123"
        );
        let moved = k.open("vpn_b", &a).unwrap_err().to_string();
        assert!(moved.contains("cannot be decrypted"), "{moved}");
        let other = SecretsKey::generate().unwrap();
        assert!(other.open("vpn_a", &a).is_err());
        assert!(k.open("vpn_a", "v9.abc").is_err());
        assert!(!format!("{k:?}").contains(&hex::encode([0u8; 4])));
        assert_eq!(format!("{k:?}"), "SecretsKey(<redacted>)");
    }

    #[test]
    fn key_file_is_0600_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let k = SecretsKey::create(&p).unwrap();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let sealed = k.seal("x", &SecretString::from("abcdefgh")).unwrap();
        let again = SecretsKey::load(&p).unwrap();
        assert_eq!(
            again.open("x", &sealed).unwrap().expose_secret(),
            "abcdefgh"
        );
        assert!(SecretsKey::create(&p).is_err(), "never overwrites a key");
        std::fs::write(&p, "nothex").unwrap();
        assert!(matches!(
            SecretsKey::load(&p),
            Err(SecretsKeyError::Malformed { .. })
        ));
    }
}
