//! `X-Twilio-Signature`: base64(HMAC-SHA1(auth token, url + each POST param sorted by key
//! as key followed by value)).

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

type HmacSha1 = Hmac<Sha1>;

/// The `(key, value)` pairs of an `application/x-www-form-urlencoded` webhook body, in order.
/// Reads untrusted bytes: fuzzed (`fuzz/`).
pub fn form_params(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The signature Twilio sends for a request to `url` with form `params`.
pub fn sign(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = HmacSha1::new_from_slice(token.as_bytes()).expect("hmac takes any key");
    mac.update(data.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Constant-time check of a received signature.
pub fn verify(token: &str, url: &str, params: &[(String, String)], received: &str) -> bool {
    if token.is_empty() {
        return false;
    }
    let expected = sign(token, url, params);
    expected.as_bytes().ct_eq(received.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_of_params_does_not_matter_and_tampering_fails() {
        let a = vec![
            ("To".to_string(), "+15550001".to_string()),
            ("From".to_string(), "+15550002".to_string()),
        ];
        let mut b = a.clone();
        b.reverse();
        let sig = sign("tok", "https://x/voice", &a);
        assert!(verify("tok", "https://x/voice", &b, &sig));
        assert!(!verify("tok2", "https://x/voice", &a, &sig));
        assert!(!verify("tok", "https://x/voice?x=1", &a, &sig));
        assert!(!verify("", "https://x/voice", &a, &sig));
    }
}
