//! What of a phone survives a reboot, and the operations on it as a whole: factory reset and
//! "new device" (a fresh identity). The running phone is rebuilt from this state at boot.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

pub use cloudphone_protocol::api::NewDevice;

use super::packages::InstalledPackage;
use crate::identity::{Identity, IdentityError, catalogue, country, new_android_id, resolve_country, resolve_model};

/// The version of the on-disk format of [`PhoneState`].
pub const STATE_FORMAT: u32 = 1;

/// The model and country of a phone created with no choice made.
pub const DEFAULT_MODEL: &str = "Pixel 7";
/// See [`DEFAULT_MODEL`].
pub const DEFAULT_COUNTRY: &str = "US";

/// A phone's persistent state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneState {
    /// [`STATE_FORMAT`] when written.
    pub format: u32,
    /// Who the phone is.
    pub identity: Identity,
    /// `ro.*` changes that take effect at the next boot.
    #[serde(default)]
    pub pending: BTreeMap<String, String>,
    /// `persist.*` properties (user data: a reset clears them).
    #[serde(default)]
    pub persist: BTreeMap<String, String>,
    /// `settings` by namespace (`system`, `secure`, `global`), user data.
    #[serde(default)]
    pub settings: BTreeMap<String, BTreeMap<String, String>>,
    /// The Notes app's text, user data.
    #[serde(default)]
    pub notes: String,
    /// Installed (non-system) packages, user data.
    #[serde(default)]
    pub packages: BTreeMap<String, InstalledPackage>,
}

fn stable_seed(seed: &str) -> u64 {
    seed.bytes().fold(0xcbf29ce484222325, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

impl PhoneState {
    /// A factory-new phone of `model` from `country`.
    pub fn new<R: Rng + ?Sized>(model: &catalogue::DeviceModel, country: &country::Country, rng: &mut R) -> PhoneState {
        PhoneState {
            format: STATE_FORMAT,
            identity: Identity::generate(model, country, rng),
            pending: BTreeMap::new(),
            persist: BTreeMap::new(),
            settings: BTreeMap::new(),
            notes: String::new(),
            packages: BTreeMap::new(),
        }
    }

    /// A factory-new default phone whose ids derive from `seed` (stable for tests and examples).
    pub fn for_seed(seed: &str) -> PhoneState {
        let model = catalogue::find(DEFAULT_MODEL).expect("the default model is in the catalogue");
        let country = country::by_code(DEFAULT_COUNTRY).expect("the default country is known");
        PhoneState::new(model, country, &mut StdRng::seed_from_u64(stable_seed(seed)))
    }

    fn wipe_user_data(&mut self) {
        self.persist.clear();
        self.settings.clear();
        self.notes.clear();
        self.packages.clear();
        self.identity.ssaid.clear();
    }

    /// Whether [`PhoneState::factory_reset`] or a renewal without kept data also has to wipe
    /// the phone's files (always: files are user data).
    pub fn wipes_files(request: Option<&NewDevice>) -> bool {
        request.is_none_or(|r| !r.keep_user_data)
    }

    /// Factory reset: user data goes, the identity stays, and a new `android_id` is drawn (as
    /// Android does on a reset).
    pub fn factory_reset<R: Rng + ?Sized>(&mut self, rng: &mut R) {
        self.wipe_user_data();
        self.identity.android_id = new_android_id(rng);
    }

    /// Replaces the identity with a fresh one ("one-key new device"). Nothing changes when the
    /// model or country is unknown.
    pub fn renew<R: Rng + ?Sized>(&mut self, request: &NewDevice, rng: &mut R) -> Result<(), IdentityError> {
        let model = match &request.model {
            Some(name) => resolve_model(name)?,
            None => &catalogue::models()[rng.random_range(0..catalogue::models().len())],
        };
        let country = resolve_country(request.country.as_deref().unwrap_or(&self.identity.modem.country_iso))?;
        self.identity = Identity::generate(model, country, rng);
        self.pending.clear();
        if !request.keep_user_data {
            self.wipe_user_data();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_wipes_user_data_and_keeps_the_identity() {
        let mut state = PhoneState::for_seed("a");
        state.notes = "hello".into();
        state.persist.insert("persist.sys.locale".into(), "de-DE".into());
        state.identity.ssaid.insert("com.example.app".into(), "0123456789abcdef".into());
        let before = state.identity.clone();
        state.factory_reset(&mut StdRng::seed_from_u64(1));
        assert!(state.notes.is_empty() && state.persist.is_empty() && state.identity.ssaid.is_empty());
        assert_eq!(state.identity.modem, before.modem);
        assert_eq!(state.identity.system, before.system);
        assert_ne!(state.identity.android_id, before.android_id);
    }

    #[test]
    fn renew_draws_a_new_identity() {
        let mut state = PhoneState::for_seed("b");
        state.notes = "keep me".into();
        let old = state.identity.clone();
        let request = NewDevice { model: Some("Galaxy S23".into()), country: Some("JP".into()), keep_user_data: true };
        state.renew(&request, &mut StdRng::seed_from_u64(2)).unwrap();
        assert_eq!(state.identity.system["ro.product.model"], "SM-S911B");
        assert_eq!(state.identity.modem.mccmnc, "44010");
        assert_ne!(state.identity.modem.imei, old.modem.imei);
        assert_ne!(state.identity.system["ro.serialno"], old.system["ro.serialno"]);
        assert_eq!(state.notes, "keep me");

        state.renew(&NewDevice::default(), &mut StdRng::seed_from_u64(3)).unwrap();
        assert!(state.notes.is_empty(), "user data is wiped unless kept");
        assert_eq!(state.identity.modem.country_iso, "jp", "the country stays by default");

        let snapshot = state.clone();
        let bad = NewDevice { model: Some("Nokia 3310".into()), ..Default::default() };
        assert!(matches!(state.renew(&bad, &mut StdRng::seed_from_u64(4)), Err(IdentityError::Unknown { .. })));
        let bad = NewDevice { country: Some("XX".into()), ..Default::default() };
        assert!(state.renew(&bad, &mut StdRng::seed_from_u64(4)).is_err());
        assert_eq!(state, snapshot, "a refused renewal changes nothing");
    }

    #[test]
    fn for_seed_is_stable() {
        assert_eq!(PhoneState::for_seed("x"), PhoneState::for_seed("x"));
        assert_ne!(PhoneState::for_seed("x").identity.modem.imei, PhoneState::for_seed("y").identity.modem.imei);
    }
}
