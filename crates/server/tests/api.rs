//! The OpenAPI over real HTTP: a server on a loopback port, the Rust SDK as the client.

use cloudphone_protocol::api::CreateSession;
use cloudphone_sdk::{Client, ClientError, SigningOverride};

mod common;
use common::{code, start};
use reqwest::Method;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

async fn list_with(client: &Client, signing: SigningOverride) -> Result<reqwest::Response, ClientError> {
    client.send_signed(Method::GET, "/v1/instances", &[], Vec::new(), &signing).await
}

#[tokio::test]
async fn signatures_are_checked_and_each_failure_has_its_code() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;

    let health = reqwest::get(format!("{}/healthz", client.base_url())).await.unwrap();
    assert_eq!(health.status(), 200);

    let unsigned = reqwest::get(format!("{}/v1/instances", client.base_url())).await.unwrap();
    assert_eq!(unsigned.status(), 401);
    assert!(unsigned.text().await.unwrap().contains("\"auth.missing\""));

    let bad = SigningOverride { secret_key: Some("not-the-secret".into()), ..Default::default() };
    assert_eq!(code(list_with(&client, bad).await), "auth.bad_signature");

    let old = SigningOverride { timestamp: Some(now() - 301), ..Default::default() };
    assert_eq!(code(list_with(&client, old).await), "auth.expired_timestamp");
    let future = SigningOverride { timestamp: Some(now() + 301), ..Default::default() };
    assert_eq!(code(list_with(&client, future).await), "auth.expired_timestamp");

    let long_nonce = SigningOverride { nonce: Some("n".repeat(65)), ..Default::default() };
    assert_eq!(code(list_with(&client, long_nonce).await), "auth.invalid_nonce");

    let once = SigningOverride { nonce: Some("fixed-nonce-1".into()), ..Default::default() };
    list_with(&client, once.clone()).await.expect("first use of a nonce");
    assert_eq!(code(list_with(&client, once).await), "auth.replayed_nonce");

    let stranger = Client::new(client.base_url(), "AKUNKNOWN", "whatever");
    assert_eq!(code(stranger.list_instances().await), "auth.unknown_key");

    // The query is part of the signature, in canonical order whatever order it is sent in.
    let with_query = client
        .send_signed(
            Method::GET,
            "/v1/instances",
            &[("b", "2 3"), ("a", "~x")],
            Vec::new(),
            &SigningOverride::default(),
        )
        .await;
    assert!(with_query.is_ok(), "{with_query:?}");
    server.abort();
}

#[tokio::test]
async fn instances_shell_screenshot_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;

    let created = client.create_instances(2).await.unwrap();
    assert_eq!(created.len(), 2);
    assert!(created.iter().all(|i| i.status.as_str() == "running" && i.pad_status == 10));
    let id = &created[0].id;
    assert_eq!(client.list_instances().await.unwrap(), created);
    assert_eq!(&client.instance(id).await.unwrap(), &created[0]);

    let model = client.shell(id, "getprop ro.product.model").await.unwrap();
    assert_eq!((model.exit_code, model.stdout.as_str()), (0, "Pixel 7\n"));
    let missing = client.shell(id, "nosuchcmd").await.unwrap();
    assert_eq!((missing.exit_code, missing.stderr.as_str()), (127, "sh: nosuchcmd: not found\n"));
    assert_eq!(code(client.shell(id, "   ").await), "shell.empty_command");

    let png = client.screenshot(id).await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(u32::from_be_bytes(png[16..20].try_into().unwrap()), 720);
    assert_eq!(u32::from_be_bytes(png[20..24].try_into().unwrap()), 1280);

    assert_eq!(code(client.create_instances(0).await), "request.invalid_parameter");
    assert_eq!(code(client.create_instances(101).await), "request.invalid_parameter");
    let signing = SigningOverride::default();
    let post = |body: &'static [u8]| client.send_signed(Method::POST, "/v1/instances", &[], body.to_vec(), &signing);
    assert_eq!(code(post(b"{not json").await), "request.invalid_body");
    assert_eq!(code(post(br#"{"count": "two"}"#).await), "request.wrong_type");
    assert_eq!(code(post(br#"{"count": -1}"#).await), "request.wrong_type");
    assert_eq!(code(post(br#"{"count": 1, "colour": "red"}"#).await), "request.unknown_field");
    assert_eq!(code(post(br#"[1, 2]"#).await), "request.wrong_type");
    let revoke = client.send_signed(Method::POST, "/v1/sessions/revoke", &[], b"{}".to_vec(), &signing).await;
    assert_eq!(code(revoke), "request.missing_field");
    let big = vec![b' '; 2 * 1024 * 1024];
    let too_big = client.send_signed(Method::POST, "/v1/instances", &[], big, &SigningOverride::default()).await;
    assert_eq!(code(too_big), "request.body_too_large");

    let nowhere = client.send_signed(Method::GET, "/v1/nowhere", &[], Vec::new(), &SigningOverride::default()).await;
    assert_eq!(code(nowhere), "request.route_not_found");
    let wrong_method =
        client.send_signed(Method::PUT, "/v1/instances", &[], Vec::new(), &SigningOverride::default()).await;
    assert_eq!(code(wrong_method), "request.method_not_allowed");

    client.delete_instance(id).await.unwrap();
    assert_eq!(code(client.instance(id).await), "instance.not_found");
    assert_eq!(code(client.shell(id, "echo hi").await), "instance.not_found");
    assert_eq!(code(client.delete_instance(id).await), "instance.not_found");
    assert_eq!(client.list_instances().await.unwrap().len(), 1);
    assert!(!dir.path().join("phones").join(id).exists(), "a deleted phone leaves nothing on disk");
    server.abort();
}

#[tokio::test]
async fn sessions_and_signalling_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    let grant = client.create_session(&id, &CreateSession::default()).await.unwrap();
    assert_eq!(grant.instance_id, id);
    assert_eq!(grant.session_token.len(), 64);
    assert!(grant.view_url.ends_with(&format!("/view#token={}", grant.session_token)));
    assert_eq!(grant.allow.len(), cloudphone_protocol::control::InputCategory::ALL.len());
    assert_eq!(code(client.create_session("cp-nope", &CreateSession::default()).await), "instance.not_found");

    let http = reqwest::Client::new();
    let offer =
        |token: &str, body: &str| http.post(&grant.signalling_url).bearer_auth(token).body(body.to_owned()).send();
    let wrong = offer("not-a-token", r#"{"type":"offer","sdp":"v=0"}"#).await.unwrap();
    assert_eq!(wrong.status(), 401);
    assert!(wrong.text().await.unwrap().contains("session.token_invalid"));
    let garbage = offer(&grant.session_token, r#"{"type":"offer","sdp":"this is not sdp"}"#).await.unwrap();
    assert_eq!(garbage.status(), 400);
    assert!(garbage.text().await.unwrap().contains("signalling.bad_offer"));
    let not_offer = offer(&grant.session_token, r#"{"type":"answer","sdp":"v=0"}"#).await.unwrap();
    assert!(not_offer.text().await.unwrap().contains("request.invalid_body"));

    // SDK tokens: for one end user, with a lifetime, revocable by their tenant only.
    let for_user = CreateSession { end_user: Some("user-42@app".into()), ttl_seconds: Some(120), ..Default::default() };
    let user_grant = client.create_session(&id, &for_user).await.unwrap();
    assert_eq!(user_grant.end_user.as_deref(), Some("user-42@app"));
    let bad_user = CreateSession { end_user: Some("no spaces".into()), ..Default::default() };
    assert_eq!(code(client.create_session(&id, &bad_user).await), "request.invalid_parameter");
    let too_long = CreateSession { ttl_seconds: Some(86_401), ..Default::default() };
    assert_eq!(code(client.create_session(&id, &too_long).await), "request.invalid_parameter");
    let stranger = client.create_tenant("Stranger").await.unwrap();
    let stranger = cloudphone_sdk::Client::new(client.base_url(), &stranger.key.access_key, &stranger.key.secret_key);
    assert_eq!(code(stranger.revoke_session(&user_grant.session_token).await), "session.token_invalid");
    client.revoke_session(&user_grant.session_token).await.unwrap();
    let revoked = offer(&user_grant.session_token, r#"{"type":"offer","sdp":"v=0"}"#).await.unwrap();
    assert!(revoked.text().await.unwrap().contains("session.token_invalid"), "a revoked token opens nothing");
    assert_eq!(code(client.revoke_session(&user_grant.session_token).await), "session.token_invalid");
    server.abort();
}

#[tokio::test]
async fn a_restart_keeps_instances_state_and_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    client.shell(&id, "setprop persist.sys.timezone Europe/Paris").await.unwrap();
    let serial = client.shell(&id, "getprop ro.serialno").await.unwrap().stdout;
    let credentials = server.credentials.clone();
    for file in [server.credentials_path.clone(), dir.path().join("master.key")] {
        let mode = std::fs::metadata(&file).unwrap();
        #[cfg(unix)]
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600, "{}", file.display());
    }
    server.abort();

    let (again, client) = start(dir.path()).await;
    assert_eq!(again.credentials.access_key, credentials.access_key);
    assert_eq!(again.credentials.secret_key, credentials.secret_key);
    let instances = client.list_instances().await.unwrap();
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0].status.as_str(), "running");
    assert_eq!(client.shell(&id, "getprop persist.sys.timezone").await.unwrap().stdout, "Europe/Paris\n");
    assert_eq!(client.shell(&id, "getprop ro.serialno").await.unwrap().stdout, serial);
    again.abort();
}

#[tokio::test]
async fn metrics_and_request_ids() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    client.shell(&id, "echo hi").await.unwrap();
    let _ = client.shell("cp-missing", "echo hi").await;

    let response = reqwest::get(format!("{}/metrics", client.base_url())).await.unwrap();
    assert!(response.headers().contains_key("x-request-id"));
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"cloudphone_http_requests_total{route="/v1/instances/{id}/shell",method="POST",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="/v1/instances/{id}/shell",method="POST",status="404"} 1"#), "{text}");
    assert!(text.contains("cloudphone_phones_running 1"), "{text}");
    assert!(text.contains("cloudphone_viewer_sessions 0"), "{text}");
    assert!(text.contains("# TYPE cloudphone_video_frames_encoded_total counter"), "{text}");
    assert!(text.contains(r#"cloudphone_instances{status="running"} 1"#), "{text}");
    assert!(text.contains(r#"cloudphone_instances{status="stopped"} 0"#), "{text}");
    assert!(text.contains(r#"cloudphone_tasks{status="done"} 1"#), "the create task: {text}");
    assert!(text.contains(r#"cloudphone_tasks{status="pending"} 0"#), "{text}");
    assert!(text.contains(r#"cloudphone_callback_deliveries{status="pending"} 0"#), "{text}");
    assert!(text.contains(r#"cloudphone_callback_attempts_total{outcome="delivered"} 0"#), "{text}");
    assert!(text.contains("cloudphone_rate_limited_total 0"), "{text}");
    let bucket = r#"cloudphone_http_request_duration_seconds_bucket{route="/v1/instances/{id}/shell",method="POST",status="200",le="+Inf"} 1"#;
    assert!(text.contains(bucket), "{text}");
    server.abort();
}

#[tokio::test]
async fn each_key_has_a_rate_limit_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let limit = cloudphone_server::ratelimit::RateLimit { per_second: 0.5, burst: 3 };
    let (server, client) =
        common::start_with(dir.path(), |c| cloudphone_server::Config { rate_limit: limit, ..c }).await;
    let other = client.create_tenant("other").await.unwrap();
    let other = Client::new(client.base_url(), &other.key.access_key, &other.key.secret_key);
    client.list_instances().await.unwrap();
    client.list_instances().await.unwrap();
    let refused = list_with(&client, SigningOverride::default()).await.unwrap_err();
    assert_eq!(refused.code(), Some("request.rate_limited"));
    assert!(matches!(refused, ClientError::Api { status: 429, .. }));
    // The raw answer carries Retry-After: the next token comes within 2 s at 0.5/s.
    let credentials = &server.credentials;
    let timestamp = now().to_string();
    let signature = cloudphone_protocol::signing::SignedRequest {
        method: "GET",
        path: "/v1/instances",
        canonical_query: "",
        timestamp: &timestamp,
        nonce: "raw-nonce-1",
        body: b"",
    }
    .sign(&credentials.secret_key);
    let raw = reqwest::Client::new()
        .get(format!("{}/v1/instances", client.base_url()))
        .header("X-CP-Access-Key", &credentials.access_key)
        .header("X-CP-Timestamp", &timestamp)
        .header("X-CP-Nonce", "raw-nonce-1")
        .header("X-CP-Signature", signature)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 429);
    let retry: u64 = raw.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "Retry-After: {retry}");
    let bad = Client::new(client.base_url(), &credentials.access_key, "wrong-secret");
    assert_eq!(code(bad.list_instances().await), "auth.bad_signature", "badly signed calls spend no budget");
    assert!(other.list_instances().await.is_ok(), "another key has its own budget");
    let metrics = reqwest::get(format!("{}/metrics", client.base_url())).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("cloudphone_rate_limited_total 2"), "{metrics}");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert!(client.list_instances().await.is_ok(), "a token came back after Retry-After");
    server.abort();
}

#[tokio::test]
async fn instance_lists_are_paged_with_opaque_cursors() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let created: Vec<String> = client.create_instances(5).await.unwrap().into_iter().map(|i| i.id).collect();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = client.list_instances_page(cursor.as_deref(), 2).await.unwrap();
        pages += 1;
        assert!(page.instances.len() <= 2);
        seen.extend(page.instances.into_iter().map(|i| i.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut sorted_seen = seen.clone();
    sorted_seen.sort();
    let mut sorted_created = created.clone();
    sorted_created.sort();
    assert_eq!(sorted_seen, sorted_created, "every instance exactly once");
    let all: Vec<String> = client.list_instances().await.unwrap().into_iter().map(|i| i.id).collect();
    assert_eq!(all, seen, "pages join up in the list's own order");
    assert_eq!(code(client.list_instances_page(Some("zz-not-hex"), 2).await), "request.invalid_cursor");
    assert_eq!(code(client.list_instances_page(Some(&hex::encode("v2:1:x")), 2).await), "request.invalid_cursor");
    assert_eq!(code(client.list_instances_page(None, 0).await), "request.invalid_parameter");
    assert_eq!(code(client.list_instances_page(None, 501).await), "request.invalid_parameter");
    server.abort();
}

/// Follows a list's cursors at two items a page; returns every item and how many pages it took.
async fn walk(client: &Client, path: &str, extra: &[(&str, &str)], field: &str) -> (Vec<serde_json::Value>, usize) {
    let (mut items, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
    loop {
        let mut query: Vec<(&str, &str)> = extra.to_vec();
        query.push(("limit", "2"));
        query.extend(cursor.as_deref().map(|c| ("cursor", c)));
        let response = client.send_signed(Method::GET, path, &query, Vec::new(), &SigningOverride::default()).await;
        let page: serde_json::Value = response.unwrap().json().await.unwrap();
        pages += 1;
        let got = page[field].as_array().unwrap();
        assert!(got.len() <= 2, "{path}: {page}");
        items.extend(got.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return (items, pages),
        }
    }
}

#[tokio::test]
async fn every_list_pages_with_cursors_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    for name in ["a", "b", "c", "d", "e"] {
        client.write_file(&id, &format!("/sdcard/Download/{name}.txt"), b"x".to_vec()).await.unwrap();
    }
    client.create_tenant("second").await.unwrap();
    client.create_tenant("third").await.unwrap();

    let apps = client.apps(&id).await.unwrap().apps.len();
    let (paged, pages) = walk(&client, &format!("/v1/instances/{id}/apps"), &[], "apps").await;
    assert_eq!((paged.len(), pages), (apps, apps.div_ceil(2).max(1)));
    let (files, pages) =
        walk(&client, &format!("/v1/instances/{id}/files"), &[("path", "/sdcard/Download")], "entries").await;
    let names: Vec<&str> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!((names, pages), (vec!["a.txt", "b.txt", "c.txt", "d.txt", "e.txt"], 3));
    let (tenants, _) = walk(&client, "/v1/admin/tenants", &[], "tenants").await;
    assert_eq!(tenants.len(), 3);
    assert_eq!(client.tenants().await.unwrap().len(), 3, "the SDK follows the cursors");
    let (models, _) = walk(&client, "/v1/catalogue/models", &[], "models").await;
    assert_eq!(models.len(), client.catalogue_models().await.unwrap().len());
    let (countries, _) = walk(&client, "/v1/catalogue/countries", &[], "countries").await;
    assert_eq!(countries.len(), 16);

    // A cursor works only in the list (and folder) that issued it.
    let first = client
        .send_signed(Method::GET, "/v1/catalogue/models", &[("limit", "2")], Vec::new(), &SigningOverride::default())
        .await
        .unwrap();
    let cursor = first.json::<serde_json::Value>().await.unwrap()["next_cursor"].as_str().unwrap().to_owned();
    let elsewhere = [("limit", "2"), ("cursor", cursor.as_str())];
    let signing = SigningOverride::default();
    let refused = client.send_signed(Method::GET, "/v1/catalogue/countries", &elsewhere, Vec::new(), &signing).await;
    assert_eq!(code(refused), "request.invalid_cursor");
    let too_big = client.send_signed(Method::GET, "/v1/admin/tenants", &[("limit", "501")], Vec::new(), &signing).await;
    assert_eq!(code(too_big), "request.invalid_parameter");
    server.abort();
}

#[tokio::test]
async fn the_openapi_document_describes_every_operation() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let document: serde_json::Value =
        reqwest::get(format!("{}/v1/openapi.json", client.base_url())).await.unwrap().json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    let operations: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), path.clone())))
        .collect();
    assert_eq!(operations.len(), 67, "{operations:?}");
    for (method, path) in [
        ("POST", "/v1/instances/{id}/restart"),
        ("GET", "/v1/tasks/{task}"),
        ("POST", "/v1/callback/deliveries/{delivery}/redeliver"),
        ("PUT", "/v1/instances/{id}/files"),
        ("POST", "/v1/signalling/offer"),
    ] {
        assert!(operations.contains(&(method.to_owned(), path.to_owned())), "{method} {path}");
    }
    // Every operation documents the catalogue's errors, and each signed one its scheme.
    for (method, path) in &operations {
        let operation = &paths[path][method.to_lowercase()];
        assert!(operation["responses"]["404"]["content"]["application/json"].is_object(), "{method} {path}");
        assert!(operation["summary"].is_string(), "{method} {path} has a summary");
        // Signalling takes the session token; everything else under /v1 the signature.
        let scheme = if path.starts_with("/v1/signalling/") { "session_token" } else { "cp_signature" };
        if path.starts_with("/v1/") {
            assert_eq!(operation["security"][0][scheme], serde_json::json!([]), "{method} {path}");
        }
    }
    assert_eq!(document["components"]["schemas"]["TaskKind"]["enum"][0], "instance.restart");
    let docs = reqwest::get(format!("{}/docs/", client.base_url())).await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"), "the browsable docs");
    server.abort();
}
