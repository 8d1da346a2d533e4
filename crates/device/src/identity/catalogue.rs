//! The catalogue of real device models (`data/device_models.json`) a phone can take the
//! identity of. Fingerprint and description are derived from the parts, so they always agree.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

/// A real Android device model.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct DeviceModel {
    /// `ro.product.brand`.
    pub brand: String,
    /// `ro.product.manufacturer`.
    pub manufacturer: String,
    /// `ro.product.model`.
    pub model: String,
    /// The name people know it by.
    pub market_name: String,
    /// `ro.product.device` (code name).
    pub device: String,
    /// `ro.product.name`.
    pub name: String,
    /// `ro.product.board`.
    pub board: String,
    /// `ro.hardware`.
    pub hardware: String,
    /// `ro.build.version.release`.
    pub release: String,
    /// `ro.build.version.sdk`.
    pub sdk: u32,
    /// `ro.build.id`.
    pub build_id: String,
    /// `ro.build.version.incremental`.
    pub incremental: String,
    /// `ro.build.version.security_patch`.
    pub security_patch: String,
    /// The model's own panel (informational; the virtual screen size is set separately).
    pub screen: Panel,
    /// `ro.product.cpu.abi`.
    pub cpu_abi: String,
}

/// A display panel.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub struct Panel {
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
    /// Dots per inch.
    pub density: u32,
}

#[derive(Deserialize)]
struct File {
    models: Vec<DeviceModel>,
}

impl DeviceModel {
    /// `ro.build.fingerprint`: `brand/name/device:release/id/incremental:user/release-keys`.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}/{}/{}:{}/{}/{}:user/release-keys",
            self.brand, self.name, self.device, self.release, self.build_id, self.incremental
        )
    }

    /// The `ro.*` system properties of this model.
    pub fn system_properties(&self) -> BTreeMap<String, String> {
        let description =
            format!("{}-user {} {} {} release-keys", self.name, self.release, self.build_id, self.incremental);
        [
            ("ro.product.brand", self.brand.clone()),
            ("ro.product.manufacturer", self.manufacturer.clone()),
            ("ro.product.model", self.model.clone()),
            ("ro.product.marketname", self.market_name.clone()),
            ("ro.product.name", self.name.clone()),
            ("ro.product.device", self.device.clone()),
            ("ro.product.board", self.board.clone()),
            ("ro.product.cpu.abi", self.cpu_abi.clone()),
            ("ro.hardware", self.hardware.clone()),
            ("ro.build.id", self.build_id.clone()),
            ("ro.build.display.id", self.build_id.clone()),
            ("ro.build.tags", "release-keys".into()),
            ("ro.build.type", "user".into()),
            ("ro.build.user", "android-build".into()),
            ("ro.build.host", "abfarm-release".into()),
            ("ro.build.version.release", self.release.clone()),
            ("ro.build.version.sdk", self.sdk.to_string()),
            ("ro.build.version.incremental", self.incremental.clone()),
            ("ro.build.version.codename", "REL".into()),
            ("ro.build.version.security_patch", self.security_patch.clone()),
            ("ro.build.fingerprint", self.fingerprint()),
            ("ro.build.description", description),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// Every model in the catalogue.
pub fn models() -> &'static [DeviceModel] {
    static MODELS: OnceLock<Vec<DeviceModel>> = OnceLock::new();
    MODELS.get_or_init(|| {
        let file: File =
            serde_json::from_str(include_str!("../../data/device_models.json")).expect("the bundled catalogue parses");
        file.models
    })
}

/// Finds a model by `ro.product.model`, code name or market name (case-insensitive).
pub fn find(query: &str) -> Option<&'static DeviceModel> {
    models().iter().find(|m| [&m.model, &m.device, &m.market_name].iter().any(|v| v.eq_ignore_ascii_case(query)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_thirty_consistent_models() {
        let all = models();
        assert!(all.len() >= 30, "{} models", all.len());
        let mut fingerprints = std::collections::HashSet::new();
        for m in all {
            let props = m.system_properties();
            let fp = &props["ro.build.fingerprint"];
            assert!(fp.starts_with(&format!("{}/{}/{}:{}/", m.brand, m.name, m.device, m.release)), "{fp}");
            assert!(props["ro.build.description"].contains(&m.build_id));
            assert!((26..=35).contains(&m.sdk), "{}: sdk {}", m.model, m.sdk);
            let expected_sdk = match m.release.as_str() {
                "12" => 31,
                "13" => 33,
                "14" => 34,
                "15" => 35,
                other => panic!("{}: unexpected Android {other}", m.model),
            };
            assert_eq!(m.sdk, expected_sdk, "{}: Android {} is SDK {expected_sdk}", m.model, m.release);
            assert!(fingerprints.insert(fp.clone()), "duplicate {fp}");
        }
    }

    #[test]
    fn lookup_by_any_name() {
        assert_eq!(find("Pixel 7").unwrap().device, "panther");
        assert_eq!(find("panther").unwrap().model, "Pixel 7");
        assert_eq!(find("galaxy s23").unwrap().model, "SM-S911B");
        assert!(find("Nokia 3310").is_none());
    }
}
