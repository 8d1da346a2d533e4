//! The task engine: every asynchronous operation of the API is a stored task, and this crate
//! runs them.
//!
//! - A request stores its tasks (and any instances they create) in one transaction before it is
//!   answered, so an acknowledged task is never lost ([`Engine::submit`]).
//! - The engine runs pending tasks oldest first, at most one at a time per phone (so a phone's
//!   tasks run in the order they were accepted) and at most `max_parallel` in all. What a task
//!   does is the [`Executor`]'s business; the engine only sequences, times out and records.
//! - A task ends exactly once: its final row and its `task.ended` event are written in one
//!   transaction (the event then becomes a callback delivery). A batch ends when its last child
//!   does, `partly_failed` when some failed.
//! - After a crash, [`Engine::start`] first settles what the dead process left: tasks that were
//!   running are run again when their kind is safe to repeat and fail as `task.interrupted`
//!   otherwise; batches whose children all ended are ended. Nothing stays pending forever.

pub mod events;
pub mod view;

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudphone_protocol::{ApiError, ErrorCode, TaskKind, TaskStatus};
use cloudphone_store::{InstanceRow, Store, StoreError, TaskEnd, TaskRow, now_millis, ordered_id};
use tokio::sync::{Notify, broadcast};
use tracing::Instrument;

/// A boxed future, as [`Executor::run`] returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Does the work of a task.
pub trait Executor: Send + Sync + 'static {
    /// Runs `task` (its kind, phone and JSON params are in the row) and returns its result as
    /// JSON, or the catalogue error it failed with.
    fn run(&self, task: TaskRow) -> BoxFuture<Result<serde_json::Value, ApiError>>;
}

/// How long a task of `kind` may run before it times out.
pub fn timeout_of(kind: TaskKind) -> Duration {
    match kind {
        TaskKind::AppInstall | TaskKind::FileUpload => Duration::from_secs(300),
        _ => Duration::from_secs(120),
    }
}

/// A new pending task.
pub fn new_task(
    tenant_id: &str,
    kind: TaskKind,
    instance_id: Option<&str>,
    parent_id: Option<&str>,
    params: serde_json::Value,
) -> TaskRow {
    TaskRow {
        id: ordered_id("tk"),
        tenant_id: tenant_id.to_owned(),
        kind: kind.as_str().to_owned(),
        instance_id: instance_id.map(str::to_owned),
        parent_id: parent_id.map(str::to_owned),
        status: TaskStatus::Pending.as_str().to_owned(),
        params: params.to_string(),
        result: None,
        error_code: None,
        error_message: None,
        attempts: 0,
        created_at: now_millis(),
        started_at: None,
        ended_at: None,
        deadline_at: None,
    }
}

/// A batch parent over `children` (which get its id as their parent). A batch is `running`
/// from the start: it ends when its children have.
pub fn new_batch(tenant_id: &str, params: serde_json::Value, children: &mut [TaskRow]) -> TaskRow {
    let mut batch = new_task(tenant_id, TaskKind::Batch, None, None, params);
    batch.status = TaskStatus::Running.as_str().to_owned();
    batch.started_at = Some(batch.created_at);
    for child in children.iter_mut() {
        child.parent_id = Some(batch.id.clone());
    }
    batch
}

fn internal(e: StoreError) -> ApiError {
    ApiError::with_message(ErrorCode::Internal, format!("storage: {e}"))
}

fn status_of(row: &TaskRow) -> TaskStatus {
    TaskStatus::parse(&row.status).unwrap_or(TaskStatus::Failed)
}

/// The end of a task that failed with `error`.
fn failed(error: &ApiError, status: TaskStatus) -> TaskEnd {
    TaskEnd {
        status: status.as_str().to_owned(),
        result: None,
        error_code: Some(error.code.code().to_owned()),
        error_message: Some(error.message.clone()),
        ended_at: now_millis(),
    }
}

/// Runs stored tasks. Shared as `Arc<Engine>`.
pub struct Engine {
    store: Store,
    executor: Arc<dyn Executor>,
    max_parallel: usize,
    wake: Notify,
    ended: broadcast::Sender<String>,
    /// Phones with a task in flight, and how many tasks are in flight.
    busy: Mutex<(HashSet<String>, usize)>,
}

impl Engine {
    /// An engine over `store` running tasks with `executor`, at most `max_parallel` at once.
    pub fn new(store: Store, executor: Arc<dyn Executor>, max_parallel: usize) -> Arc<Engine> {
        Arc::new(Engine {
            store,
            executor,
            max_parallel: max_parallel.max(1),
            wake: Notify::new(),
            ended: broadcast::channel(1024).0,
            busy: Mutex::new((HashSet::new(), 0)),
        })
    }

    /// Settles what a previous process left (see the crate docs), then runs tasks until the
    /// returned handle is aborted.
    pub async fn start(self: &Arc<Engine>) -> Result<tokio::task::JoinHandle<()>, ApiError> {
        self.resume().await.map_err(internal)?;
        let engine = self.clone();
        Ok(tokio::spawn(async move {
            loop {
                if let Err(e) = engine.dispatch().await {
                    tracing::error!(error = %e, "task dispatch failed; retrying");
                }
                // Woken by new tasks and ended ones; the timer is a safety net.
                let _ = tokio::time::timeout(Duration::from_secs(1), engine.wake.notified()).await;
            }
        }))
    }

    async fn resume(&self) -> Result<(), StoreError> {
        for task in self.store.tasks_in_status(TaskStatus::Running.as_str(), false, i64::MAX).await? {
            let kind = TaskKind::parse(&task.kind);
            if kind.is_some_and(TaskKind::rerunnable) {
                tracing::warn!(task = task.id, kind = task.kind, "re-running a task interrupted by a restart");
                self.store.requeue_task(&task.id).await?;
            } else {
                tracing::warn!(task = task.id, kind = task.kind, "failing a task interrupted by a restart");
                self.end(&task, failed(&ErrorCode::TaskInterrupted.into(), TaskStatus::Failed)).await?;
            }
        }
        for batch in self.store.tasks_in_status(TaskStatus::Running.as_str(), true, i64::MAX).await? {
            self.end_batch_if_done(&batch.id).await?;
        }
        Ok(())
    }

    /// Starts every pending task whose phone is free, while there is room.
    async fn dispatch(self: &Arc<Engine>) -> Result<(), StoreError> {
        let pending = self.store.tasks_in_status(TaskStatus::Pending.as_str(), false, 1000).await?;
        let mut seen = HashSet::new();
        for task in pending {
            let phone = task.instance_id.clone().unwrap_or_default();
            // Only a phone's oldest pending task may start: later ones keep their order.
            if !seen.insert(phone.clone()) {
                continue;
            }
            {
                let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
                if busy.1 >= self.max_parallel {
                    return Ok(());
                }
                if !busy.0.insert(phone.clone()) {
                    continue;
                }
                busy.1 += 1;
            }
            let kind = TaskKind::parse(&task.kind);
            let timeout = kind.map(timeout_of).unwrap_or(Duration::from_secs(120));
            let now = now_millis();
            let claimed = self.store.claim_task(&task.id, now, now + timeout.as_millis() as i64).await;
            if !matches!(claimed, Ok(true)) {
                // Cancelled in between, or the claim failed: free the phone either way.
                self.release(&phone);
                claimed?;
                continue;
            }
            let engine = self.clone();
            let span = tracing::info_span!("task", id = task.id, kind = task.kind);
            tokio::spawn(
                async move {
                    let id = task.id.clone();
                    if let Err(e) = engine.run(task, timeout).await {
                        tracing::error!(task = id, error = %e, "recording a task's end failed; it is retried at restart");
                    }
                    engine.release(&phone);
                    engine.wake.notify_one();
                }
                .instrument(span),
            );
        }
        Ok(())
    }

    fn release(&self, phone: &str) {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        busy.0.remove(phone);
        busy.1 -= 1;
    }

    async fn run(&self, task: TaskRow, timeout: Duration) -> Result<(), StoreError> {
        let kind = TaskKind::parse(&task.kind);
        let end = match kind {
            None => failed(&ApiError::with_message(ErrorCode::Internal, "unknown task kind"), TaskStatus::Failed),
            Some(_) => match tokio::time::timeout(timeout, self.executor.run(task.clone())).await {
                Ok(Ok(result)) => TaskEnd {
                    status: TaskStatus::Done.as_str().to_owned(),
                    result: Some(result.to_string()),
                    error_code: None,
                    error_message: None,
                    ended_at: now_millis(),
                },
                Ok(Err(error)) => failed(&error, TaskStatus::Failed),
                Err(_) => failed(
                    &ApiError::with_message(
                        ErrorCode::TaskTimedOut,
                        format!("the task did not finish within {} s", timeout.as_secs()),
                    ),
                    TaskStatus::Timeout,
                ),
            },
        };
        tracing::info!(status = end.status, "task ended");
        self.end(&task, end).await?;
        Ok(())
    }

    /// Ends a task (and its batch, when it was the batch's last running child) with its event.
    /// Returns the ended row, or `None` if it had ended already.
    async fn end(&self, task: &TaskRow, end: TaskEnd) -> Result<Option<TaskRow>, StoreError> {
        let Some(row) = self
            .store
            .finish_task(&task.id, &end, |row| events::task_ended(&view::view_of(row, Vec::new()), row))
            .await?
        else {
            return Ok(None);
        };
        let _ = self.ended.send(row.id.clone());
        if let Some(parent) = &row.parent_id {
            self.end_batch_if_done(parent).await?;
        }
        Ok(Some(row))
    }

    async fn end_batch_if_done(&self, batch_id: &str) -> Result<(), StoreError> {
        let children = self.store.children(batch_id).await?;
        let statuses: Vec<TaskStatus> = children.iter().map(status_of).collect();
        let Some(status) = TaskStatus::of_batch(&statuses) else { return Ok(()) };
        let Some(batch) = self.store.task_by_id(batch_id).await? else { return Ok(()) };
        debug_assert_eq!(batch.kind, TaskKind::Batch.as_str());
        let count = |s: TaskStatus| statuses.iter().filter(|x| **x == s).count();
        let summary = serde_json::json!({
            "total": statuses.len(),
            "done": count(TaskStatus::Done),
            "failed": count(TaskStatus::Failed),
            "timeout": count(TaskStatus::Timeout),
            "cancelled": count(TaskStatus::Cancelled),
        });
        // A batch that is not all done says so as an error too, with the first child's reason.
        let first_error = children.iter().find_map(|c| c.error_code.as_ref().map(|code| (c, code)));
        let (error_code, error_message) = match (status, first_error) {
            (TaskStatus::Done, _) => (None, None),
            (_, first) => {
                let why = first.map_or(String::new(), |(child, code)| {
                    format!("; first: {code} on {}", child.instance_id.as_deref().unwrap_or("-"))
                });
                let message = format!(
                    "{} of {} tasks did not succeed{why}",
                    statuses.len() - count(TaskStatus::Done),
                    statuses.len()
                );
                (Some(ErrorCode::TaskBatchFailed.code().to_owned()), Some(message))
            }
        };
        let end = TaskEnd {
            status: status.as_str().to_owned(),
            result: Some(summary.to_string()),
            error_code,
            error_message,
            ended_at: now_millis(),
        };
        let ids: Vec<String> = children.into_iter().map(|c| c.id).collect();
        // Of two children ending together both may get here; the store lets one end it.
        if self
            .store
            .finish_task(&batch.id, &end, |row| events::task_ended(&view::view_of(row, ids), row))
            .await?
            .is_some()
        {
            let _ = self.ended.send(batch_id.to_owned());
        }
        Ok(())
    }

    /// Stores tasks, and the instances they create, in one transaction; then they run.
    pub async fn submit(&self, instances: &[InstanceRow], tasks: &[TaskRow]) -> Result<(), ApiError> {
        self.store.enqueue(instances, tasks).await.map_err(internal)?;
        self.wake.notify_one();
        Ok(())
    }

    /// One of a tenant's tasks.
    pub async fn task(&self, tenant_id: &str, id: &str) -> Result<TaskRow, ApiError> {
        self.store
            .task(tenant_id, id)
            .await
            .map_err(internal)?
            .ok_or_else(|| ApiError::with_message(ErrorCode::TaskNotFound, format!("task {id} does not exist")))
    }

    /// Cancels a pending task, or the pending children of a batch. Running and ended tasks
    /// cannot be cancelled.
    pub async fn cancel(&self, tenant_id: &str, id: &str) -> Result<TaskRow, ApiError> {
        let task = self.task(tenant_id, id).await?;
        let cancelled =
            |message: &str| failed(&ApiError::with_message(ErrorCode::TaskCancelled, message), TaskStatus::Cancelled);
        let mut any = false;
        if task.kind == TaskKind::Batch.as_str() && status_of(&task) == TaskStatus::Running {
            for child in self.store.children(id).await.map_err(internal)? {
                if status_of(&child) == TaskStatus::Pending {
                    any |= self.end(&child, cancelled("cancelled with its batch")).await.map_err(internal)?.is_some();
                }
            }
        } else if status_of(&task) == TaskStatus::Pending {
            any = self.end(&task, cancelled("cancelled by the caller")).await.map_err(internal)?.is_some();
        }
        if !any {
            return Err(ApiError::with_message(
                ErrorCode::TaskNotCancellable,
                format!("task {id} is {}; only pending tasks can be cancelled", self.task(tenant_id, id).await?.status),
            ));
        }
        self.task(tenant_id, id).await
    }

    /// Waits up to `timeout` for one of a tenant's tasks to end; returns it as it is then.
    pub async fn wait(&self, tenant_id: &str, id: &str, timeout: Duration) -> Result<TaskRow, ApiError> {
        // Subscribe before reading, so an end between the read and the wait is not missed.
        let mut ended = self.ended.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let task = self.task(tenant_id, id).await?;
            if status_of(&task).is_final() {
                return Ok(task);
            }
            loop {
                match tokio::time::timeout_at(deadline, ended.recv()).await {
                    Err(_) => return self.task(tenant_id, id).await,
                    Ok(Ok(ended_id)) if ended_id != id => continue,
                    // Ours ended, or we lagged behind and must look again.
                    Ok(_) => break,
                }
            }
        }
    }

    /// A task as the API shows it (with a batch's children).
    pub async fn view(&self, task: &TaskRow) -> Result<cloudphone_protocol::TaskView, ApiError> {
        let children = if task.kind == TaskKind::Batch.as_str() {
            self.store.children(&task.id).await.map_err(internal)?.into_iter().map(|c| c.id).collect()
        } else {
            Vec::new()
        };
        Ok(view::view_of(task, children))
    }

    /// The store the engine runs on.
    pub fn store(&self) -> &Store {
        &self.store
    }
}
