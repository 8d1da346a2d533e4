//! Countries a new identity can come from: their mobile network, phone numbers, locale and
//! time zone, so an identity is consistent from SIM to clock.

/// A country's defaults for a phone identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Country {
    /// ISO 3166-1 alpha-2 code.
    pub code: &'static str,
    /// Mobile country code.
    pub mcc: &'static str,
    /// Mobile network code of a real operator there.
    pub mnc: &'static str,
    /// That operator's name.
    pub operator: &'static str,
    /// ITU calling code, without `+`.
    pub calling_code: &'static str,
    /// Digits of a national mobile number after the calling code.
    pub national_digits: usize,
    /// The first digit(s) of mobile numbers there.
    pub mobile_prefix: &'static str,
    /// ICCID issuer country digits (after `89`).
    pub iccid_country: &'static str,
    /// BCP 47 locale.
    pub locale: &'static str,
    /// IANA time zone.
    pub timezone: &'static str,
}

/// The known countries.
pub const COUNTRIES: &[Country] = &[
    Country {
        code: "US",
        mcc: "310",
        mnc: "260",
        operator: "T-Mobile",
        calling_code: "1",
        national_digits: 10,
        mobile_prefix: "2",
        iccid_country: "01",
        locale: "en-US",
        timezone: "America/New_York",
    },
    Country {
        code: "GB",
        mcc: "234",
        mnc: "10",
        operator: "O2 - UK",
        calling_code: "44",
        national_digits: 10,
        mobile_prefix: "7",
        iccid_country: "44",
        locale: "en-GB",
        timezone: "Europe/London",
    },
    Country {
        code: "DE",
        mcc: "262",
        mnc: "01",
        operator: "Telekom.de",
        calling_code: "49",
        national_digits: 11,
        mobile_prefix: "151",
        iccid_country: "49",
        locale: "de-DE",
        timezone: "Europe/Berlin",
    },
    Country {
        code: "FR",
        mcc: "208",
        mnc: "01",
        operator: "Orange F",
        calling_code: "33",
        national_digits: 9,
        mobile_prefix: "6",
        iccid_country: "33",
        locale: "fr-FR",
        timezone: "Europe/Paris",
    },
    Country {
        code: "ES",
        mcc: "214",
        mnc: "07",
        operator: "Movistar",
        calling_code: "34",
        national_digits: 9,
        mobile_prefix: "6",
        iccid_country: "34",
        locale: "es-ES",
        timezone: "Europe/Madrid",
    },
    Country {
        code: "IT",
        mcc: "222",
        mnc: "01",
        operator: "TIM",
        calling_code: "39",
        national_digits: 10,
        mobile_prefix: "3",
        iccid_country: "39",
        locale: "it-IT",
        timezone: "Europe/Rome",
    },
    Country {
        code: "JP",
        mcc: "440",
        mnc: "10",
        operator: "NTT DOCOMO",
        calling_code: "81",
        national_digits: 10,
        mobile_prefix: "90",
        iccid_country: "81",
        locale: "ja-JP",
        timezone: "Asia/Tokyo",
    },
    Country {
        code: "KR",
        mcc: "450",
        mnc: "05",
        operator: "SK Telecom",
        calling_code: "82",
        national_digits: 10,
        mobile_prefix: "10",
        iccid_country: "82",
        locale: "ko-KR",
        timezone: "Asia/Seoul",
    },
    Country {
        code: "CN",
        mcc: "460",
        mnc: "00",
        operator: "CHINA MOBILE",
        calling_code: "86",
        national_digits: 11,
        mobile_prefix: "13",
        iccid_country: "86",
        locale: "zh-CN",
        timezone: "Asia/Shanghai",
    },
    Country {
        code: "HK",
        mcc: "454",
        mnc: "00",
        operator: "CSL",
        calling_code: "852",
        national_digits: 8,
        mobile_prefix: "9",
        iccid_country: "852",
        locale: "zh-HK",
        timezone: "Asia/Hong_Kong",
    },
    Country {
        code: "SG",
        mcc: "525",
        mnc: "01",
        operator: "SingTel",
        calling_code: "65",
        national_digits: 8,
        mobile_prefix: "9",
        iccid_country: "65",
        locale: "en-SG",
        timezone: "Asia/Singapore",
    },
    Country {
        code: "IN",
        mcc: "404",
        mnc: "10",
        operator: "Airtel",
        calling_code: "91",
        national_digits: 10,
        mobile_prefix: "9",
        iccid_country: "91",
        locale: "en-IN",
        timezone: "Asia/Kolkata",
    },
    Country {
        code: "ID",
        mcc: "510",
        mnc: "10",
        operator: "Telkomsel",
        calling_code: "62",
        national_digits: 11,
        mobile_prefix: "81",
        iccid_country: "62",
        locale: "id-ID",
        timezone: "Asia/Jakarta",
    },
    Country {
        code: "BR",
        mcc: "724",
        mnc: "06",
        operator: "VIVO",
        calling_code: "55",
        national_digits: 11,
        mobile_prefix: "119",
        iccid_country: "55",
        locale: "pt-BR",
        timezone: "America/Sao_Paulo",
    },
    Country {
        code: "MX",
        mcc: "334",
        mnc: "020",
        operator: "TELCEL",
        calling_code: "52",
        national_digits: 10,
        mobile_prefix: "55",
        iccid_country: "52",
        locale: "es-MX",
        timezone: "America/Mexico_City",
    },
    Country {
        code: "AU",
        mcc: "505",
        mnc: "01",
        operator: "Telstra",
        calling_code: "61",
        national_digits: 9,
        mobile_prefix: "4",
        iccid_country: "61",
        locale: "en-AU",
        timezone: "Australia/Sydney",
    },
];

/// Looks a country up by its ISO code (case-insensitive).
pub fn by_code(code: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|c| c.code.eq_ignore_ascii_case(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_well_formed() {
        let mut codes = std::collections::HashSet::new();
        for c in COUNTRIES {
            assert!(codes.insert(c.code));
            assert_eq!(c.mcc.len(), 3);
            assert!(matches!(c.mnc.len(), 2 | 3));
            assert!(c.mobile_prefix.len() < c.national_digits);
            assert!(c.timezone.contains('/'));
        }
        assert_eq!(by_code("de").unwrap().operator, "Telekom.de");
        assert!(by_code("XX").is_none());
    }
}
