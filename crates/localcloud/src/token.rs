//! The operator token: the one credential of the `/cloud/v1` API.
//!
//! [`crate::Engine::open`] creates `<data-dir>/cloud.token` (mode 0600) with a random
//! token the first time, and reads it on later opens. Only its SHA-256 is kept in memory;
//! a presented token is hashed and compared in constant time.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// File name of the operator token inside the data directory.
pub const TOKEN_FILE: &str = "cloud.token";
const TOKEN_PREFIX: &str = "lpc_";

/// The hash of the operator token.
#[derive(Clone)]
pub(crate) struct OperatorToken {
    hash: [u8; 32],
    path: PathBuf,
}

impl std::fmt::Debug for OperatorToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperatorToken")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl OperatorToken {
    /// Read `<dir>/cloud.token`, creating it (0600) with a fresh random token if absent.
    pub(crate) fn load_or_create(dir: &Path) -> Result<Self> {
        let path = dir.join(TOKEN_FILE);
        let token = match std::fs::read_to_string(&path) {
            Ok(s) => {
                let t = s.trim().to_string();
                if t.is_empty() {
                    return Err(Error::Conflict(format!(
                        "{} is empty: delete it and restart to get a new operator token",
                        path.display()
                    )));
                }
                // Keep the file private even if someone loosened it.
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
                    .map_err(Error::io(format!("chmod 0600 {}", path.display())))?;
                t
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::create(&path)?,
            Err(e) => return Err(Error::io(format!("read {}", path.display()))(e)),
        };
        Ok(Self {
            hash: digest(&token),
            path,
        })
    }

    fn create(path: &Path) -> Result<String> {
        let bytes: [u8; 32] = rand::random();
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(bytes));
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(Error::io(format!("create {}", path.display())))?;
        f.write_all(format!("{token}\n").as_bytes())
            .map_err(Error::io(format!("write {}", path.display())))?;
        tracing::info!(path = %path.display(), "created the localcloud operator token");
        Ok(token)
    }

    /// Whether `presented` is the operator token (constant time over the hashes).
    pub(crate) fn verify(&self, presented: &str) -> bool {
        let other = digest(presented.trim());
        let diff = self
            .hash
            .iter()
            .zip(other.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        std::hint::black_box(diff) == 0
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_verified() {
        let dir = tempfile::tempdir().unwrap();
        let t = OperatorToken::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(TOKEN_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let token = std::fs::read_to_string(&path).unwrap().trim().to_string();
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() == 4 + 64);
        assert!(t.verify(&token));
        assert!(!t.verify(""));
        assert!(!t.verify(&token[..token.len() - 1]));
        assert!(!t.verify(&format!("{token}x")));
        // Second open keeps the same token.
        let again = OperatorToken::load_or_create(dir.path()).unwrap();
        assert!(again.verify(&token));
        // A loosened file is made private again.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        OperatorToken::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn empty_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TOKEN_FILE), "\n").unwrap();
        let e = OperatorToken::load_or_create(dir.path()).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }
}
