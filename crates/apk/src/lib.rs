//! Reads Android APK files: the zip, the binary `AndroidManifest.xml` and `resources.arsc`,
//! for what a phone needs to install and show an app: package, versions, label, icon, SDK
//! levels, permissions and the launcher activity.
//!
//! Everything read comes from untrusted files: sizes are bounded (no zip bombs) and every
//! malformed structure is an [`ApkError`], never a panic.

mod arsc;
pub mod binxml;
#[cfg(feature = "fixtures")]
pub mod fixture;

use std::io::{Cursor, Read};

use binxml::{Element, Value};
use serde::{Deserialize, Serialize};

/// The largest manifest read.
const MAX_MANIFEST: u64 = 8 << 20;
/// The largest resource table read.
const MAX_RESOURCES: u64 = 128 << 20;
/// The largest icon read.
const MAX_ICON: u64 = 4 << 20;
/// How many references a value may go through to reach its string.
const MAX_REFERENCE_DEPTH: usize = 8;

const ATTR_LABEL: u32 = 0x0101_0001;
const ATTR_ICON: u32 = 0x0101_0002;
const ATTR_NAME: u32 = 0x0101_0003;
const ATTR_MIN_SDK: u32 = 0x0101_020c;
const ATTR_VERSION_CODE: u32 = 0x0101_021b;
const ATTR_VERSION_NAME: u32 = 0x0101_021c;
const ATTR_TARGET_SDK: u32 = 0x0101_0270;

/// Why a file is not a usable APK.
#[derive(Debug, thiserror::Error)]
pub enum ApkError {
    /// Not a zip archive (or a damaged one).
    #[error("not an APK: {0}")]
    NotZip(String),
    /// A zip without `AndroidManifest.xml`.
    #[error("not an APK: there is no AndroidManifest.xml")]
    MissingManifest,
    /// A structure inside is damaged.
    #[error("damaged APK: {0}")]
    Malformed(String),
    /// The manifest lacks something every APK has.
    #[error("invalid manifest: {0}")]
    InvalidManifest(String),
}

/// What an APK says about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApkInfo {
    /// Package name (`com.example.app`).
    pub package: String,
    /// `android:versionCode`.
    pub version_code: i64,
    /// `android:versionName`.
    pub version_name: Option<String>,
    /// The application label, resolved from resources (default language).
    pub label: Option<String>,
    /// The launcher icon as PNG bytes (highest density), when it is a bitmap.
    #[serde(skip)]
    pub icon_png: Option<Vec<u8>>,
    /// `minSdkVersion`.
    pub min_sdk: Option<u32>,
    /// `targetSdkVersion`.
    pub target_sdk: Option<u32>,
    /// Requested permissions.
    pub permissions: Vec<String>,
    /// The activity started from the launcher (fully qualified), if any.
    pub launcher_activity: Option<String>,
    /// Every activity (fully qualified).
    pub activities: Vec<String>,
}

fn read_entry(
    archive: &mut zip::ZipArchive<Cursor<&[u8]>>,
    name: &str,
    limit: u64,
) -> Result<Option<Vec<u8>>, ApkError> {
    let mut file = match archive.by_name(name) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(ApkError::NotZip(e.to_string())),
    };
    let mut bytes = Vec::new();
    (&mut file).take(limit + 1).read_to_end(&mut bytes).map_err(|e| ApkError::Malformed(format!("{name}: {e}")))?;
    if bytes.len() as u64 > limit {
        return Err(ApkError::Malformed(format!("{name} is larger than {limit} bytes")));
    }
    Ok(Some(bytes))
}

/// Qualifies a component name the way Android does (`.Main` → `com.example.Main`).
fn qualify(package: &str, name: &str) -> String {
    if name.starts_with('.') {
        format!("{package}{name}")
    } else if name.contains('.') {
        name.to_owned()
    } else {
        format!("{package}.{name}")
    }
}

fn int_of(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Int(i) => Some(*i),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Whether an `<activity>` or `<activity-alias>` is started from the launcher.
fn is_launcher(activity: &Element) -> bool {
    activity.children_named("intent-filter").any(|filter| {
        let has = |tag: &str, value: &str| {
            filter
                .children_named(tag)
                .any(|c| c.attr(ATTR_NAME, "name").and_then(Value::as_text).as_deref() == Some(value))
        };
        has("action", "android.intent.action.MAIN") && has("category", "android.intent.category.LAUNCHER")
    })
}

struct Resources<'a> {
    table: Option<arsc::ResourceTable<'a>>,
}

impl Resources<'_> {
    /// A value as text: itself when it is a string, else the default-language string the
    /// reference resolves to.
    fn text(&self, value: Option<&Value>) -> Result<Option<String>, ApkError> {
        let mut reference = match value {
            Some(Value::String(s)) => return Ok(Some(s.clone())),
            Some(Value::Reference(id)) => *id,
            _ => return Ok(None),
        };
        let Some(table) = &self.table else { return Ok(None) };
        for _ in 0..MAX_REFERENCE_DEPTH {
            let mut candidates = table.values(reference)?;
            // The default configuration first: no language, any density.
            candidates.sort_by_key(|c| (c.localized, c.density));
            match candidates.first() {
                Some(c) if c.string.is_some() => return Ok(c.string.clone()),
                Some(c) if c.reference.is_some() => reference = c.reference.expect("checked"),
                _ => return Ok(None),
            }
        }
        Ok(None)
    }

    /// The path of the highest-density PNG a drawable reference resolves to.
    fn png_path(&self, value: Option<&Value>) -> Result<Option<String>, ApkError> {
        match value {
            Some(Value::String(path)) if path.ends_with(".png") => Ok(Some(path.clone())),
            Some(Value::Reference(id)) => {
                let Some(table) = &self.table else { return Ok(None) };
                let mut pngs: Vec<_> = table
                    .values(*id)?
                    .into_iter()
                    .filter_map(|c| c.string.filter(|s| s.ends_with(".png")).map(|s| (c.density, s)))
                    .collect();
                // Density 0xfffe (anydpi) and 0xffff (nodpi) sort high; prefer real densities.
                pngs.sort_by_key(|(d, _)| if *d >= 0xfffe { 0 } else { *d });
                Ok(pngs.pop().map(|(_, s)| s))
            }
            _ => Ok(None),
        }
    }
}

/// Reads an APK.
pub fn parse(apk: &[u8]) -> Result<ApkInfo, ApkError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(apk)).map_err(|e| ApkError::NotZip(e.to_string()))?;
    let manifest = read_entry(&mut archive, "AndroidManifest.xml", MAX_MANIFEST)?.ok_or(ApkError::MissingManifest)?;
    let root = binxml::parse(&manifest)?;
    if root.name != "manifest" {
        return Err(ApkError::InvalidManifest(format!("the root element is <{}>", root.name)));
    }
    let resources_bytes = read_entry(&mut archive, "resources.arsc", MAX_RESOURCES)?;
    let resources = Resources { table: resources_bytes.as_deref().map(arsc::ResourceTable::parse).transpose()? };

    let package = root
        .attr(0, "package")
        .and_then(Value::as_text)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApkError::InvalidManifest("no package name".into()))?;
    let version_code = int_of(root.attr(ATTR_VERSION_CODE, "versionCode")).unwrap_or(0);
    let version_name = resources.text(root.attr(ATTR_VERSION_NAME, "versionName"))?;
    let sdk = root.children_named("uses-sdk").next();
    let sdk_level = |id, name| sdk.and_then(|s| int_of(s.attr(id, name))).and_then(|v| u32::try_from(v).ok());
    let permissions = root
        .children_named("uses-permission")
        .filter_map(|p| p.attr(ATTR_NAME, "name").and_then(Value::as_text))
        .collect();

    let application = root.children_named("application").next();
    let label = match application {
        Some(app) => resources.text(app.attr(ATTR_LABEL, "label"))?,
        None => None,
    };
    let icon_path = match application {
        Some(app) => resources.png_path(app.attr(ATTR_ICON, "icon"))?,
        None => None,
    };
    let icon_png = match icon_path {
        Some(path) => read_entry(&mut archive, &path, MAX_ICON)?,
        None => None,
    };
    let mut activities = Vec::new();
    let mut launcher_activity = None;
    if let Some(app) = application {
        for activity in app.children.iter().filter(|c| c.name == "activity" || c.name == "activity-alias") {
            let Some(name) = activity.attr(ATTR_NAME, "name").and_then(Value::as_text) else { continue };
            let name = qualify(&package, &name);
            if launcher_activity.is_none() && is_launcher(activity) {
                launcher_activity = Some(name.clone());
            }
            activities.push(name);
        }
    }
    Ok(ApkInfo {
        package,
        version_code,
        version_name,
        label,
        icon_png,
        min_sdk: sdk_level(ATTR_MIN_SDK, "minSdkVersion"),
        target_sdk: sdk_level(ATTR_TARGET_SDK, "targetSdkVersion"),
        permissions,
        launcher_activity,
        activities,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualifies_component_names() {
        assert_eq!(qualify("com.a", ".Main"), "com.a.Main");
        assert_eq!(qualify("com.a", "Main"), "com.a.Main");
        assert_eq!(qualify("com.a", "org.b.Main"), "org.b.Main");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(matches!(parse(b"not a zip at all"), Err(ApkError::NotZip(_))));
        assert!(matches!(parse(&[]), Err(ApkError::NotZip(_))));
        for len in 0..64 {
            let junk: Vec<u8> = (0..len).map(|i| (i * 37 % 251) as u8).collect();
            assert!(binxml::parse(&junk).is_err());
        }
    }
}
