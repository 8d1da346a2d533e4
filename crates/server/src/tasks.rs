//! Asynchronous operations as tasks: the [`Tasks`] service accepts them (validated, stored, then
//! acknowledged) and [`TaskRunner`] is the engine's executor, which does each kind of task
//! through the [`Instances`] service.
//!
//! Uploads (APKs, files) are spooled to `data_dir/spool/<task id>` before the task is stored, so
//! a task re-run after a crash still has its bytes; the file goes when the task has run.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cloudphone_device::identity::{resolve_country, resolve_model};
use cloudphone_protocol::api::{Instance, NewDevice, ShellResult, StartedApp};
use cloudphone_protocol::task::{BatchRequest, TaskList};
use cloudphone_protocol::{ApiError, ErrorCode, InstanceStatus, TaskKind, TaskView};
use cloudphone_store::{InstanceRow, Store, TaskFilter, TaskRow, now_millis, ordered_id};
use cloudphone_tasks::{BoxFuture, Engine, Executor, new_batch, new_task};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{HttpError, HttpResult, body_error};
use crate::paging::PageQuery;
use crate::services::{AppAction, Instances, Lifecycle, MAX_CREATE_COUNT};

/// The most phones one batch acts on.
pub const MAX_BATCH: usize = 500;
/// The longest a request may wait for its task (`?wait=`).
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// The parameters of an app task.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppParams {
    /// The package.
    pub package: String,
    /// For `app.start`: an activity (default the launcher one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<String>,
}

/// The parameters of a shell task.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellParams {
    /// The command line.
    pub command: String,
}

/// The parameters of a file upload.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct UploadParams {
    path: String,
    size: u64,
}

/// The parameters of a create.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct CreateParams {
    model: String,
    country: String,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::with_message(ErrorCode::InvalidParameter, message)
}

fn params_of<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    let value = if value.is_null() { json!({}) } else { value };
    serde_json::from_value(value).map_err(|e| {
        let error = body_error(&e);
        ApiError::with_message(error.code, format!("params: {}", error.message))
    })
}

/// Checks a task's parameters before it is accepted, so that a bad request fails at once
/// rather than as a failed task; returns them as stored.
fn checked_params(kind: TaskKind, params: Value) -> Result<Value, ApiError> {
    Ok(match kind {
        TaskKind::Start | TaskKind::Stop | TaskKind::Restart | TaskKind::Reset => {
            if !(params.is_null() || params.as_object().is_some_and(|o| o.is_empty())) {
                return Err(invalid(format!("{} takes no parameters", kind.as_str())));
            }
            json!({})
        }
        TaskKind::NewDevice => {
            let request: NewDevice = params_of(params)?;
            if let Some(model) = &request.model {
                resolve_model(model).map_err(|e| HttpError::from(e).0)?;
            }
            if let Some(country) = &request.country {
                resolve_country(country).map_err(|e| HttpError::from(e).0)?;
            }
            serde_json::to_value(request).expect("serialises")
        }
        TaskKind::Shell => {
            let shell: ShellParams = params_of(params)?;
            if shell.command.trim().is_empty() {
                return Err(ErrorCode::ShellEmptyCommand.into());
            }
            serde_json::to_value(shell).expect("serialises")
        }
        TaskKind::AppStart | TaskKind::AppStop | TaskKind::AppRestart | TaskKind::AppClear | TaskKind::AppUninstall => {
            let app: AppParams = params_of(params)?;
            let valid = !app.package.is_empty()
                && app.package.len() <= 255
                && app.package.bytes().all(|b| b.is_ascii_alphanumeric() || b"._".contains(&b));
            if !valid {
                return Err(invalid("package must be a package name like com.example.app"));
            }
            if app.activity.is_some() && kind != TaskKind::AppStart {
                return Err(invalid("only app.start takes an activity"));
            }
            serde_json::to_value(app).expect("serialises")
        }
        TaskKind::Create | TaskKind::AppInstall | TaskKind::FileUpload | TaskKind::Batch => {
            return Err(invalid(format!("{} cannot be part of a batch", kind.as_str())));
        }
    })
}

/// Task submission, queries and cancellation.
pub struct Tasks {
    engine: Arc<Engine>,
    store: Store,
    spool: PathBuf,
}

impl Tasks {
    /// The service over a running engine; uploads are spooled in `spool`.
    pub fn new(engine: Arc<Engine>, spool: PathBuf) -> Tasks {
        Tasks { store: engine.store().clone(), engine, spool }
    }

    async fn own_instance(&self, tenant: &str, id: &str) -> Result<InstanceRow, ApiError> {
        self.store
            .instance(tenant, id)
            .await
            .map_err(|e| HttpError::from(e).0)?
            .ok_or_else(|| ApiError::with_message(ErrorCode::InstanceNotFound, format!("instance {id} does not exist")))
    }

    /// Accepts one task on one of the tenant's phones.
    pub async fn submit(&self, tenant: &str, kind: TaskKind, instance_id: &str, params: Value) -> HttpResult<TaskRow> {
        self.own_instance(tenant, instance_id).await?;
        let task = new_task(tenant, kind, Some(instance_id), None, checked_params(kind, params)?);
        self.engine.submit(&[], std::slice::from_ref(&task)).await?;
        Ok(task)
    }

    /// Accepts an upload task (`app.install` or `file.upload` to `path`): the bytes are
    /// spooled, durably, before the task is stored.
    pub async fn submit_upload(
        &self,
        tenant: &str,
        kind: TaskKind,
        instance_id: &str,
        path: Option<String>,
        bytes: Vec<u8>,
    ) -> HttpResult<TaskRow> {
        self.own_instance(tenant, instance_id).await?;
        let size = bytes.len() as u64;
        let params = match (kind, path) {
            (TaskKind::FileUpload, Some(path)) => {
                serde_json::to_value(UploadParams { path, size }).expect("serialises")
            }
            (TaskKind::AppInstall, None) => json!({ "size": size }),
            _ => return Err(ApiError::with_message(ErrorCode::Internal, "not an upload task").into()),
        };
        let task = new_task(tenant, kind, Some(instance_id), None, params);
        let file = self.spool.join(&task.id);
        let spooled = file.clone();
        tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            std::fs::create_dir_all(spooled.parent().expect("spool files have a folder"))?;
            let mut out = std::fs::File::create(&spooled)?;
            std::io::Write::write_all(&mut out, &bytes)?;
            out.sync_all()
        })
        .await
        .map_err(|e| ApiError::with_message(ErrorCode::Internal, e.to_string()))?
        .map_err(|e| ApiError::with_message(ErrorCode::Internal, format!("spooling the upload: {e}")))?;
        if let Err(e) = self.engine.submit(&[], std::slice::from_ref(&task)).await {
            let _ = std::fs::remove_file(&file);
            return Err(e.into());
        }
        Ok(task)
    }

    /// Accepts the creation of phones: their rows (booting) and tasks are stored together; with
    /// more than one phone the tasks form a batch. Returns the phones and the task to follow.
    pub async fn create_instances(
        &self,
        tenant: &str,
        request: &cloudphone_protocol::api::CreateInstances,
    ) -> HttpResult<(Vec<Instance>, TaskRow)> {
        let count = request.count.unwrap_or(1);
        let model = resolve_model(request.model.as_deref().unwrap_or(cloudphone_device::virtual_phone::DEFAULT_MODEL))?;
        let country =
            resolve_country(request.country.as_deref().unwrap_or(cloudphone_device::virtual_phone::DEFAULT_COUNTRY))?;
        if count == 0 || count > MAX_CREATE_COUNT {
            return Err(invalid(format!("count must be between 1 and {MAX_CREATE_COUNT}, got {count}")).into());
        }
        let params =
            serde_json::to_value(CreateParams { model: model.model.clone(), country: country.code.to_owned() })
                .expect("serialises");
        let now = now_millis();
        // Ordered ids: phones made in the same millisecond still list in the order made.
        let rows: Vec<InstanceRow> = (0..count)
            .map(|_| InstanceRow {
                id: ordered_id("cp"),
                tenant_id: tenant.to_owned(),
                status: InstanceStatus::Booting.as_str().to_owned(),
                created_at: now,
                updated_at: now,
            })
            .collect();
        let mut tasks: Vec<TaskRow> =
            rows.iter().map(|r| new_task(tenant, TaskKind::Create, Some(&r.id), None, params.clone())).collect();
        let head = if tasks.len() == 1 {
            tasks[0].clone()
        } else {
            let batch = new_batch(tenant, json!({"operation": "instance.create", "count": count}), &mut tasks);
            tasks.insert(0, batch.clone());
            batch
        };
        self.engine.submit(&rows, &tasks).await?;
        let instances = rows.iter().map(crate::services::instance_from_row).collect();
        Ok((instances, head))
    }

    /// Accepts one operation over many of the tenant's phones, as a batch.
    pub async fn batch(&self, tenant: &str, request: BatchRequest) -> HttpResult<TaskRow> {
        let kind = TaskKind::parse(&request.operation)
            .ok_or_else(|| invalid(format!("unknown operation {:?}", request.operation)))?;
        let params = checked_params(kind, request.params)?;
        let ids = request.instance_ids;
        if ids.is_empty() || ids.len() > MAX_BATCH {
            return Err(invalid(format!("instance_ids must list 1 to {MAX_BATCH} phones")).into());
        }
        let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
        if unique.len() != ids.len() {
            return Err(invalid("instance_ids lists a phone twice").into());
        }
        for id in &ids {
            self.own_instance(tenant, id).await?;
        }
        let mut children: Vec<TaskRow> =
            ids.iter().map(|id| new_task(tenant, kind, Some(id), None, params.clone())).collect();
        let batch = new_batch(tenant, json!({"operation": kind.as_str(), "params": params}), &mut children);
        let mut all = vec![batch.clone()];
        all.extend(children);
        self.engine.submit(&[], &all).await?;
        Ok(batch)
    }

    /// One of the tenant's tasks, waiting up to `wait` for it to end.
    pub async fn get(&self, tenant: &str, id: &str, wait: Duration) -> HttpResult<TaskView> {
        let row = if wait.is_zero() {
            self.engine.task(tenant, id).await?
        } else {
            self.engine.wait(tenant, id, wait).await?
        };
        Ok(self.engine.view(&row).await?)
    }

    /// The answer to the request that accepted `task`: as accepted (no read back: the engine may
    /// have started it already, and the answer says what was stored), or as it is after waiting
    /// up to `wait` for it to end.
    pub async fn accepted(&self, task: &TaskRow, wait: Duration) -> HttpResult<TaskView> {
        if wait.is_zero() {
            return Ok(self.engine.view(task).await?);
        }
        self.get(&task.tenant_id, &task.id, wait).await
    }

    /// A page of the tenant's tasks, newest first.
    pub async fn list(&self, tenant: &str, filter: TaskFilter, page: &PageQuery) -> HttpResult<TaskList> {
        let limit = page.limit()? as usize;
        if let Some(status) = &filter.status {
            cloudphone_protocol::TaskStatus::parse(status)
                .ok_or_else(|| invalid(format!("unknown status {status:?}")))?;
        }
        if let Some(kind) = &filter.kind {
            TaskKind::parse(kind).ok_or_else(|| invalid(format!("unknown kind {kind:?}")))?;
        }
        let before = page.cursor.as_deref().map(|c| crate::paging::decode("tasks", c)).transpose()?;
        let rows = self.store.tasks(tenant, &filter, before.as_deref(), limit as i64 + 1).await?;
        let (rows, next_cursor) = crate::paging::finish("tasks", rows, limit, |r| r.id.clone());
        let mut tasks = Vec::with_capacity(rows.len());
        for row in &rows {
            tasks.push(self.engine.view(row).await?);
        }
        Ok(TaskList { tasks, next_cursor })
    }

    /// Cancels a pending task (or a batch's pending children).
    pub async fn cancel(&self, tenant: &str, id: &str) -> HttpResult<TaskView> {
        let row = self.engine.cancel(tenant, id).await?;
        Ok(self.engine.view(&row).await?)
    }
}

/// The engine's executor: runs each kind of task through the instance service.
pub struct TaskRunner {
    instances: Arc<Instances>,
    spool: PathBuf,
}

impl TaskRunner {
    /// The executor over `instances`, reading uploads from `spool`.
    pub fn new(instances: Arc<Instances>, spool: PathBuf) -> TaskRunner {
        TaskRunner { instances, spool }
    }
}

fn to_json<T: Serialize>(value: T) -> Result<Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::with_message(ErrorCode::Internal, e.to_string()))
}

impl Executor for TaskRunner {
    fn run(&self, task: TaskRow) -> BoxFuture<Result<Value, ApiError>> {
        let instances = self.instances.clone();
        let spooled = self.spool.join(&task.id);
        Box::pin(async move {
            let kind = TaskKind::parse(&task.kind).ok_or_else(|| invalid("unknown task kind"))?;
            let tenant = task.tenant_id.as_str();
            let id = task.instance_id.clone().unwrap_or_default();
            let params: Value = serde_json::from_str(&task.params).unwrap_or(Value::Null);
            let lifecycle = |op| {
                let instances = instances.clone();
                let id = id.clone();
                async move { to_json(instances.lifecycle(tenant, &id, op).await?) }
            };
            let app = |action: fn(Option<String>) -> AppAction| {
                let instances = instances.clone();
                let id = id.clone();
                let params = params.clone();
                async move {
                    let p: AppParams = params_of(params)?;
                    let component = instances.app_action(tenant, &id, p.package, action(p.activity)).await?;
                    Ok::<_, ApiError>(component)
                }
            };
            match kind {
                TaskKind::Create => {
                    let p: CreateParams = params_of(params.clone())?;
                    to_json(instances.boot_created(tenant, &id, &p.model, &p.country).await?)
                }
                TaskKind::Start => lifecycle(Lifecycle::Start).await,
                TaskKind::Stop => lifecycle(Lifecycle::Stop).await,
                TaskKind::Restart => lifecycle(Lifecycle::Restart).await,
                TaskKind::Reset => lifecycle(Lifecycle::Reset).await,
                TaskKind::NewDevice => lifecycle(Lifecycle::Renew(params_of(params.clone())?)).await,
                TaskKind::Shell => {
                    let p: ShellParams = params_of(params.clone())?;
                    let out = instances.shell(tenant, &id, p.command).await?;
                    to_json(ShellResult { exit_code: out.exit_code, stdout: out.stdout, stderr: out.stderr })
                }
                TaskKind::AppStart => {
                    let component = app(AppAction::Start).await?;
                    to_json(StartedApp { component: component.unwrap_or_default() })
                }
                TaskKind::AppRestart => {
                    app(|_| AppAction::Stop).await?;
                    let component = app(AppAction::Start).await?;
                    to_json(StartedApp { component: component.unwrap_or_default() })
                }
                TaskKind::AppStop => app(|_| AppAction::Stop).await.map(|_| json!({})),
                TaskKind::AppClear => app(|_| AppAction::Clear).await.map(|_| json!({})),
                TaskKind::AppUninstall => app(|_| AppAction::Uninstall).await.map(|_| json!({})),
                TaskKind::AppInstall | TaskKind::FileUpload => {
                    let path = spooled.clone();
                    let bytes = tokio::fs::read(&path).await.map_err(|e| {
                        ApiError::with_message(ErrorCode::Internal, format!("the upload is gone from the spool: {e}"))
                    })?;
                    let result = if kind == TaskKind::AppInstall {
                        instances.install(tenant, &id, bytes).await.map_err(|e| e.0).and_then(to_json)
                    } else {
                        let p: UploadParams = params_of(params.clone())?;
                        instances.write_file(tenant, &id, p.path, bytes).await.map_err(|e| e.0).and_then(to_json)
                    };
                    // The task has run: its bytes are no longer needed, whatever the outcome.
                    let _ = tokio::fs::remove_file(&path).await;
                    result
                }
                TaskKind::Batch => Err(ApiError::with_message(ErrorCode::Internal, "a batch is not run itself")),
            }
        })
    }
}
