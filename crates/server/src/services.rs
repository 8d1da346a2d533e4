//! The services behind the API handlers: instances (store + device host) and viewer sessions
//! (tokens + gateway). Handlers stay thin; tenancy is enforced here, once.

use std::collections::BTreeSet;
use std::sync::Arc;

use cloudphone_device::identity::{Change, IdentityError, resolve_country, resolve_model};
use cloudphone_device::virtual_phone::InstalledPackage;
use cloudphone_device::{PhoneState, ShellOutput};
use cloudphone_gateway::Gateway;
use cloudphone_host::{DeviceHost, Phone};
use cloudphone_protocol::api::{
    AppInfo, AppList, CameraStatus, ChangeReport, ClipboardText, CreateSession, CreatedTenant, FileEntry, FileListing,
    FileWritten, Instance, KeyInfo, LocaleRequest, LocationStatus, MicrophoneStatus, NewDevice, NewKey,
    PlaybackRequest, PlaybackStatus, PropertiesPatch, PropertiesView, SensorReadings, SensorStatus, SessionGrant,
    SessionRole, ShareSession, TenantInfo, WifiNetwork,
};
use cloudphone_protocol::control::{InputCategory, LocationFix};
use cloudphone_protocol::quality::StreamQuality;
use cloudphone_protocol::{ApiError, ErrorCode, InstanceStatus, rfc3339};
use cloudphone_store::{InstanceRow, SessionTokenRow, Store, now_millis};
use sha2::{Digest, Sha256};

use crate::credentials::random_hex;
use crate::error::{HttpError, HttpResult};
use crate::gate::GatedPhone;
use crate::paging::PageQuery;

/// The most instances one create call makes.
pub const MAX_CREATE_COUNT: u32 = 100;
/// How long a session may go without input before it is recycled, unless the token says.
pub const DEFAULT_IDLE_TIMEOUT_S: u32 = 300;
/// How long a session token stays valid.
pub const SESSION_TOKEN_TTL_MS: i64 = 10 * 60 * 1000;
/// The most phones one controller's input is mirrored to (group control).
pub const MAX_GROUP: usize = 50;

fn invalid(message: &str) -> HttpError {
    ApiError::with_message(ErrorCode::InvalidParameter, message).into()
}

/// The quality a token's sessions start at (stored as JSON; empty or unreadable: the default).
fn start_quality(stored: &str) -> StreamQuality {
    serde_json::from_str(stored).unwrap_or_default()
}

/// The input categories stored with a token (comma-separated names; unknown names are
/// skipped, so a category removed in a later version closes rather than fails).
fn parse_allow(names: &str) -> BTreeSet<InputCategory> {
    names.split(',').filter_map(|name| InputCategory::ALL.iter().copied().find(|c| c.as_str() == name)).collect()
}

pub(crate) fn instance_from_row(row: &InstanceRow) -> Instance {
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

    /// Boots every stored instance that is not stopped and has been created (at process start;
    /// a phone whose creation was cut off is finished by its re-run task).
    pub async fn boot_all(&self) -> anyhow::Result<()> {
        for row in self.store.all_instances().await? {
            if row.status == InstanceStatus::Stopped.as_str() {
                continue;
            }
            let (host, id) = (self.host.clone(), row.id.clone());
            let outcome = tokio::task::spawn_blocking(move || host.boot(&id).map(|_| ())).await?;
            if matches!(outcome, Err(cloudphone_host::HostError::NoState(_))) {
                continue;
            }
            self.booted(&row.id, &outcome).await?;
        }
        Ok(())
    }

    /// Records a phone's new status, with its `instance.status` event.
    async fn set_status(&self, id: &str, status: InstanceStatus) -> Result<(), cloudphone_store::StoreError> {
        self.store
            .set_instance_status(id, status.as_str(), now_millis(), cloudphone_tasks::events::instance_status)
            .await?;
        Ok(())
    }

    /// Records how a boot went.
    async fn booted(
        &self,
        id: &str,
        outcome: &Result<(), cloudphone_host::HostError>,
    ) -> Result<(), cloudphone_store::StoreError> {
        let status = match outcome {
            Ok(_) => InstanceStatus::Running,
            Err(e) => {
                tracing::error!(instance = id, error = %e, "boot failed");
                InstanceStatus::Abnormal
            }
        };
        self.set_status(id, status).await
    }

    /// Finishes creating an accepted phone: boots it from its stored state, or, the first
    /// time, draws a fresh identity of `model` in `country` and boots that. Safe to repeat.
    pub async fn boot_created(&self, tenant: &str, id: &str, model: &str, country: &str) -> HttpResult<Instance> {
        self.get(tenant, id).await?;
        let model = resolve_model(model)?;
        let country = resolve_country(country)?;
        let state = PhoneState::new(model, country, &mut rand::rng());
        let (host, key) = (self.host.clone(), id.to_owned());
        let outcome = blocking(move || match host.boot(&key) {
            Err(cloudphone_host::HostError::NoState(_)) => host.create(&key, &state).map(|_| ()),
            other => other.map(|_| ()),
        })
        .await?;
        self.booted(id, &outcome).await?;
        outcome?;
        self.get(tenant, id).await
    }

    /// One page of a tenant's instances and the cursor of the next page, if there is one.
    pub async fn list(&self, tenant: &str, page: &PageQuery) -> HttpResult<(Vec<Instance>, Option<String>)> {
        let limit = page.limit()? as usize;
        let invalid = || HttpError::from(ErrorCode::InvalidCursor);
        let after = page
            .cursor
            .as_deref()
            .map(|c| {
                let position = crate::paging::decode("instances", c)?;
                let (time, id) = position.split_once(':').ok_or_else(invalid)?;
                Ok::<_, HttpError>((time.parse().map_err(|_| invalid())?, id.to_owned()))
            })
            .transpose()?;
        let rows = self.store.list_instances_page(tenant, after, limit as i64 + 1).await?;
        let (rows, next) = crate::paging::finish("instances", rows, limit, |r| format!("{}:{}", r.created_at, r.id));
        Ok((rows.iter().map(instance_from_row).collect(), next))
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

    /// Runs a lifecycle operation, recording the transitional and the final state.
    pub async fn lifecycle(&self, tenant: &str, id: &str, operation: Lifecycle) -> HttpResult<Instance> {
        self.get(tenant, id).await?;
        let (during, after) = match &operation {
            Lifecycle::Start => (InstanceStatus::Booting, InstanceStatus::Running),
            Lifecycle::Stop => (InstanceStatus::Stopping, InstanceStatus::Stopped),
            Lifecycle::Restart | Lifecycle::Renew(_) => (InstanceStatus::Restarting, InstanceStatus::Running),
            Lifecycle::Reset => (InstanceStatus::Resetting, InstanceStatus::Running),
        };
        if let Lifecycle::Renew(request) = &operation {
            // Refuse a bad request before the phone goes down.
            if let Some(model) = &request.model {
                resolve_model(model)?;
            }
            if let Some(code) = &request.country {
                resolve_country(code)?;
            }
        }
        self.set_status(id, during).await?;
        let host = self.host.clone();
        let key = id.to_owned();
        let outcome = blocking(move || match operation {
            Lifecycle::Start => host.boot(&key).map(|_| ()),
            Lifecycle::Stop => host.stop(&key),
            Lifecycle::Restart => host.restart(&key).map(|_| ()),
            Lifecycle::Reset => host.reset(&key).map(|_| ()),
            Lifecycle::Renew(request) => host.renew(&key, &request).map(|_| ()),
        })
        .await?;
        let status = match &outcome {
            Ok(()) => after,
            Err(e) => {
                tracing::error!(instance = id, error = %e, "lifecycle operation failed");
                InstanceStatus::Abnormal
            }
        };
        self.set_status(id, status).await?;
        outcome?;
        self.get(tenant, id).await
    }

    /// A phone's identity and properties.
    pub async fn properties(&self, tenant: &str, id: &str) -> HttpResult<PropertiesView> {
        let phone = self.phone(tenant, id).await?;
        let cloudphone_host::IdentityView { identity, properties: system, pending } = phone.identity();
        Ok(PropertiesView {
            system,
            pending_restart: pending,
            modem: identity.modem,
            android_id: identity.android_id,
            ssaid: identity.ssaid,
            bluetooth_mac: identity.bluetooth_mac,
            wifi: identity.wifi,
        })
    }

    /// Applies identity changes, all or nothing.
    pub async fn change(&self, tenant: &str, id: &str, changes: Vec<Change>) -> HttpResult<ChangeReport> {
        let phone = self.phone(tenant, id).await?;
        blocking(move || phone.apply(&changes)).await?.map_err(HttpError::from)
    }

    /// The changes a properties patch asks for.
    pub fn patch_changes(patch: PropertiesPatch) -> Result<Vec<Change>, IdentityError> {
        let mut changes: Vec<Change> = patch.system.into_iter().map(|(k, v)| Change::Property(k, v)).collect();
        changes.extend(patch.modem.into_iter().map(|(k, v)| Change::Modem(k, v)));
        for (key, value) in patch.settings {
            changes.push(match key.as_str() {
                "android_id" => Change::AndroidId(value),
                "bt/mac" => Change::BluetoothMac(value),
                "language" => Change::Property("persist.sys.locale".into(), value),
                "timezone" => Change::Property("persist.sys.timezone".into(), value),
                _ => match key.strip_prefix("ssaid/") {
                    Some(package) => Change::Ssaid(package.to_owned(), value),
                    None => {
                        return Err(IdentityError::ReadOnly {
                            key,
                            reason: "settings keys are android_id, bt/mac, ssaid/<package>, language, timezone".into(),
                        });
                    }
                },
            });
        }
        Ok(changes)
    }

    /// Replaces the Wi-Fi list.
    pub async fn set_wifi(&self, tenant: &str, id: &str, networks: Vec<WifiNetwork>) -> HttpResult<ChangeReport> {
        self.change(tenant, id, vec![Change::Wifi(networks)]).await
    }

    /// Sets locale and/or time zone.
    pub async fn set_locale(&self, tenant: &str, id: &str, request: LocaleRequest) -> HttpResult<ChangeReport> {
        let mut changes = Vec::new();
        if let Some(locale) = request.locale {
            changes.push(Change::Property("persist.sys.locale".into(), locale));
        }
        if let Some(timezone) = request.timezone {
            changes.push(Change::Property("persist.sys.timezone".into(), timezone));
        }
        if changes.is_empty() {
            return Err(ApiError::with_message(ErrorCode::InvalidParameter, "give locale, timezone or both").into());
        }
        self.change(tenant, id, changes).await
    }

    /// Installs an APK on a phone.
    pub async fn install(&self, tenant: &str, id: &str, apk: Vec<u8>) -> HttpResult<AppInfo> {
        let phone = self.phone(tenant, id).await?;
        let package = blocking(move || phone.install(&apk)).await??;
        Ok(app_info(&package, None))
    }

    /// The apps installed on a phone.
    pub async fn apps(&self, tenant: &str, id: &str) -> HttpResult<AppList> {
        let phone = self.phone(tenant, id).await?;
        let (packages, foreground) = phone.packages();
        let apps = packages.iter().map(|p| app_info(p, foreground.as_deref())).collect();
        Ok(AppList { apps, foreground, next_cursor: None })
    }

    /// Runs a package operation.
    pub async fn app_action(
        &self,
        tenant: &str,
        id: &str,
        package: String,
        action: AppAction,
    ) -> HttpResult<Option<String>> {
        let phone = self.phone(tenant, id).await?;
        Ok(blocking(move || match action {
            AppAction::Start(activity) => phone.start_app(&package, activity.as_deref()).map(Some),
            AppAction::Stop => phone.stop_app(&package).map(|_| None),
            AppAction::Clear => phone.clear_data(&package).map(|_| None),
            AppAction::Uninstall => phone.uninstall(&package).map(|_| None),
        })
        .await??)
    }

    /// A path in a phone and, for a folder, its entries.
    pub async fn list_files(&self, tenant: &str, id: &str, path: String) -> HttpResult<FileListing> {
        let phone = self.phone(tenant, id).await?;
        let cloudphone_host::Listing { path, meta, entries } = blocking(move || phone.list_files(&path)).await??;
        let entry = |name: &str, m: &cloudphone_device::storage::Metadata| FileEntry {
            name: name.to_owned(),
            kind: if m.is_dir { "directory" } else { "file" }.to_owned(),
            size: m.size,
            modified_at: rfc3339(m.modified_ms as i64),
        };
        let name = path.rsplit('/').next().unwrap_or("").to_owned();
        Ok(FileListing {
            entry: entry(&name, &meta),
            entries: entries.iter().map(|(n, m)| entry(n, m)).collect(),
            path,
            next_cursor: None,
        })
    }

    /// A file's bytes.
    pub async fn read_file(&self, tenant: &str, id: &str, path: String) -> HttpResult<Vec<u8>> {
        let phone = self.phone(tenant, id).await?;
        Ok(blocking(move || phone.read_file(&path)).await??)
    }

    /// Writes a file.
    pub async fn write_file(&self, tenant: &str, id: &str, path: String, data: Vec<u8>) -> HttpResult<FileWritten> {
        let phone = self.phone(tenant, id).await?;
        let size = data.len() as u64;
        let path = blocking(move || phone.write_file(&path, &data)).await??;
        Ok(FileWritten { path, size })
    }

    /// Removes a file or folder.
    pub async fn remove_file(&self, tenant: &str, id: &str, path: String, recursive: bool) -> HttpResult<()> {
        let phone = self.phone(tenant, id).await?;
        Ok(blocking(move || phone.remove_file(&path, recursive)).await??)
    }

    /// Feeds sensor readings.
    pub async fn sensors(&self, tenant: &str, id: &str, readings: SensorReadings) -> HttpResult<()> {
        Ok(self.phone(tenant, id).await?.sensors(&readings.readings)?)
    }

    /// The latest reading of each sensor.
    pub async fn sensor_status(&self, tenant: &str, id: &str) -> HttpResult<Vec<SensorStatus>> {
        let hal = self.phone(tenant, id).await?.hal();
        Ok(hal
            .sensors
            .iter()
            .map(|(kind, s)| SensorStatus {
                sensor: *kind,
                values: s.values,
                unit: kind.unit().to_owned(),
                timestamp_ns: s.timestamp_ns,
                count: s.count,
                rate_hz: s.rate_hz,
            })
            .collect())
    }

    /// Sets the location.
    pub async fn set_location(&self, tenant: &str, id: &str, fix: LocationFix) -> HttpResult<()> {
        Ok(self.phone(tenant, id).await?.set_location(&fix)?)
    }

    /// The current location.
    pub async fn location(&self, tenant: &str, id: &str) -> HttpResult<LocationStatus> {
        let hal = self.phone(tenant, id).await?.hal();
        Ok(match hal.location {
            Some(current) => LocationStatus {
                source: wire_name(&current.source),
                updated_at: Some(rfc3339(current.time_ms as i64)),
                fix: Some(current.fix),
            },
            None => LocationStatus { fix: None, source: None, updated_at: None },
        })
    }

    /// Sets the clipboard.
    pub async fn set_clipboard(&self, tenant: &str, id: &str, text: String) -> HttpResult<()> {
        Ok(self.phone(tenant, id).await?.set_clipboard(&text)?)
    }

    /// The clipboard text.
    pub async fn clipboard(&self, tenant: &str, id: &str) -> HttpResult<ClipboardText> {
        Ok(ClipboardText { text: self.phone(tenant, id).await?.hal().clipboard.text })
    }

    /// Starts playing a script into a phone.
    pub async fn play(&self, tenant: &str, id: &str, request: PlaybackRequest) -> HttpResult<PlaybackStatus> {
        let speed = request.speed.unwrap_or(1.0);
        if !(0.1..=100.0).contains(&speed) {
            return Err(ApiError::with_message(ErrorCode::InvalidParameter, "speed must be between 0.1 and 100").into());
        }
        let invalid = |e: cloudphone_device::playback::ScriptError| {
            HttpError::from(ApiError::with_message(ErrorCode::PlaybackInvalidScript, e.0))
        };
        let timeline = match request.kind.as_str() {
            "sensors" => cloudphone_device::playback::parse_sensor_csv(&request.script).map_err(invalid)?,
            "gpx" => cloudphone_device::playback::parse_gpx(&request.script, request.route_speed.unwrap_or(1.4))
                .map_err(invalid)?,
            other => {
                return Err(ApiError::with_message(
                    ErrorCode::InvalidParameter,
                    format!("kind must be sensors or gpx, not {other:?}"),
                )
                .into());
            }
        };
        let phone = self.phone(tenant, id).await?;
        Ok(playback_status(phone.play(&request.kind, timeline, speed, request.looped)))
    }

    /// The current (or last) playback.
    pub async fn playback(&self, tenant: &str, id: &str) -> HttpResult<Option<PlaybackStatus>> {
        Ok(self.phone(tenant, id).await?.playback().map(playback_status))
    }

    /// Stops the playback.
    pub async fn stop_playback(&self, tenant: &str, id: &str) -> HttpResult<()> {
        self.phone(tenant, id).await?.stop_playback();
        Ok(())
    }

    /// Shows a picture (PNG, JPEG), or loops an H.264 Annex B video at `fps`, as the camera.
    pub async fn inject_camera(&self, tenant: &str, id: &str, bytes: Vec<u8>, fps: f64) -> HttpResult<CameraStatus> {
        let phone = self.phone(tenant, id).await?;
        let probe = phone.clone();
        let is_video = bytes.starts_with(&[0, 0, 0, 1]) || bytes.starts_with(&[0, 0, 1]);
        blocking(move || if is_video { probe.inject_video(bytes, fps) } else { probe.inject_picture(&bytes) })
            .await??;
        Ok(camera_status(&phone))
    }

    /// Turns an injected picture off.
    pub async fn clear_camera(&self, tenant: &str, id: &str) -> HttpResult<()> {
        self.phone(tenant, id).await?.clear_camera();
        Ok(())
    }

    /// What the camera has received.
    pub async fn camera(&self, tenant: &str, id: &str) -> HttpResult<CameraStatus> {
        let phone = self.phone(tenant, id).await?;
        Ok(camera_status(&phone))
    }

    /// Feeds a WAV file into the microphone.
    pub async fn inject_audio(
        &self,
        tenant: &str,
        id: &str,
        wav: Vec<u8>,
        looped: bool,
    ) -> HttpResult<MicrophoneStatus> {
        let pcm = self.phone(tenant, id).await?.inject_audio(&wav, looped)?;
        Ok(MicrophoneStatus {
            level_db: cloudphone_device::virtual_phone::media::level_dbfs(&pcm.samples),
            samples: pcm.samples.len() as u64,
            sample_rate: pcm.sample_rate,
            source: Some("file".into()),
        })
    }

    /// Stops feeding a file into the microphone.
    pub async fn stop_audio(&self, tenant: &str, id: &str) -> HttpResult<()> {
        self.phone(tenant, id).await?.stop_audio_injection();
        Ok(())
    }

    /// What the microphone hears now.
    pub async fn microphone(&self, tenant: &str, id: &str) -> HttpResult<MicrophoneStatus> {
        let mic = self.phone(tenant, id).await?.microphone();
        Ok(MicrophoneStatus {
            level_db: mic.level_db,
            samples: mic.samples,
            sample_rate: mic.sample_rate,
            source: mic.source.as_ref().and_then(wire_name),
        })
    }

    /// The last `ms` of what the phone played, as WAV.
    pub async fn recent_audio(&self, tenant: &str, id: &str, ms: u32) -> HttpResult<Vec<u8>> {
        if !(1..=10_000).contains(&ms) {
            return Err(ApiError::with_message(ErrorCode::InvalidParameter, "ms must be between 1 and 10000").into());
        }
        let samples = self.phone(tenant, id).await?.recent_audio(ms);
        Ok(cloudphone_device::virtual_phone::media::encode_wav(
            cloudphone_device::virtual_phone::media::OUTPUT_RATE,
            &samples,
        ))
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

/// An operation on an installed app.
#[derive(Clone, Debug)]
pub enum AppAction {
    /// Bring an activity (default: the launcher one) to the front.
    Start(Option<String>),
    /// Force-stop.
    Stop,
    /// Delete its data.
    Clear,
    /// Remove it.
    Uninstall,
}

/// The JSON name of a unit enum value (`LocationSource::Api` is `"api"`).
fn wire_name<T: serde::Serialize>(value: &T) -> Option<String> {
    serde_json::to_value(value).ok()?.as_str().map(str::to_owned)
}

fn camera_status(phone: &Phone) -> CameraStatus {
    let cloudphone_host::CameraView { frames, source, size } = phone.camera();
    CameraStatus {
        frames,
        source: source.as_ref().and_then(wire_name),
        width: size.map(|s| s.0),
        height: size.map(|s| s.1),
    }
}

fn playback_status(s: cloudphone_host::PlaybackStatus) -> PlaybackStatus {
    PlaybackStatus {
        kind: s.kind,
        events: s.events,
        duration_ms: s.duration_ms,
        speed: s.speed,
        looped: s.looped,
        played: s.played,
        running: s.running,
    }
}

fn app_info(p: &InstalledPackage, foreground: Option<&str>) -> AppInfo {
    let i = &p.info;
    AppInfo {
        package: i.package.clone(),
        label: i.label.clone(),
        version_code: i.version_code,
        version_name: i.version_name.clone(),
        min_sdk: i.min_sdk,
        target_sdk: i.target_sdk,
        permissions: i.permissions.clone(),
        launcher_activity: i.launcher_activity.clone(),
        foreground: foreground == Some(i.package.as_str()),
        installed_at: rfc3339(p.first_install_ms as i64),
        updated_at: rfc3339(p.last_update_ms as i64),
    }
}

/// A lifecycle operation on one phone.
#[derive(Clone, Debug)]
pub enum Lifecycle {
    /// Boot a stopped phone.
    Start,
    /// Shut it down, keeping its state.
    Stop,
    /// Reboot (pending `ro.*` changes take effect).
    Restart,
    /// Factory reset: wipe user data.
    Reset,
    /// A fresh identity ("one-key new device").
    Renew(NewDevice),
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

/// How many viewer sessions may be open at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionLimits {
    /// On one phone.
    pub per_phone: usize,
    /// For one tenant, over all its phones.
    pub per_tenant: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits { per_phone: 8, per_tenant: 200 }
    }
}

/// The sessions one token opened: whose they are, and the switch that ends them. Each open
/// session holds a receiver of the switch, so its receiver count is how many are open.
struct LiveToken {
    tenant: String,
    instance: String,
    end: tokio::sync::watch::Sender<bool>,
}

/// Viewer sessions.
pub struct Sessions {
    store: Store,
    host: Arc<DeviceHost>,
    gateway: Arc<Gateway>,
    public_url: String,
    limits: SessionLimits,
    /// By token hash.
    live: std::sync::Mutex<std::collections::HashMap<String, LiveToken>>,
}

impl Sessions {
    /// The service.
    pub fn new(
        store: Store,
        host: Arc<DeviceHost>,
        gateway: Arc<Gateway>,
        public_url: String,
        limits: SessionLimits,
    ) -> Sessions {
        Sessions { store, host, gateway, public_url, limits, live: Default::default() }
    }

    /// Issues a session token (an SDK token: one phone, one end user, short-lived) for a running
    /// phone of the tenant.
    pub async fn create(
        &self,
        instances: &Instances,
        tenant: &str,
        instance_id: &str,
        request: CreateSession,
    ) -> HttpResult<SessionGrant> {
        let ttl_s = request.ttl_seconds.unwrap_or((SESSION_TOKEN_TTL_MS / 1000) as u32);
        if !(60..=86_400).contains(&ttl_s) {
            return Err(ApiError::with_message(ErrorCode::InvalidParameter, "ttl_seconds must be 60 to 86400").into());
        }
        if let Some(user) = &request.end_user {
            let ok = !user.is_empty()
                && user.len() <= 128
                && user.bytes().all(|b| b.is_ascii_alphanumeric() || b".:_@-".contains(&b));
            if !ok {
                return Err(ApiError::with_message(
                    ErrorCode::InvalidParameter,
                    "end_user must be 1 to 128 characters of A-Z a-z 0-9 . _ : @ -",
                )
                .into());
            }
        }
        let idle_timeout_s = request.idle_timeout_seconds.unwrap_or(DEFAULT_IDLE_TIMEOUT_S);
        if !(10..=7200).contains(&idle_timeout_s) {
            return Err(
                ApiError::with_message(ErrorCode::InvalidParameter, "idle_timeout_seconds must be 10 to 7200").into()
            );
        }
        instances.phone(tenant, instance_id).await?;
        let role = request.role.unwrap_or_default();
        let allow: BTreeSet<InputCategory> = match (role, request.allow) {
            (SessionRole::Spectator, Some(allow)) if !allow.is_empty() => {
                return Err(invalid("a spectator sends no input: leave `allow` out or empty"));
            }
            (SessionRole::Spectator, _) => BTreeSet::new(),
            (SessionRole::Controller, allow) => {
                allow.unwrap_or_else(|| InputCategory::ALL.to_vec()).into_iter().collect()
            }
        };
        let group = request.group.unwrap_or_default();
        if !group.is_empty() {
            if role == SessionRole::Spectator {
                return Err(invalid("group control needs a controller"));
            }
            let distinct: BTreeSet<&String> = group.iter().collect();
            if group.len() > MAX_GROUP || distinct.len() != group.len() || distinct.contains(&instance_id.to_owned()) {
                return Err(invalid("group: up to 50 other phones, each once"));
            }
            for member in &group {
                instances.phone(tenant, member).await?;
            }
        }
        let quality = match request.quality {
            Some(ids) => {
                let q =
                    StreamQuality::default().with_ids(ids.resolution, ids.fps, ids.bitrate).map_err(|e| invalid(&e))?;
                serde_json::to_string(&q).expect("a quality serialises")
            }
            None => String::new(),
        };
        let row = SessionTokenRow {
            instance_id: instance_id.to_owned(),
            tenant_id: tenant.to_owned(),
            expires_at: now_millis() + ttl_s as i64 * 1000,
            allow: allow.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(","),
            end_user: request.end_user.clone().unwrap_or_default(),
            idle_timeout_s: i64::from(idle_timeout_s),
            role: role.as_str().to_owned(),
            group_ids: group.join(","),
            root_hash: String::new(),
            quality,
        };
        self.issue(row).await
    }

    /// Shares the session a token opens: a new token for the same phone and end user, doing
    /// no more than the sharer may (a spectator shares only spectator links), valid no longer
    /// than the sharer's, revoked with the token it was first shared from. Shared links do not
    /// carry group control.
    pub async fn share(&self, token: &str, request: ShareSession) -> HttpResult<SessionGrant> {
        let hash = token_hash(token);
        let now = now_millis();
        let sharer =
            self.store.session_token(&hash, now).await?.ok_or(HttpError::from(ErrorCode::SessionTokenInvalid))?;
        let role = request.role.unwrap_or(SessionRole::Spectator);
        if role == SessionRole::Controller && SessionRole::parse(&sharer.role) == SessionRole::Spectator {
            return Err(invalid("a spectator can share only spectator links"));
        }
        let left_s = ((sharer.expires_at - now) / 1000).max(0) as u32;
        let ttl_s = request.ttl_seconds.unwrap_or(left_s);
        if !(60..=left_s).contains(&ttl_s) {
            return Err(invalid(&format!("ttl_seconds must be 60 to {left_s} (what is left of this token)")));
        }
        let row = SessionTokenRow {
            expires_at: now + i64::from(ttl_s) * 1000,
            allow: if role == SessionRole::Spectator { String::new() } else { sharer.allow.clone() },
            role: role.as_str().to_owned(),
            group_ids: String::new(),
            root_hash: if sharer.root_hash.is_empty() { hash } else { sharer.root_hash.clone() },
            ..sharer
        };
        self.issue(row).await
    }

    /// Stores a new token for `row` and describes it.
    async fn issue(&self, row: SessionTokenRow) -> HttpResult<SessionGrant> {
        let token = random_hex(32);
        self.store.insert_session_token(&token_hash(&token), &row).await?;
        Ok(SessionGrant {
            instance_id: row.instance_id.clone(),
            view_url: format!("{}/view#token={token}", self.public_url),
            signalling_url: format!("{}/v1/signalling/offer", self.public_url),
            share_url: format!("{}/v1/signalling/share", self.public_url),
            session_token: token,
            expires_at: rfc3339(row.expires_at),
            allow: parse_allow(&row.allow).into_iter().collect(),
            end_user: (!row.end_user.is_empty()).then(|| row.end_user.clone()),
            idle_timeout_seconds: row.idle_timeout_s as u32,
            role: SessionRole::parse(&row.role),
            group: row.group_ids.split(',').filter(|id| !id.is_empty()).map(str::to_owned).collect(),
            quality: start_quality(&row.quality),
        })
    }

    /// Revokes one of the tenant's session tokens: it opens no new session, and the sessions it
    /// opened end at once.
    pub async fn revoke(&self, tenant: &str, token: &str) -> HttpResult<()> {
        let revoked = self.store.revoke_session_token(tenant, &token_hash(token)).await?;
        if revoked.is_empty() {
            return Err(ErrorCode::SessionTokenInvalid.into());
        }
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        for hash in revoked {
            if let Some(token) = live.remove(&hash) {
                let _ = token.end.send(true);
            }
        }
        Ok(())
    }

    /// Viewer sessions open now.
    pub fn open_sessions(&self) -> usize {
        self.gateway.open_sessions()
    }

    /// The gateway's counters over every session.
    pub fn gateway_totals(&self) -> &cloudphone_gateway::GatewayTotals {
        self.gateway.totals()
    }

    /// Answers a viewer's SDP offer for the phone its token opens.
    pub async fn answer(&self, token: &str, offer_sdp: &str) -> HttpResult<(String, String)> {
        let row = self
            .store
            .session_token(&token_hash(token), now_millis())
            .await?
            .ok_or(HttpError::from(ErrorCode::SessionTokenInvalid))?;
        let phone = self.host.phone(&row.instance_id)?;
        // Group members that are not running now are left out; their copy of the input is lost.
        let group = row.group_ids.split(',').filter_map(|id| self.host.phone(id).ok()).collect();
        let link = Arc::new(GatedPhone::new(phone, parse_allow(&row.allow), group));
        let end = {
            let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
            // Forget the switches of tokens whose sessions have all ended.
            live.retain(|_, t| t.end.receiver_count() > 0);
            let open = |of: &dyn Fn(&LiveToken) -> bool| -> usize {
                live.values().filter(|t| of(t)).map(|t| t.end.receiver_count()).sum()
            };
            if open(&|t| t.instance == row.instance_id) >= self.limits.per_phone {
                return Err(ApiError::with_message(
                    ErrorCode::SessionLimitReached,
                    format!(
                        "instance {} has {} viewer sessions, the most it may have",
                        row.instance_id, self.limits.per_phone
                    ),
                )
                .into());
            }
            if open(&|t| t.tenant == row.tenant_id) >= self.limits.per_tenant {
                return Err(ApiError::with_message(
                    ErrorCode::SessionLimitReached,
                    format!("this tenant has {} viewer sessions open, the most it may have", self.limits.per_tenant),
                )
                .into());
            }
            live.entry(token_hash(token))
                .or_insert_with(|| LiveToken {
                    tenant: row.tenant_id.clone(),
                    instance: row.instance_id.clone(),
                    end: tokio::sync::watch::channel(false).0,
                })
                .end
                .subscribe()
        };
        let options = cloudphone_gateway::SessionOptions {
            end,
            idle_timeout: std::time::Duration::from_secs(row.idle_timeout_s.clamp(10, 7200) as u64),
            // The viewer changes it with `quality` messages.
            quality: start_quality(&row.quality),
        };
        let answer = self.gateway.accept(offer_sdp, link, options).await.map_err(ApiError::from)?;
        Ok((row.instance_id, answer))
    }
}

/// Tenant and key management (admin tenants only).
pub struct Tenants {
    store: Store,
}

fn tenant_info(t: &cloudphone_store::TenantRow) -> TenantInfo {
    TenantInfo { id: t.id.clone(), name: t.name.clone(), admin: t.admin, created_at: rfc3339(t.created_at) }
}

fn new_key_view(key: &cloudphone_store::AccessKey) -> NewKey {
    NewKey { tenant_id: key.tenant_id.clone(), access_key: key.access_key.clone(), secret_key: key.secret_key.clone() }
}

impl Tenants {
    /// The service.
    pub fn new(store: Store) -> Tenants {
        Tenants { store }
    }

    fn require_admin(caller: &crate::auth::Tenant) -> HttpResult<()> {
        if caller.admin { Ok(()) } else { Err(ErrorCode::Forbidden.into()) }
    }

    async fn existing(&self, id: &str) -> HttpResult<cloudphone_store::TenantRow> {
        self.store.tenant(id).await?.ok_or_else(|| {
            ApiError::with_message(ErrorCode::TenantNotFound, format!("tenant {id} does not exist")).into()
        })
    }

    /// Creates a tenant with its first key.
    pub async fn create(&self, caller: &crate::auth::Tenant, name: &str) -> HttpResult<CreatedTenant> {
        Self::require_admin(caller)?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(ApiError::with_message(ErrorCode::InvalidParameter, "name must be 1 to 100 characters").into());
        }
        let key = crate::credentials::new_key(&format!("tn-{}", random_hex(8)));
        self.store.create_tenant(&key.tenant_id, name, &key).await?;
        let tenant = self.existing(&key.tenant_id).await?;
        Ok(CreatedTenant { tenant: tenant_info(&tenant), key: new_key_view(&key) })
    }

    /// Every tenant.
    pub async fn list(&self, caller: &crate::auth::Tenant) -> HttpResult<Vec<TenantInfo>> {
        Self::require_admin(caller)?;
        Ok(self.store.tenants().await?.iter().map(tenant_info).collect())
    }

    /// Adds a key to a tenant.
    pub async fn add_key(&self, caller: &crate::auth::Tenant, tenant_id: &str) -> HttpResult<NewKey> {
        Self::require_admin(caller)?;
        self.existing(tenant_id).await?;
        let key = crate::credentials::new_key(tenant_id);
        self.store.add_key(&key).await?;
        Ok(new_key_view(&key))
    }

    /// A tenant's keys, without secrets.
    pub async fn keys(&self, caller: &crate::auth::Tenant, tenant_id: &str) -> HttpResult<Vec<KeyInfo>> {
        Self::require_admin(caller)?;
        self.existing(tenant_id).await?;
        Ok(self
            .store
            .keys(tenant_id)
            .await?
            .into_iter()
            .map(|k| KeyInfo { access_key: k.access_key, created_at: rfc3339(k.created_at), disabled: k.disabled })
            .collect())
    }

    /// Disables a key.
    pub async fn disable_key(&self, caller: &crate::auth::Tenant, access_key: &str) -> HttpResult<()> {
        Self::require_admin(caller)?;
        if !self.store.disable_key(access_key).await? {
            return Err(ApiError::with_message(ErrorCode::KeyNotFound, format!("no access key {access_key}")).into());
        }
        Ok(())
    }

    /// Rotates a key: a new one for the same tenant, then the old one disabled.
    pub async fn rotate_key(&self, caller: &crate::auth::Tenant, access_key: &str) -> HttpResult<NewKey> {
        Self::require_admin(caller)?;
        let old = self.store.access_key(access_key).await?.ok_or_else(|| {
            HttpError::from(ApiError::with_message(ErrorCode::KeyNotFound, format!("no access key {access_key}")))
        })?;
        let key = crate::credentials::new_key(&old.tenant_id);
        self.store.add_key(&key).await?;
        self.store.disable_key(access_key).await?;
        Ok(new_key_view(&key))
    }
}
