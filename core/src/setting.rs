//! What every settings type shares: [`ConfigError`], which names the setting
//! at fault by its field path in `Config` (`tokens.secret`,
//! `passwords.min_chars`). This module sits below the modules that own
//! settings (crypto, domain, throttle) and imports none of them.
//!
//! Front ends name settings their own way: `config::env` renames
//! the settings of an error to the `AGORA_*` variables they were read from
//! ([`ConfigError::renamed`]); code that builds a `Config` itself
//! sees field paths only.

use std::fmt;
use std::path::PathBuf;

/// A configuration problem; the message names the setting and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value is present but unusable.
    #[error("{name}: {reason}")]
    Invalid {
        /// The setting: its field path (`tokens.secret`), or, from the
        /// environment, its variable (`AGORA_JWT_SECRET`).
        name: &'static str,
        /// What is wrong and how to fix it.
        reason: Reason,
    },
    /// Reading or writing the secret file failed.
    #[error("JWT secret file {path}: {source}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        source: std::io::Error,
    },
}

impl ConfigError {
    /// `name` is unusable because of `reason`.
    pub fn invalid(name: &'static str, reason: impl Into<Reason>) -> Self {
        ConfigError::Invalid {
            name,
            reason: reason.into(),
        }
    }

    /// What is wrong and how to fix it, without the setting's name.
    pub fn reason(&self) -> String {
        match self {
            ConfigError::Invalid { reason, .. } => reason.to_string(),
            ConfigError::SecretFile { source, .. } => source.to_string(),
        }
    }

    /// The same problem, the setting at fault called `name` (a front end's
    /// name for it, such as a function argument).
    pub fn for_setting(self, name: &'static str) -> Self {
        match self {
            ConfigError::Invalid { reason, .. } => ConfigError::Invalid { name, reason },
            file => ConfigError::invalid(name, file.reason()),
        }
    }

    /// The same problem with every setting it names, the one at fault and
    /// those its reason mentions, called `name(field path)`.
    pub fn renamed(self, name: impl Fn(&'static str) -> &'static str) -> Self {
        match self {
            ConfigError::Invalid {
                name: field,
                reason,
            } => ConfigError::Invalid {
                name: name(field),
                reason: reason.renamed(&name),
            },
            file => file,
        }
    }
}

/// What is wrong with a setting and how to fix it: text that may mention
/// other settings, kept apart so that each front end names them its own way
/// (see [`ConfigError::renamed`]). Shown with field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reason(Vec<Part>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Setting(&'static str),
}

impl Reason {
    /// `self`, then `text`.
    pub fn then(mut self, text: impl Into<String>) -> Self {
        self.0.push(Part::Text(text.into()));
        self
    }

    /// `self`, then the name of the setting at `field` (its field path).
    pub fn setting(mut self, field: &'static str) -> Self {
        self.0.push(Part::Setting(field));
        self
    }

    fn renamed(self, name: impl Fn(&'static str) -> &'static str) -> Self {
        Reason(
            self.0
                .into_iter()
                .map(|part| match part {
                    Part::Setting(field) => Part::Setting(name(field)),
                    text => text,
                })
                .collect(),
        )
    }
}

impl From<String> for Reason {
    fn from(text: String) -> Self {
        Reason(vec![Part::Text(text)])
    }
}

impl From<&str> for Reason {
    fn from(text: &str) -> Self {
        Reason::from(text.to_owned())
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|part| match part {
            Part::Text(text) => f.write_str(text),
            Part::Setting(name) => f.write_str(name),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renaming_names_the_setting_at_fault_and_those_mentioned() {
        let err = ConfigError::invalid(
            "passwords.min_chars",
            Reason::from("at most ")
                .setting("passwords.max_chars")
                .then(" (128)"),
        );
        assert_eq!(
            err.to_string(),
            "passwords.min_chars: at most passwords.max_chars (128)"
        );
        let renamed = err.renamed(|field| match field {
            "passwords.min_chars" => "MIN",
            _ => "MAX",
        });
        assert_eq!(renamed.to_string(), "MIN: at most MAX (128)");
        assert_eq!(renamed.reason(), "at most MAX (128)");
        assert_eq!(
            renamed.for_setting("min").to_string(),
            "min: at most MAX (128)"
        );
    }
}
