//! A phone's identity: Android system properties of a real model, the modem (IMEI, ICCID,
//! IMSI, operator, number), settings ids (android_id, per-app SSAID, Bluetooth MAC) and the
//! Wi-Fi networks it sees. [`Identity::generate`] draws a consistent one from a catalogue model
//! and a country; [`Change`]s are validated before anything is applied.

pub mod catalogue;
pub mod country;
pub mod luhn;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use rand::Rng;
use serde::{Deserialize, Serialize};

pub use catalogue::DeviceModel;
pub use cloudphone_protocol::api::{Modem, WifiNetwork};
pub use country::Country;

/// Everything that identifies a phone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    /// `ro.*` system properties.
    pub system: BTreeMap<String, String>,
    /// SIM and radio.
    pub modem: Modem,
    /// `Settings.Secure.ANDROID_ID`: 16 lower-case hex digits.
    pub android_id: String,
    /// Per-app `ANDROID_ID`s (Android 8+ gives each signing key its own), by package.
    #[serde(default)]
    pub ssaid: BTreeMap<String, String>,
    /// Bluetooth MAC.
    pub bluetooth_mac: String,
    /// Visible Wi-Fi networks, connected one first.
    pub wifi: Vec<WifiNetwork>,
    /// Locale and time zone at the factory (restored by a reset).
    pub factory_locale: String,
    /// Time zone at the factory.
    pub factory_timezone: String,
}

/// Why a change to an identity was refused. Nothing of a refused batch is applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// A value does not have its key's format.
    #[error("invalid {key}: {reason}")]
    InvalidValue {
        /// The key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A key in a namespace only the system may write, or not known there.
    #[error("{key} cannot be set: {reason}")]
    ReadOnly {
        /// The key.
        key: String,
        /// Why.
        reason: String,
    },
    /// No model or country by that name.
    #[error("unknown {what} {name:?}")]
    Unknown {
        /// `model` or `country`.
        what: &'static str,
        /// What was asked for.
        name: String,
    },
}

/// A catalogue model by name, or the error that names what was asked for.
pub fn resolve_model(name: &str) -> Result<&'static DeviceModel, IdentityError> {
    catalogue::find(name).ok_or_else(|| IdentityError::Unknown { what: "model", name: name.to_owned() })
}

/// A country by ISO code, or the error that names what was asked for.
pub fn resolve_country(code: &str) -> Result<&'static Country, IdentityError> {
    country::by_code(code).ok_or_else(|| IdentityError::Unknown { what: "country", name: code.to_owned() })
}

fn invalid(key: &str, reason: impl Into<String>) -> IdentityError {
    IdentityError::InvalidValue { key: key.to_owned(), reason: reason.into() }
}

fn digits<R: Rng + ?Sized>(rng: &mut R, n: usize) -> String {
    (0..n).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

fn hex<R: Rng + ?Sized>(rng: &mut R, n: usize) -> String {
    (0..n).map(|_| char::from_digit(rng.random_range(0..16u32), 16).expect("below 16")).collect()
}

/// A unicast, globally administered-looking MAC.
fn mac<R: Rng + ?Sized>(rng: &mut R) -> String {
    let mut bytes: [u8; 6] = rng.random();
    bytes[0] &= 0b1111_1100;
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn serial<R: Rng + ?Sized>(rng: &mut R) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    (0..12).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

/// A fresh Android ID (16 hex digits), as a factory reset or a new app install gets.
pub fn new_android_id<R: Rng + ?Sized>(rng: &mut R) -> String {
    hex(rng, 16)
}

/// A SIM of a real operator in `country`.
pub fn generate_modem<R: Rng + ?Sized>(country: &Country, rng: &mut R) -> Modem {
    // A GSMA-style TAC (reporting body 35) plus a serial, then the check digit.
    let body = format!("35{}", digits(rng, 12));
    let imei = format!("{body}{}", luhn::check_digit(&body));
    let prefix = format!("89{}{}", country.iccid_country, digits(rng, 2));
    let body = format!("{prefix}{}", digits(rng, 18 - prefix.len()));
    let iccid = format!("{body}{}", luhn::check_digit(&body));
    let mccmnc = format!("{}{}", country.mcc, country.mnc);
    let imsi = format!("{mccmnc}{}", digits(rng, 15 - mccmnc.len()));
    let national =
        format!("{}{}", country.mobile_prefix, digits(rng, country.national_digits - country.mobile_prefix.len()));
    Modem {
        imei,
        iccid,
        imsi,
        mccmnc,
        operator: country.operator.to_owned(),
        phone_number: format!("+{}{national}", country.calling_code),
        country_iso: country.code.to_ascii_lowercase(),
    }
}

impl Identity {
    /// A new, consistent identity: `model`'s properties, a SIM from `country`, fresh ids.
    pub fn generate<R: Rng + ?Sized>(model: &DeviceModel, country: &Country, rng: &mut R) -> Identity {
        let mut system = model.system_properties();
        let serial = serial(rng);
        system.insert("ro.serialno".into(), serial.clone());
        system.insert("ro.boot.serialno".into(), serial);
        system.insert("ro.product.locale".into(), country.locale.to_owned());
        let wifi_mac = mac(rng);
        let host = rng.random_range(20..250u8);
        Identity {
            system,
            modem: generate_modem(country, rng),
            android_id: new_android_id(rng),
            ssaid: BTreeMap::new(),
            bluetooth_mac: mac(rng),
            wifi: vec![WifiNetwork {
                ssid: format!("HOME-{}", hex(rng, 4).to_uppercase()),
                bssid: mac(rng),
                mac: wifi_mac,
                ip: format!("192.168.1.{host}"),
                gateway: "192.168.1.1".into(),
                dns1: "192.168.1.1".into(),
                dns2: "8.8.8.8".into(),
                level: -rng.random_range(40..70),
                frequency: [2437, 5180, 5240][rng.random_range(0..3)],
            }],
            factory_locale: country.locale.to_owned(),
            factory_timezone: country.timezone.to_owned(),
        }
    }

    /// The `gsm.*` properties Android derives from the SIM and network.
    pub fn modem_properties(&self) -> BTreeMap<String, String> {
        let m = &self.modem;
        [
            ("gsm.sim.state", "READY".to_owned()),
            ("gsm.sim.operator.numeric", m.mccmnc.clone()),
            ("gsm.sim.operator.alpha", m.operator.clone()),
            ("gsm.sim.operator.iso-country", m.country_iso.clone()),
            ("gsm.operator.numeric", m.mccmnc.clone()),
            ("gsm.operator.alpha", m.operator.clone()),
            ("gsm.operator.iso-country", m.country_iso.clone()),
            ("gsm.network.type", "LTE".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// The `ro.*` keys a user may change (the identity's own keys and these).
const WRITABLE_RO_EXTRA: &[&str] = &["ro.build.date.utc", "ro.build.version.codename", "ro.product.locale"];
/// Namespaces only the system writes.
const SYSTEM_ONLY: &[&str] = &["init.svc.", "ctl.", "sys.boot_completed", "dev.bootcomplete"];

/// One requested change to a phone's identity or settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A system property (`ro.*` takes effect at the next boot; others at once).
    Property(String, String),
    /// A modem field by its VMOS name: `IMEI`, `ICCID`, `IMSI`, `MCCMNC`, `OpName`, `PhoneNum`.
    Modem(String, String),
    /// `android_id`.
    AndroidId(String),
    /// The SSAID of one package.
    Ssaid(String, String),
    /// The Bluetooth MAC.
    BluetoothMac(String),
    /// The whole Wi-Fi list.
    Wifi(Vec<WifiNetwork>),
}

fn check_digits(key: &str, value: &str, lengths: &[usize]) -> Result<(), IdentityError> {
    if !value.bytes().all(|b| b.is_ascii_digit()) || !lengths.contains(&value.len()) {
        let lengths: Vec<String> = lengths.iter().map(|l| l.to_string()).collect();
        return Err(invalid(key, format!("must be {} digits", lengths.join(" or "))));
    }
    Ok(())
}

fn check_mac(key: &str, value: &str) -> Result<(), IdentityError> {
    let parts: Vec<&str> = value.split(':').collect();
    if parts.len() != 6 || !parts.iter().all(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_hexdigit())) {
        return Err(invalid(key, "must be a MAC address like 02:00:00:aa:bb:cc"));
    }
    Ok(())
}

fn check_ipv4(key: &str, value: &str) -> Result<(), IdentityError> {
    value.parse::<Ipv4Addr>().map(|_| ()).map_err(|_| invalid(key, "must be an IPv4 address"))
}

fn check_hex16(key: &str, value: &str) -> Result<(), IdentityError> {
    if value.len() != 16 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(key, "must be 16 hex digits"));
    }
    Ok(())
}

/// Whether `name` is a valid Android package name (`com.example.app`).
pub fn is_package_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() >= 2
        && parts.iter().all(|p| {
            let mut chars = p.chars();
            chars.next().is_some_and(|c| c.is_ascii_alphabetic())
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Checks a BCP 47 locale of the forms Android uses (`en`, `en-US`, `zh-Hans-CN`).
pub fn check_locale(value: &str) -> Result<(), IdentityError> {
    let parts: Vec<&str> = value.split('-').collect();
    let ok = (2..=3).contains(&parts[0].len())
        && parts[0].bytes().all(|b| b.is_ascii_lowercase())
        && parts.len() <= 3
        && parts[1..].iter().all(|p| {
            (p.len() == 2 && p.bytes().all(|b| b.is_ascii_uppercase()))
                || (p.len() == 4 && p.bytes().all(|b| b.is_ascii_alphabetic()))
                || (p.len() == 3 && p.bytes().all(|b| b.is_ascii_digit()))
        });
    if ok { Ok(()) } else { Err(invalid("persist.sys.locale", "must be a locale like en-US or zh-Hans-CN")) }
}

/// Checks an IANA time zone name (`UTC`, `Europe/Berlin`, `America/Argentina/Buenos_Aires`).
pub fn check_timezone(value: &str) -> Result<(), IdentityError> {
    if crate::clock::is_known_zone(value) {
        Ok(())
    } else {
        Err(invalid("persist.sys.timezone", "must be an IANA time zone like Europe/Berlin"))
    }
}

fn check_wifi(list: &[WifiNetwork]) -> Result<(), IdentityError> {
    if list.len() > 64 {
        return Err(invalid("wifi", "at most 64 networks"));
    }
    for (i, w) in list.iter().enumerate() {
        let key = |field: &str| format!("wifi[{i}].{field}");
        if w.ssid.is_empty() || w.ssid.len() > 32 {
            return Err(invalid(&key("ssid"), "must be 1 to 32 bytes"));
        }
        check_mac(&key("bssid"), &w.bssid)?;
        check_mac(&key("mac"), &w.mac)?;
        check_ipv4(&key("ip"), &w.ip)?;
        check_ipv4(&key("gateway"), &w.gateway)?;
        check_ipv4(&key("dns1"), &w.dns1)?;
        if !w.dns2.is_empty() {
            check_ipv4(&key("dns2"), &w.dns2)?;
        }
        if !(-127..=0).contains(&w.level) {
            return Err(invalid(&key("level"), "must be between -127 and 0 dBm"));
        }
        if !(2400..=7125).contains(&w.frequency) {
            return Err(invalid(&key("frequency"), "must be between 2400 and 7125 MHz"));
        }
    }
    Ok(())
}

impl Change {
    /// Checks the change against `identity` without applying it.
    pub fn validate(&self, identity: &Identity) -> Result<(), IdentityError> {
        match self {
            Change::Property(key, value) => {
                if key.is_empty() || key.len() > 256 || !key.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(invalid(key, "property names are 1 to 256 printable ASCII characters"));
                }
                if value.len() > 4096 || value.contains('\0') {
                    return Err(invalid(key, "property values are at most 4096 bytes, without NUL"));
                }
                if SYSTEM_ONLY.iter().any(|p| key.starts_with(p)) {
                    return Err(IdentityError::ReadOnly { key: key.clone(), reason: "only the system sets it".into() });
                }
                if key.starts_with("ro.")
                    && !identity.system.contains_key(key)
                    && !WRITABLE_RO_EXTRA.contains(&key.as_str())
                {
                    return Err(IdentityError::ReadOnly {
                        key: key.clone(),
                        reason: "not a known ro.* identity property".into(),
                    });
                }
                match key.as_str() {
                    "persist.sys.locale" => check_locale(value),
                    "persist.sys.timezone" => check_timezone(value),
                    _ => Ok(()),
                }
            }
            Change::Modem(key, value) => match key.as_str() {
                "IMEI" => {
                    check_digits(key, value, &[15])?;
                    if luhn::is_valid(value) { Ok(()) } else { Err(invalid(key, "the check digit is wrong")) }
                }
                "ICCID" => {
                    check_digits(key, value, &[19, 20])?;
                    if !value.starts_with("89") {
                        return Err(invalid(key, "must start with 89 (telecom)"));
                    }
                    if luhn::is_valid(value) { Ok(()) } else { Err(invalid(key, "the check digit is wrong")) }
                }
                "IMSI" => check_digits(key, value, &[14, 15]),
                "MCCMNC" => check_digits(key, value, &[5, 6]),
                "OpName" => {
                    if value.is_empty() || value.len() > 64 {
                        Err(invalid(key, "must be 1 to 64 bytes"))
                    } else {
                        Ok(())
                    }
                }
                "PhoneNum" => {
                    let number = value.strip_prefix('+').unwrap_or(value);
                    check_digits(key, number, &(5..=20).collect::<Vec<_>>())
                }
                _ => Err(IdentityError::ReadOnly {
                    key: key.clone(),
                    reason: "modem keys are IMEI, ICCID, IMSI, MCCMNC, OpName, PhoneNum".into(),
                }),
            },
            Change::AndroidId(value) => check_hex16("android_id", value),
            Change::Ssaid(package, value) => {
                if !is_package_name(package) {
                    return Err(invalid(&format!("ssaid/{package}"), "not a package name"));
                }
                check_hex16(&format!("ssaid/{package}"), value)
            }
            Change::BluetoothMac(value) => check_mac("bt/mac", value),
            Change::Wifi(list) => check_wifi(list),
        }
    }

    /// Whether it takes effect only at the next boot.
    pub fn needs_restart(&self) -> bool {
        matches!(self, Change::Property(key, _) if key.starts_with("ro."))
    }

    /// The key this change is reported under.
    pub fn key(&self) -> String {
        match self {
            Change::Property(k, _) | Change::Modem(k, _) => k.clone(),
            Change::AndroidId(_) => "android_id".into(),
            Change::Ssaid(p, _) => format!("ssaid/{p}"),
            Change::BluetoothMac(_) => "bt/mac".into(),
            Change::Wifi(_) => "wifi".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn sample() -> Identity {
        let mut rng = StdRng::seed_from_u64(7);
        Identity::generate(catalogue::find("Pixel 7").unwrap(), country::by_code("DE").unwrap(), &mut rng)
    }

    #[test]
    fn generated_identity_is_consistent() {
        let id = sample();
        assert!(luhn::is_valid(&id.modem.imei) && id.modem.imei.len() == 15, "{}", id.modem.imei);
        assert!(luhn::is_valid(&id.modem.iccid) && id.modem.iccid.starts_with("8949"), "{}", id.modem.iccid);
        assert_eq!(id.modem.mccmnc, "26201");
        assert!(id.modem.imsi.starts_with("26201") && id.modem.imsi.len() == 15);
        assert!(id.modem.phone_number.starts_with("+49151") && id.modem.phone_number.len() == 14);
        assert_eq!(id.factory_timezone, "Europe/Berlin");
        assert_eq!(id.system["ro.product.model"], "Pixel 7");
        assert_eq!(id.system["ro.serialno"], id.system["ro.boot.serialno"]);
        for change in [
            Change::AndroidId(id.android_id.clone()),
            Change::BluetoothMac(id.bluetooth_mac.clone()),
            Change::Wifi(id.wifi.clone()),
            Change::Modem("IMEI".into(), id.modem.imei.clone()),
            Change::Modem("ICCID".into(), id.modem.iccid.clone()),
        ] {
            change.validate(&id).unwrap();
        }
        assert_eq!(id.modem_properties()["gsm.sim.operator.alpha"], "Telekom.de");
        // Another draw is another phone.
        let other = Identity::generate(
            catalogue::find("Pixel 7").unwrap(),
            country::by_code("DE").unwrap(),
            &mut StdRng::seed_from_u64(8),
        );
        assert_ne!(other.modem.imei, id.modem.imei);
        assert_ne!(other.android_id, id.android_id);
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let id = sample();
        let refused = |c: Change| c.validate(&id).unwrap_err().to_string();
        assert!(refused(Change::Modem("IMEI".into(), "12345".into())).contains("15 digits"));
        let mut imei = id.modem.imei.clone();
        let last = imei.pop().unwrap();
        imei.push(if last == '9' { '0' } else { char::from(last as u8 + 1) });
        assert!(refused(Change::Modem("IMEI".into(), imei)).contains("check digit"));
        assert!(refused(Change::Modem("ICCID".into(), "1234567890123456789".into())).contains("89"));
        assert!(refused(Change::Modem("Color".into(), "red".into())).contains("modem keys"));
        assert!(refused(Change::Property("ro.made.up".into(), "x".into())).contains("not a known ro.*"));
        assert!(refused(Change::Property("init.svc.adbd".into(), "stopped".into())).contains("only the system"));
        assert!(refused(Change::Property("persist.sys.locale".into(), "english".into())).contains("locale"));
        assert!(refused(Change::Property("persist.sys.timezone".into(), "nowhere".into())).contains("IANA"));
        assert!(refused(Change::Property("persist.sys.timezone".into(), "Mars/Olympus".into())).contains("IANA"));
        for c in country::COUNTRIES {
            check_timezone(c.timezone).unwrap();
            check_locale(c.locale).unwrap();
        }
        assert!(refused(Change::AndroidId("xyz".into())).contains("16 hex"));
        assert!(refused(Change::Ssaid("notapackage".into(), "0123456789abcdef".into())).contains("package"));
        assert!(refused(Change::BluetoothMac("00:11:22".into())).contains("MAC"));
        let mut wifi = id.wifi.clone();
        wifi[0].level = 5;
        assert!(refused(Change::Wifi(wifi)).contains("wifi[0].level"));
        Change::Property("ro.product.model".into(), "Other".into()).validate(&id).unwrap();
        Change::Property("debug.anything".into(), "1".into()).validate(&id).unwrap();
        Change::Property("persist.sys.locale".into(), "zh-Hans-CN".into()).validate(&id).unwrap();
        Change::Property("persist.sys.timezone".into(), "America/Argentina/Buenos_Aires".into()).validate(&id).unwrap();
        Change::Modem("PhoneNum".into(), "+8613800138000".into()).validate(&id).unwrap();
        assert!(Change::Property("ro.product.model".into(), "x".into()).needs_restart());
        assert!(!Change::Modem("OpName".into(), "x".into()).needs_restart());
    }
}
