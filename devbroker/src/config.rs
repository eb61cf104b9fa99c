//! Topic names, topic configurations and the `--topic` preset syntax.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Config names and their defaults (what `DescribeConfigs` reports as `DEFAULT_CONFIG`).
pub const DEFAULTS: &[(&str, &str)] = &[
    (KVSTORE, "none"),
    (MAX_MESSAGE_BYTES, "1048576"),
    (RETENTION_MS, "604800000"),
    (RETENTION_BYTES, "-1"),
    (CLEANUP_POLICY, "delete"),
    (SEGMENT_BYTES, "134217728"),
    (SEGMENT_MS, "1209600000"),
    (RETENTION_LOCAL_TARGET_BYTES, "-1"),
    (RETENTION_LOCAL_TARGET_MS, "86400000"),
    (DELETE_RETENTION_MS, "86400000"),
    (MESSAGE_TIMESTAMP_TYPE, "CreateTime"),
    (COMPRESSION_TYPE, "producer"),
];

pub const KVSTORE: &str = "redpanda.kvstore";
pub const MAX_MESSAGE_BYTES: &str = "max.message.bytes";
pub const RETENTION_MS: &str = "retention.ms";
pub const RETENTION_BYTES: &str = "retention.bytes";
pub const CLEANUP_POLICY: &str = "cleanup.policy";
pub const SEGMENT_BYTES: &str = "segment.bytes";
pub const SEGMENT_MS: &str = "segment.ms";
pub const RETENTION_LOCAL_TARGET_BYTES: &str = "retention.local.target.bytes";
pub const RETENTION_LOCAL_TARGET_MS: &str = "retention.local.target.ms";
pub const DELETE_RETENTION_MS: &str = "delete.retention.ms";
pub const MESSAGE_TIMESTAMP_TYPE: &str = "message.timestamp.type";
pub const COMPRESSION_TYPE: &str = "compression.type";

/// Largest partition count a topic may have.
pub const MAX_PARTITIONS: i32 = 10_000;

/// A configuration problem, phrased for the person who made it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Checks a topic name the way Kafka does: 1 to 249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
/// Names reach file paths and object keys, so nothing else gets through.
pub fn validate_topic_name(name: &str) -> Result<(), ConfigError> {
    if name.is_empty() {
        return Err(ConfigError("topic name must not be empty".into()));
    }
    if name.len() > 249 {
        return Err(ConfigError(format!(
            "topic name is {} characters long; the limit is 249",
            name.len()
        )));
    }
    if name == "." || name == ".." {
        return Err(ConfigError(format!("topic name {name:?} is not allowed")));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(ConfigError(format!(
            "topic name {name:?} contains {c:?}; use only ASCII letters, digits, '.', '_' and '-'"
        )));
    }
    Ok(())
}

/// The configs set on a topic (defaults are not stored).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfig {
    pub values: BTreeMap<String, String>,
}

/// Cleanup policy, from `cleanup.policy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanupPolicy {
    pub delete: bool,
    pub compact: bool,
}

impl TopicConfig {
    /// Sets a config after checking its name and value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        validate_config(name, value)?;
        self.values
            .insert(name.to_string(), value.trim().to_string());
        Ok(())
    }

    /// Removes an explicitly set config, returning to the default.
    pub fn unset(&mut self, name: &str) -> Result<(), ConfigError> {
        default_of(name)?;
        self.values.remove(name);
        Ok(())
    }

    /// The effective value: set or default. `None` for an unknown name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .map(String::as_str)
            .or_else(|| default_of(name).ok())
    }

    fn int(&self, name: &str) -> i64 {
        // Values are validated on the way in, so the default only covers a name
        // that was never stored.
        self.get(name).and_then(|v| v.parse().ok()).unwrap_or(-1)
    }

    pub fn kvstore(&self) -> bool {
        self.get(KVSTORE) == Some("cloud")
    }

    pub fn max_message_bytes(&self) -> usize {
        usize::try_from(self.int(MAX_MESSAGE_BYTES)).unwrap_or(1_048_576)
    }

    /// `None` means keep forever.
    pub fn retention_ms(&self) -> Option<i64> {
        Some(self.int(RETENTION_MS)).filter(|v| *v >= 0)
    }

    /// `None` means no size limit.
    pub fn retention_bytes(&self) -> Option<u64> {
        u64::try_from(self.int(RETENTION_BYTES)).ok()
    }

    pub fn delete_retention_ms(&self) -> i64 {
        self.int(DELETE_RETENTION_MS).max(0)
    }

    pub fn segment_bytes(&self) -> u64 {
        u64::try_from(self.int(SEGMENT_BYTES)).unwrap_or(134_217_728)
    }

    pub fn segment_ms(&self) -> i64 {
        self.int(SEGMENT_MS)
    }

    /// How long uploaded records stay in the local log; `None` = no limit.
    pub fn retention_local_target_ms(&self) -> Option<i64> {
        Some(self.int(RETENTION_LOCAL_TARGET_MS)).filter(|v| *v >= 0)
    }

    /// How many bytes of uploaded records the local log keeps; `None` = no limit.
    pub fn retention_local_target_bytes(&self) -> Option<u64> {
        u64::try_from(self.int(RETENTION_LOCAL_TARGET_BYTES)).ok()
    }

    pub fn cleanup_policy(&self) -> CleanupPolicy {
        let policy = self.get(CLEANUP_POLICY).unwrap_or("delete");
        CleanupPolicy {
            delete: policy.split(',').any(|p| p.trim() == "delete"),
            compact: policy.split(',').any(|p| p.trim() == "compact"),
        }
    }

    /// Whether a config is set explicitly rather than defaulted.
    pub fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

/// The default of a known config, or an error naming the unknown one.
pub fn default_of(name: &str) -> Result<&'static str, ConfigError> {
    DEFAULTS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let known: Vec<&str> = DEFAULTS.iter().map(|(n, _)| *n).collect();
            ConfigError(format!(
                "unknown topic config {name:?}; known configs: {}",
                known.join(", ")
            ))
        })
}

fn validate_config(name: &str, value: &str) -> Result<(), ConfigError> {
    default_of(name)?;
    let value = value.trim();
    let bad = |what: &str| {
        Err(ConfigError(format!(
            "invalid value {value:?} for {name}: {what}"
        )))
    };
    match name {
        KVSTORE => match value {
            "cloud" | "none" => Ok(()),
            _ => bad("expected cloud or none"),
        },
        CLEANUP_POLICY => {
            let ok = !value.is_empty()
                && value
                    .split(',')
                    .all(|p| matches!(p.trim(), "delete" | "compact"));
            if ok {
                Ok(())
            } else {
                bad("expected delete, compact or compact,delete")
            }
        }
        MESSAGE_TIMESTAMP_TYPE => match value {
            "CreateTime" | "LogAppendTime" => Ok(()),
            _ => bad("expected CreateTime or LogAppendTime"),
        },
        COMPRESSION_TYPE => match value {
            "producer" | "none" | "uncompressed" | "gzip" | "snappy" | "lz4" | "zstd" => Ok(()),
            _ => bad("expected producer, none, gzip, snappy, lz4 or zstd"),
        },
        MAX_MESSAGE_BYTES | SEGMENT_BYTES => match value.parse::<i64>() {
            Ok(v) if v >= 1 && v <= i64::from(i32::MAX) => Ok(()),
            _ => bad("expected a positive number of bytes"),
        },
        _ => match value.parse::<i64>() {
            Ok(v) if v >= -1 => Ok(()),
            _ => bad("expected an integer, -1 for no limit"),
        },
    }
}

/// A `--topic NAME[:PARTITIONS[:KEY=VALUE,...]]` preset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
    pub config: TopicConfig,
}

impl FromStr for TopicSpec {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.splitn(3, ':');
        let name = parts.next().unwrap_or_default().to_string();
        validate_topic_name(&name)?;
        let partitions = match parts.next() {
            None | Some("") => 1,
            Some(p) => match p.parse::<i32>() {
                Ok(n) if (1..=MAX_PARTITIONS).contains(&n) => n,
                _ => {
                    return Err(ConfigError(format!(
                        "partition count {p:?} in topic spec {s:?} must be 1 to {MAX_PARTITIONS}"
                    )));
                }
            },
        };
        let mut config = TopicConfig::default();
        // Presets are kvstore topics unless they say otherwise.
        config.set(KVSTORE, "cloud")?;
        if let Some(kvs) = parts.next() {
            for kv in kvs.split(',').filter(|kv| !kv.is_empty()) {
                let (k, v) = kv.split_once('=').ok_or_else(|| {
                    ConfigError(format!(
                        "config {kv:?} in topic spec {s:?} is not KEY=VALUE"
                    ))
                })?;
                config.set(k.trim(), v)?;
            }
        }
        Ok(TopicSpec {
            name,
            partitions,
            config,
        })
    }
}

impl fmt::Display for TopicSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.partitions)?;
        let kvs: Vec<String> = self
            .config
            .values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if !kvs.is_empty() {
            write!(f, ":{}", kvs.join(","))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_spec_defaults_to_one_kvstore_partition() {
        let s: TopicSpec = "example-topic".parse().unwrap();
        assert_eq!(s.partitions, 1);
        assert!(s.config.kvstore());
        assert_eq!(s.config.max_message_bytes(), 1_048_576);
    }

    #[test]
    fn topic_spec_with_configs() {
        let s: TopicSpec = "plain:3:redpanda.kvstore=none,retention.ms=1000"
            .parse()
            .unwrap();
        assert_eq!(s.partitions, 3);
        assert!(!s.config.kvstore());
        assert_eq!(s.config.retention_ms(), Some(1000));
        assert_eq!(
            s.to_string(),
            "plain:3:redpanda.kvstore=none,retention.ms=1000"
        );
    }

    #[test]
    fn bad_specs_say_what_is_wrong() {
        for (spec, needle) in [
            ("", "empty"),
            ("a/b", "'/'"),
            ("..", "not allowed"),
            ("t:0", "partition count"),
            ("t:x", "partition count"),
            ("t:1:nope=1", "unknown topic config"),
            ("t:1:retention.ms", "KEY=VALUE"),
            ("t:1:redpanda.kvstore=maybe", "cloud or none"),
            ("t:1:max.message.bytes=0", "positive"),
        ] {
            let err = spec.parse::<TopicSpec>().unwrap_err().to_string();
            assert!(err.contains(needle), "{spec}: {err}");
        }
        assert!(validate_topic_name(&"a".repeat(250)).is_err());
        assert!(validate_topic_name(&"a".repeat(249)).is_ok());
    }

    #[test]
    fn cleanup_policy_parses_both() {
        let mut c = TopicConfig::default();
        assert_eq!(
            c.cleanup_policy(),
            CleanupPolicy {
                delete: true,
                compact: false
            }
        );
        c.set(CLEANUP_POLICY, "compact,delete").unwrap();
        assert_eq!(
            c.cleanup_policy(),
            CleanupPolicy {
                delete: true,
                compact: true
            }
        );
    }
}
