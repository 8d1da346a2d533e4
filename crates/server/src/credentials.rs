//! The default tenant and its key pair, created on first start and written to
//! `credentials.json` (mode 0600) for the CLI and for the developer.

use std::path::Path;

use rand::RngCore;
use serde::{Deserialize, Serialize};

use cloudphone_store::{AccessKey, Store};

/// The credentials file name inside the data directory.
pub const FILE_NAME: &str = "credentials.json";

/// What the credentials file holds.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Credentials {
    /// The access key id.
    pub access_key: String,
    /// The signing secret.
    pub secret_key: String,
    /// The API's base URL.
    pub api_url: String,
    /// The tenant the key belongs to.
    pub tenant_id: String,
}

/// `len` random bytes as lowercase hex.
pub fn random_hex(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A fresh key pair for a tenant.
pub fn new_key(tenant_id: &str) -> AccessKey {
    AccessKey {
        access_key: format!("AK{}", random_hex(10).to_uppercase()),
        tenant_id: tenant_id.to_owned(),
        secret_key: random_hex(32),
        created_at: cloudphone_store::now_millis(),
    }
}

/// Ensures a default tenant exists and writes its credentials with the current `api_url`.
pub async fn bootstrap(store: &Store, path: &Path, api_url: &str) -> anyhow::Result<Credentials> {
    let key = match store.first_access_key().await? {
        Some(key) => key,
        // Tenants exist but every key was disabled: the oldest tenant gets a fresh one.
        None if let Some(oldest) = store.tenants().await?.into_iter().next() => {
            let key = new_key(&oldest.id);
            store.add_key(&key).await?;
            key
        }
        None => {
            let key = new_key(&format!("tn-{}", random_hex(8)));
            store.create_tenant(&key.tenant_id, "default", &key).await?;
            tracing::info!(tenant = %key.tenant_id, "created the default tenant");
            key
        }
    };
    // The tenant whose keys `up` hands out administers the deployment.
    store.set_admin(&key.tenant_id, true).await?;
    let credentials = Credentials {
        access_key: key.access_key,
        secret_key: key.secret_key,
        api_url: api_url.to_owned(),
        tenant_id: key.tenant_id,
    };
    write_private(path, &serde_json::to_vec_pretty(&credentials)?)?;
    Ok(credentials)
}

/// The master key file name inside the data directory.
pub const MASTER_KEY_FILE: &str = "master.key";

/// The key that encrypts secrets at rest: read from `data_dir/master.key`, created (mode 0600)
/// on first start. Every server sharing a database must use the same one.
pub fn master_key(data_dir: &Path) -> anyhow::Result<cloudphone_store::MasterKey> {
    let path = data_dir.join(MASTER_KEY_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            cloudphone_store::MasterKey::from_hex(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let hex_key = random_hex(32);
            write_private(&path, hex_key.as_bytes())?;
            Ok(cloudphone_store::MasterKey::from_hex(&hex_key).expect("64 hex digits"))
        }
        Err(e) => Err(anyhow::anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// Writes a file only its owner can read.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
