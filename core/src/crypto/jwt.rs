//! JWT access tokens (HS256), with the algorithm pinned at verification and
//! every claim checked.
//!
//! Claims: `sub` (user id as a string), `user_id` (the same id as an integer,
//! for clients of the original API), `iat`, `exp`, `jti`.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::config::JwtSecret;
use crate::domain::UserId;
use crate::error::{Error, Result};

/// Tokens longer than this are rejected before any parsing.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// The claims of an Agora access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Subject: the user id as a string (RFC 7519).
    pub sub: String,
    /// The user id as an integer, as the original API issued it.
    pub user_id: i64,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Unique token id.
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

/// Issues and verifies access tokens with one HS256 key.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("keys", &"<redacted>")
            .field("ttl", &self.ttl)
            .finish()
    }
}

impl TokenKeys {
    /// Keys from a secret of at least 32 bytes; tokens live for `ttl`;
    /// `leeway` absorbs clock skew between servers when checking `exp`.
    pub fn new(secret: &JwtSecret, ttl: Duration, leeway: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = leeway.as_secs();
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.expose()),
            decoding: DecodingKey::from_secret(secret.expose()),
            validation,
            ttl,
        }
    }

    /// The public keys as a JWK Set: none for HS256 (a shared secret).
    pub fn jwks(&self) -> Option<serde_json::Value> {
        None
    }

    /// Access token lifetime.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a token for `user`, valid from now for the configured lifetime.
    pub fn issue(&self, user: UserId, sid: Option<&str>) -> Result<IssuedToken> {
        self.issue_at(user, sid, chrono::Utc::now().timestamp())
    }

    fn issue_at(&self, user: UserId, sid: Option<&str>, now: i64) -> Result<IssuedToken> {
        let ttl = i64::try_from(self.ttl.as_secs()).map_err(Error::internal)?;
        let claims = Claims {
            sub: user.0.to_string(),
            user_id: user.0,
            iat: now,
            exp: now.saturating_add(ttl),
            jti: super::random_hex(16),
            sid: sid.map(str::to_owned),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(Error::internal)?;
        Ok(IssuedToken {
            token,
            expires_in: self.ttl.as_secs(),
        })
    }

    /// Verifies signature, algorithm (HS256 only), `exp`, `nbf` if present,
    /// and that `sub` and `user_id` agree. Any failure is
    /// [`Error::Unauthorized`]; the reason is logged at debug level only.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::Unauthorized);
        }
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| {
                tracing::debug!(reason = %e, "rejected access token");
                Error::Unauthorized
            })?;
        let claims = data.claims;
        if claims.sub != claims.user_id.to_string() || claims.jti.is_empty() {
            return Err(Error::Unauthorized);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    fn keys() -> TokenKeys {
        TokenKeys::new(
            &JwtSecret::new(vec![7u8; 32]).unwrap(),
            Duration::from_secs(1800),
            Duration::from_secs(5),
        )
    }

    fn parts(token: &str) -> Vec<String> {
        token.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn round_trip_carries_every_claim() {
        let k = keys();
        let issued = k.issue(UserId(42), None).unwrap();
        assert_eq!(issued.expires_in, 1800);
        let c = k.verify(&issued.token).unwrap();
        assert_eq!((c.sub.as_str(), c.user_id), ("42", 42));
        assert_eq!(c.exp - c.iat, 1800);
        assert_eq!(c.jti.len(), 32);
        assert_ne!(
            c.jti,
            k.verify(&k.issue(UserId(42), None).unwrap().token)
                .unwrap()
                .jti
        );
    }

    #[test]
    fn expired_token_is_rejected() {
        let k = keys();
        let issued = k
            .issue_at(UserId(1), None, chrono::Utc::now().timestamp() - 1800 - 10)
            .unwrap();
        assert!(matches!(k.verify(&issued.token), Err(Error::Unauthorized)));
    }

    #[test]
    fn tampered_payload_is_rejected() {
        let k = keys();
        let p = parts(&k.issue(UserId(1), None).unwrap().token);
        let forged_payload = b64(
            serde_json::json!({"sub": "2", "user_id": 2, "iat": 0, "exp": 4_000_000_000i64, "jti": "x"})
                .to_string()
                .as_bytes(),
        );
        let forged = format!("{}.{}.{}", p[0], forged_payload, p[2]);
        assert!(k.verify(&forged).is_err());
    }

    #[test]
    fn tampered_signature_is_rejected() {
        let k = keys();
        let token = k.issue(UserId(1), None).unwrap().token;
        let mut sig: Vec<char> = parts(&token)[2].chars().collect();
        sig[0] = if sig[0] == 'A' { 'B' } else { 'A' };
        let p = parts(&token);
        let forged = format!("{}.{}.{}", p[0], p[1], sig.into_iter().collect::<String>());
        assert!(k.verify(&forged).is_err());
        assert!(
            k.verify(&format!("{}.{}.", p[0], p[1])).is_err(),
            "stripped signature"
        );
    }

    #[test]
    fn alg_none_is_rejected_in_any_spelling() {
        let k = keys();
        let p = parts(&k.issue(UserId(1), None).unwrap().token);
        for alg in ["none", "None", "NONE", "nOnE"] {
            let header = b64(format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#).as_bytes());
            assert!(k.verify(&format!("{header}.{}.", p[1])).is_err(), "{alg}");
        }
    }

    #[test]
    fn token_signed_with_another_secret_is_rejected() {
        let other = TokenKeys::new(
            &JwtSecret::new(vec![8u8; 32]).unwrap(),
            Duration::from_secs(1800),
            Duration::ZERO,
        );
        assert!(
            keys()
                .verify(&other.issue(UserId(1), None).unwrap().token)
                .is_err()
        );
    }

    #[test]
    fn other_hmac_algorithms_are_rejected() {
        let secret = JwtSecret::new(vec![7u8; 32]).unwrap();
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: "1".into(),
            user_id: 1,
            iat: now,
            exp: now + 60,
            jti: "j".into(),
            sid: None,
        };
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims,
            &EncodingKey::from_secret(secret.expose()),
        )
        .unwrap();
        assert!(keys().verify(&hs512).is_err());
    }

    #[test]
    fn missing_exp_and_mismatched_sub_are_rejected() {
        let secret = JwtSecret::new(vec![7u8; 32]).unwrap();
        let key = EncodingKey::from_secret(secret.expose());
        let now = chrono::Utc::now().timestamp();
        let no_exp = serde_json::json!({"sub": "1", "user_id": 1, "iat": now, "jti": "j"});
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &no_exp, &key).unwrap();
        assert!(keys().verify(&token).is_err());
        let mismatch = Claims {
            sub: "2".into(),
            user_id: 1,
            iat: now,
            exp: now + 60,
            jti: "j".into(),
            sid: None,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &mismatch, &key).unwrap();
        assert!(keys().verify(&token).is_err());
    }

    #[test]
    fn future_nbf_and_oversized_tokens_are_rejected() {
        let secret = JwtSecret::new(vec![7u8; 32]).unwrap();
        let key = EncodingKey::from_secret(secret.expose());
        let now = chrono::Utc::now().timestamp();
        let claims = serde_json::json!({"sub": "1", "user_id": 1, "iat": now, "exp": now + 7200, "nbf": now + 3600, "jti": "j"});
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap();
        assert!(keys().verify(&token).is_err());
        assert!(keys().verify(&"a".repeat(MAX_TOKEN_LEN + 1)).is_err());
    }
}
