//! The cloudphone server: the OpenAPI over HTTP, the viewer pages, and the wiring of storage,
//! the device host and the stream gateway into one process.
//!
//! Data flows one way: a request passes [`auth`], its handler in [`api`] calls a service in
//! [`services`], which uses the store and the device host. A viewer's session goes from the
//! signalling handler to the gateway, whose upstream messages pass [`gate`] before the phone.

pub mod api;
pub mod auth;
pub mod callbacks;
pub mod credentials;
pub mod error;
pub mod gate;
pub mod metrics;
pub mod openapi;
pub mod paging;
pub mod ratelimit;
pub mod services;
pub mod tasks;
mod web;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use cloudphone_gateway::Gateway;
use cloudphone_host::DeviceHost;
use cloudphone_store::Store;
use tokio::net::TcpListener;

pub use credentials::Credentials;

/// How many tasks run at once (each on its own phone).
pub const TASK_PARALLELISM: usize = 8;

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
    /// How fast each access key may call.
    pub rate_limit: ratelimit::RateLimit,
    /// How many viewer sessions may be open per phone and per tenant.
    pub session_limits: services::SessionLimits,
    /// Whether viewer sessions run TWCC bandwidth estimation besides the loss-based one.
    pub twcc: bool,
}

impl Config {
    /// The embedded default: SQLite and the master key in `data_dir`, the default rate limit.
    pub fn new(data_dir: PathBuf, listen: SocketAddr) -> Config {
        Config {
            data_dir,
            listen,
            database: None,
            master_key: None,
            rate_limit: ratelimit::RateLimit::default(),
            session_limits: services::SessionLimits::default(),
            twcc: false,
        }
    }
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
    /// Asynchronous operations.
    pub tasks: Arc<tasks::Tasks>,
    /// Callback configuration and delivery log.
    pub callbacks: Arc<callbacks::Callbacks>,
    /// The callback dispatcher (for its counters).
    pub dispatcher: Arc<cloudphone_callbacks::Dispatcher>,
    /// The base URL clients reach this server at.
    pub public_url: String,
    /// HTTP request counters.
    pub http_metrics: Arc<metrics::HttpMetrics>,
    /// Per-key request budgets.
    pub rate_limiter: Arc<ratelimit::RateLimiter>,
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
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Runs until the HTTP server stops (it only stops on an I/O error).
    pub async fn wait(self) -> anyhow::Result<()> {
        self.task.await??;
        Ok(())
    }

    /// Stops serving, running tasks and delivering callbacks (what was under way is resumed by
    /// the next start on the same data).
    pub fn abort(&self) {
        self.task.abort();
        for handle in &self.background {
            handle.abort();
        }
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
    let gateway = Arc::new(Gateway::new(media_ip).with_twcc(config.twcc));
    let instances = Arc::new(services::Instances::new(store.clone(), host.clone()));
    instances.boot_all().await?;
    let sessions =
        Arc::new(services::Sessions::new(store.clone(), host, gateway, public_url.clone(), config.session_limits));

    let tenants = Arc::new(services::Tenants::new(store.clone()));

    // Tasks left by a previous process are settled before anything new is accepted.
    let spool = config.data_dir.join("spool");
    let runner = Arc::new(tasks::TaskRunner::new(instances.clone(), spool.clone()));
    let engine = cloudphone_tasks::Engine::new(store.clone(), runner, TASK_PARALLELISM);
    let engine_handle = engine.start().await.map_err(|e| anyhow::anyhow!("resuming tasks: {e}"))?;
    let tasks = Arc::new(tasks::Tasks::new(engine, spool));
    let dispatcher = cloudphone_callbacks::Dispatcher::new(store.clone());
    let dispatcher_handle = dispatcher.start();
    let callbacks = Arc::new(callbacks::Callbacks::new(store.clone()));

    let state = AppState {
        store,
        instances,
        sessions,
        tenants,
        tasks,
        callbacks,
        dispatcher,
        public_url,
        http_metrics: Arc::default(),
        rate_limiter: Arc::new(ratelimit::RateLimiter::new(config.rate_limit)),
    };
    let app = api::router(state);
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    tracing::info!(%addr, "cloudphone is serving");
    Ok(Server { addr, credentials, credentials_path, task, background: vec![engine_handle, dispatcher_handle] })
}
