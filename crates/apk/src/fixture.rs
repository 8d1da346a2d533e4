//! Real APK files for tests, built with Debian's `aapt` against the Android framework
//! (`android-framework-res`), exactly as an SDK build would package resources.

use std::path::Path;
use std::process::Command;

/// The Android framework APK tests build against (Debian package `android-framework-res`).
pub const FRAMEWORK_RES: &str = "/usr/share/android-framework-res/framework-res.apk";

/// What to put in a test APK.
#[derive(Clone, Debug)]
pub struct App {
    /// Package name.
    pub package: String,
    /// Label in the default language (a `@string` resource).
    pub label: String,
    /// Label in German (a translation the reader must not pick by default).
    pub label_de: Option<String>,
    /// `versionCode`.
    pub version_code: u32,
    /// `versionName`.
    pub version_name: String,
    /// `minSdkVersion`, `targetSdkVersion`.
    pub sdk: (u32, u32),
    /// `uses-permission` names.
    pub permissions: Vec<String>,
    /// Icon colour (RGB), drawn at mdpi (48 px) and xxhdpi (144 px); `None` for no icon.
    pub icon: Option<[u8; 3]>,
    /// Whether `.MainActivity` has the MAIN/LAUNCHER intent filter.
    pub launcher: bool,
}

impl App {
    /// A launcher app with one permission and a blue icon.
    pub fn new(package: &str, label: &str) -> App {
        App {
            package: package.to_owned(),
            label: label.to_owned(),
            label_de: None,
            version_code: 1,
            version_name: "1.0".into(),
            sdk: (24, 34),
            permissions: vec!["android.permission.INTERNET".into()],
            icon: Some([0x1e, 0x88, 0xe5]),
            launcher: true,
        }
    }
}

fn square_png(path: &Path, size: u32, rgb: [u8; 3]) {
    let file = std::fs::File::create(path).expect("create icon");
    let mut encoder = png::Encoder::new(file, size, size);
    encoder.set_color(png::ColorType::Rgb);
    let mut writer = encoder.write_header().expect("png header");
    let pixels: Vec<u8> = (0..size * size).flat_map(|_| rgb).collect();
    writer.write_image_data(&pixels).expect("png data");
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('\'', "\\'").replace('"', "\\\"")
}

/// Builds the APK and returns its bytes. Panics with what to install when `aapt` is missing.
pub fn build(app: &App) -> Vec<u8> {
    assert!(
        Path::new(FRAMEWORK_RES).exists() && Command::new("aapt").arg("version").output().is_ok(),
        "APK fixtures need Debian's aapt and android-framework-res (./dev test installs them)"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    let permissions: String =
        app.permissions.iter().map(|p| format!("  <uses-permission android:name=\"{p}\"/>\n")).collect();
    let launcher = if app.launcher {
        "<intent-filter><action android:name=\"android.intent.action.MAIN\"/><category android:name=\"android.intent.category.LAUNCHER\"/></intent-filter>"
    } else {
        ""
    };
    let icon_attr = if app.icon.is_some() { " android:icon=\"@drawable/icon\"" } else { "" };
    let manifest = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n\
         <manifest xmlns:android=\"http://schemas.android.com/apk/res/android\" package=\"{}\" \
         android:versionCode=\"{}\" android:versionName=\"{}\">\n\
         <uses-sdk android:minSdkVersion=\"{}\" android:targetSdkVersion=\"{}\"/>\n{permissions}\
         <application android:label=\"@string/app_name\"{icon_attr}>\n\
         <activity android:name=\".MainActivity\" android:exported=\"true\">{launcher}</activity>\n\
         <activity android:name=\".SettingsActivity\"/>\n\
         </application>\n</manifest>\n",
        app.package, app.version_code, app.version_name, app.sdk.0, app.sdk.1
    );
    std::fs::write(d.join("AndroidManifest.xml"), manifest).expect("manifest");
    let strings = |label: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<resources><string name=\"app_name\">{}</string></resources>\n",
            escape(label)
        )
    };
    std::fs::create_dir_all(d.join("res/values")).expect("res");
    std::fs::write(d.join("res/values/strings.xml"), strings(&app.label)).expect("strings");
    if let Some(de) = &app.label_de {
        std::fs::create_dir_all(d.join("res/values-de")).expect("res");
        std::fs::write(d.join("res/values-de/strings.xml"), strings(de)).expect("strings");
    }
    if let Some(rgb) = app.icon {
        for (folder, size) in [("drawable-mdpi", 48), ("drawable-xxhdpi", 144)] {
            std::fs::create_dir_all(d.join("res").join(folder)).expect("res");
            // The denser one is a different shade, so a test can tell which was picked.
            let shade = if size == 144 { rgb } else { [rgb[0] / 2, rgb[1] / 2, rgb[2] / 2] };
            square_png(&d.join("res").join(folder).join("icon.png"), size, shade);
        }
    }
    let out = d.join("app.apk");
    let status = Command::new("aapt")
        .args(["package", "-f", "-M"])
        .arg(d.join("AndroidManifest.xml"))
        .arg("-S")
        .arg(d.join("res"))
        .args(["-I", FRAMEWORK_RES, "-F"])
        .arg(&out)
        .output()
        .expect("run aapt");
    assert!(status.status.success(), "aapt failed: {}", String::from_utf8_lossy(&status.stderr));
    std::fs::read(out).expect("read the APK")
}
