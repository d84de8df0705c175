//! Access tokens: HS256 JWTs with a `kid` header so keys can rotate. Validation pins the
//! algorithm and requires `exp`, `nbf`, `iss`, `aud`, `sub`, `sid`.

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::AuthSettings;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub sid: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
}

#[derive(Clone)]
pub struct JwtKeys {
    kid: String,
    encoding: EncodingKey,
    decoding: HashMap<String, DecodingKey>,
    validation: Validation,
    issuer: String,
    audience: String,
    pub ttl_secs: i64,
}

impl JwtKeys {
    pub fn new(s: &AuthSettings) -> anyhow::Result<Self> {
        let secret = s.jwt_secret.expose_secret().as_bytes();
        let mut decoding = HashMap::new();
        decoding.insert(s.jwt_kid.clone(), DecodingKey::from_secret(secret));
        for pair in s
            .jwt_previous_keys
            .expose_secret()
            .split(',')
            .filter(|p| !p.trim().is_empty())
        {
            let (kid, key) = pair.split_once(':').ok_or_else(|| {
                anyhow::anyhow!("invalid setting auth.jwt_previous_keys: expected kid:secret pairs")
            })?;
            decoding.insert(
                kid.trim().to_string(),
                DecodingKey::from_secret(key.trim().as_bytes()),
            );
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[&s.issuer]);
        validation.set_audience(&[&s.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 5;
        Ok(Self {
            kid: s.jwt_kid.clone(),
            encoding: EncodingKey::from_secret(secret),
            decoding,
            validation,
            issuer: s.issuer.clone(),
            audience: s.audience.clone(),
            ttl_secs: s.access_ttl_secs,
        })
    }

    pub fn issue(&self, user_id: Uuid, session_id: Uuid) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            sid: session_id,
            iat: now,
            nbf: now,
            exp: now + self.ttl_secs,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
        };
        self.sign(&claims)
    }

    /// Sign arbitrary claims with the current key (tests forge tokens with this).
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// Validate a token; any problem is simply `None` (the caller answers 401).
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let header = jsonwebtoken::decode_header(token).ok()?;
        if header.alg != Algorithm::HS256 {
            return None;
        }
        let key = self.decoding.get(header.kid.as_deref()?)?;
        jsonwebtoken::decode::<Claims>(token, key, &self.validation)
            .ok()
            .map(|d| d.claims)
    }
}
