//! Cryptography, all of it from vetted crates: argon2id password hashing
//! ([`password`]), JWT access tokens ([`jwt`]) and the keys that sign and
//! verify them ([`keys`]), the HMAC secret ([`secret`]) and the token
//! settings ([`tokens`]).

pub mod jwt;
pub mod keys;
pub mod password;
pub mod secret;
pub mod tokens;

/// `n` bytes from the operating system's CSPRNG, hex-encoded.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // The OS RNG failing is unrecoverable and exceedingly rare; refuse to go on
    // with predictable bytes.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    hex::encode(bytes)
}

/// The stored form of a random token (a refresh token, a reset or
/// verification token): hex SHA-256. The tokens carry at least 256 random
/// bits, so a fast hash is enough: nothing can be guessed from it.
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}
