//! Password policy and hashing: Argon2id (m=19456 KiB, t=2, p=1) on the blocking pool.

use std::{collections::HashSet, sync::OnceLock};

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::SaltString,
};

use crate::error::{ApiError, FieldError};

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 256;
const M_COST: u32 = 19456;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Common passwords (from the zxcvbn-ts common list, MIT; see common_passwords.LICENSE),
/// lower-cased, 8 characters or longer.
static COMMON: &str = include_str!("common_passwords.txt");

fn common() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON.lines().filter(|l| !l.is_empty()).collect())
}

pub fn common_password_count() -> usize {
    common().len()
}

/// Check the policy: 8..=256 characters (not bytes), no composition rules, not common.
pub fn check_policy(field: &str, password: &str) -> Result<(), FieldError> {
    let len = password.chars().count();
    if len < MIN_LEN {
        return Err(FieldError::new(
            field,
            format!("must be at least {MIN_LEN} characters"),
        ));
    }
    if len > MAX_LEN {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_LEN} characters"),
        ));
    }
    if common().contains(password.to_lowercase().as_str()) {
        return Err(FieldError::new(
            field,
            "is too common; choose a less guessable password",
        ));
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(M_COST, T_COST, P_COST, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Ok(argon2()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?
        .to_string())
}

/// Argon2 needs 19 MiB and ~50 ms of CPU per call; bound how many run at once so a login
/// flood costs queueing, not memory.
fn permits() -> &'static tokio::sync::Semaphore {
    static SEM: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    SEM.get_or_init(|| {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        tokio::sync::Semaphore::new(cpus * 2)
    })
}

/// Hash a password (PHC string `$argon2id$v=19$m=19456,t=2,p=1$…`).
pub async fn hash(password: String) -> Result<String, ApiError> {
    let _permit = permits().acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || hash_blocking(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::Internal)
}

/// Outcome of verifying a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    No,
    Yes,
    /// Correct, but the stored hash uses weaker parameters: store a new one.
    YesNeedsRehash,
}

fn verify_blocking(password: &str, stored: &str) -> Verified {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verified::No;
    };
    if argon2()
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verified::No;
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed)
            .map(|p| p.m_cost() >= M_COST && p.t_cost() >= T_COST && p.p_cost() >= P_COST)
            .unwrap_or(false);
    if current {
        Verified::Yes
    } else {
        Verified::YesNeedsRehash
    }
}

/// A hash of a random password, verified against when the account doesn't exist so an
/// unknown email costs the same work as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 16] = rand::random();
        hash_blocking(&hex::encode(random)).expect("hash dummy password")
    })
}

/// Verify `password` against `stored`, or against a dummy hash when `stored` is None.
pub async fn verify(password: String, stored: Option<String>) -> Result<Verified, ApiError> {
    let _permit = permits().acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || match stored {
        Some(s) => verify_blocking(&password, &s),
        None => {
            let _ = verify_blocking(&password, dummy_hash());
            Verified::No
        }
    })
    .await
    .map_err(ApiError::internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_boundaries() {
        assert!(check_policy("p", "Zq7#kLm").is_err());
        assert!(check_policy("p", "Zq7#kLm2").is_ok());
        assert!(check_policy("p", &"x7".repeat(128)).is_ok());
        assert!(check_policy("p", &format!("{}y", "x7".repeat(128))).is_err());
        assert!(check_policy("p", "password").is_err());
        assert!(check_policy("p", "PassWord").is_err());
        // 256 multi-byte characters are 256 characters, not 512 bytes.
        assert!(check_policy("p", &"é".repeat(256)).is_ok());
    }

    #[test]
    fn list_is_large_enough() {
        assert!(common_password_count() >= 10_000);
    }

    #[test]
    fn weaker_hash_needs_rehash() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, None).unwrap(),
        );
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let stored = weak
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert_eq!(
            verify_blocking("correct horse", &stored),
            Verified::YesNeedsRehash
        );
        assert_eq!(verify_blocking("wrong horse", &stored), Verified::No);
        let strong = hash_blocking("correct horse").unwrap();
        assert!(strong.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert_eq!(verify_blocking("correct horse", &strong), Verified::Yes);
    }
}
