//! The dispatcher against a real HTTP receiver that refuses its first calls.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use cloudphone_callbacks::Dispatcher;
use cloudphone_protocol::callback::{EVENT_ID_HEADER, SIGNATURE_HEADER, verify};
use cloudphone_store::{AccessKey, MasterKey, NewEvent, Store, now_millis, ordered_id};

#[derive(Clone, Default)]
struct Receiver {
    /// Refuse this many calls first.
    refuse: Arc<Mutex<u32>>,
    /// (event id, body) of each call taken.
    taken: Arc<Mutex<Vec<(String, String)>>>,
}

async fn receive(receiver: Receiver, headers: HeaderMap, body: String) -> StatusCode {
    let now = now_millis() / 1000;
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if verify("hook-secret", signature, body.as_bytes(), now).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    {
        let mut refuse = receiver.refuse.lock().unwrap();
        if *refuse > 0 {
            *refuse -= 1;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
    }
    let event = headers.get(EVENT_ID_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    receiver.taken.lock().unwrap().push((event, body));
    StatusCode::NO_CONTENT
}

async fn serve(receiver: Receiver) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| receive(receiver.clone(), headers, body)),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/hook")
}

fn event(lane: &str, n: u32) -> NewEvent {
    NewEvent {
        id: ordered_id("ev"),
        tenant_id: "t1".into(),
        instance_id: Some(lane.into()),
        kind: "instance.status".into(),
        business_code: 999,
        body: format!("{{\"n\":{n}}}"),
        created_at: now_millis(),
    }
}

#[tokio::test]
async fn deliveries_are_signed_retried_in_order_and_logged() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_sqlite(&dir.path().join("t.db"), MasterKey::generate()).await.unwrap();
    let key = AccessKey { access_key: "ak".into(), tenant_id: "t1".into(), secret_key: "s".into(), created_at: 1 };
    store.create_tenant("t1", "test", &key).await.unwrap();
    let receiver = Receiver { refuse: Arc::new(Mutex::new(2)), ..Default::default() };
    let url = serve(receiver.clone()).await;
    store.set_callback("t1", &url, "hook-secret", 1).await.unwrap();
    for n in 0..3 {
        store.insert_event(&event("cp-1", n)).await.unwrap();
    }

    let dispatcher = Dispatcher::new(store.clone());
    let handle = dispatcher.start();
    // Two refusals: retried after about 1 s and 2 s, then all three in order.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while receiver.taken.lock().unwrap().len() < 3 {
        assert!(std::time::Instant::now() < deadline, "deliveries did not arrive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bodies: Vec<String> = receiver.taken.lock().unwrap().iter().map(|(_, b)| b.clone()).collect();
    assert_eq!(bodies, vec!["{\"n\":0}", "{\"n\":1}", "{\"n\":2}"], "a phone's events arrive in order");

    let deliveries = store.deliveries("t1", None, None, 10).await.unwrap();
    let first = deliveries.last().unwrap();
    assert_eq!((first.status.as_str(), first.attempts), ("delivered", 3));
    let attempts = store.delivery_attempts(&first.id).await.unwrap();
    assert_eq!(attempts.iter().map(|a| a.status_code).collect::<Vec<_>>(), vec![Some(503), Some(503), Some(204)]);
    assert!(attempts[2].at - attempts[1].at >= 1800, "the second retry waited about 2 s");
    assert_eq!(dispatcher.stats().delivered.load(std::sync::atomic::Ordering::Relaxed), 3);

    // A manual redelivery sends the same event again.
    store.redeliver("t1", &first.id, now_millis()).await.unwrap().unwrap();
    while receiver.taken.lock().unwrap().len() < 4 {
        assert!(std::time::Instant::now() < deadline, "the redelivery did not arrive");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let taken = receiver.taken.lock().unwrap().clone();
    assert_eq!(taken[3], taken[0], "same event id, same bytes");

    // With the callback removed, what is pending is given up, not retried forever.
    handle.abort();
    store.insert_event(&event("cp-2", 9)).await.unwrap();
    store.delete_callback("t1").await.unwrap();
    let handle = Dispatcher::new(store.clone()).start();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let given_up = &store.deliveries("t1", None, None, 1).await.unwrap()[0];
    assert_eq!((given_up.status.as_str(), given_up.attempts), ("failed", 1));
    assert!(given_up.last_error.as_deref().unwrap().contains("no callback URL"));
    handle.abort();
}
