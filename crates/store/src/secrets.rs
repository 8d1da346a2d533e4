//! Secrets at rest: access-key secrets are stored encrypted (AES-256-GCM) under a master key
//! the database never holds, so a copy of the database alone signs no request. HMAC
//! verification needs the secret itself, so it is encrypted, not hashed.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

/// The prefix of an encrypted value (versioned, so the scheme can change).
const PREFIX: &str = "enc:v1:";

/// The key that encrypts secrets.
#[derive(Clone)]
pub struct MasterKey {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// Why a secret could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The master key is not 64 hex digits.
    #[error("the master key must be 64 hex digits (32 bytes)")]
    BadKey,
    /// The stored value does not decrypt: another master key, or damaged data.
    #[error("a stored secret does not decrypt with this master key (wrong CLOUDPHONE_MASTER_KEY or master.key?)")]
    Undecryptable,
}

impl MasterKey {
    /// A new random key.
    pub fn generate() -> MasterKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        MasterKey::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8; 32]) -> MasterKey {
        MasterKey { cipher: Aes256Gcm::new(bytes.into()) }
    }

    /// A key from its hex form.
    pub fn from_hex(text: &str) -> Result<MasterKey, SecretError> {
        let bytes: [u8; 32] =
            hex::decode(text.trim()).ok().and_then(|b| b.try_into().ok()).ok_or(SecretError::BadKey)?;
        Ok(MasterKey::from_bytes(&bytes))
    }

    /// Encrypts a secret for storage (a fresh nonce each time).
    pub fn seal(&self, plain: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self.cipher.encrypt(&Nonce::from(nonce), plain.as_bytes()).expect("AES-GCM encrypts any length");
        format!("{PREFIX}{}{}", hex::encode(nonce), hex::encode(sealed))
    }

    /// Decrypts a stored secret.
    pub fn open(&self, stored: &str) -> Result<String, SecretError> {
        let body = stored.strip_prefix(PREFIX).ok_or(SecretError::Undecryptable)?;
        let bytes = hex::decode(body).map_err(|_| SecretError::Undecryptable)?;
        if bytes.len() < 12 + 16 {
            return Err(SecretError::Undecryptable);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce = Nonce::try_from(nonce).map_err(|_| SecretError::Undecryptable)?;
        let plain = self.cipher.decrypt(&nonce, sealed).map_err(|_| SecretError::Undecryptable)?;
        String::from_utf8(plain).map_err(|_| SecretError::Undecryptable)
    }

    /// Whether a stored value is already encrypted.
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refuse() {
        let key = MasterKey::generate();
        let sealed = key.seal("top secret");
        assert!(MasterKey::is_sealed(&sealed) && !sealed.contains("top secret"));
        assert_ne!(key.seal("top secret"), sealed, "a fresh nonce each time");
        assert_eq!(key.open(&sealed).unwrap(), "top secret");
        assert_eq!(MasterKey::generate().open(&sealed), Err(SecretError::Undecryptable));
        // Change the last hex digit to a different one (never a no-op).
        let mut damaged = sealed.clone();
        let last = damaged.pop().unwrap();
        damaged.push(if last == '0' { '1' } else { '0' });
        assert_eq!(key.open(&damaged), Err(SecretError::Undecryptable));
        assert_eq!(key.open("plain"), Err(SecretError::Undecryptable));
        assert_eq!(MasterKey::from_hex("abc").unwrap_err(), SecretError::BadKey);
        let hex_key = "11".repeat(32);
        let a = MasterKey::from_hex(&hex_key).unwrap();
        assert_eq!(MasterKey::from_hex(&hex_key).unwrap().open(&a.seal("x")).unwrap(), "x");
    }
}
