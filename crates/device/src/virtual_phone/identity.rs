//! The phone's identity: Android system properties of a real device model.

use std::collections::BTreeMap;

/// The factory identity of a new phone: `ro.*` properties of a Google Pixel 7 on Android 14
/// and the `persist.*` defaults, with a serial number derived from `seed`.
pub fn default_properties(seed: &str) -> BTreeMap<String, String> {
    let serial = serial_from(seed);
    let pairs: &[(&str, &str)] = &[
        ("ro.product.brand", "google"),
        ("ro.product.manufacturer", "Google"),
        ("ro.product.model", "Pixel 7"),
        ("ro.product.name", "panther"),
        ("ro.product.device", "panther"),
        ("ro.product.board", "panther"),
        ("ro.product.cpu.abi", "arm64-v8a"),
        ("ro.build.id", "UQ1A.240205.004"),
        ("ro.build.display.id", "UQ1A.240205.004"),
        ("ro.build.tags", "release-keys"),
        ("ro.build.type", "user"),
        ("ro.build.version.release", "14"),
        ("ro.build.version.sdk", "34"),
        ("ro.build.version.incremental", "11269751"),
        ("ro.build.version.security_patch", "2024-02-05"),
        ("ro.build.fingerprint", "google/panther/panther:14/UQ1A.240205.004/11269751:user/release-keys"),
        ("ro.build.description", "panther-user 14 UQ1A.240205.004 11269751 release-keys"),
        ("ro.hardware", "panther"),
        ("ro.sf.lcd_density", "320"),
        ("persist.sys.locale", "en-US"),
        ("persist.sys.timezone", "UTC"),
    ];
    let mut props: BTreeMap<String, String> = pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect();
    props.insert("ro.serialno".into(), serial.clone());
    props.insert("ro.boot.serialno".into(), serial);
    props
}

/// Properties set at every boot (not persisted): what a running Android reports.
pub fn runtime_properties() -> BTreeMap<String, String> {
    [
        ("sys.boot_completed", "1"),
        ("dev.bootcomplete", "1"),
        ("init.svc.adbd", "running"),
        ("service.adb.root", "0"),
        ("gsm.sim.state", "ABSENT"),
    ]
    .iter()
    .map(|(k, v)| ((*k).into(), (*v).into()))
    .collect()
}

/// A 12-character upper-case serial, stable for a seed (as `ro.serialno` is for a device).
fn serial_from(seed: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    (0..12)
        .map(|i| ALPHABET[(fnv1a(format!("{seed}/{i}").as_bytes()) % ALPHABET.len() as u64) as usize] as char)
        .collect()
}

/// FNV-1a: stable across Rust versions and platforms, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |h, b| (h ^ *b as u64).wrapping_mul(0x100000001b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_is_stable_and_distinct() {
        let a = default_properties("cp-a");
        let b = default_properties("cp-b");
        assert_eq!(a["ro.serialno"], default_properties("cp-a")["ro.serialno"]);
        assert_ne!(a["ro.serialno"], b["ro.serialno"]);
        assert_eq!(a["ro.serialno"].len(), 12);
        assert!(a["ro.build.fingerprint"].contains(&a["ro.build.id"]));
    }
}
