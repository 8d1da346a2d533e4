//! Apps and files over the HTTP API, with real APKs built by aapt.

use cloudphone_apk::fixture::{self, App};
mod common;
use common::{code, start};

/// The RGB of one pixel of a PNG screenshot.
fn pixel(png: &[u8], x: u32, y: u32) -> [u8; 3] {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let i = ((y * info.width + x) * 4) as usize;
    [buf[i], buf[i + 1], buf[i + 2]]
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 8)
}

/// The first launcher slot after the seven built-in apps: column 4 of row 2.
const SLOT: (u32, u32) = (630, 460);
const LAUNCHER_BLUE: [u8; 3] = [0x0d, 0x47, 0xa1];

#[tokio::test]
async fn install_see_start_stop_uninstall() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    assert!(close(pixel(&client.screenshot(&id).await.unwrap(), SLOT.0, SLOT.1), LAUNCHER_BLUE));

    let mut app = App::new("com.example.hello", "Hello Cloud");
    app.icon = Some([0xe5, 0x39, 0x35]);
    app.version_code = 5;
    let apk = fixture::build(&app);
    let info = client.install_app(&id, apk.clone()).await.unwrap();
    assert_eq!(info.package, "com.example.hello");
    assert_eq!(info.label.as_deref(), Some("Hello Cloud"));
    assert_eq!(info.launcher_activity.as_deref(), Some("com.example.hello.MainActivity"));
    assert_eq!(info.permissions, vec!["android.permission.INTERNET"]);

    // Its icon (red) is now in the fourth launcher slot.
    let shot = client.screenshot(&id).await.unwrap();
    assert!(close(pixel(&shot, SLOT.0, SLOT.1), [0xe5, 0x39, 0x35]), "{:?}", pixel(&shot, SLOT.0, SLOT.1));

    let started = client.start_app(&id, "com.example.hello", None).await.unwrap();
    assert_eq!(started.component, "com.example.hello/com.example.hello.MainActivity");
    let apps = client.apps(&id).await.unwrap();
    assert_eq!(apps.foreground.as_deref(), Some("com.example.hello"));
    assert!(apps.apps[0].foreground);
    assert!(close(pixel(&client.screenshot(&id).await.unwrap(), 360, 1000), [0xfa, 0xfa, 0xfa]), "the app's screen");

    client.stop_app(&id, "com.example.hello").await.unwrap();
    assert_eq!(client.apps(&id).await.unwrap().foreground.as_deref(), Some("com.android.launcher3"));

    // Bad requests change nothing.
    assert_eq!(code(client.install_app(&id, b"not an apk".to_vec()).await), "app.invalid_apk");
    app.version_code = 4;
    assert_eq!(code(client.install_app(&id, fixture::build(&app)).await), "app.version_downgrade");
    assert_eq!(client.apps(&id).await.unwrap().apps[0].version_code, 5);
    assert_eq!(code(client.start_app(&id, "com.example.none", None).await), "app.not_installed");
    assert_eq!(code(client.start_app(&id, "com.example.hello", Some(".Nope")).await), "app.no_activity");
    assert_eq!(code(client.uninstall_app(&id, "com.android.settings").await), "app.system_package");

    client.uninstall_app(&id, "com.example.hello").await.unwrap();
    assert!(client.apps(&id).await.unwrap().apps.is_empty());
    assert!(close(pixel(&client.screenshot(&id).await.unwrap(), SLOT.0, SLOT.1), LAUNCHER_BLUE), "the icon is gone");
    assert_eq!(code(client.uninstall_app(&id, "com.example.hello").await), "app.not_installed");

    // `adb push` then `pm install`, the other way apps arrive.
    client.write_file(&id, "/data/local/tmp/hello.apk", apk).await.unwrap();
    let out = client.shell(&id, "pm install -r /data/local/tmp/hello.apk && pm list packages -3").await.unwrap();
    assert_eq!(out.stdout, "Success\npackage:com.example.hello\n");

    // Apps and their files survive a restart of the whole process.
    client.write_file(&id, "/sdcard/Download/keep.txt", b"kept".to_vec()).await.unwrap();
    server.abort();
    let (again, client) = start(dir.path()).await;
    assert_eq!(client.apps(&id).await.unwrap().apps[0].package, "com.example.hello");
    assert_eq!(client.read_file(&id, "/sdcard/Download/keep.txt").await.unwrap(), b"kept");
    // A factory reset removes both.
    client.reset(&id).await.unwrap();
    assert!(client.apps(&id).await.unwrap().apps.is_empty());
    assert_eq!(code(client.read_file(&id, "/sdcard/Download/keep.txt").await), "file.not_found");
    again.abort();
}

#[tokio::test]
async fn files_upload_list_download_remove() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;

    let name = "/sdcard/Download/my notes ü.txt";
    let written = client.write_file(&id, name, b"hello\n".to_vec()).await.unwrap();
    assert_eq!(written.path, "/storage/emulated/0/Download/my notes ü.txt");
    assert_eq!(written.size, 6);
    assert_eq!(client.read_file(&id, name).await.unwrap(), b"hello\n");
    assert_eq!(client.shell(&id, "cat '/sdcard/Download/my notes ü.txt'").await.unwrap().stdout, "hello\n");

    let listing = client.list_files(&id, "/sdcard/Download").await.unwrap();
    assert_eq!(listing.path, "/storage/emulated/0/Download");
    assert_eq!(listing.entry.kind, "directory");
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(
        (listing.entries[0].name.as_str(), listing.entries[0].kind.as_str(), listing.entries[0].size),
        ("my notes ü.txt", "file", 6)
    );

    // New folders are made on upload; shell and API see the same files.
    client.write_file(&id, "/sdcard/a/b/c.bin", vec![0, 1, 2]).await.unwrap();
    assert_eq!(client.shell(&id, "ls /sdcard/a/b").await.unwrap().stdout, "c.bin\n");
    client.shell(&id, "echo from-shell > /sdcard/a/shell.txt").await.unwrap();
    assert_eq!(client.read_file(&id, "/sdcard/a/shell.txt").await.unwrap(), b"from-shell\n");

    assert_eq!(code(client.write_file(&id, "/system/evil", b"x".to_vec()).await), "file.read_only");
    assert_eq!(code(client.write_file(&id, "/sdcard/../../../../etc/passwd", b"x".to_vec()).await), "file.read_only");
    assert_eq!(code(client.read_file(&id, "/sdcard/none.txt").await), "file.not_found");
    assert_eq!(code(client.read_file(&id, "/sdcard/a").await), "file.is_directory");
    assert_eq!(code(client.remove_file(&id, "/sdcard/a", false).await), "file.not_empty");
    client.remove_file(&id, "/sdcard/a", true).await.unwrap();
    assert_eq!(code(client.list_files(&id, "/sdcard/a").await), "file.not_found");
    let no_path = client
        .send_signed(reqwest::Method::GET, &format!("/v1/instances/{id}/files"), &[], Vec::new(), &Default::default())
        .await;
    assert_eq!(code(no_path), "request.invalid_parameter");
    server.abort();
}

#[tokio::test]
async fn uploads_report_their_progress() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = common::start(dir.path()).await;
    let id = client.create_instances(1).await.unwrap().remove(0).id;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let progress: cloudphone_sdk::UploadProgress = std::sync::Arc::new(move |sent| sink.lock().unwrap().push(sent));
    let data: Vec<u8> = (0..300 * 1024).map(|i| (i % 251) as u8).collect();
    let written = client.write_file_with_progress(&id, "/sdcard/big.bin", data.clone(), Some(progress)).await.unwrap();
    assert_eq!(written.size, data.len() as u64);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 5, "300 KiB in 64 KiB pieces: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0] < w[1]) && *seen.last().unwrap() == data.len() as u64);
    assert_eq!(client.read_file(&id, "/sdcard/big.bin").await.unwrap(), data, "the streamed body arrived whole");
    server.abort();
}
