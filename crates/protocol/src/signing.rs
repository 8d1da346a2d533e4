//! The AK/SK request signature of the OpenAPI (documented in `docs/api-signing.md`).
//!
//! ```text
//! X-CP-Signature = hex(HMAC-SHA256(secret_key,
//!     METHOD \n PATH \n CANONICAL_QUERY \n TIMESTAMP \n NONCE \n hex(SHA-256(body))))
//! ```
//!
//! The server and every client build the string to sign with these functions, so the two
//! sides cannot disagree.

use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sha2::{Digest, Sha256};

/// Header carrying the access key.
pub const HEADER_ACCESS_KEY: &str = "x-cp-access-key";
/// Header carrying the unix time in seconds.
pub const HEADER_TIMESTAMP: &str = "x-cp-timestamp";
/// Header carrying the single-use nonce.
pub const HEADER_NONCE: &str = "x-cp-nonce";
/// Header carrying the lowercase hex signature.
pub const HEADER_SIGNATURE: &str = "x-cp-signature";
/// How far (seconds) a request's timestamp may be from the server's clock, either way.
pub const TIMESTAMP_WINDOW_SECS: i64 = 300;
/// The longest nonce accepted.
pub const MAX_NONCE_LEN: usize = 64;

/// RFC 3986: everything but the unreserved characters `A-Z a-z 0-9 - _ . ~` is encoded.
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// Percent-encodes a string the way the canonical query needs it.
pub fn encode_component(s: &str) -> String {
    utf8_percent_encode(s, ENCODE).to_string()
}

/// The canonical form of a raw query string (without the leading `?`).
///
/// Each `key=value` pair is percent-decoded, then re-encoded with [`encode_component`], so a
/// client may send any valid encoding of the same pairs; `+` is a literal plus, not a space.
/// The pairs are sorted by encoded key, then encoded value, and joined by `&`. A pair without
/// `=` has an empty value.
pub fn canonical_query(raw: &str) -> String {
    let mut pairs: Vec<(String, String)> = raw
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (encode_component(&dec(k)), encode_component(&dec(v)))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The canonical query of already decoded pairs (what a client builds a URL from).
pub fn canonical_query_from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut encoded: Vec<(String, String)> =
        pairs.into_iter().map(|(k, v)| (encode_component(k), encode_component(v))).collect();
    encoded.sort();
    encoded.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The parts of a request that are signed.
#[derive(Clone, Copy, Debug)]
pub struct SignedRequest<'a> {
    /// HTTP method, upper case (`GET`, `POST`, ...).
    pub method: &'a str,
    /// The path, as sent, without the query (`/v1/instances`).
    pub path: &'a str,
    /// The canonical query ([`canonical_query`]).
    pub canonical_query: &'a str,
    /// The `X-CP-Timestamp` header value.
    pub timestamp: &'a str,
    /// The `X-CP-Nonce` header value.
    pub nonce: &'a str,
    /// The raw body bytes (empty for none).
    pub body: &'a [u8],
}

impl SignedRequest<'_> {
    /// The exact string the HMAC is computed over.
    pub fn string_to_sign(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.method,
            self.path,
            self.canonical_query,
            self.timestamp,
            self.nonce,
            hex::encode(Sha256::digest(self.body))
        )
    }

    /// The lowercase hex signature under `secret_key`.
    pub fn sign(&self, secret_key: &str) -> String {
        hex::encode(self.mac(secret_key).finalize().into_bytes())
    }

    /// Whether `signature` (hex) is this request's signature under `secret_key`; compares in
    /// constant time.
    pub fn verify(&self, secret_key: &str, signature: &str) -> bool {
        match hex::decode(signature) {
            Ok(bytes) => self.mac(secret_key).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    fn mac(&self, secret_key: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret_key.as_bytes()).expect("HMAC takes keys of any length");
        mac.update(self.string_to_sign().as_bytes());
        mac
    }
}

/// Whether a nonce has an allowed length and alphabet.
pub fn nonce_is_valid(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce.len() <= MAX_NONCE_LEN
        && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectors shared with the browser SDK (`vectors/signing.json`).
    #[test]
    fn shared_vectors() {
        let text = include_str!("../vectors/signing.json");
        let vectors: serde_json::Value = serde_json::from_str(text).expect("vectors are JSON");
        for case in vectors["canonical_query"].as_array().expect("canonical_query cases") {
            assert_eq!(canonical_query(case["raw"].as_str().unwrap()), case["canonical"].as_str().unwrap(), "{case}");
        }
        for case in vectors["signatures"].as_array().expect("signature cases") {
            let s = |k: &str| case[k].as_str().unwrap();
            let query = canonical_query(s("raw_query"));
            let req = SignedRequest {
                method: s("method"),
                path: s("path"),
                canonical_query: &query,
                timestamp: s("timestamp"),
                nonce: s("nonce"),
                body: s("body").as_bytes(),
            };
            assert_eq!(req.string_to_sign(), s("string_to_sign"));
            assert_eq!(req.sign(s("secret_key")), s("signature"));
            assert!(req.verify(s("secret_key"), s("signature")));
            assert!(!req.verify("other", s("signature")));
            assert!(!req.verify(s("secret_key"), &s("signature")[..62]));
        }
    }

    #[test]
    fn canonical_query_from_decoded_pairs() {
        assert_eq!(canonical_query_from_pairs([("q", "hello world"), ("a", "中")]), "a=%E4%B8%AD&q=hello%20world");
        assert_eq!(canonical_query_from_pairs([]), "");
    }

    #[test]
    fn nonce_rules() {
        assert!(nonce_is_valid("abc-DEF_1.2"));
        assert!(!nonce_is_valid(""));
        assert!(!nonce_is_valid(&"a".repeat(65)));
        assert!(!nonce_is_valid("a b"));
    }
}
