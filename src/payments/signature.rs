//! `Payment-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">[,v1=…]` (Stripe's
//! scheme): the signature is checked in constant time against every `v1` given (several
//! while a secret is being rotated) and the timestamp must be within the tolerance.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const HEADER: &str = "payment-signature";
/// How far `t` may be from now, either way.
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Payment-Signature header is malformed")]
    Malformed,
    #[error("the Payment-Signature timestamp is outside the tolerance")]
    OutsideTolerance,
    #[error("no signature matches")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(timestamp.as_bytes());
    m.update(b".");
    m.update(body);
    m.finalize().into_bytes().into()
}

/// The header value for `body` signed at `timestamp` (tests and tools use it).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    format!("t={t},v1={}", hex::encode(mac(secret, &t, body)))
}

/// Check `header` for `body` at time `now` (unix seconds).
pub fn verify(header: &str, body: &[u8], secret: &[u8], now: i64) -> Result<(), SignatureError> {
    let mut timestamp: Option<&str> = None;
    let mut candidates: Vec<Vec<u8>> = Vec::new();
    for item in header.split(',') {
        let Some((k, v)) = item.trim().split_once('=') else {
            continue;
        };
        match k {
            "t" if timestamp.is_none() => timestamp = Some(v),
            "t" => return Err(SignatureError::Malformed),
            "v1" => {
                if let Ok(sig) = hex::decode(v) {
                    candidates.push(sig);
                }
            }
            _ => {}
        }
    }
    let t_str = timestamp.ok_or(SignatureError::Malformed)?;
    let t: i64 = t_str.parse().map_err(|_| SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::OutsideTolerance);
    }
    let expected = mac(secret, t_str, body);
    // Check every candidate so the time taken does not depend on which one matched.
    let matched = candidates.iter().fold(subtle::Choice::from(0), |acc, c| {
        acc | expected.as_slice().ct_eq(c)
    });
    if bool::from(matched) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const BODY: &[u8] = br#"{"id":"evt_1"}"#;

    #[test]
    fn a_fresh_signature_verifies() {
        let h = sign(SECRET, 1_000_000, BODY);
        assert_eq!(verify(&h, BODY, SECRET, 1_000_000), Ok(()));
        assert_eq!(verify(&h, BODY, SECRET, 1_000_300), Ok(()));
        assert_eq!(verify(&h, BODY, SECRET, 999_700), Ok(()));
    }

    #[test]
    fn any_of_several_v1_may_match() {
        let good = sign(SECRET, 1_000_000, BODY);
        let sig = good.split("v1=").nth(1).unwrap();
        let h = format!("t=1000000,v1={},v0=abc,v1={sig}", "00".repeat(32));
        assert_eq!(verify(&h, BODY, SECRET, 1_000_000), Ok(()));
    }

    #[test]
    fn stale_future_tampered_and_malformed_fail() {
        let h = sign(SECRET, 1_000_000, BODY);
        assert_eq!(
            verify(&h, BODY, SECRET, 1_000_301),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            verify(&h, BODY, SECRET, 999_699),
            Err(SignatureError::OutsideTolerance)
        );
        assert_eq!(
            verify(&h, br#"{"id":"evt_2"}"#, SECRET, 1_000_000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&h, BODY, b"other", 1_000_000),
            Err(SignatureError::Mismatch)
        );
        for bad in ["", "t=1000000", "v1=00", "t=x,v1=00", "t=1,t=1,v1=00"] {
            assert_eq!(
                verify(bad, BODY, SECRET, 1_000_000),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}
