//! Base64 for Proto-JSON `bytes` fields.
//!
//! Proto-JSON writes bytes as standard, padded base64 and its parsers accept
//! both the standard and the URL-safe alphabet, with or without padding; so do we.

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::de::{self, Deserializer, Visitor};
use serde::ser::Serializer;
use std::fmt;

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Encodes bytes as standard padded base64.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

/// Appends the standard padded base64 of `bytes` to `out` without an intermediate string.
pub fn encode_into(bytes: &[u8], out: &mut String) {
    STANDARD.encode_string(bytes, out);
}

/// Appends the standard padded base64 of `bytes` to `out`, encoding in place
/// (no intermediate string). Base64 needs no JSON escaping, so this is how the
/// streaming JSON replies write bytes fields. Uses the SIMD encoder
/// (base64-simd, CPU features detected at run time): base64 was a tenth of the
/// CPU time of a batch_get with the scalar one.
pub fn encode_into_vec(bytes: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    let len = base64_simd::STANDARD.encoded_length(bytes.len());
    out.resize(start + len, 0);
    let written = base64_simd::STANDARD
        .encode(bytes, base64_simd::Out::from_slice(&mut out[start..]))
        .len();
    out.truncate(start + written);
}

/// Decodes standard or URL-safe base64, padded or not.
pub fn decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD_LENIENT
        .decode(text)
        .or_else(|_| URL_SAFE_LENIENT.decode(text))
}

pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    // A stack buffer for the common small case keeps the hot path allocation-free.
    let mut buf = [0u8; 1024];
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(usize::MAX);
    if len <= buf.len() {
        let n = STANDARD
            .encode_slice(bytes, &mut buf)
            .map_err(serde::ser::Error::custom)?;
        let text = std::str::from_utf8(&buf[..n]).map_err(serde::ser::Error::custom)?;
        s.serialize_str(text)
    } else {
        s.serialize_str(&STANDARD.encode(bytes))
    }
}

struct B64Visitor;

impl<'de> Visitor<'de> for B64Visitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a base64 string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        decode(v).map_err(|e| E::custom(format_args!("invalid base64 {v:?}: {e}")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<u8>, E> {
        Ok(Vec::new())
    }
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    d.deserialize_any(B64Visitor)
}

/// The same for `optional bytes` fields: absent or `null` is `None`.
pub mod option {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => super::serialize(b, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(deserialize_with = "super::deserialize")] Vec<u8>);
        Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
    }
}

/// A list of base64 strings (`repeated bytes`).
pub mod list {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(items: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(items.len()))?;
        for item in items {
            seq.serialize_element(&super::Encoded(item))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapped(#[serde(deserialize_with = "super::deserialize")] Vec<u8>);
        Ok(Option::<Vec<Wrapped>>::deserialize(d)?
            .unwrap_or_default()
            .into_iter()
            .map(|w| w.0)
            .collect())
    }
}

/// Serializes a byte slice as base64 wherever serde needs a value.
pub struct Encoded<'a>(pub &'a [u8]);

impl serde::Serialize for Encoded<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        serialize(self.0, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_standard_urlsafe_and_unpadded() {
        assert_eq!(decode("Zm9v").unwrap(), b"foo");
        assert_eq!(decode("Zm8=").unwrap(), b"fo");
        assert_eq!(decode("Zm8").unwrap(), b"fo");
        assert_eq!(decode("_w==").unwrap(), [0xff]);
        assert_eq!(decode("/w==").unwrap(), [0xff]);
        assert!(decode("not base64!").is_err());
    }

    #[test]
    fn encodes_standard_padded() {
        assert_eq!(encode([0xff]), "/w==");
        let mut s = String::from("x");
        encode_into(b"fo", &mut s);
        assert_eq!(s, "xZm8=");
        let mut v = b"x".to_vec();
        encode_into_vec(b"fo", &mut v);
        encode_into_vec(b"", &mut v);
        encode_into_vec(&[0xff; 3], &mut v);
        assert_eq!(v, b"xZm8=////");
    }

    proptest::proptest! {
        /// The SIMD encoder writes exactly what the scalar one does, at every
        /// length and after any prefix.
        #[test]
        fn simd_encoding_matches_the_scalar_one(
            prefix in proptest::collection::vec(proptest::num::u8::ANY, 0..8),
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048),
        ) {
            let mut v = prefix.clone();
            encode_into_vec(&bytes, &mut v);
            let mut want = prefix;
            want.extend_from_slice(STANDARD.encode(&bytes).as_bytes());
            proptest::prop_assert_eq!(v, want);
        }
    }
}
