//! The package manager: installs real APK files into the phone's filesystem, keeps the list of
//! packages, starts and stops their activities. App code does not run on the virtual phone
//! (there is no ART); an app's activity is shown as the phone's own screen for it.

use cloudphone_apk::ApkInfo;
use serde::{Deserialize, Serialize};

use super::ui::App;
use super::{Screen, VirtualPhone};
use crate::identity::new_android_id;
use crate::storage::{FsError, SandboxPath};

/// An installed (non-system) package, as persisted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledPackage {
    /// What the APK says.
    #[serde(flatten)]
    pub info: ApkInfo,
    /// Its directory under `/data/app`.
    pub code_path: String,
    /// First install, unix milliseconds.
    pub first_install_ms: u64,
    /// Last update, unix milliseconds.
    pub last_update_ms: u64,
}

impl InstalledPackage {
    /// The installed APK file.
    pub fn apk_path(&self) -> SandboxPath {
        SandboxPath::absolute(&self.code_path).join("base.apk")
    }
}

/// Why a package operation failed; [`PackageError::android_code`] is what `pm` prints.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PackageError {
    /// The file is not a usable APK. Nothing was changed.
    #[error("{0}")]
    InvalidApk(String),
    /// The APK needs a newer Android.
    #[error("requires API level {required}, the phone has {device}")]
    OlderSdk {
        /// `minSdkVersion`.
        required: u32,
        /// The phone's SDK.
        device: u32,
    },
    /// A lower versionCode than the installed one.
    #[error("version {new} is older than the installed {installed}")]
    VersionDowngrade {
        /// Installed versionCode.
        installed: i64,
        /// Offered versionCode.
        new: i64,
    },
    /// A system package cannot be replaced or removed.
    #[error("{0} is a system package")]
    SystemPackage(String),
    /// No such package.
    #[error("package {0} is not installed")]
    NotInstalled(String),
    /// No such activity in the package.
    #[error("activity {0} does not exist")]
    NoSuchActivity(String),
    /// The filesystem failed.
    #[error("storage: {0}")]
    Storage(#[from] FsError),
}

impl PackageError {
    /// The failure code Android's package manager uses.
    pub fn android_code(&self) -> &'static str {
        match self {
            PackageError::InvalidApk(_) => "INSTALL_FAILED_INVALID_APK",
            PackageError::OlderSdk { .. } => "INSTALL_FAILED_OLDER_SDK",
            PackageError::VersionDowngrade { .. } => "INSTALL_FAILED_VERSION_DOWNGRADE",
            PackageError::SystemPackage(_) => "INSTALL_FAILED_UPDATE_INCOMPATIBLE",
            PackageError::NotInstalled(_) => "DELETE_FAILED_INTERNAL_ERROR",
            PackageError::NoSuchActivity(_) => "ACTIVITY_NOT_FOUND",
            PackageError::Storage(_) => "INSTALL_FAILED_INSUFFICIENT_STORAGE",
        }
    }
}

/// A package a real Android ships; listed by `pm`, not removable.
pub struct SystemPackage {
    /// Package name.
    pub package: &'static str,
    /// Its APK path.
    pub path: &'static str,
    /// The built-in app it is, if it has a screen here.
    pub app: Option<App>,
}

/// The system packages (every built-in app is one: a test checks).
pub const SYSTEM_PACKAGES: &[SystemPackage] = &[
    SystemPackage { package: "android", path: "/system/framework/framework-res.apk", app: None },
    SystemPackage { package: "com.android.systemui", path: "/system_ext/priv-app/SystemUI/SystemUI.apk", app: None },
    SystemPackage { package: "com.android.shell", path: "/system/priv-app/Shell/Shell.apk", app: None },
    SystemPackage { package: "com.android.launcher3", path: "/system_ext/priv-app/Launcher3/Launcher3.apk", app: None },
    SystemPackage { package: "com.android.phone", path: "/system/priv-app/TeleService/TeleService.apk", app: None },
    SystemPackage {
        package: "com.android.providers.settings",
        path: "/system/priv-app/SettingsProvider/SettingsProvider.apk",
        app: None,
    },
    SystemPackage { package: "com.android.inputmethod.latin", path: "/system/app/LatinIME/LatinIME.apk", app: None },
    SystemPackage {
        package: "com.android.settings",
        path: "/system/priv-app/Settings/Settings.apk",
        app: Some(App::Settings),
    },
    SystemPackage { package: "com.cloudphone.notes", path: "/system/app/Notes/Notes.apk", app: Some(App::Notes) },
    SystemPackage {
        package: "com.cloudphone.touchtest",
        path: "/system/app/TouchTest/TouchTest.apk",
        app: Some(App::Touch),
    },
    SystemPackage {
        package: "com.cloudphone.sensors",
        path: "/system/app/Sensors/Sensors.apk",
        app: Some(App::Sensors),
    },
    SystemPackage {
        package: "com.cloudphone.location",
        path: "/system/app/Location/Location.apk",
        app: Some(App::Location),
    },
    SystemPackage { package: "com.cloudphone.camera", path: "/system/app/Camera/Camera.apk", app: Some(App::Camera) },
    SystemPackage {
        package: "com.cloudphone.recorder",
        path: "/system/app/Recorder/Recorder.apk",
        app: Some(App::Recorder),
    },
];

/// The system package of a built-in app.
pub fn system_package(name: &str) -> Option<&'static SystemPackage> {
    SYSTEM_PACKAGES.iter().find(|p| p.package == name)
}

/// Where an app's private data lives.
pub fn data_dir(package: &str) -> SandboxPath {
    SandboxPath::absolute("/data/data").join(package)
}

/// Where launcher icons are kept.
pub fn icon_path(package: &str) -> SandboxPath {
    SandboxPath::absolute("/data/system/icons").join(&format!("{package}.png"))
}

impl VirtualPhone {
    /// The installed (non-system) packages.
    pub fn installed(&self) -> impl Iterator<Item = &InstalledPackage> {
        self.state.packages.values()
    }

    /// One installed package.
    pub fn package(&self, name: &str) -> Option<&InstalledPackage> {
        self.state.packages.get(name)
    }

    /// Installs (or updates) an APK. On any failure nothing is changed.
    pub fn install(&mut self, apk: &[u8], allow_downgrade: bool) -> Result<InstalledPackage, PackageError> {
        let info = cloudphone_apk::parse(apk).map_err(|e| PackageError::InvalidApk(e.to_string()))?;
        if system_package(&info.package).is_some() {
            return Err(PackageError::SystemPackage(info.package));
        }
        let device_sdk: u32 = self.property("ro.build.version.sdk").and_then(|v| v.parse().ok()).unwrap_or(34);
        if let Some(required) = info.min_sdk.filter(|m| *m > device_sdk) {
            return Err(PackageError::OlderSdk { required, device: device_sdk });
        }
        let previous = self.state.packages.get(&info.package).cloned();
        if let Some(old) = &previous
            && old.info.version_code > info.version_code
            && !allow_downgrade
        {
            return Err(PackageError::VersionDowngrade { installed: old.info.version_code, new: info.version_code });
        }
        // Android names the code directory with a random token, new at every install.
        let token = new_android_id(&mut self.rng);
        let code_path = format!("/data/app/~~{}/{}-{}", &token[..8], info.package, &token[8..]);
        let code_dir = SandboxPath::absolute(&code_path);
        self.storage.create_dir_all(&code_dir)?;
        if let Err(e) = self.storage.write(&code_dir.join("base.apk"), apk) {
            let _ = self.storage.remove(&code_dir.parent(), true);
            return Err(e.into());
        }
        if let Some(old) = &previous {
            let _ = self.storage.remove(&SandboxPath::absolute(&old.code_path).parent(), true);
        }
        self.storage.create_dir_all(&data_dir(&info.package))?;
        match &info.icon_png {
            Some(png) => {
                self.storage.create_dir_all(&icon_path(&info.package).parent())?;
                self.storage.write(&icon_path(&info.package), png)?;
            }
            None => {
                let _ = self.storage.remove(&icon_path(&info.package), false);
            }
        }
        self.icons.remove(&info.package);
        let now = self.clock_ms;
        let package = InstalledPackage {
            code_path,
            first_install_ms: previous.as_ref().map(|p| p.first_install_ms).unwrap_or(now),
            last_update_ms: now,
            info: ApkInfo { icon_png: None, ..info },
        };
        // Each app gets its own ANDROID_ID (SSAID), kept across updates.
        let name = package.info.package.clone();
        if !self.state.identity.ssaid.contains_key(&name) {
            let id = new_android_id(&mut self.rng);
            self.state.identity.ssaid.insert(name.clone(), id);
        }
        self.state.packages.insert(name, package.clone());
        self.changed();
        Ok(package)
    }

    /// Installs the APK at a path in the phone (`pm install PATH`).
    pub fn install_file(
        &mut self,
        path: &SandboxPath,
        allow_downgrade: bool,
    ) -> Result<InstalledPackage, PackageError> {
        let bytes = self.storage.read(path)?;
        self.install(&bytes, allow_downgrade)
    }

    /// Removes a package with its data.
    pub fn uninstall(&mut self, name: &str) -> Result<(), PackageError> {
        if system_package(name).is_some() {
            return Err(PackageError::SystemPackage(name.to_owned()));
        }
        let package = self.state.packages.remove(name).ok_or_else(|| PackageError::NotInstalled(name.to_owned()))?;
        let _ = self.storage.remove(&SandboxPath::absolute(&package.code_path).parent(), true);
        let _ = self.storage.remove(&data_dir(name), true);
        let _ = self.storage.remove(&icon_path(name), false);
        self.icons.remove(name);
        self.recents.retain(|r| *r != super::ui::Launch::Installed(name.to_owned()));
        self.state.identity.ssaid.remove(name);
        if self.screen == Screen::Installed(name.to_owned()) {
            self.show(Screen::Launcher);
        }
        self.changed();
        Ok(())
    }

    /// Deletes an app's data (`pm clear`).
    pub fn clear_data(&mut self, name: &str) -> Result<(), PackageError> {
        if let Some(system) = system_package(name) {
            if system.app == Some(App::Notes) {
                self.state.notes.clear();
                self.changed();
            }
            return Ok(());
        }
        if !self.state.packages.contains_key(name) {
            return Err(PackageError::NotInstalled(name.to_owned()));
        }
        let dir = data_dir(name);
        let _ = self.storage.remove(&dir, true);
        self.storage.create_dir_all(&dir)?;
        self.stop_app(name)?;
        Ok(())
    }

    /// Brings an app's activity to the front (its launcher activity when `activity` is `None`).
    /// Returns the component started (`package/activity`).
    pub fn start_app(&mut self, name: &str, activity: Option<&str>) -> Result<String, PackageError> {
        if let Some(system) = system_package(name) {
            let app =
                system.app.ok_or_else(|| PackageError::NoSuchActivity(format!("{name}/{}", activity.unwrap_or(""))))?;
            let component = format!("{name}/{}", activity.unwrap_or(app.activity()));
            self.show(Screen::Builtin(app));
            return Ok(component);
        }
        let package = self.state.packages.get(name).ok_or_else(|| PackageError::NotInstalled(name.to_owned()))?;
        let activity = match activity {
            Some(a) => {
                let full = if a.starts_with('.') { format!("{name}{a}") } else { a.to_owned() };
                if !package.info.activities.contains(&full) {
                    return Err(PackageError::NoSuchActivity(format!("{name}/{a}")));
                }
                full
            }
            None => package
                .info
                .launcher_activity
                .clone()
                .ok_or_else(|| PackageError::NoSuchActivity(format!("{name} has no launcher activity")))?,
        };
        self.foreground_activity = Some(activity.clone());
        self.show(Screen::Installed(name.to_owned()));
        Ok(format!("{name}/{activity}"))
    }

    /// Stops an app (`am force-stop`): it leaves the screen if it was in front.
    pub fn stop_app(&mut self, name: &str) -> Result<(), PackageError> {
        let in_front = match system_package(name) {
            Some(system) => system.app.is_some_and(|app| self.screen == Screen::Builtin(app)),
            None => {
                if !self.state.packages.contains_key(name) {
                    return Err(PackageError::NotInstalled(name.to_owned()));
                }
                self.screen == Screen::Installed(name.to_owned())
            }
        };
        if in_front {
            self.show(Screen::Launcher);
        }
        Ok(())
    }

    /// The package whose activity is in front, if any.
    pub fn foreground_package(&self) -> Option<String> {
        match &self.screen {
            Screen::Launcher => Some("com.android.launcher3".into()),
            Screen::Recents => Some("com.android.systemui".into()),
            Screen::Builtin(app) => Some(app.package().to_owned()),
            Screen::Installed(p) => Some(p.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Device;
    use cloudphone_apk::fixture::{self, App as Fixture};

    fn sh(phone: &mut VirtualPhone, line: &str) -> crate::ShellOutput {
        phone.shell(line)
    }

    fn hello(version: u32) -> Vec<u8> {
        let mut app = Fixture::new("com.example.hello", "Hello Cloud");
        app.version_code = version;
        app.version_name = format!("{version}.0");
        fixture::build(&app)
    }

    #[test]
    fn install_show_start_stop_uninstall() {
        let mut phone = VirtualPhone::factory("p1");
        let launcher_before = phone.screenshot();
        let apk = hello(1);
        let package = phone.install(&apk, false).unwrap();
        assert!(package.code_path.starts_with("/data/app/~~"));
        assert_eq!(phone.storage().read(&package.apk_path()).unwrap(), apk, "the APK is stored as given");
        assert!(phone.identity().ssaid.contains_key("com.example.hello"), "each app gets its own SSAID");
        let launcher_after = phone.screenshot();
        assert_ne!(launcher_before.rgba, launcher_after.rgba, "the new icon is on the launcher");

        // Its icon comes after the built-in apps.
        let (x, y) = super::super::ui::icon_center(App::ALL.len(), 720.0, 1280.0);
        sh(&mut phone, &format!("input tap {x} {y}"));
        assert_eq!(phone.screen(), &Screen::Installed("com.example.hello".into()));
        assert_eq!(phone.foreground_package().as_deref(), Some("com.example.hello"));
        sh(&mut phone, "am force-stop com.example.hello");
        assert_eq!(phone.screen(), &Screen::Launcher);

        assert_eq!(
            sh(&mut phone, "am start -n com.example.hello/.SettingsActivity").stdout,
            "Starting: Intent { cmp=com.example.hello/.SettingsActivity }\n"
        );
        assert_eq!(phone.screen(), &Screen::Installed("com.example.hello".into()));
        let missing = sh(&mut phone, "am start -n com.example.hello/.Nope");
        assert_eq!(missing.exit_code, 1);
        assert!(
            missing.stderr.contains("Error: Activity class {com.example.hello/com.example.hello.Nope} does not exist.")
        );

        assert_eq!(sh(&mut phone, "pm uninstall com.example.hello").stdout, "Success\n");
        assert_eq!(phone.screen(), &Screen::Launcher, "an uninstalled app leaves the screen");
        assert!(phone.storage().read(&package.apk_path()).is_err(), "its files are gone");
        assert!(!phone.identity().ssaid.contains_key("com.example.hello"));
        assert_eq!(phone.screenshot().rgba, launcher_before.rgba, "and its icon");
        let again = sh(&mut phone, "pm uninstall com.example.hello");
        assert_eq!((again.exit_code, again.stderr.as_str()), (1, "Failure [DELETE_FAILED_INTERNAL_ERROR]\n"));
    }

    #[test]
    fn pm_lists_installs_from_files_and_refuses_bad_apks() {
        let mut phone = VirtualPhone::factory("p2");
        let tmp = SandboxPath::absolute("/data/local/tmp/hello.apk");
        phone.storage().write(&tmp, &hello(2)).unwrap();
        assert_eq!(sh(&mut phone, "pm install -r /data/local/tmp/hello.apk").stdout, "Success\n");
        assert_eq!(sh(&mut phone, "pm list packages -3").stdout, "package:com.example.hello\n");
        let all = sh(&mut phone, "pm list packages").stdout;
        assert!(all.contains("package:com.android.settings\n") && all.contains("package:com.example.hello\n"));
        assert!(!sh(&mut phone, "pm list packages -s").stdout.contains("com.example.hello"));
        let with_path = sh(&mut phone, "pm list packages -f hello").stdout;
        assert!(
            with_path.starts_with("package:/data/app/~~") && with_path.ends_with("/base.apk=com.example.hello\n"),
            "{with_path}"
        );
        assert!(sh(&mut phone, "pm path com.example.hello").stdout.starts_with("package:/data/app/"));

        // Downgrade refused, update kept.
        phone.storage().write(&tmp, &hello(1)).unwrap();
        let down = sh(&mut phone, "pm install /data/local/tmp/hello.apk");
        assert!(down.stderr.starts_with("Failure [INSTALL_FAILED_VERSION_DOWNGRADE"), "{}", down.stderr);
        assert_eq!(phone.package("com.example.hello").unwrap().info.version_code, 2);
        assert_eq!(sh(&mut phone, "pm install -d /data/local/tmp/hello.apk").stdout, "Success\n");

        // Not an APK: refused, nothing changes.
        phone.storage().write(&tmp, b"definitely not a zip").unwrap();
        let before = phone.state();
        let bad = sh(&mut phone, "pm install /data/local/tmp/hello.apk");
        assert_eq!(bad.exit_code, 1);
        assert!(bad.stderr.starts_with("Failure [INSTALL_FAILED_INVALID_APK: not an APK"), "{}", bad.stderr);
        assert_eq!(phone.state(), before);
        let missing = sh(&mut phone, "pm install /data/local/tmp/none.apk");
        assert!(missing.stderr.starts_with("Error: Unable to open file"));

        // Too new for this phone.
        let mut future = Fixture::new("com.example.future", "Future");
        future.sdk = (99, 99);
        assert!(matches!(
            phone.install(&fixture::build(&future), false),
            Err(PackageError::OlderSdk { required: 99, .. })
        ));
        // A system package cannot be replaced.
        let settings = fixture::build(&Fixture::new("com.android.settings", "Fake Settings"));
        assert!(matches!(phone.install(&settings, false), Err(PackageError::SystemPackage(_))));
        assert_eq!(
            sh(&mut phone, "pm uninstall com.android.settings").stderr,
            "Failure [INSTALL_FAILED_UPDATE_INCOMPATIBLE]\n"
        );
    }

    #[test]
    fn every_builtin_app_is_a_system_package() {
        for app in App::ALL {
            assert_eq!(system_package(app.package()).and_then(|p| p.app), Some(*app));
        }
    }

    #[test]
    fn packages_survive_a_reboot_and_clear_wipes_data() {
        let mut phone = VirtualPhone::factory("p3");
        phone.install(&hello(3), false).unwrap();
        let data = data_dir("com.example.hello").join("files");
        phone.storage().create_dir_all(&data).unwrap();
        phone.storage().write(&data.join("x"), b"1").unwrap();
        assert_eq!(sh(&mut phone, "pm clear com.example.hello").stdout, "Success\n");
        assert!(phone.storage().read(&data.join("x")).is_err());
        assert_eq!(sh(&mut phone, "monkey -p com.example.hello -c android.intent.category.LAUNCHER 1").exit_code, 0);
        assert_eq!(phone.screen(), &Screen::Installed("com.example.hello".into()));
        let rebooted = VirtualPhone::boot(phone.state());
        assert_eq!(rebooted.package("com.example.hello").unwrap().info.version_code, 3);
    }
}
