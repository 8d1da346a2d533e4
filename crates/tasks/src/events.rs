//! The events the control plane records: a task's end and a phone's status change. Their body is
//! the exact JSON every callback delivery of them sends.

use cloudphone_protocol::callback::{Event, EventType, INSTANCE_STATUS_CODE};
use cloudphone_protocol::{InstanceStatus, TaskView, rfc3339};
use cloudphone_store::{InstanceRow, NewEvent, TaskRow, ordered_id};
use serde_json::json;

fn new_event(
    kind: EventType,
    business_code: u16,
    tenant_id: &str,
    instance_id: Option<&str>,
    now: i64,
    data: serde_json::Value,
) -> NewEvent {
    let id = ordered_id("ev");
    let event = Event {
        event_id: id.clone(),
        kind,
        business_code,
        tenant_id: tenant_id.to_owned(),
        instance_id: instance_id.map(str::to_owned),
        created_at: rfc3339(now),
        data,
    };
    NewEvent {
        id,
        tenant_id: tenant_id.to_owned(),
        instance_id: instance_id.map(str::to_owned),
        kind: kind.as_str().to_owned(),
        business_code: i64::from(business_code),
        body: serde_json::to_string(&event).expect("events serialise"),
        created_at: now,
    }
}

/// `instance.status` (999): the phone's new status, with its VMOS `padStatus`.
pub fn instance_status(row: &InstanceRow) -> NewEvent {
    let status = InstanceStatus::parse(&row.status).unwrap_or(InstanceStatus::Abnormal);
    new_event(
        EventType::InstanceStatus,
        INSTANCE_STATUS_CODE,
        &row.tenant_id,
        Some(&row.id),
        row.updated_at,
        json!({"status": status, "pad_status": status.vmos_code()}),
    )
}

/// `task.ended` (the task kind's code): `task` is the ended row, `view` it as
/// `GET /v1/tasks/{id}` shows it.
pub fn task_ended(view: &TaskView, task: &TaskRow) -> NewEvent {
    new_event(
        EventType::TaskEnded,
        view.business_code,
        &task.tenant_id,
        task.instance_id.as_deref(),
        task.ended_at.unwrap_or(task.created_at),
        json!({ "task": view }),
    )
}

/// `ping`: sent on request, to test a callback endpoint.
pub fn ping(tenant_id: &str, now: i64) -> NewEvent {
    new_event(EventType::Ping, 0, tenant_id, None, now, json!({}))
}
