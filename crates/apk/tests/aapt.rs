//! The reader against real APKs: ones built by aapt, and Android's own framework-res.apk.

use cloudphone_apk::fixture::{self, App};
use cloudphone_apk::{ApkError, parse};

#[test]
fn reads_an_aapt_built_app() {
    let mut app = App::new("com.example.hello", "Hello Cloud");
    app.label_de = Some("Hallo Wolke".into());
    app.version_code = 42;
    app.version_name = "4.2.0".into();
    app.permissions = vec!["android.permission.INTERNET".into(), "android.permission.CAMERA".into()];
    let info = parse(&fixture::build(&app)).unwrap();
    assert_eq!(info.package, "com.example.hello");
    assert_eq!(info.version_code, 42);
    assert_eq!(info.version_name.as_deref(), Some("4.2.0"));
    assert_eq!(info.label.as_deref(), Some("Hello Cloud"), "the default language, not the German one");
    assert_eq!((info.min_sdk, info.target_sdk), (Some(24), Some(34)));
    assert_eq!(info.permissions, vec!["android.permission.INTERNET", "android.permission.CAMERA"]);
    assert_eq!(info.launcher_activity.as_deref(), Some("com.example.hello.MainActivity"));
    assert_eq!(info.activities, vec!["com.example.hello.MainActivity", "com.example.hello.SettingsActivity"]);
    let icon = info.icon_png.expect("an icon");
    assert_eq!(&icon[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(u32::from_be_bytes(icon[16..20].try_into().unwrap()), 144, "the highest density is picked");
}

#[test]
fn an_app_without_launcher_or_icon() {
    let mut app = App::new("org.example.service", "Background");
    app.launcher = false;
    app.icon = None;
    app.permissions.clear();
    let info = parse(&fixture::build(&app)).unwrap();
    assert_eq!(info.launcher_activity, None);
    assert_eq!(info.icon_png, None);
    assert!(info.permissions.is_empty());
}

#[test]
fn reads_the_android_framework() {
    let bytes = std::fs::read(fixture::FRAMEWORK_RES).expect("framework-res.apk (Debian android-framework-res)");
    let info = parse(&bytes).unwrap();
    assert_eq!(info.package, "android");
    assert!(info.label.as_deref().is_some_and(|l| !l.is_empty()), "{:?}", info.label);
    assert!(info.activities.len() > 10, "{} activities", info.activities.len());
}

#[test]
fn damaged_apks_are_refused_without_panicking() {
    let good = fixture::build(&App::new("com.example.cut", "Cut"));
    for cut in [10, good.len() / 4, good.len() / 2, good.len() - 30] {
        assert!(parse(&good[..cut]).is_err(), "truncated at {cut}");
    }
    // Flip bytes all over the file: any result but a panic is acceptable.
    for step in [7usize, 13, 101] {
        let mut bad = good.clone();
        for i in (0..bad.len()).step_by(step) {
            bad[i] ^= 0x5a;
        }
        let _ = parse(&bad);
    }
    // A zip that is no APK.
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("hello.txt", stored).unwrap();
    std::io::Write::write_all(&mut zip, b"hi").unwrap();
    let zip = zip.finish().unwrap().into_inner();
    assert!(matches!(parse(&zip), Err(ApkError::MissingManifest)));
}
