//! JWT access tokens, in the RFC 9068 profile: header `typ: at+jwt` and a
//! `kid`, signed with HS256, EdDSA or ES256 (see [`super::keys`]), every
//! claim checked.
//!
//! Claims: `iss`, `aud`, `sub` (user id as a string), `user_id` (the same id
//! as an integer, for clients of the original API), `iat`, `nbf` (= `iat`),
//! `exp`, `jti`, and `sid` (the session).
//!
//! Verification (RFC 8725, OWASP JWT cheat sheet): tokens over 8 KiB are
//! refused unparsed; the header must be `typ: at+jwt`, carry no key-location
//! headers (`jku`, `x5u`, `jwk`, `x5c`: never followed) nor `crit`; its `kid`
//! is only looked up in the fixed key map, and the token's `alg` must be that
//! key's one algorithm; then the signature, `exp`, `nbf` (with the leeway, at
//! most 60 s), `iss`, `aud`, and `sub` = `user_id`. Any failure is
//! [`Error::Unauthorized`], the reason logged at debug level only.
//!
//! A token that passed every check is remembered with its claims (up to
//! [`VERIFIED_TOKENS`] of them), so the next request carrying exactly the
//! same bytes skips the parsing and the signature, the costliest part of an
//! authenticated read: it is only checked against the clock again (refused
//! once `exp` plus the leeway has passed). The memory belongs to one
//! [`TokenKeys`], whose keys never change, so it cannot outlive a key; a
//! token that differs by one byte is verified in full. Revocation is not
//! the token's business: the session it names is checked on every request.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, Header, Validation};
use quick_cache::sync::Cache;
use serde::{Deserialize, Serialize};

use super::keys::KeySet;
use super::secret::JwtSecret;
use super::tokens::TokenConfig;
use crate::domain::UserId;
use crate::error::{Error, Result};
use crate::setting::ConfigError;

/// Tokens longer than this are rejected before any parsing.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The `typ` header of access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// The largest clock-skew leeway applied to `exp` and `nbf`.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60);

/// The default `iss` and `aud` of access tokens.
pub const DEFAULT_ISSUER: &str = "agora";

/// How many verified tokens a [`TokenKeys`] remembers (about 0.5 KB each).
pub const VERIFIED_TOKENS: usize = 4096;

/// The claims of an Agora access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer: who signed the token ([`TokenConfig::issuer`]).
    pub iss: String,
    /// Subject: the user id as a string (RFC 7519).
    pub sub: String,
    /// Audience: who the token is for ([`TokenConfig::audience`]).
    pub aud: String,
    /// The user id as an integer, as the original API issued it.
    pub user_id: i64,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Not before (seconds since the epoch): the same as `iat`.
    pub nbf: i64,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Unique token id (128 random bits, hex).
    pub jti: String,
    /// The session the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// A freshly issued access token.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The compact JWT.
    pub token: String,
    /// Its lifetime in seconds.
    pub expires_in: u64,
}

/// Issues and verifies access tokens with a [`KeySet`].
#[derive(Clone)]
pub struct TokenKeys {
    keys: KeySet,
    /// One validation per algorithm in the key set, each allowing only it.
    validations: HashMap<Algorithm, Validation>,
    issuer: String,
    audience: String,
    ttl: Duration,
    leeway: Duration,
    /// Tokens that passed every check, with their claims (shared by clones,
    /// which have the same keys).
    verified: Arc<Cache<Box<str>, Claims>>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("keys", &self.keys)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .field("leeway", &self.leeway)
            .finish()
    }
}

/// Why a token was refused; logged at debug level, never shown to clients.
#[derive(Debug, thiserror::Error)]
enum Rejection {
    #[error("token longer than {MAX_TOKEN_LEN} bytes")]
    TooLong,
    #[error("malformed token: {0}")]
    Malformed(jsonwebtoken::errors::Error),
    #[error("header names a key location or critical extension (jku/x5u/jwk/x5c/crit)")]
    KeyLocationHeader,
    #[error("typ is not at+jwt")]
    WrongType,
    #[error("no kid, or an unknown one")]
    UnknownKey,
    #[error("alg {0:?} is not the algorithm of the key")]
    WrongAlgorithm(Algorithm),
    #[error("invalid token: {0}")]
    Invalid(jsonwebtoken::errors::Error),
    #[error("sub and user_id differ")]
    SubjectMismatch,
    #[error("empty jti")]
    NoTokenId,
    #[error("iat in the future")]
    IssuedInFuture,
    #[error("expired (a token verified before)")]
    Expired,
}

impl TokenKeys {
    /// HS256 keys from a secret of at least 32 bytes, with the default issuer
    /// and audience (`agora`); tokens live for `ttl`; `leeway` (at most 60 s)
    /// absorbs clock skew between servers when checking `exp` and `nbf`.
    pub fn new(secret: &JwtSecret, ttl: Duration, leeway: Duration) -> Self {
        Self::with_keys(
            KeySet::hs256(secret, &[]),
            ttl,
            leeway,
            DEFAULT_ISSUER,
            DEFAULT_ISSUER,
        )
    }

    /// The keys, issuer, audience, lifetime and leeway `config` describes;
    /// fails when the keys are missing or unusable.
    pub fn from_config(config: &TokenConfig) -> Result<Self, ConfigError> {
        Ok(Self::with_keys(
            KeySet::from_config(config)?,
            config.access_ttl,
            config.leeway,
            &config.issuer,
            &config.audience,
        ))
    }

    /// Tokens signed by `keys`, naming `issuer` and `audience`; `leeway` is
    /// capped at [`MAX_LEEWAY`].
    pub fn with_keys(
        keys: KeySet,
        ttl: Duration,
        leeway: Duration,
        issuer: &str,
        audience: &str,
    ) -> Self {
        let leeway = leeway.min(MAX_LEEWAY);
        let validations = keys
            .algorithms()
            .map(|algorithm| {
                let mut v = Validation::new(algorithm);
                v.set_required_spec_claims(&["exp", "nbf", "sub", "iss", "aud"]);
                v.validate_exp = true;
                v.validate_nbf = true;
                v.validate_aud = true;
                v.set_issuer(&[issuer]);
                v.set_audience(&[audience]);
                v.leeway = leeway.as_secs();
                (algorithm, v)
            })
            .collect();
        TokenKeys {
            keys,
            validations,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            ttl,
            leeway,
            verified: Arc::new(Cache::new(VERIFIED_TOKENS)),
        }
    }

    /// The key set.
    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// The public keys as a JWK Set; `None` for HS256 (a shared secret).
    pub fn jwks(&self) -> Option<serde_json::Value> {
        self.keys.jwks()
    }

    /// Access token lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a token for `user` in session `sid`, valid from now for the
    /// configured lifetime, signed by the active key.
    pub fn issue(&self, user: UserId, sid: Option<&str>) -> Result<IssuedToken> {
        self.issue_at(user, sid, chrono::Utc::now().timestamp())
    }

    fn issue_at(&self, user: UserId, sid: Option<&str>, now: i64) -> Result<IssuedToken> {
        let ttl = i64::try_from(self.ttl.as_secs()).map_err(Error::internal)?;
        let claims = Claims {
            iss: self.issuer.clone(),
            sub: user.0.to_string(),
            aud: self.audience.clone(),
            user_id: user.0,
            iat: now,
            nbf: now,
            exp: now.saturating_add(ttl),
            jti: super::random_hex(16),
            sid: sid.map(str::to_owned),
        };
        let signing = self.keys.signing();
        let mut header = Header::new(signing.algorithm);
        header.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        header.kid = Some(signing.kid.clone());
        let token =
            jsonwebtoken::encode(&header, &claims, &signing.encoding).map_err(Error::internal)?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl.as_secs(),
        })
    }

    /// Verifies an access token (see the module documentation for every
    /// check). Any failure is [`Error::Unauthorized`]; the reason is logged
    /// at debug level only.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        self.check(token).map_err(|reason| {
            tracing::debug!(%reason, "rejected access token");
            Error::Unauthorized
        })
    }

    fn check(&self, token: &str) -> std::result::Result<Claims, Rejection> {
        self.check_at(token, chrono::Utc::now().timestamp())
    }

    /// [`Self::check`] with the clock reading `now` for a remembered token
    /// (a new one is checked by jsonwebtoken against the real clock).
    fn check_at(&self, token: &str, now: i64) -> std::result::Result<Claims, Rejection> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Rejection::TooLong);
        }
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(0);
        if let Some(claims) = self.verified.get(token) {
            // jsonwebtoken's rule: expired once `exp < now - leeway`.
            if claims.exp < now.saturating_sub(leeway) {
                self.verified.remove(token);
                return Err(Rejection::Expired);
            }
            return Ok(claims);
        }
        // Unverified: only used to pick our key; `alg: none` (any case) and
        // unknown algorithms fail to parse here.
        let header = jsonwebtoken::decode_header(token).map_err(Rejection::Malformed)?;
        if header.jku.is_some()
            || header.x5u.is_some()
            || header.jwk.is_some()
            || header.x5c.is_some()
            || header.crit.is_some()
        {
            return Err(Rejection::KeyLocationHeader);
        }
        if !header.typ.as_deref().is_some_and(is_access_token_type) {
            return Err(Rejection::WrongType);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.find(kid))
            .ok_or(Rejection::UnknownKey)?;
        if header.alg != key.algorithm {
            return Err(Rejection::WrongAlgorithm(header.alg));
        }
        let validation = self
            .validations
            .get(&key.algorithm)
            .ok_or(Rejection::UnknownKey)?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key.decoding, validation)
            .map_err(Rejection::Invalid)?
            .claims;
        if claims.sub != claims.user_id.to_string() {
            return Err(Rejection::SubjectMismatch);
        }
        if claims.jti.is_empty() {
            return Err(Rejection::NoTokenId);
        }
        if claims.iat > now.saturating_add(leeway) {
            return Err(Rejection::IssuedInFuture);
        }
        self.verified.insert(token.into(), claims.clone());
        Ok(claims)
    }
}

/// `at+jwt` or `application/at+jwt` (RFC 9068 §4); media types compare
/// case-insensitively (RFC 7515 §4.1.9).
fn is_access_token_type(typ: &str) -> bool {
    const PREFIX: &str = "application/";
    let bare = match typ.get(..PREFIX.len()) {
        Some(prefix) if prefix.eq_ignore_ascii_case(PREFIX) => &typ[PREFIX.len()..],
        _ => typ,
    };
    bare.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use jsonwebtoken::EncodingKey;
    use jsonwebtoken::errors::ErrorKind;
    use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
    use serde_json::{Value, json};

    use super::super::keys::test_keys::{TestKey, ed25519, p256};
    use super::super::keys::{JwtAlgorithm, MAX_KID_LEN, PemKey};
    use super::*;

    const TTL: Duration = Duration::from_secs(1800);
    const LEEWAY: Duration = Duration::from_secs(5);

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A fixed secret per `byte` that looks random (weak ones are refused).
    fn secret(byte: u8) -> JwtSecret {
        use sha2::Digest as _;
        JwtSecret::new(hex::encode(sha2::Sha256::digest([byte]))).unwrap()
    }

    fn hs256() -> TokenKeys {
        TokenKeys::new(&secret(7), TTL, LEEWAY)
    }

    fn asymmetric(algorithm: JwtAlgorithm, active: &PemKey, previous: &[PemKey]) -> TokenKeys {
        let keys = KeySet::asymmetric(algorithm, active, previous).unwrap();
        TokenKeys::with_keys(keys, TTL, LEEWAY, DEFAULT_ISSUER, DEFAULT_ISSUER)
    }

    fn eddsa_with(key: &TestKey) -> TokenKeys {
        asymmetric(JwtAlgorithm::EdDSA, &key.private, &[])
    }

    fn eddsa() -> TokenKeys {
        eddsa_with(&ed25519())
    }

    fn es256() -> TokenKeys {
        asymmetric(JwtAlgorithm::ES256, &p256().private, &[])
    }

    fn every_algorithm() -> [TokenKeys; 3] {
        [hs256(), eddsa(), es256()]
    }

    fn now() -> i64 {
        chrono::Utc::now().timestamp()
    }

    /// The header `k` puts on its tokens.
    fn header(k: &TokenKeys) -> Header {
        let mut h = Header::new(k.keys.signing().algorithm);
        h.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
        h.kid = Some(k.keys.signing_kid().to_owned());
        h
    }

    /// Valid claims, to be spoilt one at a time.
    fn claims() -> Value {
        let now = now();
        json!({"iss": "agora", "aud": "agora", "sub": "1", "user_id": 1, "iat": now,
               "nbf": now, "exp": now + 600, "jti": "0123456789abcdef", "sid": "s"})
    }

    /// Signs `claims` under `header` with `k`'s active key.
    fn sign(k: &TokenKeys, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &k.keys.signing().encoding).unwrap()
    }

    fn with(mut claims: Value, field: &str, value: Value) -> Value {
        claims[field] = value;
        claims
    }

    fn without(mut claims: Value, field: &str) -> Value {
        claims.as_object_mut().unwrap().remove(field);
        claims
    }

    fn parts(token: &str) -> Vec<String> {
        token.split('.').map(str::to_owned).collect()
    }

    fn rejected(k: &TokenKeys, token: &str) -> bool {
        matches!(k.verify(token), Err(Error::Unauthorized))
    }

    /// Why `k` refuses `token`, which it must (as `Unauthorized`).
    fn why(k: &TokenKeys, token: &str) -> Rejection {
        assert!(rejected(k, token));
        k.check(token).unwrap_err()
    }

    /// Refused by jsonwebtoken's checks for the reason `expected`.
    fn failed(rejection: &Rejection, expected: &ErrorKind) -> bool {
        matches!(rejection, Rejection::Invalid(e) if e.kind() == expected)
    }

    #[test]
    fn hand_made_token_meeting_every_rule_is_accepted() {
        // The baseline the attack tests below spoil one rule at a time.
        for k in every_algorithm() {
            let c = k.verify(&sign(&k, &header(&k), &claims())).unwrap();
            assert_eq!(c.sid.as_deref(), Some("s"));
        }
    }

    #[test]
    fn hs256_round_trip_carries_every_claim() {
        let k = hs256();
        let issued = k.issue(UserId(42), Some("session-1")).unwrap();
        assert_eq!(issued.expires_in, 1800);
        let c = k.verify(&issued.token).unwrap();
        assert_eq!((c.sub.as_str(), c.user_id), ("42", 42));
        assert_eq!((c.iss.as_str(), c.aud.as_str()), ("agora", "agora"));
        assert_eq!(c.exp - c.iat, 1800);
        assert_eq!(c.nbf, c.iat);
        assert_eq!(c.sid.as_deref(), Some("session-1"));
        assert_eq!(c.jti.len(), 32);
        assert_ne!(
            c.jti,
            k.verify(&k.issue(UserId(42), None).unwrap().token)
                .unwrap()
                .jti
        );
    }

    #[test]
    fn eddsa_round_trip_verifies() {
        let k = eddsa();
        let c = k
            .verify(&k.issue(UserId(7), Some("s")).unwrap().token)
            .unwrap();
        assert_eq!((c.user_id, c.sid.as_deref()), (7, Some("s")));
    }

    #[test]
    fn es256_round_trip_verifies() {
        let k = es256();
        let c = k
            .verify(&k.issue(UserId(7), Some("s")).unwrap().token)
            .unwrap();
        assert_eq!((c.user_id, c.sid.as_deref()), (7, Some("s")));
    }

    #[test]
    fn header_carries_alg_kid_and_the_access_token_type() {
        for (k, alg) in every_algorithm().iter().zip(["HS256", "EdDSA", "ES256"]) {
            let token = k.issue(UserId(1), None).unwrap().token;
            let h = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(format!("{:?}", h.alg), alg);
            assert_eq!(h.typ.as_deref(), Some("at+jwt"));
            assert_eq!(h.kid.as_deref(), Some(k.keys.signing_kid()));
            assert!(h.jku.is_none() && h.jwk.is_none() && h.x5u.is_none());
        }
    }

    #[test]
    fn alg_none_is_rejected_in_any_spelling() {
        for k in every_algorithm() {
            let p = parts(&k.issue(UserId(1), None).unwrap().token);
            let kid = k.keys.signing_kid();
            for alg in ["none", "None", "NONE", "nOnE"] {
                for header in [
                    json!({"alg": alg, "typ": "at+jwt", "kid": kid}),
                    json!({"alg": alg, "typ": "at+jwt"}),
                    json!({"alg": alg}),
                ] {
                    let h = b64(header.to_string().as_bytes());
                    let unsigned = format!("{h}.{}.", p[1]);
                    assert!(
                        matches!(why(&k, &unsigned), Rejection::Malformed(_)),
                        "{header}"
                    );
                    // With the original signature left on, too.
                    let resigned = format!("{h}.{}.{}", p[1], p[2]);
                    assert!(
                        matches!(why(&k, &resigned), Rejection::Malformed(_)),
                        "{header}"
                    );
                }
            }
        }
    }

    #[test]
    fn hs256_token_signed_with_the_eddsa_public_key_is_rejected() {
        let key = ed25519();
        let k = eddsa_with(&key);
        let jwk = k.jwks().unwrap()["keys"][0].to_string();
        let pem = String::from_utf8(key.public.pem_bytes().to_vec()).unwrap();
        for secret in [key.public_raw.clone(), pem.into_bytes(), jwk.into_bytes()] {
            let hmac = EncodingKey::from_secret(&secret);
            for kid in [Some(k.keys.signing_kid().to_owned()), None] {
                let mut h = Header::new(Algorithm::HS256);
                h.typ = Some(ACCESS_TOKEN_TYPE.to_owned());
                h.kid = kid.clone();
                let forged = jsonwebtoken::encode(&h, &claims(), &hmac).unwrap();
                let reason = why(&k, &forged);
                match kid {
                    Some(_) => assert!(matches!(
                        reason,
                        Rejection::WrongAlgorithm(Algorithm::HS256)
                    )),
                    None => assert!(matches!(reason, Rejection::UnknownKey)),
                }
            }
        }
    }

    #[test]
    fn es256_token_is_rejected_by_an_eddsa_only_key_set() {
        let k = eddsa();
        let attacker = es256();
        let attacker_kid = attacker.keys.signing_kid().to_owned();
        let mut h = header(&attacker);
        h.kid = Some(k.keys.signing_kid().to_owned());
        let reason = why(&k, &sign(&attacker, &h, &claims()));
        assert!(matches!(
            reason,
            Rejection::WrongAlgorithm(Algorithm::ES256)
        ));
        h.kid = Some(attacker_kid);
        let reason = why(&k, &sign(&attacker, &h, &claims()));
        assert!(matches!(reason, Rejection::UnknownKey));
    }

    #[test]
    fn eddsa_token_signed_by_another_key_is_rejected_even_with_our_kid() {
        let k = eddsa();
        let attacker = eddsa();
        let mut h = header(&attacker);
        h.kid = Some(k.keys.signing_kid().to_owned());
        let reason = why(&k, &sign(&attacker, &h, &claims()));
        assert!(failed(&reason, &ErrorKind::InvalidSignature));
    }

    #[test]
    fn token_signed_with_another_secret_is_rejected() {
        let k = hs256();
        let other = TokenKeys::new(&secret(8), TTL, Duration::ZERO);
        let mut h = header(&other);
        h.kid = Some(k.keys.signing_kid().to_owned());
        let reason = why(&k, &sign(&other, &h, &claims()));
        assert!(failed(&reason, &ErrorKind::InvalidSignature));
        let reason = why(&k, &other.issue(UserId(1), None).unwrap().token);
        assert!(matches!(reason, Rejection::UnknownKey));
    }

    #[test]
    fn other_hmac_algorithms_are_rejected_even_with_our_secret_and_kid() {
        let k = hs256();
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let mut h = header(&k);
            h.alg = alg;
            let token =
                jsonwebtoken::encode(&h, &claims(), &EncodingKey::from_secret(secret(7).expose()))
                    .unwrap();
            assert!(
                matches!(why(&k, &token), Rejection::WrongAlgorithm(_)),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn stripped_signature_is_rejected() {
        for k in every_algorithm() {
            let p = parts(&k.issue(UserId(1), None).unwrap().token);
            let reason = why(&k, &format!("{}.{}.", p[0], p[1]));
            assert!(failed(&reason, &ErrorKind::InvalidSignature));
            let reason = why(&k, &format!("{}.{}", p[0], p[1]));
            assert!(matches!(reason, Rejection::Malformed(_)));
        }
    }

    #[test]
    fn tampered_signature_is_rejected() {
        for k in every_algorithm() {
            let p = parts(&k.issue(UserId(1), None).unwrap().token);
            let mut sig: Vec<char> = p[2].chars().collect();
            sig[0] = if sig[0] == 'A' { 'B' } else { 'A' };
            let sig: String = sig.into_iter().collect();
            let reason = why(&k, &format!("{}.{}.{sig}", p[0], p[1]));
            assert!(failed(&reason, &ErrorKind::InvalidSignature));
        }
    }

    #[test]
    fn tampered_payload_is_rejected() {
        for k in every_algorithm() {
            let p = parts(&k.issue(UserId(1), None).unwrap().token);
            let forged = b64(with(with(claims(), "sub", json!("2")), "user_id", json!(2))
                .to_string()
                .as_bytes());
            let reason = why(&k, &format!("{}.{forged}.{}", p[0], p[2]));
            assert!(failed(&reason, &ErrorKind::InvalidSignature));
        }
    }

    #[test]
    fn exp_in_the_past_beyond_the_leeway_is_rejected() {
        for k in every_algorithm() {
            let long_ago = now() - 1800 - 10;
            let issued = k.issue_at(UserId(1), None, long_ago).unwrap();
            assert!(failed(
                &why(&k, &issued.token),
                &ErrorKind::ExpiredSignature
            ));
            // Within the leeway (5 s), a just-expired token still passes.
            let c = with(claims(), "exp", json!(now() - 2));
            assert!(k.verify(&sign(&k, &header(&k), &c)).is_ok());
            let c = with(claims(), "exp", json!(now() - 30));
            let reason = why(&k, &sign(&k, &header(&k), &c));
            assert!(failed(&reason, &ErrorKind::ExpiredSignature));
        }
    }

    #[test]
    fn missing_exp_is_rejected() {
        for k in every_algorithm() {
            assert!(rejected(
                &k,
                &sign(&k, &header(&k), &without(claims(), "exp"))
            ));
        }
    }

    #[test]
    fn exp_as_a_string_is_rejected() {
        for k in every_algorithm() {
            let c = with(claims(), "exp", json!((now() + 600).to_string()));
            assert!(rejected(&k, &sign(&k, &header(&k), &c)));
            let c = with(claims(), "exp", json!(-1));
            assert!(rejected(&k, &sign(&k, &header(&k), &c)));
        }
    }

    #[test]
    fn nbf_in_the_future_is_rejected() {
        for k in every_algorithm() {
            let c = with(claims(), "nbf", json!(now() + 3600));
            let reason = why(&k, &sign(&k, &header(&k), &c));
            assert!(failed(&reason, &ErrorKind::ImmatureSignature));
            assert!(rejected(
                &k,
                &sign(&k, &header(&k), &without(claims(), "nbf"))
            ));
        }
    }

    #[test]
    fn iat_in_the_future_is_rejected() {
        let k = hs256();
        let c = with(claims(), "iat", json!(now() + 3600));
        let reason = why(&k, &sign(&k, &header(&k), &c));
        assert!(matches!(reason, Rejection::IssuedInFuture));
        assert!(rejected(
            &k,
            &sign(&k, &header(&k), &without(claims(), "iat"))
        ));
    }

    #[test]
    fn wrong_issuer_is_rejected() {
        for k in every_algorithm() {
            for iss in [
                json!("someone-else"),
                json!("AGORA"),
                json!(["agora"]),
                json!(null),
            ] {
                let c = with(claims(), "iss", iss.clone());
                assert!(rejected(&k, &sign(&k, &header(&k), &c)), "{iss}");
            }
            assert!(rejected(
                &k,
                &sign(&k, &header(&k), &without(claims(), "iss"))
            ));
        }
        let other = TokenKeys::with_keys(
            KeySet::hs256(&secret(7), &[]),
            TTL,
            LEEWAY,
            "other-issuer",
            DEFAULT_ISSUER,
        );
        let reason = why(&hs256(), &other.issue(UserId(1), None).unwrap().token);
        assert!(failed(&reason, &ErrorKind::InvalidIssuer));
    }

    #[test]
    fn wrong_audience_is_rejected() {
        for k in every_algorithm() {
            for aud in [json!("billing"), json!(["billing"]), json!([]), json!(null)] {
                let c = with(claims(), "aud", aud.clone());
                assert!(rejected(&k, &sign(&k, &header(&k), &c)), "{aud}");
            }
            assert!(rejected(
                &k,
                &sign(&k, &header(&k), &without(claims(), "aud"))
            ));
        }
        let other = TokenKeys::with_keys(
            KeySet::hs256(&secret(7), &[]),
            TTL,
            LEEWAY,
            DEFAULT_ISSUER,
            "billing",
        );
        let reason = why(&hs256(), &other.issue(UserId(1), None).unwrap().token);
        assert!(failed(&reason, &ErrorKind::InvalidAudience));
    }

    #[test]
    fn missing_typ_or_another_type_is_rejected() {
        for k in every_algorithm() {
            for typ in [
                None,
                Some("JWT"),
                Some("jwt"),
                Some("rt+jwt"),
                Some("at+jwt2"),
                Some(""),
            ] {
                let mut h = header(&k);
                h.typ = typ.map(str::to_owned);
                let reason = why(&k, &sign(&k, &h, &claims()));
                assert!(matches!(reason, Rejection::WrongType), "{typ:?}");
            }
            for typ in ["application/at+jwt", "AT+JWT"] {
                let mut h = header(&k);
                h.typ = Some(typ.to_owned());
                assert!(k.verify(&sign(&k, &h, &claims())).is_ok(), "{typ}");
            }
        }
    }

    #[test]
    fn unknown_or_malicious_kid_is_rejected_quickly() {
        let long = "A".repeat(10 * 1024);
        let just_too_long = "k".repeat(MAX_KID_LEN + 1);
        let kids = [
            "unknown",
            "../../../../dev/null",
            "/etc/passwd",
            "' OR '1'='1",
            "1; DROP TABLE users--",
            "",
            "\u{0}",
            &just_too_long,
            &long,
        ];
        for k in every_algorithm() {
            let started = Instant::now();
            for kid in kids {
                let mut h = header(&k);
                h.kid = Some(kid.to_owned());
                let reason = why(&k, &sign(&k, &h, &claims()));
                // The 10 kB one makes the token too long to even parse.
                let expected = match kid.len() {
                    n if n > MAX_TOKEN_LEN => matches!(reason, Rejection::TooLong),
                    _ => matches!(reason, Rejection::UnknownKey),
                };
                assert!(expected, "{kid:.20}: {reason}");
            }
            let mut h = header(&k);
            h.kid = None;
            let reason = why(&k, &sign(&k, &h, &claims()));
            assert!(matches!(reason, Rejection::UnknownKey), "no kid");
            // A map look-up, not a search: generous bound for slow CI machines.
            assert!(
                started.elapsed() < Duration::from_secs(1),
                "{:?}",
                started.elapsed()
            );
        }
    }

    #[test]
    fn jku_x5u_and_embedded_jwk_headers_are_never_followed() {
        // Core has no HTTP client, so nothing could be fetched; these tokens
        // are refused on sight.
        let k = eddsa();
        let attacker = eddsa();
        let attacker_jwk: Jwk =
            serde_json::from_value(attacker.jwks().unwrap()["keys"][0].clone()).unwrap();
        let attacker_kid = attacker_jwk.thumbprint(ThumbprintHash::SHA256).unwrap();
        for kid in [attacker_kid, k.keys.signing_kid().to_owned()] {
            let base = {
                let mut h = header(&attacker);
                h.kid = Some(kid);
                h
            };
            let mut embedded = base.clone();
            embedded.jwk = Some(attacker_jwk.clone());
            let mut jku = base.clone();
            jku.jku = Some("https://attacker.example/jwks.json".to_owned());
            let mut x5u = base.clone();
            x5u.x5u = Some("https://attacker.example/cert.pem".to_owned());
            for h in [embedded, jku, x5u] {
                let reason = why(&k, &sign(&attacker, &h, &claims()));
                assert!(matches!(reason, Rejection::KeyLocationHeader), "{h:?}");
            }
        }
        // Even signed by our own key, such headers are not ours: refused.
        let mut h = header(&k);
        h.jku = Some("https://attacker.example/jwks.json".to_owned());
        let reason = why(&k, &sign(&k, &h, &claims()));
        assert!(matches!(reason, Rejection::KeyLocationHeader));
        let mut h = header(&k);
        h.crit = Some(vec!["exp".to_owned()]);
        let reason = why(&k, &sign(&k, &h, &claims()));
        assert!(matches!(reason, Rejection::KeyLocationHeader));
    }

    #[test]
    fn mismatched_sub_and_user_id_are_rejected() {
        let k = hs256();
        for (sub, user_id) in [
            (json!("2"), json!(1)),
            (json!("01"), json!(1)),
            (json!(1), json!(1)),
        ] {
            let c = with(with(claims(), "sub", sub.clone()), "user_id", user_id);
            let reason = why(&k, &sign(&k, &header(&k), &c));
            match sub.as_str() {
                Some(_) => assert!(matches!(reason, Rejection::SubjectMismatch), "{sub}"),
                None => assert!(matches!(reason, Rejection::Invalid(_)), "{sub}"),
            }
        }
        assert!(rejected(
            &k,
            &sign(&k, &header(&k), &without(claims(), "sub"))
        ));
        assert!(rejected(
            &k,
            &sign(&k, &header(&k), &without(claims(), "jti"))
        ));
        assert!(rejected(
            &k,
            &sign(&k, &header(&k), &with(claims(), "jti", json!("")))
        ));
    }

    #[test]
    fn oversized_token_is_rejected_before_parsing() {
        let k = hs256();
        let reason = why(&k, &"a".repeat(MAX_TOKEN_LEN + 1));
        assert!(matches!(reason, Rejection::TooLong));
        let padded = with(claims(), "pad", json!("x".repeat(MAX_TOKEN_LEN)));
        let reason = why(&k, &sign(&k, &header(&k), &padded));
        assert!(matches!(reason, Rejection::TooLong));
    }

    #[test]
    fn leeway_is_capped_at_sixty_seconds() {
        let k = TokenKeys::new(&secret(7), TTL, Duration::from_secs(3600));
        let c = with(claims(), "exp", json!(now() - 120));
        let reason = why(&k, &sign(&k, &header(&k), &c));
        assert!(failed(&reason, &ErrorKind::ExpiredSignature));
    }

    #[test]
    fn eddsa_rotation_keeps_old_tokens_valid_until_the_old_key_is_removed() {
        let old = ed25519();
        let new = ed25519();
        let before = eddsa_with(&old);
        let old_token = before.issue(UserId(1), None).unwrap().token;
        // The old key may stay as its private or only its public key.
        for kept in [old.private.clone(), old.public.clone()] {
            let during = asymmetric(JwtAlgorithm::EdDSA, &new.private, &[kept]);
            assert!(during.verify(&old_token).is_ok());
            let new_token = during.issue(UserId(1), None).unwrap().token;
            let new_kid = jsonwebtoken::decode_header(&new_token)
                .unwrap()
                .kid
                .unwrap();
            assert_eq!(new_kid, during.keys.signing_kid());
            assert_ne!(new_kid, before.keys.signing_kid());
            assert_eq!(during.jwks().unwrap()["keys"].as_array().unwrap().len(), 2);
            // Servers still on the old key do not accept the new key's tokens.
            assert!(rejected(&before, &new_token));
        }
        let after = eddsa_with(&new);
        assert!(matches!(why(&after, &old_token), Rejection::UnknownKey));
    }

    #[test]
    fn hs256_rotation_keeps_old_tokens_valid_until_the_old_secret_is_removed() {
        let before = TokenKeys::new(&secret(1), TTL, LEEWAY);
        let old_token = before.issue(UserId(1), None).unwrap().token;
        let during = TokenKeys::with_keys(
            KeySet::hs256(&secret(2), &[secret(1)]),
            TTL,
            LEEWAY,
            DEFAULT_ISSUER,
            DEFAULT_ISSUER,
        );
        assert!(during.verify(&old_token).is_ok());
        let new_token = during.issue(UserId(1), None).unwrap().token;
        assert_ne!(
            jsonwebtoken::decode_header(&new_token).unwrap().kid,
            jsonwebtoken::decode_header(&old_token).unwrap().kid
        );
        let after = TokenKeys::new(&secret(2), TTL, LEEWAY);
        assert!(matches!(why(&after, &old_token), Rejection::UnknownKey));
    }

    #[test]
    fn algorithm_can_move_from_es256_to_eddsa_through_rotation() {
        let old = p256();
        let before = asymmetric(JwtAlgorithm::ES256, &old.private, &[]);
        let old_token = before.issue(UserId(1), None).unwrap().token;
        let during = asymmetric(JwtAlgorithm::EdDSA, &ed25519().private, &[old.public]);
        assert!(during.verify(&old_token).is_ok());
        // The old key still verifies only ES256: an EdDSA header on its kid fails.
        let mut h = header(&during);
        h.kid = Some(before.keys.signing_kid().to_owned());
        let reason = why(&during, &sign(&during, &h, &claims()));
        assert!(matches!(
            reason,
            Rejection::WrongAlgorithm(Algorithm::EdDSA)
        ));
    }

    #[test]
    fn token_keys_new_and_a_default_config_agree() {
        let mut config = TokenConfig {
            secret: Some(secret(7)),
            ..TokenConfig::default()
        };
        let from_config = TokenKeys::from_config(&config).unwrap();
        let token = hs256().issue(UserId(3), None).unwrap().token;
        assert_eq!(from_config.verify(&token).unwrap().user_id, 3);
        config.audience = "elsewhere".to_owned();
        assert!(rejected(&TokenKeys::from_config(&config).unwrap(), &token));
    }

    #[test]
    fn debug_output_shows_key_ids_but_no_key_material() {
        let shown = format!("{:?}", hs256());
        assert!(shown.contains(hs256().keys.signing_kid()), "{shown}");
        assert!(
            !shown.contains("[7, 7") && !shown.contains("BwcH"),
            "{shown}"
        );
    }
    #[test]
    fn a_remembered_token_is_refused_once_expired() {
        for k in every_algorithm() {
            let issued = k.issue(UserId(5), Some("s5")).unwrap();
            let first = k.verify(&issued.token).unwrap();
            assert_eq!(k.verified.len(), 1, "a verified token is remembered");
            // Served from memory: the same claims, not re-verified.
            assert_eq!(k.check_at(&issued.token, now()).unwrap(), first);
            let leeway = i64::try_from(LEEWAY.as_secs()).unwrap();
            assert!(k.check_at(&issued.token, first.exp + leeway).is_ok());
            let late = k.check_at(&issued.token, first.exp + leeway + 1);
            assert!(matches!(late, Err(Rejection::Expired)));
            assert_eq!(k.verified.len(), 0, "an expired token is forgotten");
        }
    }

    #[test]
    fn a_token_one_byte_away_from_a_remembered_one_is_verified_in_full() {
        for k in every_algorithm() {
            let token = k.issue(UserId(6), None).unwrap().token;
            k.verify(&token).unwrap();
            let p = parts(&token);
            let mut signature = p[2].clone().into_bytes();
            signature[3] = if signature[3] == b'A' { b'B' } else { b'A' };
            let signature = String::from_utf8(signature).unwrap();
            let tampered = format!("{}.{}.{signature}", p[0], p[1]);
            assert!(failed(&why(&k, &tampered), &ErrorKind::InvalidSignature));
            let forged = b64(&serde_json::to_vec(&with(claims(), "user_id", json!(1))).unwrap());
            let tampered = format!("{}.{forged}.{}", p[0], p[2]);
            assert!(rejected(&k, &tampered));
            assert!(rejected(&k, &format!("{token}A")));
            assert!(rejected(&k, &token[..token.len() - 1]));
            assert_eq!(k.verified.len(), 1, "refused tokens are not remembered");
        }
    }

    #[test]
    fn a_token_remembered_by_keys_is_refused_by_keys_without_its_key() {
        // Rotation builds new keys: what the old ones remember goes with them.
        let before = TokenKeys::with_keys(
            KeySet::hs256(&secret(2), &[secret(1)]),
            TTL,
            LEEWAY,
            DEFAULT_ISSUER,
            DEFAULT_ISSUER,
        );
        let old_token = TokenKeys::new(&secret(1), TTL, LEEWAY)
            .issue(UserId(1), None)
            .unwrap()
            .token;
        assert!(before.verify(&old_token).is_ok());
        let after = TokenKeys::new(&secret(2), TTL, LEEWAY);
        assert!(matches!(why(&after, &old_token), Rejection::UnknownKey));
        // Clones share the memory (they have the same keys).
        assert_eq!(before.clone().verified.len(), 1);
    }

    #[test]
    fn remembered_tokens_stay_bounded() {
        let k = hs256();
        for user in 0..(2 * VERIFIED_TOKENS as i64) {
            k.verify(&k.issue(UserId(user + 1), None).unwrap().token)
                .unwrap();
        }
        let kept = k.verified.len();
        assert!((1..=VERIFIED_TOKENS).contains(&kept), "{kept} tokens kept");
    }
    #[test]
    fn a_hundred_verifications_at_once_share_the_memory_safely() {
        // Fresh and remembered tokens, 100 threads at once: each gets its
        // own token's claims, and a tampered copy is refused every time.
        let k = hs256();
        let tokens: Vec<String> = (1..=10)
            .map(|user| k.issue(UserId(user), None).unwrap().token)
            .collect();
        std::thread::scope(|scope| {
            let workers: Vec<_> = (0..100)
                .map(|i| {
                    let (k, token) = (&k, &tokens[i % 10]);
                    scope.spawn(move || {
                        let claims = k.verify(token).unwrap();
                        assert_eq!(claims.user_id, (i % 10) as i64 + 1);
                        assert!(rejected(k, &format!("{token}A")));
                    })
                })
                .collect();
            for worker in workers {
                worker.join().unwrap();
            }
        });
        assert_eq!(k.verified.len(), 10);
    }
}
