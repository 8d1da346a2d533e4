//! Tasks: every asynchronous operation, stored before it is acknowledged. A task's end is
//! written with its `task.ended` event in one transaction (see [`crate::events`]).

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::events::{NewEvent, record_event};
use crate::{InstanceRow, Store, StoreError};

/// A stored task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRow {
    /// Ordered id (`tk-…`).
    pub id: String,
    /// Owning tenant.
    pub tenant_id: String,
    /// What it does (`instance.restart`, …).
    pub kind: String,
    /// The phone it acts on; `None` for a batch.
    pub instance_id: Option<String>,
    /// The batch it belongs to.
    pub parent_id: Option<String>,
    /// `pending`, `running`, or a final status.
    pub status: String,
    /// Its parameters, JSON.
    pub params: String,
    /// What it produced, JSON.
    pub result: Option<String>,
    /// The error catalogue code it failed with.
    pub error_code: Option<String>,
    /// The failure's message.
    pub error_message: Option<String>,
    /// How many times it was started.
    pub attempts: i64,
    /// Accepted at.
    pub created_at: i64,
    /// Last started at.
    pub started_at: Option<i64>,
    /// Ended at.
    pub ended_at: Option<i64>,
    /// Past this a running task times out.
    pub deadline_at: Option<i64>,
}

/// How a task ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskEnd {
    /// The final status.
    pub status: String,
    /// What it produced, JSON.
    pub result: Option<String>,
    /// The error code, when it failed.
    pub error_code: Option<String>,
    /// The error message.
    pub error_message: Option<String>,
    /// When.
    pub ended_at: i64,
}

/// Which tasks a list shows (every field optional).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskFilter {
    /// Only this status.
    pub status: Option<String>,
    /// Only this kind.
    pub kind: Option<String>,
    /// Only tasks on this phone.
    pub instance_id: Option<String>,
    /// Only the children of this batch.
    pub parent_id: Option<String>,
}

const TASK_COLUMNS: &str = "id, tenant_id, kind, instance_id, parent_id, status, params, result, error_code,
    error_message, attempts, created_at, started_at, ended_at, deadline_at";

fn task_from(r: &AnyRow) -> TaskRow {
    TaskRow {
        id: r.get("id"),
        tenant_id: r.get("tenant_id"),
        kind: r.get("kind"),
        instance_id: r.get("instance_id"),
        parent_id: r.get("parent_id"),
        status: r.get("status"),
        params: r.get("params"),
        result: r.get("result"),
        error_code: r.get("error_code"),
        error_message: r.get("error_message"),
        attempts: r.get("attempts"),
        created_at: r.get("created_at"),
        started_at: r.get("started_at"),
        ended_at: r.get("ended_at"),
        deadline_at: r.get("deadline_at"),
    }
}

impl Store {
    /// Stores new tasks, and the instances they create, in one transaction: either all are
    /// accepted or none is.
    pub async fn enqueue(&self, instances: &[InstanceRow], tasks: &[TaskRow]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for row in instances {
            sqlx::query(
                "INSERT INTO instances (id, tenant_id, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&row.id)
            .bind(&row.tenant_id)
            .bind(&row.status)
            .bind(row.created_at)
            .bind(row.updated_at)
            .execute(&mut *tx)
            .await?;
        }
        for t in tasks {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO tasks ({TASK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            )))
            .bind(&t.id)
            .bind(&t.tenant_id)
            .bind(&t.kind)
            .bind(&t.instance_id)
            .bind(&t.parent_id)
            .bind(&t.status)
            .bind(&t.params)
            .bind(&t.result)
            .bind(&t.error_code)
            .bind(&t.error_message)
            .bind(t.attempts)
            .bind(t.created_at)
            .bind(t.started_at)
            .bind(t.ended_at)
            .bind(t.deadline_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One of a tenant's tasks; `None` also when it belongs to another tenant.
    pub async fn task(&self, tenant_id: &str, id: &str) -> Result<Option<TaskRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE tenant_id = $1 AND id = $2"
        )))
        .bind(tenant_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(task_from))
    }

    /// A task of any tenant (for the engine).
    pub async fn task_by_id(&self, id: &str) -> Result<Option<TaskRow>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(task_from))
    }

    /// A page of a tenant's tasks, newest first, before the id `before`.
    pub async fn tasks(
        &self,
        tenant_id: &str,
        filter: &TaskFilter,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<TaskRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE tenant_id = $1
             AND ($2 = '' OR status = $2) AND ($3 = '' OR kind = $3)
             AND ($4 = '' OR instance_id = $4) AND ($5 = '' OR parent_id = $5) AND ($6 = '' OR id < $6)
             ORDER BY id DESC LIMIT $7"
        )))
        .bind(tenant_id)
        .bind(filter.status.as_deref().unwrap_or(""))
        .bind(filter.kind.as_deref().unwrap_or(""))
        .bind(filter.instance_id.as_deref().unwrap_or(""))
        .bind(filter.parent_id.as_deref().unwrap_or(""))
        .bind(before.unwrap_or(""))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(task_from).collect())
    }

    /// A batch's children, oldest first.
    pub async fn children(&self, parent_id: &str) -> Result<Vec<TaskRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE parent_id = $1 ORDER BY id"
        )))
        .bind(parent_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(task_from).collect())
    }

    /// Tasks in one status, oldest first: batches only, or every kind but batches.
    pub async fn tasks_in_status(&self, status: &str, batches: bool, limit: i64) -> Result<Vec<TaskRow>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE status = $1 AND (kind = 'batch') = $2 ORDER BY id LIMIT $3"
        )))
        .bind(status)
        .bind(batches)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(task_from).collect())
    }

    /// Moves a pending task to running. Returns `false` if it was no longer pending (cancelled).
    pub async fn claim_task(&self, id: &str, now: i64, deadline_at: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE tasks SET status = 'running', started_at = $1, deadline_at = $2, attempts = attempts + 1
             WHERE id = $3 AND status = 'pending'",
        )
        .bind(now)
        .bind(deadline_at)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Puts a running task back to pending (at restart, for a task that is safe to run again).
    pub async fn requeue_task(&self, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE tasks SET status = 'pending' WHERE id = $1 AND status = 'running'")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Ends a task that has not ended yet, with the event `event` makes of the ended row, in one
    /// transaction. Returns the ended row, or `None` when it had already ended (so that of two
    /// racing enders exactly one reports the end).
    pub async fn finish_task(
        &self,
        id: &str,
        end: &TaskEnd,
        event: impl FnOnce(&TaskRow) -> NewEvent,
    ) -> Result<Option<TaskRow>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE tasks SET status = $1, result = $2, error_code = $3, error_message = $4, ended_at = $5
             WHERE id = $6 AND status IN ('pending', 'running')",
        )
        .bind(&end.status)
        .bind(&end.result)
        .bind(&end.error_code)
        .bind(&end.error_message)
        .bind(end.ended_at)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1")))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let row = task_from(&row);
        record_event(&mut tx, &event(&row)).await?;
        tx.commit().await?;
        self.outbox_written();
        Ok(Some(row))
    }

    /// How many tasks are in each status, for metrics.
    pub async fn task_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM tasks GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get("status"), r.get("n"))).collect())
    }

    /// How many instances are in each status, for metrics.
    pub async fn instance_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM instances GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get("status"), r.get("n"))).collect())
    }

    /// How many deliveries are in each status, for metrics.
    pub async fn delivery_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status ORDER BY status")
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get("status"), r.get("n"))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{key, stores};

    fn task(id: &str, kind: &str, instance: Option<&str>, parent: Option<&str>) -> TaskRow {
        TaskRow {
            id: id.into(),
            tenant_id: "t1".into(),
            kind: kind.into(),
            instance_id: instance.map(str::to_owned),
            parent_id: parent.map(str::to_owned),
            status: "pending".into(),
            params: "{}".into(),
            result: None,
            error_code: None,
            error_message: None,
            attempts: 0,
            created_at: 1,
            started_at: None,
            ended_at: None,
            deadline_at: None,
        }
    }

    fn ended(row: &TaskRow) -> NewEvent {
        NewEvent {
            id: crate::ordered_id("ev"),
            tenant_id: row.tenant_id.clone(),
            instance_id: row.instance_id.clone(),
            kind: "task.ended".into(),
            business_code: 1000,
            body: row.status.clone(),
            created_at: row.ended_at.unwrap_or(0),
        }
    }

    #[tokio::test]
    async fn tasks_are_claimed_once_and_end_once() {
        let (_dir, stores) = stores().await;
        for store in stores {
            store.create_tenant("t1", "a", &key("ak1", "t1")).await.unwrap();
            store.set_callback("t1", "http://hook", "sec", 1).await.unwrap();
            let batch = TaskRow { status: "running".into(), ..task("tk-1", "batch", None, None) };
            let a = task("tk-2", "instance.restart", Some("cp-1"), Some("tk-1"));
            let b = task("tk-3", "instance.restart", Some("cp-2"), Some("tk-1"));
            store.enqueue(&[], &[batch.clone(), a.clone(), b.clone()]).await.unwrap();
            assert!(store.enqueue(&[], &[task("tk-4", "x", None, None), a.clone()]).await.is_err());
            assert_eq!(store.task("t1", "tk-4").await.unwrap(), None, "a failed enqueue stores nothing");

            let pending = store.tasks_in_status("pending", false, 10).await.unwrap();
            assert_eq!(pending.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), vec!["tk-2", "tk-3"]);
            assert_eq!(store.tasks_in_status("running", true, 10).await.unwrap(), vec![batch.clone()]);
            assert!(store.claim_task("tk-2", 5, 100).await.unwrap());
            assert!(!store.claim_task("tk-2", 6, 100).await.unwrap(), "claimed once");
            let running = store.task("t1", "tk-2").await.unwrap().unwrap();
            assert_eq!((running.status.as_str(), running.attempts, running.started_at), ("running", 1, Some(5)));

            let end = TaskEnd {
                status: "done".into(),
                result: Some("{\"ok\":true}".into()),
                error_code: None,
                error_message: None,
                ended_at: 9,
            };
            let row = store.finish_task("tk-2", &end, ended).await.unwrap().unwrap();
            assert_eq!(row.result.as_deref(), Some("{\"ok\":true}"));
            assert_eq!(store.finish_task("tk-2", &end, ended).await.unwrap(), None, "ends once");
            let due = store.due_deliveries(100, &[], 10).await.unwrap();
            assert_eq!(due.len(), 1, "one event, one delivery, with the end");

            assert!(!store.requeue_task("tk-3").await.unwrap(), "only running tasks requeue");
            assert!(store.claim_task("tk-3", 5, 100).await.unwrap());
            assert!(store.requeue_task("tk-3").await.unwrap());
            assert_eq!(store.children("tk-1").await.unwrap().len(), 2);

            let filter = TaskFilter { status: Some("pending".into()), ..Default::default() };
            let listed = store.tasks("t1", &filter, None, 10).await.unwrap();
            assert_eq!(listed.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), vec!["tk-3"]);
            let all = store.tasks("t1", &TaskFilter::default(), None, 2).await.unwrap();
            assert_eq!(all.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), vec!["tk-3", "tk-2"], "newest first");
            let rest = store.tasks("t1", &TaskFilter::default(), Some("tk-2"), 2).await.unwrap();
            assert_eq!(rest.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), vec!["tk-1"]);
            assert!(store.tasks("t2", &TaskFilter::default(), None, 10).await.unwrap().is_empty());
            let counts = store.task_counts().await.unwrap();
            assert!(counts.contains(&("done".to_owned(), 1)) && counts.contains(&("pending".to_owned(), 1)));
        }
    }
}
