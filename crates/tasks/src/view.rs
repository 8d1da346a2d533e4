//! Stored task rows as the API shows them.

use cloudphone_protocol::task::TaskError;
use cloudphone_protocol::{TaskKind, TaskStatus, TaskView, rfc3339};
use cloudphone_store::TaskRow;

/// The API view of a task row; `children` are a batch's child ids.
pub fn view_of(row: &TaskRow, children: Vec<String>) -> TaskView {
    let kind = TaskKind::parse(&row.kind).unwrap_or(TaskKind::Batch);
    let status = TaskStatus::parse(&row.status).unwrap_or(TaskStatus::Failed);
    let json = |text: &Option<String>| text.as_deref().and_then(|t| serde_json::from_str(t).ok());
    TaskView {
        id: row.id.clone(),
        kind,
        business_code: kind.business_code(),
        status,
        task_status: status.vmos_code(),
        instance_id: row.instance_id.clone(),
        parent_id: row.parent_id.clone(),
        params: serde_json::from_str(&row.params).unwrap_or(serde_json::Value::Null),
        result: json(&row.result),
        error: row
            .error_code
            .as_ref()
            .map(|code| TaskError { code: code.clone(), message: row.error_message.clone().unwrap_or_default() }),
        attempts: row.attempts.max(0) as u32,
        created_at: rfc3339(row.created_at),
        started_at: row.started_at.map(rfc3339),
        ended_at: row.ended_at.map(rfc3339),
        deadline: row.deadline_at.map(rfc3339),
        children,
    }
}
