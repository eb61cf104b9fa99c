//! Profiles in `$XDG_CONFIG_HOME/rpkv/rpkv.toml`: named connection settings
//! (URLs, TLS CA, Kafka TLS and SASL, user, read-only, the partitioner for
//! new keys) and which
//! one is current. Passwords are kept
//! only when the user asks (`--save-password`); the file is then made 0600.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::client::{Partitioner, SaslMechanism, mask, redact_url};

/// Errors reading or writing the profile file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not valid. The message never quotes the file: the TOML
    /// parser's own message shows the offending line, which may hold a password.
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("encoding profiles: {0}")]
    Encode(#[from] toml::ser::Error),
    #[error("no profile named {0:?} (see `rpkv profile list`)")]
    NoSuchProfile(String),
    #[error("cannot find a config directory: set XDG_CONFIG_HOME or HOME")]
    NoConfigDir,
}

/// One named profile. Its `Debug` masks the password (and one in the URL).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brokers: Option<String>,
    /// CA certificates (PEM) for HTTPS and Kafka TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ca: Option<PathBuf>,
    /// Kafka over TLS (rpk's `kafka_api.tls`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub kafka_tls: bool,
    /// Client certificate and key (PEM) for Kafka mTLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Stored only with `--save-password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Kafka SASL mechanism (rpk's `sasl.mechanism`), with `user` and `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sasl_mechanism: Option<SaslMechanism>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
    /// How `-p -1` places keys no partition holds yet (murmur2 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitioner: Option<Partitioner>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Profile {
            http_url,
            brokers,
            tls_ca,
            kafka_tls,
            tls_cert,
            tls_key,
            user,
            password,
            sasl_mechanism,
            read_only,
            partitioner,
        } = self;
        f.debug_struct("Profile")
            .field("http_url", &http_url.as_deref().map(redact_url))
            .field("brokers", brokers)
            .field("tls_ca", tls_ca)
            .field("kafka_tls", kafka_tls)
            .field("tls_cert", tls_cert)
            .field("tls_key", tls_key)
            .field("user", user)
            .field("password", &mask(password))
            .field("sasl_mechanism", sasl_mechanism)
            .field("read_only", read_only)
            .field("partitioner", partitioner)
            .finish()
    }
}

/// The whole file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// The profile used when `--profile` is not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// `$XDG_CONFIG_HOME/rpkv/rpkv.toml` (or `~/.config/rpkv/rpkv.toml`).
pub fn default_path() -> Result<PathBuf, ConfigError> {
    crate::paths::profiles_file().ok_or(ConfigError::NoConfigDir)
}

/// The data dir of `rpkv dev`: see [`crate::paths::dev_data_dir`].
pub use crate::paths::dev_data_dir as default_dev_data_dir;

impl ConfigFile {
    /// Reads the file; a missing file is an empty config.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).map_err(|e| ConfigError::Parse {
                path: path.to_owned(),
                message: parse_message(&text, &e),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ConfigFile::default()),
            Err(source) => Err(ConfigError::Io {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes the file atomically (temp file + rename), mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), ConfigError> {
        let io = |source| ConfigError::Io {
            path: path.to_owned(),
            source,
        };
        let text = toml::to_string_pretty(self)?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let tmp = path.with_extension("toml.tmp");
        write_private(&tmp, text.as_bytes()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The profile to use: `name` if given, else the current one (if any).
    pub fn resolve(&self, name: Option<&str>) -> Result<Option<(String, Profile)>, ConfigError> {
        match name.or(self.current.as_deref()) {
            None => Ok(None),
            Some(n) => self
                .profiles
                .get(n)
                .map(|p| Some((n.to_owned(), p.clone())))
                .ok_or_else(|| ConfigError::NoSuchProfile(n.to_owned())),
        }
    }
}

/// Where the TOML error is and what it is, without the source line. An error
/// on a `password` line is not described at all: its message may quote the
/// value (`invalid type: integer `1234`, expected a string`).
fn parse_message(text: &str, e: &toml::de::Error) -> String {
    let Some(span) = e.span() else {
        return e.message().to_owned();
    };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    let this_line = text[line_start..].lines().next().unwrap_or("");
    if this_line.trim_start().starts_with("password") {
        return format!("line {line}, column {column}: invalid password value (not shown)");
    }
    format!(
        "line {line}, column {column}: {}",
        without_values(e.message())
    )
}

/// serde's `invalid type: string "x", expected a boolean` without the value
/// (a password typed into the wrong field would show).
fn without_values(message: &str) -> String {
    let message = message.trim_end();
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let kind = rest.split([' ', ',']).next().unwrap_or("");
            let expected = rest.find(", expected").map_or("", |i| &rest[i..]);
            return format!("{prefix}{kind}{expected}");
        }
    }
    message.to_owned()
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_without_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpkv").join("rpkv.toml");
        let mut cfg = ConfigFile::default();
        cfg.profiles.insert(
            "prod".into(),
            Profile {
                http_url: Some("https://redpanda:8082".into()),
                brokers: Some("redpanda:9092".into()),
                tls_ca: Some("/etc/ca.pem".into()),
                kafka_tls: true,
                tls_cert: Some("/etc/client.pem".into()),
                tls_key: Some("/etc/client.key".into()),
                user: Some("alice".into()),
                password: None,
                sasl_mechanism: Some(SaslMechanism::ScramSha256),
                read_only: true,
                partitioner: Some(Partitioner::Crc32),
            },
        );
        cfg.current = Some("prod".into());
        cfg.save(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("password"), "{text}");
        assert!(text.contains("read_only = true"), "{text}");
        assert!(text.contains("partitioner = \"crc32\""), "{text}");
        assert!(text.contains("kafka_tls = true"), "{text}");
        assert!(
            text.contains("sasl_mechanism = \"SCRAM-SHA-256\""),
            "{text}"
        );
        let back = ConfigFile::load(&path).unwrap();
        assert_eq!(back, cfg);
        let (name, p) = back.resolve(None).unwrap().unwrap();
        assert_eq!(name, "prod");
        assert_eq!(p.user.as_deref(), Some("alice"));
        assert!(matches!(
            back.resolve(Some("nope")),
            Err(ConfigError::NoSuchProfile(_))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn debug_and_parse_errors_never_show_the_password() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpkv.toml");
        let mut cfg = ConfigFile::default();
        cfg.profiles.insert(
            "ci".into(),
            Profile {
                http_url: Some("http://ci:url-s3cret@redpanda:8082".into()),
                user: Some("ci".into()),
                password: Some("saved-s3cret".into()),
                ..Profile::default()
            },
        );
        cfg.save(&path).unwrap();
        let back = ConfigFile::load(&path).unwrap();
        assert_eq!(back, cfg);
        let shown = format!("{back:?} {back:#?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("http://ci:***@redpanda:8082"), "{shown}");
        // Broken files: an unterminated string, a wrong type, an unknown key.
        for text in [
            "[profiles.ci]\nuser = \"ci\"\npassword = \"saved-s3cret\n",
            "[profiles.ci]\npassword = 12345678\n",
            "[profiles.ci]\npasswd = \"saved-s3cret\"\n",
            "[profiles.ci]\nhttp_url = \"http://ci:url-s3cret@h\"\nread_only = \"s3cret\"\n",
        ] {
            std::fs::write(&path, text).unwrap();
            let err = ConfigFile::load(&path).unwrap_err();
            let shown = format!("{err} {err:?}");
            assert!(matches!(err, ConfigError::Parse { .. }), "{shown}");
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(!shown.contains("12345678"), "{shown}");
            assert!(shown.contains("line "), "{shown}");
        }
    }

    #[test]
    fn partitioner_names_are_checked_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpkv.toml");
        std::fs::write(&path, "[profiles.a]\npartitioner = \"consistent_random\"\n").unwrap();
        let cfg = ConfigFile::load(&path).unwrap();
        assert_eq!(cfg.profiles["a"].partitioner, Some(Partitioner::Crc32));
        std::fs::write(&path, "[profiles.a]\npartitioner = \"random\"\n").unwrap();
        let err = ConfigFile::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("no partition can be computed for a key"),
            "{err}"
        );
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = ConfigFile::load(&dir.path().join("none.toml")).unwrap();
        assert_eq!(cfg, ConfigFile::default());
        assert!(cfg.resolve(None).unwrap().is_none());
    }
}
