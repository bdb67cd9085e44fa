//! The HMAC secret that signs HS256 access tokens: [`JwtSecret`], refused
//! when short or not random-looking, and kept in a private file by servers
//! that generate their own.

use std::fmt;
use std::path::Path;

use crate::setting::ConfigError;

/// The shortest JWT signing secret accepted, in bytes (RFC 8725 §3.5, HS256 key size).
pub const MIN_SECRET_BYTES: usize = 32;

/// The least estimated entropy of a JWT secret, in bits (see [`JwtSecret::new`]).
pub const MIN_SECRET_ENTROPY_BITS: f64 = 128.0;

/// The setting a refused secret is reported as.
const SETTING: &str = "tokens.secret";

/// The HMAC secret that signs access tokens: at least [`MIN_SECRET_BYTES`]
/// bytes that look random (see [`JwtSecret::new`]); `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct JwtSecret(Vec<u8>);

impl JwtSecret {
    /// Accepts a secret that is at least [`MIN_SECRET_BYTES`] bytes long and
    /// looks random: refused when empty or blank, shorter than 32 bytes, one
    /// block repeated (`abcabc…`), or with an estimated entropy under
    /// [`MIN_SECRET_ENTROPY_BITS`] (128 bits), the estimate being its length
    /// times the Shannon entropy of its bytes' frequencies. The estimate
    /// catches repeated characters and small alphabets (32 × `a`: 0 bits;
    /// 32 hex digits, i.e. `openssl rand -hex 16`: about 115), and passes
    /// the output of `openssl rand -hex 32` (about 245 bits) or
    /// `openssl rand -base64 32` (about 215) and 32 random bytes (about
    /// 155); it cannot tell a passphrase from random text: generate secrets
    /// (RFC 8725 §3.5: never a human-memorable password).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Result<Self, ConfigError> {
        let bytes = bytes.into();
        let refuse = |reason: String| Err(ConfigError::invalid(SETTING, reason));
        const GENERATE: &str = "generate one with `openssl rand -hex 32`";
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return refuse(format!("the JWT secret is empty; {GENERATE}"));
        }
        if bytes.len() < MIN_SECRET_BYTES {
            return refuse(format!(
                "the JWT secret must be at least {MIN_SECRET_BYTES} bytes (it has {}); {GENERATE}",
                bytes.len()
            ));
        }
        let bits = estimated_entropy_bits(&bytes);
        if bits < MIN_SECRET_ENTROPY_BITS || is_repeated_block(&bytes) {
            return refuse(format!(
                "the JWT secret does not look random (estimated {bits:.0} bits of entropy, \
                 at least {MIN_SECRET_ENTROPY_BITS:.0} needed, and no repeated block); {GENERATE}"
            ));
        }
        Ok(JwtSecret(bytes))
    }

    /// 256 fresh bits from the OS CSPRNG (as 64 hex characters).
    pub fn generate() -> Self {
        JwtSecret(super::random_hex(32).into_bytes())
    }

    /// Reads the secret kept in `path`, or creates that file (permissions
    /// 0600 on Unix) with a newly generated secret, so tokens survive a
    /// restart. An existing file is refused, with the fix in the message,
    /// when it is a symbolic link or not a regular file, when (on Unix) its
    /// group or other users have any permission on it (`chmod 600 FILE`),
    /// or when the secret in it is refused by [`JwtSecret::new`].
    pub fn load_or_create(path: &Path) -> Result<Self, ConfigError> {
        let file_err = |source| ConfigError::SecretFile {
            path: path.to_owned(),
            source,
        };
        let read = |path: &Path| {
            let secret = read_secret(path).map_err(file_err)?;
            JwtSecret::new(secret).map_err(|e| {
                file_err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{}; or delete the file to have a new secret generated",
                        e.reason()
                    ),
                ))
            })
        };
        match std::fs::symlink_metadata(path) {
            Ok(_) => return read(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(file_err(e)),
        }
        let secret = JwtSecret::generate();
        match write_new_secret(path, &secret.0) {
            Ok(()) => Ok(secret),
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path),
            Err(e) => Err(file_err(e)),
        }
    }

    /// The raw key bytes, for signing and verifying only.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

/// `bytes.len()` times the Shannon entropy (bits per byte) of the bytes'
/// frequencies in `bytes`: a rough upper bound on the entropy of a string
/// (a long human-chosen phrase scores high too) that is 0 for one repeated
/// byte and at most 4 bits per character for hex.
fn estimated_entropy_bits(bytes: &[u8]) -> f64 {
    let mut counts = [0usize; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let n = bytes.len() as f64;
    let per_byte: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_byte * n
}

/// Whether `bytes` is a shorter block repeated at least twice, the last
/// time possibly cut short (`0123…ef0123…ef01`); long inputs are checked on
/// their first 4 KiB.
fn is_repeated_block(bytes: &[u8]) -> bool {
    let bytes = &bytes[..bytes.len().min(4096)];
    (1..=bytes.len() / 2).any(|period| bytes.iter().zip(&bytes[period..]).all(|(a, b)| a == b))
}

/// The trimmed secret in `path`, after checking that the file is safe: a
/// regular file (not a symbolic link, checked on the file opened) that on
/// Unix only its owner may read or write.
fn read_secret(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let unsafe_file = |reason: String| {
        Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            reason,
        ))
    };
    let shown = path.display();
    let link = std::fs::symlink_metadata(path)?;
    if link.file_type().is_symlink() {
        return unsafe_file(format!(
            "is a symbolic link, which is refused (whoever can change the link chooses the \
             secret); replace it with the file itself: `cp --remove-destination \
             \"$(readlink -f {shown})\" {shown} && chmod 600 {shown}`"
        ));
    }
    if !link.file_type().is_file() {
        return unsafe_file("is not a regular file".to_owned());
    }
    let mut file = std::fs::File::open(path)?;
    let opened = file.metadata()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if (opened.dev(), opened.ino()) != (link.dev(), link.ino()) {
            return unsafe_file("was replaced while being opened".to_owned());
        }
        let mode = opened.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return unsafe_file(format!(
                "is readable or writable by group or others (mode {mode:03o}); \
                 run `chmod 600 {shown}`"
            ));
        }
    }
    if !opened.is_file() {
        return unsafe_file("is not a regular file".to_owned());
    }
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(text.trim().as_bytes().to_vec())
}

fn write_new_secret(path: &Path, secret: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(secret)?;
    file.write_all(b"\n")?;
    file.sync_all()
}

impl fmt::Debug for JwtSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtSecret(<redacted>)")
    }
}
