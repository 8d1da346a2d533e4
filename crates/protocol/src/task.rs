//! Tasks: how every asynchronous operation is reported. A request that starts one answers at once
//! with a [`TaskView`]; the task then moves `pending → running → done | failed | timeout`, or is
//! `cancelled` before it runs. A batch is a parent task over one child per phone; it ends
//! `partly_failed` when some children fail. Numeric codes are VMOS Cloud's (`taskStatus`,
//! `taskBusinessType`), so VMOS integrations read ours unchanged.

use serde::{Deserialize, Serialize};

/// Where a task is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Accepted and stored; waiting for its phone.
    Pending,
    /// Running now.
    Running,
    /// Finished; `result` holds what it produced.
    Done,
    /// Finished with an error; `error` says which.
    Failed,
    /// A batch whose children partly failed.
    PartlyFailed,
    /// Cancelled before it ran.
    Cancelled,
    /// Ran past its deadline; its result, if it ever comes, is discarded.
    Timeout,
}

impl TaskStatus {
    /// Every status.
    pub const ALL: &'static [TaskStatus] = &[
        TaskStatus::Pending,
        TaskStatus::Running,
        TaskStatus::Done,
        TaskStatus::Failed,
        TaskStatus::PartlyFailed,
        TaskStatus::Cancelled,
        TaskStatus::Timeout,
    ];

    /// The snake_case name used in JSON and storage.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Done => "done",
            TaskStatus::Failed => "failed",
            TaskStatus::PartlyFailed => "partly_failed",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Timeout => "timeout",
        }
    }

    /// Parses the snake_case name.
    pub fn parse(s: &str) -> Option<TaskStatus> {
        TaskStatus::ALL.iter().copied().find(|st| st.as_str() == s)
    }

    /// Whether the task has ended (nothing will change it any more).
    pub fn is_final(self) -> bool {
        !matches!(self, TaskStatus::Pending | TaskStatus::Running)
    }

    /// The VMOS Cloud `taskStatus` code.
    pub fn vmos_code(self) -> i16 {
        match self {
            TaskStatus::Pending => 1,
            TaskStatus::Running => 2,
            TaskStatus::Done => 3,
            TaskStatus::Failed => -1,
            TaskStatus::PartlyFailed => -2,
            TaskStatus::Cancelled => -3,
            TaskStatus::Timeout => -4,
        }
    }

    /// How a batch ended, from how its children ended: done when all are done, failed when
    /// none is, partly failed in between. `None` while a child is still pending or running.
    pub fn of_batch(children: &[TaskStatus]) -> Option<TaskStatus> {
        if children.iter().any(|s| !s.is_final()) {
            return None;
        }
        let done = children.iter().filter(|s| **s == TaskStatus::Done).count();
        Some(if done == children.len() {
            TaskStatus::Done
        } else if children.iter().all(|s| *s == TaskStatus::Cancelled) {
            TaskStatus::Cancelled
        } else if done == 0 {
            TaskStatus::Failed
        } else {
            TaskStatus::PartlyFailed
        })
    }
}

macro_rules! task_kinds {
    ($($(#[$doc:meta])* $variant:ident = ($name:literal, $code:literal, $retry:literal),)*) => {
        /// What a task does. Each kind has a stable numeric business code, the VMOS
        /// `taskBusinessType` where VMOS has one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum TaskKind {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)*
        }

        impl TaskKind {
            /// Every kind.
            pub const ALL: &'static [TaskKind] = &[$(TaskKind::$variant,)*];

            /// The dotted name used in JSON and storage.
            pub fn as_str(self) -> &'static str {
                match self { $(TaskKind::$variant => $name,)* }
            }

            /// The stable business code carried by callbacks.
            pub fn business_code(self) -> u16 {
                match self { $(TaskKind::$variant => $code,)* }
            }

            /// Whether running it twice does no harm, so that a task the process was running
            /// when it died is run again at restart (otherwise it fails as interrupted).
            pub fn rerunnable(self) -> bool {
                match self { $(TaskKind::$variant => $retry,)* }
            }
        }
    };
}

task_kinds! {
    /// Reboot a phone.
    Restart = ("instance.restart", 1000, true),
    /// Factory reset.
    Reset = ("instance.reset", 1001, true),
    /// Run a shell command line (not re-run after a crash: commands may not be idempotent).
    Shell = ("instance.shell", 1002, false),
    /// Install an APK.
    AppInstall = ("app.install", 1003, true),
    /// Uninstall a package.
    AppUninstall = ("app.uninstall", 1004, true),
    /// Force-stop a package.
    AppStop = ("app.stop", 1005, true),
    /// Stop then start a package.
    AppRestart = ("app.restart", 1006, true),
    /// Start a package's activity.
    AppStart = ("app.start", 1007, true),
    /// Write an uploaded file into a phone.
    FileUpload = ("file.upload", 1009, true),
    /// "One-key new device": a fresh identity (re-running draws another identity, which is
    /// what the caller asked for).
    NewDevice = ("instance.new_device", 1124, true),
    /// Create and boot a phone.
    Create = ("instance.create", 2001, true),
    /// Boot a stopped phone.
    Start = ("instance.start", 2002, true),
    /// Shut a phone down.
    Stop = ("instance.stop", 2003, true),
    /// Delete an app's data.
    AppClear = ("app.clear", 2004, true),
    /// A batch: one child task per phone.
    Batch = ("batch", 2005, true),
}

// By hand: the derive does not see the names the macro gives to serde.
#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for TaskKind {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("What a task does (docs/tasks.md lists each with its business code)."))
            .enum_values(Some(TaskKind::ALL.iter().map(|k| k.as_str())))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for TaskKind {}

impl TaskKind {
    /// Parses the dotted name.
    pub fn parse(s: &str) -> Option<TaskKind> {
        TaskKind::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// Why a task failed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskError {
    /// An error catalogue code (`docs/errors.md`).
    pub code: String,
    /// What went wrong, for humans.
    pub message: String,
}

/// A task as the API shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskView {
    /// Opaque id (`tk-…`), ordered by creation.
    pub id: String,
    /// What it does.
    pub kind: TaskKind,
    /// The kind's business code (VMOS `taskBusinessType`).
    pub business_code: u16,
    /// Where it is.
    pub status: TaskStatus,
    /// The status as a VMOS `taskStatus` code.
    pub task_status: i16,
    /// The phone it acts on (absent on a batch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The batch it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    /// What it was asked to do (the request's parameters; uploads by size only).
    pub params: serde_json::Value,
    /// What it produced, once done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<TaskError>,
    /// How many times it was started (more than 1 after a crash re-ran it).
    pub attempts: u32,
    /// Accepted at, RFC 3339 UTC.
    pub created_at: String,
    /// Started at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    /// Ended at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    /// The latest it may end, set when it starts; past it, a running task becomes `timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<String>,
    /// A batch's children.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<String>,
}

/// A page of tasks (`GET /v1/tasks`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskList {
    /// The tasks, newest first.
    pub tasks: Vec<TaskView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `POST /v1/batch` body: one operation over many phones.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// The operation: `instance.restart`, `instance.reset`, `instance.start`, `instance.stop`,
    /// `instance.new_device`, `instance.shell`, `app.start`, `app.stop`, `app.restart`,
    /// `app.clear`, `app.uninstall`.
    pub operation: String,
    /// The phones (1 to 500, no repeats).
    pub instance_ids: Vec<String>,
    /// The operation's parameters, as its single-phone endpoint takes them (`{"command": …}`
    /// for shell, `{"package": …}` for app operations, a new-device body for new_device).
    #[serde(default)]
    pub params: serde_json::Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_round_trip() {
        for kind in TaskKind::ALL {
            assert_eq!(TaskKind::parse(kind.as_str()), Some(*kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
        for status in TaskStatus::ALL {
            assert_eq!(TaskStatus::parse(status.as_str()), Some(*status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        let codes: std::collections::BTreeSet<u16> = TaskKind::ALL.iter().map(|k| k.business_code()).collect();
        assert_eq!(codes.len(), TaskKind::ALL.len(), "business codes are unique");
        assert_eq!(TaskKind::NewDevice.business_code(), 1124);
        assert_eq!(TaskStatus::PartlyFailed.vmos_code(), -2);
    }

    #[test]
    fn a_batch_ends_by_its_children() {
        use TaskStatus::*;
        assert_eq!(TaskStatus::of_batch(&[Done, Running]), None);
        assert_eq!(TaskStatus::of_batch(&[Done, Done]), Some(Done));
        assert_eq!(TaskStatus::of_batch(&[Done, Failed]), Some(PartlyFailed));
        assert_eq!(TaskStatus::of_batch(&[Timeout, Failed]), Some(Failed));
        assert_eq!(TaskStatus::of_batch(&[Cancelled, Cancelled]), Some(Cancelled));
        assert_eq!(TaskStatus::of_batch(&[Cancelled, Done]), Some(PartlyFailed));
    }
}
