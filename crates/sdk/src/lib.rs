//! Rust client of the cloudphone OpenAPI. Every request is signed with the access key pair as
//! `docs/api-signing.md` describes; errors come back typed, with the catalogue's code.
//!
//! ```no_run
//! # async fn demo() -> Result<(), cloudphone_sdk::ClientError> {
//! let client = cloudphone_sdk::Client::new("http://127.0.0.1:8080", "AK...", "secret");
//! let phone = &client.create_instances(1).await?[0];
//! let out = client.shell(&phone.id, "getprop ro.product.model").await?;
//! println!("{}", out.stdout);
//! # Ok(()) }
//! ```

use cloudphone_protocol::api::{
    AppInfo, AppList, CallbackRequest, CallbackView, CatalogueCountry, CatalogueModel, ChangeReport, CreateInstances,
    CreateSession, CreatedInstances, DeliveryList, DeliveryView, FileListing, FileWritten, Instance, InstanceList,
    LocaleRequest, NewDevice, PropertiesPatch, PropertiesView, SessionGrant, ShellRequest, ShellResult, StartApp,
    StartedApp, WifiList, WifiNetwork,
};
use cloudphone_protocol::error::ErrorBody;
use cloudphone_protocol::signing::{
    HEADER_ACCESS_KEY, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP, SignedRequest, canonical_query_from_pairs,
    encode_component,
};
use cloudphone_protocol::task::{BatchRequest, TaskList};
use cloudphone_protocol::{ErrorCode, TaskStatus, TaskView};
use rand::RngCore;
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use cloudphone_protocol::{api, callback, control, task};

#[cfg(feature = "viewer")]
pub mod viewer;

/// Told how many bytes of an upload have gone out so far.
pub type UploadProgress = std::sync::Arc<dyn Fn(u64) + Send + Sync>;

/// Uploads stream in pieces of this size (each reported to the [`UploadProgress`]).
const UPLOAD_CHUNK: usize = 64 * 1024;

/// How long the convenience methods wait for their task (creating, restarting, installing…).
pub const TASK_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error from its catalogue.
    #[error("{code}: {message} (HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// Catalogue code, e.g. `instance.not_found`.
        code: String,
        /// Message.
        message: String,
    },
    /// The server could not be reached or the exchange broke.
    #[error("cannot reach the cloudphone API: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server answered something that is not the documented shape.
    #[error("unexpected response: {0}")]
    Decode(String),
}

impl ClientError {
    /// The catalogue code, for API errors.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Low-level overrides of what a request is signed with (for testing the server's checks).
#[derive(Clone, Debug, Default)]
pub struct SigningOverride {
    /// Use this timestamp instead of now.
    pub timestamp: Option<i64>,
    /// Use this nonce instead of a fresh random one.
    pub nonce: Option<String>,
    /// Sign with this secret instead of the client's.
    pub secret_key: Option<String>,
}

/// An API client.
#[derive(Clone, Debug)]
pub struct Client {
    base_url: String,
    access_key: String,
    secret_key: String,
    http: reqwest::Client,
}

/// A request body as JSON.
fn json<B: Serialize>(body: &B) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(body).map_err(|e| ClientError::Decode(e.to_string()))
}

fn fresh_nonce() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Client {
    /// A client of the API at `base_url` (e.g. `http://127.0.0.1:8080`).
    pub fn new(base_url: impl Into<String>, access_key: impl Into<String>, secret_key: impl Into<String>) -> Client {
        Client {
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            http: reqwest::Client::new(),
        }
    }

    /// The API's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends a signed request with a JSON body and returns the raw response (errors mapped).
    pub async fn send_signed(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
        signing: &SigningOverride,
    ) -> Result<reqwest::Response, ClientError> {
        self.send(method, path, query, body, "application/json", signing).await
    }

    /// Sends a signed request with a body of any type.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
        content_type: &str,
        signing: &SigningOverride,
    ) -> Result<reqwest::Response, ClientError> {
        self.send_with_progress(method, path, query, body, content_type, signing, None).await
    }

    /// [`Client::send`], reporting how many bytes of the body have gone out as it streams.
    #[allow(clippy::too_many_arguments)]
    async fn send_with_progress(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Vec<u8>,
        content_type: &str,
        signing: &SigningOverride,
        progress: Option<UploadProgress>,
    ) -> Result<reqwest::Response, ClientError> {
        let timestamp = signing.timestamp.unwrap_or_else(unix_now).to_string();
        let nonce = signing.nonce.clone().unwrap_or_else(fresh_nonce);
        let canonical = canonical_query_from_pairs(query.iter().copied());
        let signature = SignedRequest {
            method: method.as_str(),
            path,
            canonical_query: &canonical,
            timestamp: &timestamp,
            nonce: &nonce,
            body: &body,
        }
        .sign(signing.secret_key.as_deref().unwrap_or(&self.secret_key));
        let query_string: Vec<String> =
            query.iter().map(|(k, v)| format!("{}={}", encode_component(k), encode_component(v))).collect();
        let url = if query_string.is_empty() {
            format!("{}{path}", self.base_url)
        } else {
            format!("{}{path}?{}", self.base_url, query_string.join("&"))
        };
        let mut request = self
            .http
            .request(method, url)
            .header(HEADER_ACCESS_KEY, &self.access_key)
            .header(HEADER_TIMESTAMP, timestamp)
            .header(HEADER_NONCE, nonce)
            .header(HEADER_SIGNATURE, signature);
        if !body.is_empty() {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
            request = match progress {
                None => request.body(body),
                Some(progress) => {
                    let length = body.len();
                    let shared = bytes::Bytes::from(body);
                    let chunks = (0..length).step_by(UPLOAD_CHUNK).map(move |start| {
                        let end = (start + UPLOAD_CHUNK).min(length);
                        progress(end as u64);
                        Ok::<_, std::io::Error>(shared.slice(start..end))
                    });
                    request
                        .header(reqwest::header::CONTENT_LENGTH, length)
                        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
                }
            };
        }
        successful(request.send().await?).await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let body = body.map(json).transpose()?.unwrap_or_default();
        let response = self.send_signed(method, path, &[], body, &SigningOverride::default()).await?;
        Self::decode(response).await
    }

    /// A signed call whose answer has no body (204).
    async fn call_empty<B: Serialize>(&self, method: Method, path: &str, body: Option<&B>) -> Result<(), ClientError> {
        let body = body.map(json).transpose()?.unwrap_or_default();
        self.send_signed(method, path, &[], body, &SigningOverride::default()).await?;
        Ok(())
    }

    /// Creates `count` default phones.
    pub async fn create_instances(&self, count: u32) -> Result<Vec<Instance>, ClientError> {
        self.create_instances_with(&CreateInstances { count: Some(count), ..Default::default() }).await
    }

    /// Creates phones of a chosen model and country, and waits until they run.
    pub async fn create_instances_with(&self, request: &CreateInstances) -> Result<Vec<Instance>, ClientError> {
        let created = self.submit_create(request).await?;
        let task = self.wait_task(&created.task.id, TASK_WAIT).await?;
        Self::task_result::<serde_json::Value>(&task)?;
        let mut instances = Vec::with_capacity(created.instances.len());
        for instance in &created.instances {
            instances.push(self.instance(&instance.id).await?);
        }
        Ok(instances)
    }

    /// Starts creating phones and returns at once: the phones (booting) and the task to follow.
    pub async fn submit_create(&self, request: &CreateInstances) -> Result<CreatedInstances, ClientError> {
        self.call(Method::POST, "/v1/instances", Some(request)).await
    }

    /// A task.
    pub async fn task(&self, id: &str) -> Result<TaskView, ClientError> {
        self.call::<(), _>(Method::GET, &format!("/v1/tasks/{}", encode_component(id)), None).await
    }

    /// Waits up to `timeout` for a task to end (long-polling the server a minute at a time) and
    /// returns it as it is then.
    pub async fn wait_task(&self, id: &str, timeout: std::time::Duration) -> Result<TaskView, ClientError> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now()).as_secs().min(60);
            let path = format!("/v1/tasks/{}", encode_component(id));
            let response = self.get_with(&path, &[("wait", &left.to_string())]).await?;
            let task: TaskView = Self::decode(response).await?;
            if task.status.is_final() || left == 0 {
                return Ok(task);
            }
        }
    }

    /// A page of tasks, newest first. `filters` are `status`, `kind`, `instance_id`, `parent_id`.
    pub async fn tasks(
        &self,
        filters: &[(&str, &str)],
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<TaskList, ClientError> {
        self.get_page("/v1/tasks", filters, cursor, limit).await
    }

    /// One page of a list: `filters`, then `limit` and the `cursor` of the page before.
    async fn get_page<T: DeserializeOwned>(
        &self,
        path: &str,
        filters: &[(&str, &str)],
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<T, ClientError> {
        let limit = limit.to_string();
        let mut query: Vec<(&str, &str)> = filters.to_vec();
        query.push(("limit", &limit));
        query.extend(cursor.map(|c| ("cursor", c)));
        Self::decode(self.get_with(path, &query).await?).await
    }

    /// A signed GET with a query.
    async fn get_with(&self, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Response, ClientError> {
        self.send_signed(Method::GET, path, query, Vec::new(), &SigningOverride::default()).await
    }

    /// Cancels a pending task (or a batch's pending children).
    pub async fn cancel_task(&self, id: &str) -> Result<TaskView, ClientError> {
        self.call::<(), _>(Method::POST, &format!("/v1/tasks/{}/cancel", encode_component(id)), None).await
    }

    /// Starts one operation over many phones; returns the batch task at once.
    pub async fn batch(&self, request: &BatchRequest) -> Result<TaskView, ClientError> {
        self.call(Method::POST, "/v1/batch", Some(request)).await
    }

    /// Starts a task on one phone (`action` is the path under the instance, e.g. `restart`) and
    /// returns it at once.
    pub async fn submit_task<B: Serialize>(
        &self,
        id: &str,
        action: &str,
        body: Option<&B>,
    ) -> Result<TaskView, ClientError> {
        self.call(Method::POST, &Self::instance_path(id, action), body).await
    }

    /// What a finished task produced, or its error as a [`ClientError::Api`] with the
    /// catalogue's code (`task.timeout`, `task.cancelled`, `task.batch_failed`, `task.not_ended`, or
    /// the operation's own).
    pub fn task_result<T: DeserializeOwned>(task: &TaskView) -> Result<T, ClientError> {
        let failure = |code: &str, message: &str| ClientError::Api {
            status: ErrorCode::from_code(code).map(|c| c.http_status()).unwrap_or(500),
            code: code.to_owned(),
            message: message.to_owned(),
        };
        match (task.status, &task.error) {
            (TaskStatus::Done, _) => serde_json::from_value(task.result.clone().unwrap_or(serde_json::Value::Null))
                .map_err(|e| ClientError::Decode(format!("task {} result: {e}", task.id))),
            (_, Some(error)) => Err(failure(&error.code, &error.message)),
            // Every ended task other than a done one carries its error; so this one is running.
            (status, None) => Err(failure(
                ErrorCode::TaskNotEnded.code(),
                &format!("task {} is {} (VMOS {})", task.id, status.as_str(), status.vmos_code()),
            )),
        }
    }

    /// Sets the callback URL (and secret; a random one when `None`). The answer holds the
    /// secret: the only time it is shown.
    pub async fn set_callback(&self, url: &str, secret: Option<&str>) -> Result<CallbackView, ClientError> {
        let request = CallbackRequest { url: url.to_owned(), secret: secret.map(str::to_owned) };
        self.call(Method::PUT, "/v1/callback", Some(&request)).await
    }

    /// The callback URL.
    pub async fn callback(&self) -> Result<CallbackView, ClientError> {
        self.call::<(), _>(Method::GET, "/v1/callback", None).await
    }

    /// Removes the callback URL.
    pub async fn delete_callback(&self) -> Result<(), ClientError> {
        self.call_empty::<()>(Method::DELETE, "/v1/callback", None).await
    }

    /// Sends a `ping` event to the callback URL; returns its delivery.
    pub async fn test_callback(&self) -> Result<DeliveryView, ClientError> {
        self.call::<(), _>(Method::POST, "/v1/callback/test", None).await
    }

    /// A page of callback deliveries, newest first, optionally of one status.
    pub async fn deliveries(
        &self,
        status: Option<&str>,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<DeliveryList, ClientError> {
        let filters: Vec<(&str, &str)> = status.map(|s| ("status", s)).into_iter().collect();
        self.get_page("/v1/callback/deliveries", &filters, cursor, limit).await
    }

    /// One delivery with its attempt log.
    pub async fn delivery(&self, id: &str) -> Result<DeliveryView, ClientError> {
        self.call::<(), _>(Method::GET, &format!("/v1/callback/deliveries/{}", encode_component(id)), None).await
    }

    /// Queues a delivery's event again.
    pub async fn redeliver(&self, id: &str) -> Result<DeliveryView, ClientError> {
        let path = format!("/v1/callback/deliveries/{}/redeliver", encode_component(id));
        self.call::<(), _>(Method::POST, &path, None).await
    }

    /// Every item of a paged list: follows `next_cursor` until the last page.
    async fn all_pages<T: DeserializeOwned>(&self, path: &str, field: &str) -> Result<Vec<T>, ClientError> {
        let mut all = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut page: serde_json::Value = self.get_page(path, &[], cursor.as_deref(), 500).await?;
            let items = serde_json::from_value::<Vec<T>>(page[field].take())
                .map_err(|e| ClientError::Decode(format!("{path}: {e}")))?;
            all.extend(items);
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return Ok(all),
            }
        }
    }

    /// Runs a task to its end and returns its result.
    async fn run_task<T: DeserializeOwned>(&self, submitted: TaskView) -> Result<T, ClientError> {
        let task =
            if submitted.status.is_final() { submitted } else { self.wait_task(&submitted.id, TASK_WAIT).await? };
        Self::task_result(&task)
    }

    fn instance_path(id: &str, action: &str) -> String {
        format!("/v1/instances/{}/{action}", encode_component(id))
    }

    /// Reboots a phone (pending `ro.*` changes take effect).
    pub async fn restart(&self, id: &str) -> Result<Instance, ClientError> {
        let task = self.submit_task::<()>(id, "restart", None).await?;
        self.run_task(task).await
    }

    /// Shuts a phone down, keeping its state.
    pub async fn stop(&self, id: &str) -> Result<Instance, ClientError> {
        let task = self.submit_task::<()>(id, "stop", None).await?;
        self.run_task(task).await
    }

    /// Boots a stopped phone.
    pub async fn start(&self, id: &str) -> Result<Instance, ClientError> {
        let task = self.submit_task::<()>(id, "start", None).await?;
        self.run_task(task).await
    }

    /// Factory reset: user data is wiped, the identity stays.
    pub async fn reset(&self, id: &str) -> Result<Instance, ClientError> {
        let task = self.submit_task::<()>(id, "reset", None).await?;
        self.run_task(task).await
    }

    /// "One-key new device": a fresh identity.
    pub async fn new_device(&self, id: &str, request: &NewDevice) -> Result<Instance, ClientError> {
        let task = self.submit_task(id, "new-device", Some(request)).await?;
        self.run_task(task).await
    }

    /// The phone's identity and properties.
    pub async fn properties(&self, id: &str) -> Result<PropertiesView, ClientError> {
        self.call::<(), _>(Method::GET, &Self::instance_path(id, "properties"), None).await
    }

    /// Changes properties, modem and settings, all or nothing.
    pub async fn patch_properties(&self, id: &str, patch: &PropertiesPatch) -> Result<ChangeReport, ClientError> {
        self.call(Method::PATCH, &Self::instance_path(id, "properties"), Some(patch)).await
    }

    /// Replaces the Wi-Fi list.
    pub async fn set_wifi(&self, id: &str, networks: Vec<WifiNetwork>) -> Result<ChangeReport, ClientError> {
        self.call(Method::PUT, &Self::instance_path(id, "wifi"), Some(&WifiList { networks })).await
    }

    /// Sets locale and/or time zone.
    pub async fn set_locale(&self, id: &str, request: &LocaleRequest) -> Result<ChangeReport, ClientError> {
        self.call(Method::PUT, &Self::instance_path(id, "locale"), Some(request)).await
    }

    async fn decode<T: DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
        let bytes = response.bytes().await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Decode(format!("{e}: {}", String::from_utf8_lossy(&bytes))))
    }

    /// Installs (or updates) an APK.
    pub async fn install_app(&self, id: &str, apk: Vec<u8>) -> Result<AppInfo, ClientError> {
        self.install_app_with_progress(id, apk, None).await
    }

    /// Installs (or updates) an APK, reporting the bytes uploaded so far to `progress`.
    pub async fn install_app_with_progress(
        &self,
        id: &str,
        apk: Vec<u8>,
        progress: Option<UploadProgress>,
    ) -> Result<AppInfo, ClientError> {
        let path = Self::instance_path(id, "apps");
        let content_type = "application/vnd.android.package-archive";
        let signing = SigningOverride::default();
        let response = self.send_with_progress(Method::POST, &path, &[], apk, content_type, &signing, progress).await?;
        self.run_task(Self::decode(response).await?).await
    }

    /// The installed apps and the one in front.
    pub async fn apps(&self, id: &str) -> Result<AppList, ClientError> {
        self.call::<(), _>(Method::GET, &Self::instance_path(id, "apps"), None).await
    }

    fn app_path(id: &str, package: &str, action: &str) -> String {
        let base = Self::instance_path(id, &format!("apps/{}", encode_component(package)));
        if action.is_empty() { base } else { format!("{base}/{action}") }
    }

    /// Brings an app to the front (its launcher activity unless one is named).
    pub async fn start_app(&self, id: &str, package: &str, activity: Option<&str>) -> Result<StartedApp, ClientError> {
        let request = StartApp { activity: activity.map(str::to_owned) };
        self.run_task(self.call(Method::POST, &Self::app_path(id, package, "start"), Some(&request)).await?).await
    }

    /// Force-stops an app.
    pub async fn stop_app(&self, id: &str, package: &str) -> Result<(), ClientError> {
        let task = self.call::<(), _>(Method::POST, &Self::app_path(id, package, "stop"), None).await?;
        self.run_task::<serde_json::Value>(task).await.map(|_| ())
    }

    /// Stops an app, then starts it.
    pub async fn restart_app(&self, id: &str, package: &str) -> Result<StartedApp, ClientError> {
        self.run_task(self.call::<(), _>(Method::POST, &Self::app_path(id, package, "restart"), None).await?).await
    }

    /// Deletes an app's data.
    pub async fn clear_app(&self, id: &str, package: &str) -> Result<(), ClientError> {
        let task = self.call::<(), _>(Method::POST, &Self::app_path(id, package, "clear"), None).await?;
        self.run_task::<serde_json::Value>(task).await.map(|_| ())
    }

    /// Uninstalls an app.
    pub async fn uninstall_app(&self, id: &str, package: &str) -> Result<(), ClientError> {
        let task = self.call::<(), _>(Method::DELETE, &Self::app_path(id, package, ""), None).await?;
        self.run_task::<serde_json::Value>(task).await.map(|_| ())
    }

    /// A path in the phone and, for a folder, its entries.
    pub async fn list_files(&self, id: &str, path: &str) -> Result<FileListing, ClientError> {
        Self::decode(self.get_with(&Self::instance_path(id, "files"), &[("path", path)]).await?).await
    }

    /// A file's bytes.
    pub async fn read_file(&self, id: &str, path: &str) -> Result<Vec<u8>, ClientError> {
        let response = self.get_with(&Self::instance_path(id, "files/content"), &[("path", path)]).await?;
        Ok(response.bytes().await?.to_vec())
    }

    /// Writes a file (missing folders are made).
    pub async fn write_file(&self, id: &str, path: &str, data: Vec<u8>) -> Result<FileWritten, ClientError> {
        self.write_file_with_progress(id, path, data, None).await
    }

    /// Writes a file, reporting the bytes uploaded so far to `progress`.
    pub async fn write_file_with_progress(
        &self,
        id: &str,
        path: &str,
        data: Vec<u8>,
        progress: Option<UploadProgress>,
    ) -> Result<FileWritten, ClientError> {
        let response = self
            .send_with_progress(
                Method::PUT,
                &Self::instance_path(id, "files"),
                &[("path", path)],
                data,
                "application/octet-stream",
                &SigningOverride::default(),
                progress,
            )
            .await?;
        self.run_task(Self::decode(response).await?).await
    }

    /// Removes a file, or a folder (and its contents when `recursive`).
    pub async fn remove_file(&self, id: &str, path: &str, recursive: bool) -> Result<(), ClientError> {
        let recursive = if recursive { "true" } else { "false" };
        self.send_signed(
            Method::DELETE,
            &Self::instance_path(id, "files"),
            &[("path", path), ("recursive", recursive)],
            Vec::new(),
            &SigningOverride::default(),
        )
        .await?;
        Ok(())
    }

    /// Sets the phone's location (VMOS `gpsInjectInfo`).
    pub async fn set_location(
        &self,
        id: &str,
        fix: &cloudphone_protocol::control::LocationFix,
    ) -> Result<(), ClientError> {
        self.call_empty(Method::PUT, &Self::instance_path(id, "location"), Some(fix)).await
    }

    /// The phone's current location.
    pub async fn location(&self, id: &str) -> Result<cloudphone_protocol::api::LocationStatus, ClientError> {
        self.call::<(), _>(Method::GET, &Self::instance_path(id, "location"), None).await
    }

    /// Sets the phone's clipboard.
    pub async fn set_clipboard(&self, id: &str, text: &str) -> Result<(), ClientError> {
        let body = cloudphone_protocol::api::ClipboardText { text: text.to_owned() };
        self.call_empty(Method::PUT, &Self::instance_path(id, "clipboard"), Some(&body)).await
    }

    /// The phone's clipboard text.
    pub async fn clipboard(&self, id: &str) -> Result<String, ClientError> {
        let clip: cloudphone_protocol::api::ClipboardText =
            self.call::<(), _>(Method::GET, &Self::instance_path(id, "clipboard"), None).await?;
        Ok(clip.text)
    }

    /// Feeds sensor readings.
    pub async fn send_sensors(
        &self,
        id: &str,
        readings: Vec<cloudphone_protocol::control::SensorReading>,
    ) -> Result<(), ClientError> {
        let body = cloudphone_protocol::api::SensorReadings { readings };
        self.call_empty(Method::POST, &Self::instance_path(id, "sensors"), Some(&body)).await
    }

    /// The latest reading of each sensor.
    pub async fn sensors(&self, id: &str) -> Result<Vec<cloudphone_protocol::api::SensorStatus>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Sensors {
            sensors: Vec<cloudphone_protocol::api::SensorStatus>,
        }
        Ok(self.call::<(), Sensors>(Method::GET, &Self::instance_path(id, "sensors"), None).await?.sensors)
    }

    /// Plays a sensor CSV or GPX route into the phone.
    pub async fn play(
        &self,
        id: &str,
        request: &cloudphone_protocol::api::PlaybackRequest,
    ) -> Result<cloudphone_protocol::api::PlaybackStatus, ClientError> {
        self.call(Method::POST, &Self::instance_path(id, "playback"), Some(request)).await
    }

    /// The current (or last) playback.
    pub async fn playback(&self, id: &str) -> Result<Option<cloudphone_protocol::api::PlaybackStatus>, ClientError> {
        #[derive(serde::Deserialize)]
        struct Wrapper {
            playback: Option<cloudphone_protocol::api::PlaybackStatus>,
        }
        Ok(self.call::<(), Wrapper>(Method::GET, &Self::instance_path(id, "playback"), None).await?.playback)
    }

    /// Stops the playback.
    pub async fn stop_playback(&self, id: &str) -> Result<(), ClientError> {
        self.call_empty::<()>(Method::DELETE, &Self::instance_path(id, "playback"), None).await
    }

    /// Shows a PNG or JPEG picture, or loops an H.264 Annex B video at 30 fps, as the phone's
    /// camera source (VMOS `injectPicture`).
    pub async fn inject_picture(
        &self,
        id: &str,
        picture: Vec<u8>,
    ) -> Result<cloudphone_protocol::api::CameraStatus, ClientError> {
        let response = self
            .send(
                Method::PUT,
                &Self::instance_path(id, "camera"),
                &[],
                picture,
                "application/octet-stream",
                &SigningOverride::default(),
            )
            .await?;
        Self::decode(response).await
    }

    /// Turns an injected picture off.
    pub async fn clear_camera(&self, id: &str) -> Result<(), ClientError> {
        self.call_empty::<()>(Method::DELETE, &Self::instance_path(id, "camera"), None).await
    }

    /// What the camera has received.
    pub async fn camera(&self, id: &str) -> Result<cloudphone_protocol::api::CameraStatus, ClientError> {
        self.call::<(), _>(Method::GET, &Self::instance_path(id, "camera"), None).await
    }

    /// Stops feeding a file into the microphone.
    pub async fn stop_audio(&self, id: &str) -> Result<(), ClientError> {
        self.call_empty::<()>(Method::DELETE, &Self::instance_path(id, "microphone"), None).await
    }

    /// Feeds a 16-bit PCM WAV file into the microphone (VMOS `injectAudioToMic`).
    pub async fn inject_audio(
        &self,
        id: &str,
        wav: Vec<u8>,
        looped: bool,
    ) -> Result<cloudphone_protocol::api::MicrophoneStatus, ClientError> {
        let query = [("loop", if looped { "true" } else { "false" })];
        let response = self
            .send(
                Method::PUT,
                &Self::instance_path(id, "microphone"),
                &query,
                wav,
                "audio/wav",
                &SigningOverride::default(),
            )
            .await?;
        Self::decode(response).await
    }

    /// What the microphone hears.
    pub async fn microphone(&self, id: &str) -> Result<cloudphone_protocol::api::MicrophoneStatus, ClientError> {
        self.call::<(), _>(Method::GET, &Self::instance_path(id, "microphone"), None).await
    }

    /// The last `ms` milliseconds of what the phone played, as a WAV file.
    pub async fn record_audio(&self, id: &str, ms: u32) -> Result<Vec<u8>, ClientError> {
        let ms = ms.to_string();
        let response = self.get_with(&Self::instance_path(id, "audio"), &[("ms", &ms)]).await?;
        Ok(response.bytes().await?.to_vec())
    }

    /// Creates a tenant with its first key (admin tenants only). The secret is shown once.
    pub async fn create_tenant(&self, name: &str) -> Result<cloudphone_protocol::api::CreatedTenant, ClientError> {
        let body = cloudphone_protocol::api::CreateTenant { name: name.to_owned() };
        self.call(Method::POST, "/v1/admin/tenants", Some(&body)).await
    }

    /// Every tenant (admin tenants only).
    pub async fn tenants(&self) -> Result<Vec<cloudphone_protocol::api::TenantInfo>, ClientError> {
        self.all_pages("/v1/admin/tenants", "tenants").await
    }

    /// Adds a key pair to a tenant (admin tenants only). The secret is shown once.
    pub async fn add_key(&self, tenant_id: &str) -> Result<cloudphone_protocol::api::NewKey, ClientError> {
        let path = format!("/v1/admin/tenants/{}/keys", encode_component(tenant_id));
        self.call::<(), _>(Method::POST, &path, None).await
    }

    /// A tenant's keys, without secrets (admin tenants only).
    pub async fn keys(&self, tenant_id: &str) -> Result<Vec<cloudphone_protocol::api::KeyInfo>, ClientError> {
        self.all_pages(&format!("/v1/admin/tenants/{}/keys", encode_component(tenant_id)), "keys").await
    }

    /// Disables a key (admin tenants only).
    pub async fn disable_key(&self, access_key: &str) -> Result<(), ClientError> {
        let path = format!("/v1/admin/keys/{}/disable", encode_component(access_key));
        self.call_empty::<()>(Method::POST, &path, None).await
    }

    /// Replaces a key with a new one for the same tenant and disables the old (admin only).
    pub async fn rotate_key(&self, access_key: &str) -> Result<cloudphone_protocol::api::NewKey, ClientError> {
        let path = format!("/v1/admin/keys/{}/rotate", encode_component(access_key));
        self.call::<(), _>(Method::POST, &path, None).await
    }

    /// Revokes a session token (VMOS `clearStsToken`): it opens no new session.
    pub async fn revoke_session(&self, session_token: &str) -> Result<(), ClientError> {
        let body = cloudphone_protocol::api::RevokeSession { session_token: session_token.to_owned() };
        self.call_empty(Method::POST, "/v1/sessions/revoke", Some(&body)).await
    }

    /// The device models phones can be created as.
    pub async fn catalogue_models(&self) -> Result<Vec<CatalogueModel>, ClientError> {
        self.all_pages("/v1/catalogue/models", "models").await
    }

    /// The countries phones can come from.
    pub async fn catalogue_countries(&self) -> Result<Vec<CatalogueCountry>, ClientError> {
        self.all_pages("/v1/catalogue/countries", "countries").await
    }

    /// Lists all the tenant's phones, following every page.
    pub async fn list_instances(&self) -> Result<Vec<Instance>, ClientError> {
        self.all_pages("/v1/instances", "instances").await
    }

    /// One page of the tenant's phones (`limit` 1 to 500).
    pub async fn list_instances_page(&self, cursor: Option<&str>, limit: u32) -> Result<InstanceList, ClientError> {
        self.get_page("/v1/instances", &[], cursor, limit).await
    }

    /// One phone.
    pub async fn instance(&self, id: &str) -> Result<Instance, ClientError> {
        self.call::<(), _>(Method::GET, &format!("/v1/instances/{}", encode_component(id)), None).await
    }

    /// Deletes a phone and everything it stored.
    pub async fn delete_instance(&self, id: &str) -> Result<(), ClientError> {
        self.call_empty::<()>(Method::DELETE, &format!("/v1/instances/{}", encode_component(id)), None).await
    }

    /// Runs a shell command line on a phone.
    pub async fn shell(&self, id: &str, command: &str) -> Result<ShellResult, ClientError> {
        let path = format!("/v1/instances/{}/shell", encode_component(id));
        self.call(Method::POST, &path, Some(&ShellRequest { command: command.to_owned() })).await
    }

    /// The phone's screen as a PNG file.
    pub async fn screenshot(&self, id: &str) -> Result<Vec<u8>, ClientError> {
        let path = format!("/v1/instances/{}/screenshot", encode_component(id));
        Ok(self.get_with(&path, &[]).await?.bytes().await?.to_vec())
    }

    /// Opens a viewer session: a short-lived token and where to use it.
    pub async fn create_session(&self, id: &str, request: &CreateSession) -> Result<SessionGrant, ClientError> {
        let path = format!("/v1/instances/{}/sessions", encode_component(id));
        self.call(Method::POST, &path, Some(request)).await
    }
}

/// The response when it succeeded, else its catalogue error.
async fn successful(response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
    if response.status().is_success() {
        return Ok(response);
    }
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    match serde_json::from_slice::<ErrorBody>(&bytes) {
        Ok(body) => Err(ClientError::Api { status, code: body.error.code, message: body.error.message }),
        Err(_) => Err(ClientError::Decode(format!("HTTP {status}: {}", String::from_utf8_lossy(&bytes)))),
    }
}

/// Asks for a link that shares the session `session_token` opens, as its holder (an end user's
/// app) does: with the token, no access key. `share_url` is the grant's.
pub async fn share_session(
    share_url: &str,
    session_token: &str,
    request: &cloudphone_protocol::api::ShareSession,
) -> Result<SessionGrant, ClientError> {
    let response = reqwest::Client::new().post(share_url).bearer_auth(session_token).json(request).send().await?;
    Client::decode(successful(response).await?).await
}
