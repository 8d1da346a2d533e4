//! Tenants and keys: administration, disabled and rotated keys, and isolation between tenants
//! on every instance endpoint.

use cloudphone_protocol::api::{CreateSession, LocaleRequest, NewDevice, PropertiesPatch, StartApp};
use cloudphone_protocol::task::BatchRequest;
use cloudphone_sdk::Client;
use serde_json::json;

mod common;
use common::{code, start};

#[tokio::test]
async fn admins_manage_tenants_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (server, admin) = start(dir.path()).await;
    let url = admin.base_url().to_owned();

    let created = admin.create_tenant("Acme Games").await.unwrap();
    assert!(!created.tenant.admin);
    assert_eq!(created.tenant.name, "Acme Games");
    let acme = Client::new(&url, &created.key.access_key, &created.key.secret_key);
    assert!(acme.list_instances().await.unwrap().is_empty(), "the new key signs");

    let tenants = admin.tenants().await.unwrap();
    assert_eq!(tenants.len(), 2);
    assert!(tenants[0].admin, "the tenant of credentials.json administers");
    assert_eq!(code(acme.tenants().await), "auth.forbidden");
    assert_eq!(code(acme.create_tenant("Sneaky").await), "auth.forbidden");
    assert_eq!(code(admin.create_tenant("   ").await), "request.invalid_parameter");
    assert_eq!(code(admin.add_key("tn-missing").await), "tenant.not_found");

    // A second key, then rotation: the old one stops working, the new one works.
    let second = admin.add_key(&created.tenant.id).await.unwrap();
    assert_eq!(admin.keys(&created.tenant.id).await.unwrap().len(), 2);
    let rotated = admin.rotate_key(&created.key.access_key).await.unwrap();
    assert_eq!(code(acme.list_instances().await), "auth.key_disabled");
    let acme = Client::new(&url, &rotated.access_key, &rotated.secret_key);
    assert!(acme.list_instances().await.is_ok());
    admin.disable_key(&second.access_key).await.unwrap();
    let second_client = Client::new(&url, &second.access_key, &second.secret_key);
    assert_eq!(code(second_client.list_instances().await), "auth.key_disabled");
    let keys = admin.keys(&created.tenant.id).await.unwrap();
    assert_eq!(keys.iter().filter(|k| k.disabled).count(), 2);
    assert!(
        keys.iter().all(|k| !serde_json::to_string(k).unwrap().contains(&created.key.secret_key)),
        "no secrets listed"
    );
    assert_eq!(code(admin.disable_key("AKNOPE").await), "key.not_found");
    server.abort();
}

#[tokio::test]
async fn a_tenant_never_reaches_another_tenants_phone() {
    let dir = tempfile::tempdir().unwrap();
    let (server, owner) = start(dir.path()).await;
    let other = owner.create_tenant("Other").await.unwrap();
    let other = Client::new(owner.base_url(), &other.key.access_key, &other.key.secret_key);
    let id = owner.create_instances(1).await.unwrap().remove(0).id;
    owner.write_file(&id, "/sdcard/secret.txt", b"owner's".to_vec()).await.unwrap();

    let not_found = |result: String, what: &str| assert_eq!(result, "instance.not_found", "{what}");
    not_found(code(other.instance(&id).await), "get");
    not_found(code(other.shell(&id, "echo hi").await), "shell");
    not_found(code(other.screenshot(&id).await), "screenshot");
    not_found(code(other.create_session(&id, &CreateSession::default()).await), "session");
    not_found(code(other.properties(&id).await), "properties");
    not_found(code(other.patch_properties(&id, &PropertiesPatch::default()).await), "patch properties");
    not_found(
        code(other.set_locale(&id, &LocaleRequest { locale: Some("de-DE".into()), timezone: None }).await),
        "locale",
    );
    not_found(code(other.set_wifi(&id, Vec::new()).await), "wifi");
    not_found(code(other.restart(&id).await), "restart");
    not_found(code(other.stop(&id).await), "stop");
    not_found(code(other.start(&id).await), "start");
    not_found(code(other.reset(&id).await), "reset");
    not_found(code(other.new_device(&id, &NewDevice::default()).await), "new device");
    not_found(code(other.apps(&id).await), "apps");
    not_found(code(other.install_app(&id, b"x".to_vec()).await), "install");
    not_found(
        code(other.start_app(&id, "com.android.settings", StartApp::default().activity.as_deref()).await),
        "start app",
    );
    not_found(code(other.list_files(&id, "/sdcard").await), "list files");
    not_found(code(other.read_file(&id, "/sdcard/secret.txt").await), "read file");
    not_found(code(other.write_file(&id, "/sdcard/x", b"x".to_vec()).await), "write file");
    not_found(code(other.remove_file(&id, "/sdcard/secret.txt", false).await), "remove file");
    not_found(code(other.location(&id).await), "location");
    not_found(code(other.clipboard(&id).await), "clipboard");
    not_found(code(other.sensors(&id).await), "sensors");
    not_found(code(other.microphone(&id).await), "microphone");
    not_found(code(other.record_audio(&id, 100).await), "audio");
    not_found(code(other.playback(&id).await), "playback");
    not_found(code(other.delete_instance(&id).await), "delete");
    not_found(code(other.submit_task(&id, "shell/async", Some(&json!({"command": "id"}))).await), "async shell");
    not_found(code(other.submit_task(&id, "apps/com.android.settings/restart", None::<&()>).await), "restart app");
    let batch =
        BatchRequest { operation: "instance.restart".into(), instance_ids: vec![id.clone()], params: json!({}) };
    not_found(code(other.batch(&batch).await), "batch");
    assert!(other.list_instances().await.unwrap().is_empty());

    // Tasks, events and deliveries are the owner's alone.
    owner.set_callback("http://127.0.0.1:9/hook", None).await.unwrap();
    let task = owner.submit_task::<()>(&id, "restart", None).await.unwrap();
    owner.wait_task(&task.id, std::time::Duration::from_secs(30)).await.unwrap();
    assert_eq!(code(other.task(&task.id).await), "task.not_found");
    assert_eq!(code(other.cancel_task(&task.id).await), "task.not_found");
    assert!(other.tasks(&[], None, 100).await.unwrap().tasks.is_empty());
    assert!(other.tasks(&[("instance_id", &id)], None, 100).await.unwrap().tasks.is_empty());
    let deliveries = owner.deliveries(None, None, 100).await.unwrap().deliveries;
    assert!(!deliveries.is_empty());
    assert_eq!(code(other.delivery(&deliveries[0].id).await), "callback.delivery_not_found");
    assert_eq!(code(other.redeliver(&deliveries[0].id).await), "callback.not_configured");
    other.set_callback("http://127.0.0.1:9/other", None).await.unwrap();
    assert_eq!(code(other.redeliver(&deliveries[0].id).await), "callback.delivery_not_found");
    assert!(other.deliveries(None, None, 100).await.unwrap().deliveries.is_empty());

    // And nothing of the owner's changed.
    assert_eq!(owner.read_file(&id, "/sdcard/secret.txt").await.unwrap(), b"owner's");
    assert_eq!(owner.instance(&id).await.unwrap().status.as_str(), "running");
    server.abort();
}
