//! Kill -9 while tasks run and callbacks are undelivered: after a restart on the same data every
//! task reaches a final state and every callback is delivered.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use cloudphone_protocol::api::CreateInstances;
use cloudphone_protocol::callback::Event;
use cloudphone_protocol::task::BatchRequest;
use cloudphone_sdk::Client;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_cloudphone");

/// Starts `cloudphone up` on `data_dir` (and `database`, if given) and returns it with a client
/// of its API.
fn up(data_dir: &std::path::Path, database: Option<&str>) -> (Child, Client) {
    let mut command = Command::new(BIN);
    command.args(["up", "--listen", "127.0.0.1:0", "--data-dir"]).arg(data_dir);
    if let Some(url) = database {
        command.args(["--database", url]);
    }
    let mut child = command.env("RUST_LOG", "warn").stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while !lines.next().expect("`up` prints its console URL").unwrap().contains("console:") {}
    std::thread::spawn(move || lines.for_each(drop));
    let credentials: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data_dir.join("credentials.json")).unwrap()).unwrap();
    let text = |key: &str| credentials[key].as_str().unwrap().to_owned();
    (child, Client::new(text("api_url"), text("access_key"), text("secret_key")))
}

/// A callback receiver that refuses everything until it is told to accept.
#[derive(Clone, Default)]
struct Receiver {
    accepting: Arc<std::sync::atomic::AtomicBool>,
    events: Arc<Mutex<Vec<Event>>>,
}

async fn serve(receiver: Receiver) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let receiver = receiver.clone();
            async move {
                if !receiver.accepting.load(std::sync::atomic::Ordering::SeqCst) {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                receiver.events.lock().unwrap().push(serde_json::from_str(&body).unwrap());
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_finishes_every_task_and_delivers_every_callback() {
    crash_and_recover(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_on_postgresql_finishes_every_task_and_delivers_every_callback() {
    let Ok(server) = std::env::var(cloudphone_store::TEST_POSTGRES_ENV) else {
        eprintln!("skipping PostgreSQL: {} is not set", cloudphone_store::TEST_POSTGRES_ENV);
        return;
    };
    let url = cloudphone_store::create_scratch_postgres(&server).await.expect("a scratch database");
    crash_and_recover(Some(&url)).await;
}

async fn crash_and_recover(database: Option<&str>) {
    let data = tempfile::tempdir().unwrap();
    let receiver = Receiver::default();
    let hook = serve(receiver.clone()).await;
    let (mut first, client) = up(data.path(), database);
    client.set_callback(&hook, Some("crash-test-secret-0123")).await.unwrap();

    // Phones, and tasks queued behind their creation, then a batch over them all.
    let created = client.submit_create(&CreateInstances { count: Some(4), ..Default::default() }).await.unwrap();
    let ids: Vec<String> = created.instances.iter().map(|i| i.id.clone()).collect();
    for id in &ids {
        client.submit_task::<()>(id, "restart", None).await.unwrap();
        client.submit_task(id, "shell/async", Some(&json!({"command": "echo hi"}))).await.unwrap();
        client.submit_task(id, "new-device", Some(&json!({"keep_user_data": true}))).await.unwrap();
        client.submit_task::<()>(id, "apps/com.android.settings/start", None).await.unwrap();
    }
    let batch = BatchRequest { operation: "instance.reset".into(), instance_ids: ids.clone(), params: json!({}) };
    client.batch(&batch).await.unwrap();
    let before = client.tasks(&[], None, 100).await.unwrap().tasks;
    assert_eq!(before.len(), 1 + 4 + 16 + 1 + 4);
    let unfinished = before.iter().filter(|t| !t.status.is_final()).count();
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(unfinished > 0, "the kill came while tasks were in flight");

    // Restart on the same data; the receiver now takes what it is sent.
    receiver.accepting.store(true, std::sync::atomic::Ordering::SeqCst);
    let (mut second, client) = up(data.path(), database);
    let deadline = Instant::now() + Duration::from_secs(90);
    let tasks = loop {
        let tasks = client.tasks(&[], None, 100).await.unwrap().tasks;
        if tasks.iter().all(|t| t.status.is_final()) {
            break tasks;
        }
        assert!(Instant::now() < deadline, "tasks still unfinished: {tasks:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(tasks.len(), before.len(), "no task lost, none made up");
    for task in &tasks {
        let interrupted = task.error.as_ref().is_some_and(|e| e.code == "task.interrupted");
        assert!(
            task.status.as_str() == "done" || interrupted,
            "every task ran to its end, or failed cleanly as interrupted: {task:#?}"
        );
    }
    loop {
        let pending = client.deliveries(Some("pending"), None, 100).await.unwrap().deliveries;
        if pending.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "deliveries still pending: {pending:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = client.deliveries(None, None, 500).await.unwrap();
    assert!(log.next_cursor.is_none());
    assert!(log.deliveries.iter().all(|d| d.status == "delivered"), "none given up");
    let received: BTreeSet<String> = receiver.events.lock().unwrap().iter().map(|e| e.event_id.clone()).collect();
    let stored: BTreeSet<String> = log.deliveries.iter().map(|d| d.event_id.clone()).collect();
    assert_eq!(received, stored, "every event arrived (at least once)");
    let ended: BTreeSet<String> = receiver
        .events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| e.data["task"]["id"].as_str().map(str::to_owned))
        .collect();
    for task in &tasks {
        assert!(ended.contains(&task.id), "the end of {} was called back", task.id);
    }
    for id in &ids {
        assert_eq!(client.instance(id).await.unwrap().status.as_str(), "running");
    }
    second.kill().unwrap();
    second.wait().unwrap();
}
