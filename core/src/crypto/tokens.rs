//! [`TokenConfig`]: how access tokens are signed and checked (`config.tokens`).

use std::time::Duration;

use super::jwt::{DEFAULT_ISSUER, MAX_LEEWAY};
use super::keys::{JwtAlgorithm, PemKey};
use super::secret::JwtSecret;
use crate::setting::{ConfigError, Reason};

/// The keys, claims and lifetimes of access tokens (`config.tokens`); see
/// [`super::jwt::TokenKeys::from_config`].
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// The HS256 signing secret: at least 32 bytes that look random (see
    /// [`JwtSecret::new`]). `None` lets a server generate and keep one (see
    /// `Config::ensure_jwt_secret`); [`crate::Agora::new`] requires
    /// it with HS256.
    pub secret: Option<JwtSecret>,
    /// How access tokens are signed: `HS256` (the default, with
    /// [`TokenConfig::secret`]), `EdDSA` (Ed25519) or `ES256` (P-256), with
    /// [`TokenConfig::private_key`]; the public keys of the latter two are
    /// published as a JWK Set ([`crate::Agora::jwks`]).
    pub algorithm: JwtAlgorithm,
    /// The PKCS#8 PEM private key that signs access tokens with EdDSA or
    /// ES256 (`openssl genpkey -algorithm ed25519`, or `-algorithm EC
    /// -pkeyopt ec_paramgen_curve:P-256`). Required for those algorithms,
    /// refused with HS256.
    pub private_key: Option<PemKey>,
    /// Previous EdDSA/ES256 keys (private or public) that still verify the
    /// tokens they signed but sign none, so the signing key rotates without
    /// logging anyone out; drop one once the access token lifetime has
    /// passed since it stopped signing. Refused with HS256.
    pub verify_keys: Vec<PemKey>,
    /// Previous HS256 secrets, verify-only, for rotating
    /// [`TokenConfig::secret`] the same way. Refused with EdDSA/ES256.
    pub previous_secrets: Vec<JwtSecret>,
    /// The `iss` of access tokens, required to match when verifying (`agora`).
    pub issuer: String,
    /// The `aud` of access tokens, required to match when verifying (`agora`).
    pub audience: String,
    /// Access token lifetime (30 minutes).
    pub access_ttl: Duration,
    /// Clock skew tolerated when checking `exp` and `nbf`: 10 s by default,
    /// at most [`MAX_LEEWAY`] (60 s).
    pub leeway: Duration,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            secret: None,
            algorithm: JwtAlgorithm::HS256,
            private_key: None,
            verify_keys: Vec::new(),
            previous_secrets: Vec::new(),
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_ISSUER.to_owned(),
            access_ttl: Duration::from_secs(30 * 60),
            leeway: Duration::from_secs(10),
        }
    }
}

impl TokenConfig {
    /// Checks the rules between these settings (also run by
    /// [`super::keys::KeySet::from_config`]): a leeway of at most 60 s, a
    /// positive lifetime, a non-empty issuer and audience, and keys that go
    /// together. A missing HS256 secret is not refused here (a server may
    /// still generate one), only when the keys are built.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.leeway > MAX_LEEWAY {
            return Err(ConfigError::invalid("tokens.leeway", "at most 60 seconds"));
        }
        if self.access_ttl.is_zero() {
            return Err(ConfigError::invalid(
                "tokens.access_ttl",
                "must be positive",
            ));
        }
        self.validate_keys()?;
        for (name, value) in [
            ("tokens.issuer", &self.issuer),
            ("tokens.audience", &self.audience),
        ] {
            if value.trim().is_empty() {
                return Err(ConfigError::invalid(name, "must not be empty"));
            }
        }
        Ok(())
    }

    /// Which keys may go together: HMAC secrets and signature keys are never
    /// mixed (RFC 8725 §3.1, OWASP JWT cheat sheet), so a configuration that
    /// asks for both is refused rather than half-applied.
    fn validate_keys(&self) -> Result<(), ConfigError> {
        let algorithm = self.algorithm;
        let algorithm_is = || {
            Reason::default()
                .setting("tokens.algorithm")
                .then(format!(" is {algorithm}"))
        };
        let refuse = |name, reason| Err(ConfigError::invalid(name, reason));
        if algorithm.is_asymmetric() {
            if self.secret.is_some() {
                return refuse(
                    "tokens.secret",
                    algorithm_is()
                        .then(
                            ", which signs with a private key; HMAC secrets and signature \
                             keys are not mixed: unset ",
                        )
                        .setting("tokens.secret"),
                );
            }
            if !self.previous_secrets.is_empty() {
                return refuse(
                    "tokens.previous_secrets",
                    algorithm_is()
                        .then("; HS256 secrets and signature keys are not mixed in one key set: unset ")
                        .setting("tokens.previous_secrets")
                        .then(" (moving from HS256 ends access tokens early: clients refresh)"),
                );
            }
            if self.private_key.is_none() {
                return refuse("tokens.private_key", needs_private_key(algorithm));
            }
        } else {
            if self.private_key.is_some() {
                return refuse(
                    "tokens.private_key",
                    Reason::from("a private key signs with EdDSA or ES256: set ")
                        .setting("tokens.algorithm")
                        .then(", or unset ")
                        .setting("tokens.private_key")
                        .then(" for HS256"),
                );
            }
            if !self.verify_keys.is_empty() {
                return refuse(
                    "tokens.verify_keys",
                    algorithm_is()
                        .then(
                            "; HS256 secrets and signature keys are not mixed in one key set: use ",
                        )
                        .setting("tokens.previous_secrets")
                        .then(" for old secrets"),
                );
            }
        }
        Ok(())
    }
}

/// Why an EdDSA or ES256 configuration without a private key is refused.
pub(crate) fn needs_private_key(algorithm: JwtAlgorithm) -> Reason {
    Reason::from(format!("{algorithm} needs a private key: set "))
        .setting("tokens.private_key")
        .then(" to a PKCS#8 PEM file")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_of_settings_built_in_code_name_fields_not_variables() {
        let short = JwtSecret::new("too short").unwrap_err().to_string();
        assert!(short.starts_with("tokens.secret: "), "{short}");
        assert!(!short.contains("AGORA_"), "{short}");
        let mixed = TokenConfig {
            algorithm: JwtAlgorithm::EdDSA,
            secret: Some(JwtSecret::generate()),
            ..TokenConfig::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(
            mixed.starts_with("tokens.secret: tokens.algorithm is EdDSA"),
            "{mixed}"
        );
        assert!(!mixed.contains("AGORA_"), "{mixed}");
        let leeway = TokenConfig {
            leeway: Duration::from_secs(61),
            ..TokenConfig::default()
        };
        assert!(
            leeway
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("tokens.leeway")
        );
    }
}
