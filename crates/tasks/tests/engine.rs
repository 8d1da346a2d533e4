//! The engine over a real store (SQLite, and PostgreSQL when `CLOUDPHONE_TEST_POSTGRES_URL` is
//! set) with an executor that records what it ran.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cloudphone_protocol::{ApiError, ErrorCode, TaskKind, TaskStatus};
use cloudphone_store::{AccessKey, MasterKey, Store, TaskRow};
use cloudphone_tasks::{BoxFuture, Engine, Executor, new_batch, new_task};
use serde_json::json;

/// Runs `{"sleep_ms": n, "fail": bool}` tasks and logs `(phone, task id)` as each starts and ends.
#[derive(Default)]
struct Recorder {
    log: Arc<Mutex<Vec<String>>>,
}

impl Executor for Recorder {
    fn run(&self, task: TaskRow) -> BoxFuture<Result<serde_json::Value, ApiError>> {
        let params: serde_json::Value = serde_json::from_str(&task.params).unwrap();
        let phone = task.instance_id.clone().unwrap_or_default();
        self.log.lock().unwrap().push(format!("start {phone} {}", task.id));
        let log = self.log.clone();
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(params["sleep_ms"].as_u64().unwrap_or(0))).await;
            log.lock().unwrap().push(format!("end {phone} {}", task.id));
            if params["fail"].as_bool().unwrap_or(false) {
                Err(ApiError::with_message(ErrorCode::AppNotInstalled, "no such app"))
            } else {
                Ok(json!({"phone": phone}))
            }
        })
    }
}

async fn stores() -> (tempfile::TempDir, Vec<Store>) {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::from_hex(&"11".repeat(32)).unwrap();
    let mut stores = vec![Store::open_sqlite(&dir.path().join("t.db"), master.clone()).await.unwrap()];
    match std::env::var(cloudphone_store::TEST_POSTGRES_ENV) {
        Ok(server) => {
            let url = cloudphone_store::create_scratch_postgres(&server).await.unwrap();
            stores.push(Store::open(&url, master).await.unwrap());
        }
        Err(_) => eprintln!("skipping PostgreSQL: {} is not set", cloudphone_store::TEST_POSTGRES_ENV),
    }
    for store in &stores {
        let key = AccessKey { access_key: "ak".into(), tenant_id: "t1".into(), secret_key: "s".into(), created_at: 1 };
        store.create_tenant("t1", "test", &key).await.unwrap();
        store.set_callback("t1", "http://127.0.0.1:9/hook", "secret", 1).await.unwrap();
    }
    (dir, stores)
}

fn task(kind: TaskKind, phone: &str, params: serde_json::Value) -> TaskRow {
    new_task("t1", kind, Some(phone), None, params)
}

async fn wait(engine: &Engine, id: &str) -> TaskRow {
    engine.wait("t1", id, Duration::from_secs(10)).await.unwrap()
}

#[tokio::test]
async fn tasks_of_a_phone_run_in_order_and_each_ends_once_with_an_event() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let recorder = Arc::new(Recorder::default());
        let engine = Engine::new(store.clone(), recorder.clone(), 4);
        let handle = engine.start().await.unwrap();
        let a1 = task(TaskKind::Restart, "cp-a", json!({"sleep_ms": 150}));
        let a2 = task(TaskKind::Stop, "cp-a", json!({}));
        let b1 = task(TaskKind::Restart, "cp-b", json!({"fail": true}));
        engine.submit(&[], &[a1.clone(), a2.clone(), b1.clone()]).await.unwrap();

        let done = wait(&engine, &a2.id).await;
        assert_eq!(done.status, "done");
        assert_eq!(done.result.as_deref(), Some(r#"{"phone":"cp-a"}"#));
        assert!(done.started_at.unwrap() >= wait(&engine, &a1.id).await.ended_at.unwrap(), "in order per phone");
        let failed = wait(&engine, &b1.id).await;
        assert_eq!((failed.status.as_str(), failed.error_code.as_deref()), ("failed", Some("app.not_installed")));
        let log = recorder.log.lock().unwrap().clone();
        let pos = |line: String| log.iter().position(|l| *l == line).unwrap();
        assert!(pos(format!("start cp-b {}", b1.id)) < pos(format!("end cp-a {}", a1.id)), "phones run in parallel");

        // One delivery per ended task, each carrying the ended task.
        let deliveries = store.deliveries("t1", None, None, 10).await.unwrap();
        assert_eq!(deliveries.len(), 3);
        let body: serde_json::Value = serde_json::from_str(&deliveries[0].body).unwrap();
        assert_eq!(body["type"], "task.ended");
        assert!(body["data"]["task"]["status"].is_string() && body["business_code"].as_u64().unwrap() >= 1000);
        handle.abort();
    }
}

#[tokio::test]
async fn batches_end_by_their_children_and_pending_tasks_cancel() {
    let (_dir, stores) = stores().await;
    for store in stores {
        let engine = Engine::new(store.clone(), Arc::new(Recorder::default()), 4);
        let handle = engine.start().await.unwrap();
        // A slow task holds cp-1, so the batch's cp-1 child waits behind it and can be cancelled.
        let blocker = task(TaskKind::Restart, "cp-1", json!({"sleep_ms": 400}));
        engine.submit(&[], std::slice::from_ref(&blocker)).await.unwrap();
        let mut children = vec![
            task(TaskKind::AppStart, "cp-1", json!({})),
            task(TaskKind::AppStart, "cp-2", json!({})),
            task(TaskKind::AppStart, "cp-3", json!({"fail": true})),
        ];
        let batch = new_batch("t1", json!({"operation": "app.start"}), &mut children);
        let mut all = vec![batch.clone()];
        all.extend(children.iter().cloned());
        engine.submit(&[], &all).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;

        let err = engine.cancel("t1", &children[1].id).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::TaskNotCancellable, "cp-2's child already ran");
        let cancelled = engine.cancel("t1", &children[0].id).await.unwrap();
        assert_eq!(cancelled.status, "cancelled");
        assert_eq!(cancelled.error_code.as_deref(), Some("task.cancelled"));
        let ended = wait(&engine, &batch.id).await;
        assert_eq!(ended.status, TaskStatus::PartlyFailed.as_str());
        assert_eq!(ended.error_code.as_deref(), Some("task.batch_failed"));
        assert!(ended.error_message.as_deref().unwrap().contains("2 of 3"), "{:?}", ended.error_message);
        let summary: serde_json::Value = serde_json::from_str(ended.result.as_deref().unwrap()).unwrap();
        assert_eq!(summary, json!({"total": 3, "done": 1, "failed": 1, "timeout": 0, "cancelled": 1}));
        let view = engine.view(&ended).await.unwrap();
        assert_eq!(view.children.len(), 3);
        assert_eq!(view.task_status, -2);
        assert_eq!(engine.task("t2", &batch.id).await.unwrap_err().code, ErrorCode::TaskNotFound);
        handle.abort();
    }
}

#[tokio::test]
async fn a_restart_reruns_what_is_safe_and_fails_the_rest() {
    let (_dir, stores) = stores().await;
    for store in stores {
        // What a killed process leaves: tasks marked running that nobody runs any more.
        let restart = task(TaskKind::Restart, "cp-1", json!({}));
        let shell = task(TaskKind::Shell, "cp-2", json!({"command": "rm -r /sdcard/x"}));
        let mut children = vec![task(TaskKind::Stop, "cp-3", json!({}))];
        let batch = new_batch("t1", json!({}), &mut children);
        store.enqueue(&[], &[restart.clone(), shell.clone(), batch.clone(), children[0].clone()]).await.unwrap();
        for t in [&restart, &shell, &children[0]] {
            assert!(store.claim_task(&t.id, 1, 2).await.unwrap());
        }

        let recorder = Arc::new(Recorder::default());
        let engine = Engine::new(store.clone(), recorder.clone(), 4);
        let handle = engine.start().await.unwrap();
        let rerun = wait(&engine, &restart.id).await;
        assert_eq!((rerun.status.as_str(), rerun.attempts), ("done", 2));
        let interrupted = wait(&engine, &shell.id).await;
        assert_eq!(
            (interrupted.status.as_str(), interrupted.error_code.as_deref()),
            ("failed", Some("task.interrupted"))
        );
        assert_eq!(wait(&engine, &batch.id).await.status, "done");
        assert!(!recorder.log.lock().unwrap().iter().any(|l| l.contains(&shell.id)), "the shell never ran twice");
        handle.abort();
    }
}
