//! The services behind the API handlers: instances (store + device host) and viewer sessions
//! (tokens + gateway). Handlers stay thin; tenancy is enforced here, once.

use std::collections::BTreeSet;
use std::sync::Arc;

use cloudphone_device::ShellOutput;
use cloudphone_gateway::Gateway;
use cloudphone_host::{DeviceHost, Phone};
use cloudphone_protocol::api::{Instance, SessionGrant};
use cloudphone_protocol::control::InputCategory;
use cloudphone_protocol::{ApiError, ErrorCode, InstanceStatus};
use cloudphone_store::{InstanceRow, SessionTokenRow, Store, now_millis};
use sha2::{Digest, Sha256};

use crate::credentials::random_hex;
use crate::error::{HttpError, HttpResult};
use crate::gate::GatedPhone;

/// The most instances one create call makes.
pub const MAX_CREATE_COUNT: u32 = 100;
/// How long a session token stays valid.
pub const SESSION_TOKEN_TTL_MS: i64 = 10 * 60 * 1000;

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

fn instance_from_row(row: &InstanceRow) -> Instance {
    let status = InstanceStatus::parse(&row.status).unwrap_or(InstanceStatus::Abnormal);
    Instance {
        id: row.id.clone(),
        status,
        pad_status: status.vmos_code(),
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

fn not_found(id: &str) -> HttpError {
    ApiError::with_message(ErrorCode::InstanceNotFound, format!("instance {id} does not exist")).into()
}

/// Instance management.
pub struct Instances {
    store: Store,
    host: Arc<DeviceHost>,
}

impl Instances {
    /// The service over a store and a host.
    pub fn new(store: Store, host: Arc<DeviceHost>) -> Instances {
        Instances { store, host }
    }

    /// Boots every stored instance that is not stopped (at process start).
    pub async fn boot_all(&self) -> anyhow::Result<()> {
        for row in self.store.all_instances().await? {
            if row.status == InstanceStatus::Stopped.as_str() {
                continue;
            }
            self.boot(&row.id).await?;
        }
        Ok(())
    }

    async fn boot(&self, id: &str) -> Result<(), cloudphone_store::StoreError> {
        let status = match self.host.boot(id) {
            Ok(_) => InstanceStatus::Running,
            Err(e) => {
                tracing::error!(instance = id, error = %e, "boot failed");
                InstanceStatus::Abnormal
            }
        };
        self.store.set_instance_status(id, status.as_str(), now_millis()).await
    }

    /// Creates and boots `count` phones for a tenant.
    pub async fn create(&self, tenant: &str, count: u32) -> HttpResult<Vec<Instance>> {
        if count == 0 || count > MAX_CREATE_COUNT {
            return Err(ApiError::with_message(
                ErrorCode::InvalidParameter,
                format!("count must be between 1 and {MAX_CREATE_COUNT}, got {count}"),
            )
            .into());
        }
        let mut created = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let now = now_millis();
            let row = InstanceRow {
                id: format!("cp-{}", random_hex(8)),
                tenant_id: tenant.to_owned(),
                status: InstanceStatus::Booting.as_str().to_owned(),
                created_at: now,
                updated_at: now,
            };
            // Stored before it boots, so a crash never leaves a phone nobody knows of.
            self.store.insert_instance(&row).await?;
            self.boot(&row.id).await?;
            created.push(self.get(tenant, &row.id).await?);
        }
        Ok(created)
    }

    /// A tenant's instances.
    pub async fn list(&self, tenant: &str) -> HttpResult<Vec<Instance>> {
        Ok(self.store.list_instances(tenant).await?.iter().map(instance_from_row).collect())
    }

    /// One of a tenant's instances.
    pub async fn get(&self, tenant: &str, id: &str) -> HttpResult<Instance> {
        let row = self.store.instance(tenant, id).await?.ok_or_else(|| not_found(id))?;
        Ok(instance_from_row(&row))
    }

    /// Deletes an instance and all it stored.
    pub async fn delete(&self, tenant: &str, id: &str) -> HttpResult<()> {
        if !self.store.delete_instance(tenant, id).await? {
            return Err(not_found(id));
        }
        self.host.destroy(id)?;
        Ok(())
    }

    /// The host's counters, for metrics.
    pub fn host_stats(&self) -> cloudphone_host::HostStats {
        self.host.stats()
    }

    /// The running phone of one of a tenant's instances.
    pub async fn phone(&self, tenant: &str, id: &str) -> HttpResult<Arc<Phone>> {
        self.get(tenant, id).await?;
        Ok(self.host.phone(id)?)
    }

    /// Runs a shell command line on a phone.
    pub async fn shell(&self, tenant: &str, id: &str, command: String) -> HttpResult<ShellOutput> {
        if command.trim().is_empty() {
            return Err(ErrorCode::ShellEmptyCommand.into());
        }
        let phone = self.phone(tenant, id).await?;
        blocking(move || phone.shell(&command)).await?.map_err(HttpError::from)
    }

    /// The phone's screen as PNG.
    pub async fn screenshot(&self, tenant: &str, id: &str) -> HttpResult<Vec<u8>> {
        let phone = self.phone(tenant, id).await?;
        blocking(move || phone.screenshot().to_png()).await
    }
}

/// Runs device work (rendering, encoding, file writes) off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> HttpResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::with_message(ErrorCode::Internal, format!("device task failed: {e}")).into())
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Viewer sessions.
pub struct Sessions {
    store: Store,
    host: Arc<DeviceHost>,
    gateway: Arc<Gateway>,
    public_url: String,
}

impl Sessions {
    /// The service.
    pub fn new(store: Store, host: Arc<DeviceHost>, gateway: Arc<Gateway>, public_url: String) -> Sessions {
        Sessions { store, host, gateway, public_url }
    }

    /// Issues a session token for a running phone of the tenant.
    pub async fn create(
        &self,
        instances: &Instances,
        tenant: &str,
        instance_id: &str,
        allow: Option<Vec<InputCategory>>,
    ) -> HttpResult<SessionGrant> {
        instances.phone(tenant, instance_id).await?;
        let allow: BTreeSet<InputCategory> = allow.unwrap_or_else(|| InputCategory::ALL.to_vec()).into_iter().collect();
        let token = random_hex(32);
        let expires_at = now_millis() + SESSION_TOKEN_TTL_MS;
        let row = SessionTokenRow {
            instance_id: instance_id.to_owned(),
            tenant_id: tenant.to_owned(),
            expires_at,
            allow: allow.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(","),
        };
        self.store.insert_session_token(&token_hash(&token), &row).await?;
        Ok(SessionGrant {
            instance_id: instance_id.to_owned(),
            view_url: format!("{}/view#token={token}", self.public_url),
            signalling_url: format!("{}/v1/signalling/offer", self.public_url),
            session_token: token,
            expires_at: rfc3339(expires_at),
            allow: allow.into_iter().collect(),
        })
    }

    /// Viewer sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.gateway.open_sessions()
    }

    /// Answers a viewer's SDP offer for the phone its token opens.
    pub async fn answer(&self, token: &str, offer_sdp: &str) -> HttpResult<(String, String)> {
        let row = self
            .store
            .session_token(&token_hash(token), now_millis())
            .await?
            .ok_or(HttpError::from(ErrorCode::SessionTokenInvalid))?;
        let phone = self.host.phone(&row.instance_id)?;
        let allow = row
            .allow
            .split(',')
            .filter_map(|name| InputCategory::ALL.iter().copied().find(|c| c.as_str() == name))
            .collect();
        let link = Arc::new(GatedPhone::new(phone, allow));
        let answer = self.gateway.accept(offer_sdp, link).await.map_err(ApiError::from)?;
        Ok((row.instance_id, answer))
    }
}
