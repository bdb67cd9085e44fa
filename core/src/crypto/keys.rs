//! The keys that sign and verify access tokens: one active signing key plus
//! any number of verify-only keys (so keys rotate without logging anyone
//! out), each found by its `kid` in a fixed map and pinned to the one
//! algorithm its key type allows (RFC 8725 §3.1).
//!
//! A set holds either HMAC secrets (HS256) or signature keys (EdDSA, ES256),
//! never both (OWASP JWT cheat sheet: do not mix MAC and signature
//! algorithms); the types below make mixing impossible, and
//! [`TokenConfig::validate`] refuses configurations that ask for it.
//!
//! Key ids are RFC 7638 JWK thumbprints (SHA-256) computed from the key
//! itself, so every server and every rotation step agree on them without
//! configuration.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

use super::secret::JwtSecret;
use super::tokens::TokenConfig;
use crate::setting::{ConfigError, Reason};

/// The longest `kid` looked up; a longer one is rejected without a look-up.
pub const MAX_KID_LEN: usize = 128;

/// How access tokens are signed (`config.tokens.algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JwtAlgorithm {
    /// HMAC-SHA256 with a shared secret (the default). Only holders of the
    /// secret can verify tokens; nothing is published.
    #[default]
    HS256,
    /// Ed25519 signatures (RFC 8037); the public keys are published as a JWK Set.
    EdDSA,
    /// ECDSA on P-256 with SHA-256; the public keys are published as a JWK Set.
    ES256,
}

impl JwtAlgorithm {
    /// The name used in tokens and configuration (`HS256`, `EdDSA`, `ES256`).
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::HS256 => "HS256",
            JwtAlgorithm::EdDSA => "EdDSA",
            JwtAlgorithm::ES256 => "ES256",
        }
    }

    /// Whether tokens are signed with a private key (and verified with a
    /// public one) rather than a shared secret.
    pub fn is_asymmetric(self) -> bool {
        self != JwtAlgorithm::HS256
    }

    fn jwt(self) -> Algorithm {
        match self {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::EdDSA => Algorithm::EdDSA,
            JwtAlgorithm::ES256 => Algorithm::ES256,
        }
    }
}

impl fmt::Display for JwtAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JwtAlgorithm {
    type Err = ConfigError;

    /// Case-insensitive (this is configuration; tokens' `alg` is matched exactly).
    fn from_str(s: &str) -> Result<Self, ConfigError> {
        [
            JwtAlgorithm::HS256,
            JwtAlgorithm::EdDSA,
            JwtAlgorithm::ES256,
        ]
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(s.trim()))
        .ok_or_else(|| {
            ConfigError::invalid(
                "tokens.algorithm",
                format!("{s:?} is not one of HS256, EdDSA, ES256"),
            )
        })
    }
}

/// A key in PEM form: a PKCS#8 private key (`-----BEGIN PRIVATE KEY-----`)
/// or a public key (`-----BEGIN PUBLIC KEY-----`), Ed25519 or P-256, with
/// where it came from for error messages. `Debug` prints only the origin.
#[derive(Clone, PartialEq, Eq)]
pub struct PemKey {
    pem: Vec<u8>,
    origin: String,
}

impl PemKey {
    /// A key from PEM text; `origin` (a path, "the secret store") names it in errors.
    pub fn new(pem: impl Into<Vec<u8>>, origin: impl Into<String>) -> Self {
        PemKey {
            pem: pem.into(),
            origin: origin.into(),
        }
    }

    /// Reads the PEM file at `path`; an error names `setting` (the field
    /// the key is for, e.g. `tokens.private_key`) and the path.
    pub fn from_file(path: &Path, setting: &'static str) -> Result<Self, ConfigError> {
        let pem = std::fs::read(path).map_err(|e| {
            ConfigError::invalid(
                setting,
                format!("cannot read the key file {}: {e}", path.display()),
            )
        })?;
        Ok(PemKey::new(pem, path.display().to_string()))
    }

    /// Where the key came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    #[cfg(test)]
    pub(crate) fn pem_bytes(&self) -> &[u8] {
        &self.pem
    }
}

impl fmt::Debug for PemKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PemKey({:?}, <redacted>)", self.origin)
    }
}

/// A key that verifies tokens, with the one algorithm it is used with.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub(crate) algorithm: Algorithm,
    pub(crate) decoding: DecodingKey,
}

/// The active key: signs every new token.
#[derive(Clone)]
pub(crate) struct SigningKey {
    pub(crate) kid: String,
    pub(crate) algorithm: Algorithm,
    pub(crate) encoding: EncodingKey,
}

/// One signing key and every key that verifies, by `kid`.
#[derive(Clone)]
pub struct KeySet {
    signing: SigningKey,
    verifying: HashMap<String, VerifyKey>,
    jwks: Option<serde_json::Value>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut kids: Vec<&str> = self.verifying.keys().map(String::as_str).collect();
        kids.sort_unstable();
        f.debug_struct("KeySet")
            .field("algorithm", &self.signing.algorithm)
            .field("signing_kid", &self.signing.kid)
            .field("verifying_kids", &kids)
            .finish_non_exhaustive()
    }
}

impl KeySet {
    /// HS256: tokens are signed with `secret`; `previous` secrets still
    /// verify tokens they signed, until those expire.
    pub fn hs256(secret: &JwtSecret, previous: &[JwtSecret]) -> Self {
        let signing = SigningKey {
            kid: hmac_kid(secret),
            algorithm: Algorithm::HS256,
            encoding: EncodingKey::from_secret(secret.expose()),
        };
        let mut verifying = HashMap::new();
        for s in std::iter::once(secret).chain(previous) {
            verifying.entry(hmac_kid(s)).or_insert_with(|| VerifyKey {
                algorithm: Algorithm::HS256,
                decoding: DecodingKey::from_secret(s.expose()),
            });
        }
        KeySet {
            signing,
            verifying,
            // A shared secret is never published.
            jwks: None,
        }
    }

    /// EdDSA or ES256: tokens are signed with the private key `active`
    /// (whose type must match `algorithm`); `previous` keys (private or
    /// public, Ed25519 or P-256) still verify tokens they signed. Each
    /// public key is published by [`KeySet::jwks`].
    pub fn asymmetric(
        algorithm: JwtAlgorithm,
        active: &PemKey,
        previous: &[PemKey],
    ) -> Result<Self, ConfigError> {
        const ACTIVE: &str = "tokens.private_key";
        const PREVIOUS: &str = "tokens.verify_keys";
        if !algorithm.is_asymmetric() {
            return Err(ConfigError::invalid(
                "tokens.algorithm",
                "PEM keys sign with EdDSA or ES256, not HS256",
            ));
        }
        let invalid = |name, reason: String| ConfigError::invalid(name, reason);
        let active_key = parse_pem(active).map_err(|r| invalid(ACTIVE, r))?;
        let Some(encoding) = active_key.private else {
            return Err(invalid(
                ACTIVE,
                format!(
                    "{} is a public key; the signing key must be the private key",
                    active.origin()
                ),
            ));
        };
        if active_key.algorithm != algorithm.jwt() {
            return Err(ConfigError::invalid(
                ACTIVE,
                Reason::from(format!(
                    "{} holds a key of type {}, but ",
                    active.origin(),
                    key_type_name(active_key.algorithm)
                ))
                .setting("tokens.algorithm")
                .then(format!(" is {algorithm}")),
            ));
        }
        let signing = SigningKey {
            kid: active_key.kid.clone(),
            algorithm: active_key.algorithm,
            encoding,
        };
        let mut verifying = HashMap::new();
        let mut published = Vec::new();
        let previous_keys = previous
            .iter()
            .map(|k| parse_pem(k).map_err(|r| invalid(PREVIOUS, r)))
            .collect::<Result<Vec<_>, _>>()?;
        for key in
            std::iter::once(active_key.public).chain(previous_keys.into_iter().map(|k| k.public))
        {
            let kid = key.common.key_id.clone().unwrap_or_default();
            if verifying.contains_key(&kid) {
                continue;
            }
            let decoding = DecodingKey::from_jwk(&key)
                .map_err(|e| invalid(PREVIOUS, format!("unusable public key {kid}: {e}")))?;
            let algorithm = key
                .common
                .key_algorithm
                .and_then(|a| Algorithm::try_from(a).ok())
                .ok_or_else(|| invalid(PREVIOUS, format!("key {kid} has no algorithm")))?;
            verifying.insert(
                kid,
                VerifyKey {
                    algorithm,
                    decoding,
                },
            );
            published.push(
                serde_json::to_value(&key)
                    .map_err(|e| invalid(PREVIOUS, format!("cannot publish key: {e}")))?,
            );
        }
        Ok(KeySet {
            signing,
            verifying,
            jwks: Some(serde_json::json!({ "keys": published })),
        })
    }

    /// The key set `config` describes (see [`TokenConfig::algorithm`]);
    /// checks the configuration first.
    pub fn from_config(config: &TokenConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        match config.algorithm {
            JwtAlgorithm::HS256 => {
                let secret = config.secret.as_ref().ok_or_else(|| {
                    ConfigError::invalid(
                        "tokens.secret",
                        Reason::from("no JWT secret configured; set ")
                            .setting("tokens.secret")
                            .then(" to at least 32 random bytes"),
                    )
                })?;
                Ok(KeySet::hs256(secret, &config.previous_secrets))
            }
            algorithm => {
                let active = config.private_key.as_ref().ok_or_else(|| {
                    ConfigError::invalid(
                        "tokens.private_key",
                        super::tokens::needs_private_key(algorithm),
                    )
                })?;
                KeySet::asymmetric(algorithm, active, &config.verify_keys)
            }
        }
    }

    /// The algorithm new tokens are signed with.
    pub fn algorithm(&self) -> JwtAlgorithm {
        match self.signing.algorithm {
            Algorithm::EdDSA => JwtAlgorithm::EdDSA,
            Algorithm::ES256 => JwtAlgorithm::ES256,
            _ => JwtAlgorithm::HS256,
        }
    }

    /// The `kid` of the active key (new tokens carry it).
    pub fn signing_kid(&self) -> &str {
        &self.signing.kid
    }

    /// The public keys as a JWK Set (`{"keys": [...]}`, each with `kid`,
    /// `alg` and `use: "sig"`), for `GET /.well-known/jwks.json`; `None`
    /// with HMAC secrets, which must never be published.
    pub fn jwks(&self) -> Option<serde_json::Value> {
        self.jwks.clone()
    }

    pub(crate) fn signing(&self) -> &SigningKey {
        &self.signing
    }

    /// The key for `kid`: only a look-up in the fixed map, nothing else is
    /// done with the value; overlong ids are not even looked up.
    pub(crate) fn find(&self, kid: &str) -> Option<&VerifyKey> {
        if kid.len() > MAX_KID_LEN {
            return None;
        }
        self.verifying.get(kid)
    }

    /// The algorithms of the verifying keys.
    pub(crate) fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.verifying.values().map(|k| k.algorithm)
    }
}

/// The RFC 7638 thumbprint of an HMAC key. For a secret of at least 256
/// random bits it reveals nothing a token's MAC does not already.
fn hmac_kid(secret: &JwtSecret) -> String {
    let key = EncodingKey::from_secret(secret.expose());
    // Infallible for HMAC keys: a JSON object with the base64url key, hashed.
    #[allow(clippy::expect_used)]
    Jwk::from_encoding_key(&key, Algorithm::HS256)
        .and_then(|jwk| jwk.thumbprint(ThumbprintHash::SHA256))
        .expect("an HMAC key always has a JWK thumbprint")
}

/// A PEM key parsed: its algorithm, the private key if it was one, and the
/// public JWK with `kid`, `alg` and `use` filled in.
struct ParsedKey {
    algorithm: Algorithm,
    kid: String,
    private: Option<EncodingKey>,
    public: Jwk,
}

fn key_type_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::EdDSA => "Ed25519 (EdDSA)",
        Algorithm::ES256 => "P-256 (ES256)",
        _ => "unsupported",
    }
}

fn parse_pem(key: &PemKey) -> Result<ParsedKey, String> {
    const PRIVATE: &str = "-----BEGIN PRIVATE KEY-----";
    const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----";
    let origin = key.origin();
    let text = std::str::from_utf8(&key.pem).map_err(|_| format!("{origin} is not a PEM file"))?;
    // Exactly one block, and only these two kinds: no certificates (whose
    // first bit string is not necessarily the key), no encrypted keys.
    if text.matches("-----BEGIN ").count() != 1
        || !(text.contains(PRIVATE) || text.contains(PUBLIC))
    {
        return Err(format!(
            "{origin} must hold exactly one unencrypted key, {PRIVATE} (PKCS#8) or {PUBLIC}"
        ));
    }
    let (algorithm, private, public) = if text.contains(PRIVATE) {
        let unusable = |e: jsonwebtoken::errors::Error| {
            format!(
                "{origin}: not a usable Ed25519 or P-256 PKCS#8 private key ({e}); \
                 create one with `openssl genpkey -algorithm ed25519` or \
                 `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256`"
            )
        };
        if let Ok(encoding) = EncodingKey::from_ed_pem(&key.pem) {
            let jwk = Jwk::from_encoding_key(&encoding, Algorithm::EdDSA).map_err(|e| {
                format!(
                    "{origin}: not a usable Ed25519 private key ({e}); it must be PKCS#8 v1 \
                     without the public key (48 bytes of DER), as \
                     `openssl genpkey -algorithm ed25519` writes"
                )
            })?;
            (Algorithm::EdDSA, Some(encoding), jwk)
        } else {
            let encoding = EncodingKey::from_ec_pem(&key.pem).map_err(unusable)?;
            // Fails unless the key is on P-256.
            let jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).map_err(|e| {
                format!("{origin}: not a P-256 private key ({e}); only P-256 (ES256) is supported")
            })?;
            (Algorithm::ES256, Some(encoding), jwk)
        }
    } else if let Ok(decoding) = DecodingKey::from_ed_pem(&key.pem) {
        let jwk = Jwk::from_decoding_key(&decoding, Some(Algorithm::EdDSA))
            .map_err(|e| format!("{origin}: not a usable Ed25519 public key ({e})"))?;
        (Algorithm::EdDSA, None, jwk)
    } else {
        let decoding = DecodingKey::from_ec_pem(&key.pem)
            .map_err(|e| format!("{origin}: not a usable Ed25519 or P-256 public key ({e})"))?;
        let jwk = Jwk::from_decoding_key(&decoding, Some(Algorithm::ES256))
            .map_err(|e| format!("{origin}: not a usable P-256 public key ({e})"))?;
        (Algorithm::ES256, None, jwk)
    };
    // Private keys give their public half only: the JWK never holds `d`.
    let mut public = match &public.algorithm {
        AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => public,
        AlgorithmParameters::EllipticCurve(p) if p.curve == EllipticCurve::P256 => public,
        _ => {
            return Err(format!(
                "{origin}: only Ed25519 and P-256 keys are supported"
            ));
        }
    };
    let kid = public
        .thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| format!("{origin}: cannot compute the key id ({e})"))?;
    public.common.key_id = Some(kid.clone());
    public.common.key_algorithm = Some(algorithm.into());
    public.common.public_key_use = Some(PublicKeyUse::Signature);
    Ok(ParsedKey {
        algorithm,
        kid,
        private,
        public,
    })
}

/// Test keys, generated at test time by aws-lc-rs (the backend jsonwebtoken
/// already uses), so no private key is committed.
#[cfg(test)]
pub(crate) mod test_keys {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
        Ed25519KeyPair, KeyPair,
    };

    use super::PemKey;

    /// A fresh key pair in PEM form, and the raw public key bytes.
    pub(crate) struct TestKey {
        pub(crate) private: PemKey,
        pub(crate) public: PemKey,
        pub(crate) public_raw: Vec<u8>,
    }

    pub(crate) fn pem(tag: &str, der: &[u8]) -> String {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "-----BEGIN {tag}-----\n{}\n-----END {tag}-----\n",
            lines.join("\n")
        )
    }

    fn test_key(private_der: &[u8], public_der: &[u8], public_raw: &[u8]) -> TestKey {
        TestKey {
            private: PemKey::new(pem("PRIVATE KEY", private_der), "test private key"),
            public: PemKey::new(pem("PUBLIC KEY", public_der), "test public key"),
            public_raw: public_raw.to_vec(),
        }
    }

    /// Ed25519, PKCS#8 v1 (the form `openssl genpkey` writes).
    pub(crate) fn ed25519() -> TestKey {
        let der = Ed25519KeyPair::generate_pkcs8v1(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(der.as_ref()).unwrap();
        let public = pair.public_key();
        test_key(
            der.as_ref(),
            public.as_der().unwrap().as_ref(),
            public.as_ref(),
        )
    }

    /// Ed25519, PKCS#8 v2 (with the public key inside).
    pub(crate) fn ed25519_pkcs8_v2() -> PemKey {
        let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        PemKey::new(pem("PRIVATE KEY", der.as_ref()), "test v2 key")
    }

    /// P-256.
    pub(crate) fn p256() -> TestKey {
        let alg = &ECDSA_P256_SHA256_FIXED_SIGNING;
        let der = EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(alg, der.as_ref()).unwrap();
        let public = pair.public_key();
        test_key(
            der.as_ref(),
            public.as_der().unwrap().as_ref(),
            public.as_ref(),
        )
    }

    /// P-384, which Agora does not accept.
    pub(crate) fn p384() -> TestKey {
        let alg = &ECDSA_P384_SHA384_FIXED_SIGNING;
        let der = EcdsaKeyPair::generate_pkcs8(alg, &SystemRandom::new()).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(alg, der.as_ref()).unwrap();
        let public = pair.public_key();
        test_key(
            der.as_ref(),
            public.as_der().unwrap().as_ref(),
            public.as_ref(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::test_keys::{ed25519, ed25519_pkcs8_v2, p256, p384};
    use super::*;

    /// A fixed secret per `byte` that looks random (weak ones are refused).
    fn secret(byte: u8) -> JwtSecret {
        use sha2::Digest as _;
        JwtSecret::new(hex::encode(sha2::Sha256::digest([byte]))).unwrap()
    }

    #[test]
    fn hs256_key_ids_are_stable_thumbprints_and_differ_per_secret() {
        let a = KeySet::hs256(&secret(1), &[]);
        assert_eq!(
            a.signing_kid(),
            KeySet::hs256(&secret(1), &[]).signing_kid()
        );
        assert_ne!(
            a.signing_kid(),
            KeySet::hs256(&secret(2), &[]).signing_kid()
        );
        // base64url of a SHA-256 digest.
        assert_eq!(a.signing_kid().len(), 43);
    }

    #[test]
    fn hs256_set_verifies_with_the_current_and_previous_secrets() {
        let set = KeySet::hs256(&secret(1), &[secret(2), secret(1)]);
        assert_eq!(set.verifying.len(), 2, "duplicates are merged");
        let old = KeySet::hs256(&secret(2), &[]);
        assert!(set.find(old.signing_kid()).is_some());
        assert!(set.find("unknown").is_none());
    }

    #[test]
    fn hs256_set_publishes_nothing() {
        assert!(KeySet::hs256(&secret(1), &[secret(2)]).jwks().is_none());
    }

    #[test]
    fn eddsa_set_publishes_the_public_key_only() {
        let key = ed25519();
        let set = KeySet::asymmetric(JwtAlgorithm::EdDSA, &key.private, &[]).unwrap();
        let jwks = set.jwks().unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        let jwk = &keys[0];
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(jwk["alg"], "EdDSA");
        assert_eq!(jwk["use"], "sig");
        assert_eq!(jwk["kid"], set.signing_kid());
        assert!(jwk.get("d").is_none(), "no private material: {jwk}");
        use base64::Engine as _;
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwk["x"].as_str().unwrap())
            .unwrap();
        assert_eq!(x, key.public_raw);
    }

    #[test]
    fn es256_set_publishes_every_public_key_with_its_own_algorithm() {
        let active = p256();
        let old_ec = p256();
        let old_ed = ed25519();
        let set = KeySet::asymmetric(
            JwtAlgorithm::ES256,
            &active.private,
            &[old_ec.public.clone(), old_ed.private.clone()],
        )
        .unwrap();
        let jwks = set.jwks().unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0]["kty"], "EC");
        assert_eq!(keys[0]["crv"], "P-256");
        assert_eq!(keys[0]["alg"], "ES256");
        assert_eq!(keys[2]["alg"], "EdDSA");
        for jwk in keys {
            assert!(jwk.get("d").is_none(), "no private material: {jwk}");
            assert_eq!(jwk["use"], "sig");
            let kid = jwk["kid"].as_str().unwrap();
            let pinned = set.find(kid).unwrap().algorithm;
            assert_eq!(format!("{pinned:?}"), jwk["alg"].as_str().unwrap());
        }
    }

    #[test]
    fn a_private_key_and_its_public_key_have_the_same_kid() {
        for key in [ed25519(), p256()] {
            let a = parse_pem(&key.private).unwrap();
            let b = parse_pem(&key.public).unwrap();
            assert_eq!(a.kid, b.kid);
            assert_eq!(a.algorithm, b.algorithm);
            assert!(a.private.is_some() && b.private.is_none());
        }
    }

    #[test]
    fn signing_key_must_match_the_configured_algorithm() {
        let err = KeySet::asymmetric(JwtAlgorithm::ES256, &ed25519().private, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("Ed25519") && err.contains("ES256"), "{err}");
        assert!(KeySet::asymmetric(JwtAlgorithm::HS256, &ed25519().private, &[]).is_err());
    }

    #[test]
    fn signing_key_must_be_private() {
        let err = KeySet::asymmetric(JwtAlgorithm::EdDSA, &ed25519().public, &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("private key"), "{err}");
    }

    #[test]
    fn unusable_pem_files_are_refused_with_the_file_named() {
        let cases = [
            PemKey::new("not a key", "garbage.pem"),
            PemKey::new(vec![0xff, 0xfe], "binary.pem"),
            PemKey::new(
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                "cert.pem",
            ),
            PemKey::new(
                "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
                "encrypted.pem",
            ),
            PemKey::new(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "truncated.pem",
            ),
            p384().private,
            p384().public,
        ];
        for key in cases {
            let err = KeySet::asymmetric(JwtAlgorithm::EdDSA, &key, &[])
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("tokens.private_key"), "{err}");
            assert!(err.contains(key.origin()), "{err}");
        }
        let ok = ed25519().private;
        let err = KeySet::asymmetric(JwtAlgorithm::EdDSA, &ok, &[p384().public])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("tokens.verify_keys"), "{err}");
    }

    #[test]
    fn ed25519_pkcs8_v2_key_is_refused_with_a_hint_to_make_a_v1_key() {
        let err = KeySet::asymmetric(JwtAlgorithm::EdDSA, &ed25519_pkcs8_v2(), &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("PKCS#8 v1") && err.contains("openssl genpkey"),
            "{err}"
        );
    }

    #[test]
    fn overlong_kid_is_not_looked_up() {
        let set = KeySet::hs256(&secret(1), &[]);
        assert!(set.find(&"a".repeat(MAX_KID_LEN + 1)).is_none());
        assert!(set.find(set.signing_kid()).is_some());
    }

    #[test]
    fn pem_key_debug_is_redacted() {
        let key = ed25519().private;
        let shown = format!("{key:?}");
        assert!(
            !shown.contains("BEGIN") && shown.contains("test private key"),
            "{shown}"
        );
    }

    #[test]
    fn algorithm_names_parse_case_insensitively_and_unknown_ones_are_refused() {
        assert_eq!(
            "eddsa".parse::<JwtAlgorithm>().unwrap(),
            JwtAlgorithm::EdDSA
        );
        assert_eq!(
            "ES256".parse::<JwtAlgorithm>().unwrap(),
            JwtAlgorithm::ES256
        );
        assert_eq!(
            "hs256".parse::<JwtAlgorithm>().unwrap(),
            JwtAlgorithm::HS256
        );
        for bad in ["none", "RS256", "HS512", ""] {
            assert!(bad.parse::<JwtAlgorithm>().is_err(), "{bad}");
        }
    }
}
