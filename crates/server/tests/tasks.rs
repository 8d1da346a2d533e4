//! Tasks and callbacks over real HTTP: asynchronous operations answer with a task at once, end
//! with a signed `task.ended` callback, and phones' status changes arrive in order.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use cloudphone_protocol::api::{CreateInstances, Instance, ShellResult};
use cloudphone_protocol::callback::{Event, EventType, SIGNATURE_HEADER, verify};
use cloudphone_protocol::task::BatchRequest;
use cloudphone_protocol::{TaskKind, TaskStatus};
use cloudphone_sdk::{Client, SigningOverride};
use reqwest::Method;
use serde_json::json;

mod common;
use common::{code, start};

/// A callback receiver: checks each signature and keeps the events.
#[derive(Clone)]
pub struct Receiver {
    secret: Arc<Mutex<String>>,
    events: Arc<Mutex<Vec<Event>>>,
    /// Answer 503 while set.
    refusing: Arc<std::sync::atomic::AtomicBool>,
    url: String,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            secret: Arc::default(),
            events: Arc::default(),
            refusing: Arc::default(),
            url: format!("http://{}/hook", listener.local_addr().unwrap()),
        };
        let this = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let this = this.clone();
                async move {
                    if this.refusing.load(std::sync::atomic::Ordering::SeqCst) {
                        return StatusCode::SERVICE_UNAVAILABLE;
                    }
                    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
                    let now = cloudphone_store::now_millis() / 1000;
                    let secret = this.secret.lock().unwrap().clone();
                    assert_eq!(verify(&secret, signature, body.as_bytes(), now), Ok(()), "signed with our secret");
                    this.events.lock().unwrap().push(serde_json::from_str(&body).expect("an event"));
                    StatusCode::OK
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        receiver
    }

    /// Waits until `done` holds for the events received.
    async fn wait_for(&self, what: &str, done: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        for _ in 0..300 {
            let events = self.events.lock().unwrap().clone();
            if done(&events) {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}: got {:#?}", self.events.lock().unwrap());
    }
}

fn ended(events: &[Event], task: &str) -> bool {
    events.iter().any(|e| e.kind == EventType::TaskEnded && e.data["task"]["id"] == task)
}

async fn raw_status(client: &Client, method: Method, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    match client.send_signed(method, path, &[], body.to_string().into_bytes(), &SigningOverride::default()).await {
        Ok(response) => (response.status().as_u16(), response.json().await.unwrap()),
        Err(e) => panic!("{path}: {e}"),
    }
}

#[tokio::test]
async fn operations_are_tasks_that_end_in_signed_ordered_callbacks() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let receiver = Receiver::start().await;
    let hook = client.set_callback(&receiver.url, None).await.unwrap();
    *receiver.secret.lock().unwrap() = hook.secret.clone().expect("the secret is shown once");
    assert_eq!(client.callback().await.unwrap().secret, None, "and never again");

    // Creating two phones answers at once with the phones (booting) and a batch.
    let created = client.submit_create(&CreateInstances { count: Some(2), ..Default::default() }).await.unwrap();
    assert_eq!(created.task.kind, TaskKind::Batch);
    assert_eq!(created.task.children.len(), 2);
    let batch = client.wait_task(&created.task.id, Duration::from_secs(30)).await.unwrap();
    assert_eq!((batch.status, batch.task_status), (TaskStatus::Done, 3));
    let (a, b) = (created.instances[0].id.clone(), created.instances[1].id.clone());
    assert_eq!(client.instance(&a).await.unwrap().pad_status, 10);

    // One phone's restart: 202 and a pending task; `?wait=` makes it 200 and final.
    let (status, task) = raw_status(&client, Method::POST, &format!("/v1/instances/{a}/restart"), json!({})).await;
    assert_eq!((status, task["status"].as_str()), (202, Some("pending")));
    let done = client.wait_task(task["id"].as_str().unwrap(), Duration::from_secs(30)).await.unwrap();
    let instance: Instance = cloudphone_sdk::Client::task_result(&done).unwrap();
    assert_eq!((instance.id.as_str(), instance.pad_status), (a.as_str(), 10));
    assert_eq!((done.business_code, done.attempts), (1000, 1));
    let waited = client
        .send_signed(
            Method::POST,
            &format!("/v1/instances/{a}/stop"),
            &[("wait", "30")],
            Vec::new(),
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(waited.status(), 200, "waited until it ended");
    let stopped: cloudphone_protocol::TaskView = waited.json().await.unwrap();
    assert_eq!(stopped.result.unwrap()["status"], "stopped");

    // A batch over a running and a stopped phone ends partly failed.
    let shell = client
        .batch(&BatchRequest {
            operation: "instance.shell".into(),
            instance_ids: vec![a.clone(), b.clone()],
            params: json!({"command": "getprop ro.product.model"}),
        })
        .await
        .unwrap();
    let shell = client.wait_task(&shell.id, Duration::from_secs(30)).await.unwrap();
    assert_eq!((shell.status, shell.task_status), (TaskStatus::PartlyFailed, -2));
    assert_eq!(shell.result.as_ref().unwrap()["failed"], 1);
    let children = client.tasks(&[("parent_id", &shell.id)], None, 10).await.unwrap().tasks;
    let by_phone: BTreeMap<String, _> = children.iter().map(|t| (t.instance_id.clone().unwrap(), t)).collect();
    assert_eq!(by_phone[&a].error.as_ref().unwrap().code, "instance.not_running");
    let out: ShellResult = cloudphone_sdk::Client::task_result(by_phone[&b]).unwrap();
    assert_eq!(out.stdout, "Pixel 7\n");

    // A failing task carries its catalogue error; an unknown one is not found; ended ones
    // cannot be cancelled.
    let failed = client.submit_task::<()>(&b, "apps/com.nosuch.app/stop", None).await.unwrap();
    let failed = client.wait_task(&failed.id, Duration::from_secs(30)).await.unwrap();
    assert_eq!(failed.error.as_ref().unwrap().code, "app.not_installed");
    assert_eq!(code(cloudphone_sdk::Client::task_result::<serde_json::Value>(&failed)), "app.not_installed");
    assert_eq!(code(client.task("tk-0000").await), "task.not_found");
    assert_eq!(code(client.cancel_task(&failed.id).await), "task.not_cancellable");

    // Bad requests are refused before anything is stored.
    let bad = BatchRequest { operation: "instance.reboot".into(), instance_ids: vec![a.clone()], params: json!(null) };
    assert_eq!(code(client.batch(&bad).await), "request.invalid_parameter");
    let twice = BatchRequest { operation: "instance.restart".into(), instance_ids: vec![a.clone(), a.clone()], ..bad };
    assert_eq!(code(client.batch(&twice).await), "request.invalid_parameter");
    let unknown = BatchRequest { instance_ids: vec!["cp-nosuch".into()], ..twice };
    assert_eq!(code(client.batch(&unknown).await), "instance.not_found");
    assert_eq!(
        code(client.submit_task(&b, "shell/async", Some(&json!({"command": " "}))).await),
        "shell.empty_command"
    );
    assert_eq!(
        code(client.submit_task(&b, "restart", Some(&json!({"hard": true}))).await),
        "request.invalid_parameter"
    );
    assert_eq!(
        code(client.submit_task(&b, "new-device", Some(&json!({"model": "Nokia 3310"}))).await),
        "catalogue.unknown_model"
    );
    let signing = SigningOverride::default();
    let too_long = client.send_signed(Method::GET, "/v1/tasks/x", &[("wait", "61")], Vec::new(), &signing);
    assert_eq!(code(too_long.await), "request.invalid_parameter");

    // Task lists page with cursors and filter.
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = client.tasks(&[], cursor.as_deref(), 3).await.unwrap();
        seen.extend(page.tasks.iter().map(|t| t.id.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(seen, sorted, "newest first, no repeats across pages");
    assert_eq!(seen.len(), 3 + 1 + 1 + 3 + 1, "create batch + 2, restart, stop, shell batch + 2, app stop");
    let on_a = client.tasks(&[("instance_id", &a), ("kind", "instance.restart")], None, 10).await.unwrap();
    assert_eq!(on_a.tasks.len(), 1);
    assert_eq!(code(client.tasks(&[("status", "finished")], None, 10).await), "request.invalid_parameter");
    assert_eq!(code(client.tasks(&[], Some("nonsense"), 10).await), "request.invalid_cursor");

    // Every task end arrived, signed, with its business code; each phone's events in order.
    let events = receiver.wait_for("every task end", |events| seen.iter().all(|id| ended(events, id))).await;
    let code_of = |id: &str| {
        events.iter().find(|e| e.kind == EventType::TaskEnded && e.data["task"]["id"] == id).unwrap().business_code
    };
    assert_eq!(code_of(&created.task.id), 2005);
    assert_eq!(code_of(&created.task.children[0]), 2001);
    assert_eq!(code_of(&shell.children[0]), 1002);
    for phone in [&a, &b] {
        let ids: Vec<&str> =
            events.iter().filter(|e| e.instance_id.as_deref() == Some(phone)).map(|e| e.event_id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "{phone}'s events arrive in the order they happened");
    }
    let statuses: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == EventType::InstanceStatus && e.instance_id.as_deref() == Some(&a))
        .map(|e| e.data["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, vec!["running", "restarting", "running", "stopping", "stopped"]);
    assert!(events.iter().filter(|e| e.kind == EventType::InstanceStatus).all(|e| e.business_code == 999));

    // The delivery log shows each delivery and its attempts; one can be sent again.
    let log = client.deliveries(Some("delivered"), None, 100).await.unwrap();
    assert_eq!(log.deliveries.len(), events.len());
    let one = client.delivery(&log.deliveries[0].id).await.unwrap();
    assert_eq!((one.attempts, one.attempt_log.len(), one.attempt_log[0].status_code), (1, 1, Some(200)));
    let again = client.redeliver(&one.id).await.unwrap();
    assert_eq!(again.event_id, one.event_id);
    receiver.wait_for("the redelivery", |e| e.len() == events.len() + 1).await;
    assert_eq!(receiver.events.lock().unwrap().last().unwrap().event_id, one.event_id);
    assert_eq!(code(client.delivery("dl-0000").await), "callback.delivery_not_found");
    assert_eq!(code(client.deliveries(None, Some(&hex_cursor(&seen[0])), 10).await), "request.invalid_cursor");

    // A ping tests the endpoint; a failing endpoint is retried, and logged.
    receiver.refusing.store(true, std::sync::atomic::Ordering::SeqCst);
    let ping = client.test_callback().await.unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    receiver.refusing.store(false, std::sync::atomic::Ordering::SeqCst);
    receiver.wait_for("the ping", |e| e.iter().any(|e| e.kind == EventType::Ping)).await;
    let ping = client.delivery(&ping.id).await.unwrap();
    assert_eq!(ping.status, "delivered");
    assert!(ping.attempt_log.len() >= 2 && ping.attempt_log[0].status_code == Some(503));

    client.delete_callback().await.unwrap();
    assert_eq!(code(client.callback().await), "callback.not_configured");
    assert_eq!(code(client.test_callback().await), "callback.not_configured");
    assert_eq!(code(client.set_callback("ftp://x", None).await), "request.invalid_parameter");
    assert_eq!(code(client.set_callback("https://x.example/h", Some("short")).await), "request.invalid_parameter");
    server.abort();
}

/// A cursor over a task id, shown to the deliveries list (which must refuse it).
fn hex_cursor(id: &str) -> String {
    hex::encode(format!("v1:{id}"))
}
