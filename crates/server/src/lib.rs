//! The cloudphone server: the OpenAPI over HTTP, the viewer pages, and the wiring of storage,
//! the device host and the stream gateway into one process.
//!
//! Data flows one way: a request passes [`auth`], its handler in [`api`] calls a service in
//! [`services`], which uses the store and the device host. A viewer's session goes from the
//! signalling handler to the gateway, whose upstream messages pass [`gate`] before the phone.

pub mod api;
pub mod auth;
pub mod credentials;
pub mod error;
pub mod gate;
pub mod metrics;
pub mod services;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use cloudphone_gateway::Gateway;
use cloudphone_host::DeviceHost;
use cloudphone_store::Store;
use tokio::net::TcpListener;

pub use credentials::Credentials;

/// How `cloudphone up` runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where the database, credentials and phone state live.
    pub data_dir: PathBuf,
    /// The HTTP listen address (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The database URL (`postgres://…`); `None` for the embedded SQLite file in `data_dir`.
    pub database: Option<String>,
    /// The key encrypting secrets at rest (64 hex digits); `None` for `data_dir/master.key`.
    pub master_key: Option<String>,
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Instance management.
    pub instances: Arc<services::Instances>,
    /// Viewer sessions.
    pub sessions: Arc<services::Sessions>,
    /// Tenant and key management.
    pub tenants: Arc<services::Tenants>,
    /// The base URL clients reach this server at.
    pub public_url: String,
    /// HTTP request counters.
    pub http_metrics: Arc<metrics::HttpMetrics>,
}

/// A running server.
pub struct Server {
    /// The bound HTTP address.
    pub addr: SocketAddr,
    /// The default tenant's credentials (also in `data_dir/credentials.json`).
    pub credentials: Credentials,
    /// Where the credentials file is.
    pub credentials_path: PathBuf,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Runs until the HTTP server stops (it only stops on an I/O error).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await??;
        Ok(())
    }

    /// Stops serving.
    pub fn abort(&self) {
        self.task.abort();
    }
}

/// Starts everything in this process: opens (or creates) the data directory, boots every
/// phone that was running, and serves the API. Returns once the server accepts connections.
pub async fn start(config: Config) -> anyhow::Result<Server> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| anyhow::anyhow!("cannot create data directory {}: {e}", config.data_dir.display()))?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    let public_url = format!("http://{addr}");

    let master = match &config.master_key {
        Some(hex_key) => {
            cloudphone_store::MasterKey::from_hex(hex_key).map_err(|e| anyhow::anyhow!("master key: {e}"))?
        }
        None => credentials::master_key(&config.data_dir)?,
    };
    let store = match &config.database {
        Some(url) => Store::open(url, master).await.map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?,
        None => Store::open_sqlite(&config.data_dir.join("cloudphone.db"), master).await?,
    };
    let credentials_path = config.data_dir.join(credentials::FILE_NAME);
    let credentials = credentials::bootstrap(&store, &credentials_path, &public_url).await?;

    let host = Arc::new(DeviceHost::new(&config.data_dir));
    // WebRTC media uses the API's interface; a wildcard listen address serves media on
    // loopback only until a public media address is configurable.
    let media_ip = if addr.ip().is_unspecified() { std::net::Ipv4Addr::LOCALHOST.into() } else { addr.ip() };
    let gateway = Arc::new(Gateway::new(media_ip));
    let instances = Arc::new(services::Instances::new(store.clone(), host.clone()));
    instances.boot_all().await?;
    let sessions = Arc::new(services::Sessions::new(store.clone(), host, gateway, public_url.clone()));

    let tenants = Arc::new(services::Tenants::new(store.clone()));
    let state = AppState { store, instances, sessions, tenants, public_url, http_metrics: Arc::default() };
    let app = api::router(state);
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    tracing::info!(%addr, "cloudphone is serving");
    Ok(Server { addr, credentials, credentials_path, task })
}
