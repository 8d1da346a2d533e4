//! Writes PNGs of the virtual phone's screens into a folder, for looking at the UI:
//! `cargo run -p cloudphone-device --example screens -- OUT_DIR`.
use cloudphone_device::{Device, VirtualPhone};

fn main() {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    std::fs::create_dir_all(&out).expect("output folder");
    let mut phone = VirtualPhone::factory("example");
    phone.tick(13 * 3_600_000 + 37 * 60_000);
    let steps = [
        ("launcher", ""),
        ("settings", "input tap 90 240"),
        ("notes", "input keyevent BACK; input tap 270 240; input text Hello%sfrom%sthe%scloud%s世界%sこんにちは"),
        ("touch", "input keyevent HOME; input tap 450 240; input swipe 100 500 600 900"),
    ];
    let mut app = cloudphone_apk::fixture::App::new("com.example.weather", "Weather Now");
    app.icon = Some([0xff, 0x8f, 0x00]);
    phone.install(&cloudphone_apk::fixture::build(&app), false).expect("install");
    phone
        .install(
            &cloudphone_apk::fixture::build(&cloudphone_apk::fixture::App {
                icon: None,
                ..cloudphone_apk::fixture::App::new("org.example.maps", "Maps & Navigation Pro")
            }),
            false,
        )
        .expect("install");
    let steps = steps.into_iter().chain([
        ("launcher-apps", "input keyevent HOME"),
        ("app", "monkey -p com.example.weather 1"),
        (
            "landscape-settings",
            "settings put system user_rotation 1; input keyevent HOME; am start -n com.android.settings/.Settings",
        ),
    ]);
    for (name, command) in steps {
        phone.shell(command);
        std::fs::write(out.join(format!("{name}.png")), phone.screenshot().to_png()).expect("write PNG");
    }
}
