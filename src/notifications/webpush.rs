//! Web Push: RFC 8030 delivery, RFC 8291 `aes128gcm` payload encryption and RFC 8292 VAPID.
//!
//! Written on RustCrypto `p256` (ECDH, ES256) and `ring` (HKDF-SHA256, AES-128-GCM), both
//! already in the build for JWTs and TLS: the `web-push` crate brings its own HTTP client and
//! `ece` (OpenSSL by default), and we send with the server's one `reqwest` client. The
//! encryption is checked byte for byte against RFC 8291's worked example (tests below).
//! [`decrypt`] is the browser's half, for the `cadence-sim` push service.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD as B64};
use p256::{
    PublicKey, SecretKey,
    ecdsa::{Signature, SigningKey, VerifyingKey, signature::Signer, signature::Verifier},
    elliptic_curve::sec1::ToEncodedPoint,
};
use ring::{aead, hkdf};
use secrecy::ExposeSecret;

use super::{model::NotificationPriority, model::PushSubscriptionRow, repo};
use crate::{error::ApiError, state::AppState};

/// Record size we announce (one record: our payloads are small).
const RECORD_SIZE: u32 = 4096;
/// Largest plaintext one 4096-byte record carries (RFC 8291 §4: 4096 − 16 tag − 1 delimiter,
/// and push services accept 4096-byte bodies including the 86-byte header).
pub const MAX_PAYLOAD: usize = 3993;

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn hkdf(salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let mut out = vec![0u8; len];
    prk.expand(&[info], Len(len))
        .and_then(|okm| okm.fill(&mut out))
        .expect("HKDF-SHA256 output of at most 255 blocks");
    out
}

/// The content encryption key and nonce of RFC 8291 §3.4 / RFC 8188 §2.2.
fn cek_and_nonce(
    ecdh_secret: &[u8],
    auth: &[u8],
    ua_public: &[u8],
    as_public: &[u8],
    salt: &[u8],
) -> (Vec<u8>, [u8; 12]) {
    let mut key_info = b"WebPush: info\0".to_vec();
    key_info.extend_from_slice(ua_public);
    key_info.extend_from_slice(as_public);
    let ikm = hkdf(auth, ecdh_secret, &key_info, 32);
    let cek = hkdf(salt, &ikm, b"Content-Encoding: aes128gcm\0", 16);
    let nonce: [u8; 12] = hkdf(salt, &ikm, b"Content-Encoding: nonce\0", 12)
        .try_into()
        .expect("12 bytes");
    (cek, nonce)
}

fn ecdh(secret: &SecretKey, public: &PublicKey) -> Vec<u8> {
    p256::ecdh::diffie_hellman(secret.to_nonzero_scalar(), public.as_affine())
        .raw_secret_bytes()
        .to_vec()
}

fn uncompressed(pk: &PublicKey) -> Vec<u8> {
    pk.to_encoded_point(false).as_bytes().to_vec()
}

/// A fresh random P-256 key.
pub fn random_secret() -> SecretKey {
    loop {
        let bytes: [u8; 32] = rand::random();
        if let Ok(k) = SecretKey::from_slice(&bytes) {
            return k;
        }
    }
}

/// Encrypt `plaintext` for a subscription (`ua_public` 65 bytes, `auth` 16 bytes) with the
/// sender's one-time key `as_secret` and `salt`: the whole `aes128gcm` body.
pub fn encrypt(
    ua_public: &[u8],
    auth: &[u8],
    plaintext: &[u8],
    as_secret: &SecretKey,
    salt: &[u8; 16],
) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(plaintext.len() <= MAX_PAYLOAD, "push payload too large");
    anyhow::ensure!(auth.len() == 16, "auth secret must be 16 bytes");
    let ua = PublicKey::from_sec1_bytes(ua_public)
        .map_err(|_| anyhow::anyhow!("p256dh is not a P-256 public key"))?;
    let as_public = uncompressed(&as_secret.public_key());
    let (cek, nonce) = cek_and_nonce(&ecdh(as_secret, &ua), auth, ua_public, &as_public, salt);
    let key = aead::LessSafeKey::new(
        aead::UnboundKey::new(&aead::AES_128_GCM, &cek).map_err(|_| anyhow::anyhow!("cek"))?,
    );
    let mut record = plaintext.to_vec();
    record.push(2); // the last (and only) record's delimiter, no padding
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::empty(),
        &mut record,
    )
    .map_err(|_| anyhow::anyhow!("AES-GCM seal failed"))?;
    let mut body = Vec::with_capacity(86 + record.len());
    body.extend_from_slice(salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.len() as u8);
    body.extend_from_slice(&as_public);
    body.extend_from_slice(&record);
    Ok(body)
}

/// The user agent's half: decrypt an `aes128gcm` body with the subscription's private key
/// and auth secret.
pub fn decrypt(body: &[u8], ua_secret: &SecretKey, auth: &[u8]) -> anyhow::Result<Vec<u8>> {
    anyhow::ensure!(body.len() > 21, "body too short for the aes128gcm header");
    let salt = &body[..16];
    let idlen = body[20] as usize;
    anyhow::ensure!(body.len() > 21 + idlen, "body too short for its key id");
    let as_public = &body[21..21 + idlen];
    let sender = PublicKey::from_sec1_bytes(as_public)
        .map_err(|_| anyhow::anyhow!("key id is not a P-256 public key"))?;
    let ua_public = uncompressed(&ua_secret.public_key());
    let (cek, nonce) = cek_and_nonce(&ecdh(ua_secret, &sender), auth, &ua_public, as_public, salt);
    let key = aead::LessSafeKey::new(
        aead::UnboundKey::new(&aead::AES_128_GCM, &cek).map_err(|_| anyhow::anyhow!("cek"))?,
    );
    let mut record = body[21 + idlen..].to_vec();
    let plain = key
        .open_in_place(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::empty(),
            &mut record,
        )
        .map_err(|_| anyhow::anyhow!("AES-GCM authentication failed"))?;
    // Strip padding: zeros, then the delimiter (2 for the last record).
    let end = plain
        .iter()
        .rposition(|&b| b != 0)
        .ok_or_else(|| anyhow::anyhow!("record has no delimiter"))?;
    anyhow::ensure!(plain[end] == 2, "not the last record");
    Ok(plain[..end].to_vec())
}

// --- VAPID (RFC 8292) -----------------------------------------------------------------------

/// The application server's key: `notifications.vapid_private_key` (base64url of the 32-byte
/// scalar, as `web-push generate-vapid-keys` prints it), else one generated once and kept in
/// the database for every instance.
pub async fn vapid_key(state: &AppState) -> Result<SigningKey, ApiError> {
    let encoded = match &state.settings.notifications.vapid_private_key {
        Some(k) if !k.expose_secret().is_empty() => k.expose_secret().to_string(),
        _ => {
            let candidate = B64.encode(random_secret().to_bytes());
            match repo::vapid_key_or_insert(&state.db, &candidate).await {
                Ok(k) => k,
                // Lost a first-start race: the winner's key is there now.
                Err(_) => repo::vapid_key_or_insert(&state.db, &candidate).await?,
            }
        }
    };
    let bytes = B64
        .decode(encoded.trim())
        .map_err(|_| ApiError::internal(anyhow::anyhow!("VAPID key is not base64url")))?;
    let secret = SecretKey::from_slice(&bytes)
        .map_err(|_| ApiError::internal(anyhow::anyhow!("VAPID key is not a P-256 key")))?;
    Ok(SigningKey::from(secret))
}

/// The public key browsers pass to `PushManager.subscribe`, base64url.
pub fn public_key_b64(key: &SigningKey) -> String {
    B64.encode(key.verifying_key().to_encoded_point(false).as_bytes())
}

/// `Authorization: vapid t=<ES256 JWT>, k=<public key>` for `endpoint`'s origin.
pub fn vapid_authorization(
    key: &SigningKey,
    endpoint: &url::Url,
    subject: &str,
    now: i64,
) -> String {
    let aud = endpoint.origin().ascii_serialization();
    let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
    let claims = B64.encode(
        serde_json::json!({"aud": aud, "exp": now + 12 * 3600, "sub": subject}).to_string(),
    );
    let input = format!("{header}.{claims}");
    let sig: Signature = key.sign(input.as_bytes());
    format!(
        "vapid t={input}.{}, k={}",
        B64.encode(sig.to_bytes()),
        public_key_b64(key)
    )
}

/// Check a VAPID `Authorization` header (the push service's half): signature by `k`, `aud`
/// is `origin`, not expired, at most 24 h ahead. The claims when valid.
pub fn verify_vapid(header: &str, origin: &str, now: i64) -> anyhow::Result<serde_json::Value> {
    let rest = header
        .strip_prefix("vapid ")
        .ok_or_else(|| anyhow::anyhow!("not the vapid scheme"))?;
    let (mut t, mut k) = (None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("t=") {
            t = Some(v);
        } else if let Some(v) = part.strip_prefix("k=") {
            k = Some(v);
        }
    }
    let (t, k) = (
        t.ok_or_else(|| anyhow::anyhow!("no t="))?,
        k.ok_or_else(|| anyhow::anyhow!("no k="))?,
    );
    let (input, sig) = t
        .rsplit_once('.')
        .ok_or_else(|| anyhow::anyhow!("JWT has no signature"))?;
    let vk = VerifyingKey::from_sec1_bytes(&B64.decode(k)?)?;
    let sig = Signature::from_slice(&B64.decode(sig)?)?;
    vk.verify(input.as_bytes(), &sig)
        .map_err(|_| anyhow::anyhow!("bad VAPID signature"))?;
    let (h, c) = input
        .split_once('.')
        .ok_or_else(|| anyhow::anyhow!("JWT has no claims"))?;
    let h: serde_json::Value = serde_json::from_slice(&B64.decode(h)?)?;
    anyhow::ensure!(h["alg"] == "ES256", "alg must be ES256");
    let claims: serde_json::Value = serde_json::from_slice(&B64.decode(c)?)?;
    anyhow::ensure!(
        claims["aud"] == origin,
        "aud is not the push service origin"
    );
    let exp = claims["exp"].as_i64().unwrap_or(0);
    anyhow::ensure!(exp > now && exp <= now + 24 * 3600, "exp out of range");
    anyhow::ensure!(claims["sub"].is_string(), "sub missing");
    Ok(claims)
}

// --- sending --------------------------------------------------------------------------------

pub enum PushOutcome {
    Sent,
    /// 404/410: the subscription is gone.
    Gone(u16),
    Failed(String),
}

/// Encrypt and POST `payload` to a subscription (RFC 8030 §5).
pub async fn send(
    state: &AppState,
    sub: &PushSubscriptionRow,
    payload: &[u8],
    priority: NotificationPriority,
) -> PushOutcome {
    match try_send(state, sub, payload, priority).await {
        Ok(o) => o,
        Err(e) => PushOutcome::Failed(format!("{e:#}").chars().take(300).collect()),
    }
}

async fn try_send(
    state: &AppState,
    sub: &PushSubscriptionRow,
    payload: &[u8],
    priority: NotificationPriority,
) -> anyhow::Result<PushOutcome> {
    let endpoint = url::Url::parse(&sub.endpoint)?;
    let key = vapid_key(state)
        .await
        .map_err(|e| anyhow::anyhow!("VAPID key: {e}"))?;
    let salt: [u8; 16] = rand::random();
    let body = encrypt(
        &B64.decode(sub.p256dh.trim_end_matches('='))?,
        &B64.decode(sub.auth.trim_end_matches('='))?,
        payload,
        &random_secret(),
        &salt,
    )?;
    let urgency = match priority {
        NotificationPriority::Low => "low",
        NotificationPriority::Normal => "normal",
        NotificationPriority::High | NotificationPriority::Urgent => "high",
    };
    let s = &state.settings.notifications;
    let auth = vapid_authorization(
        &key,
        &endpoint,
        &s.vapid_subject,
        chrono::Utc::now().timestamp(),
    );
    let started = std::time::Instant::now();
    let resp = state
        .http
        .post(endpoint)
        .header("TTL", s.push_ttl_secs.to_string())
        .header("Urgency", urgency)
        .header("Content-Encoding", "aes128gcm")
        .header("Content-Type", "application/octet-stream")
        .header("Authorization", auth)
        .timeout(std::time::Duration::from_secs_f64(s.push_timeout_secs))
        .body(body)
        .send()
        .await;
    metrics::histogram!("provider_latency_seconds", "provider" => "web_push")
        .record(started.elapsed().as_secs_f64());
    let resp = resp?;
    let code = resp.status().as_u16();
    Ok(match code {
        200..=299 => PushOutcome::Sent,
        404 | 410 => PushOutcome::Gone(code),
        _ => PushOutcome::Failed(format!("push service answered {code}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Vec<u8> {
        B64.decode(s).unwrap()
    }

    const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
    const UA_PUBLIC: &str =
        "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
    const AS_PRIVATE: &str = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
    const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
    const SALT: &str = "DGv6ra1nlYgDCS1FRnbzlw";
    const BODY: &str = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";
    const PLAIN: &[u8] = b"When I grow up, I want to be a watermelon";

    /// RFC 8291 Appendix A, byte for byte.
    #[test]
    fn rfc8291_example_encrypts_exactly() {
        let as_secret = SecretKey::from_slice(&d(AS_PRIVATE)).unwrap();
        let salt: [u8; 16] = d(SALT).try_into().unwrap();
        let body = encrypt(&d(UA_PUBLIC), &d(AUTH), PLAIN, &as_secret, &salt).unwrap();
        assert_eq!(B64.encode(&body), BODY);
    }

    #[test]
    fn rfc8291_example_decrypts() {
        let ua = SecretKey::from_slice(&d(UA_PRIVATE)).unwrap();
        assert_eq!(B64.encode(uncompressed(&ua.public_key())), UA_PUBLIC);
        assert_eq!(decrypt(&d(BODY), &ua, &d(AUTH)).unwrap(), PLAIN);
        let mut tampered = d(BODY);
        *tampered.last_mut().unwrap() ^= 1;
        assert!(decrypt(&tampered, &ua, &d(AUTH)).is_err());
    }

    #[test]
    fn vapid_header_verifies_and_rejects_other_audiences() {
        let key = SigningKey::from(random_secret());
        let url = url::Url::parse("https://push.example.net/p/abc").unwrap();
        let now = 1_800_000_000;
        let h = vapid_authorization(&key, &url, "mailto:ops@example.com", now);
        let claims = verify_vapid(&h, "https://push.example.net", now).unwrap();
        assert_eq!(claims["sub"], "mailto:ops@example.com");
        assert!(verify_vapid(&h, "https://other.example.net", now).is_err());
        assert!(verify_vapid(&h, "https://push.example.net", now + 13 * 3600).is_err());
        let forged = h.replace(
            &public_key_b64(&key),
            &public_key_b64(&SigningKey::from(random_secret())),
        );
        assert!(verify_vapid(&forged, "https://push.example.net", now).is_err());
    }
}
