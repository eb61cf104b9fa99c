//! Connection flags shared by every command, resolved against profiles.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::client::{
    Client, ClientConfig, DEFAULT_BROKERS, DEFAULT_HTTP_URL, Partitioner, mask, parse_brokers,
    redact_url,
};
use crate::config::{self, ConfigFile};

/// Where and how to connect. Flags and environment win over the profile.
/// Its `Debug` masks the password (and one in the URL).
#[derive(Args, Clone, Default)]
#[command(next_help_heading = "Connection")]
pub struct ConnArgs {
    /// HTTP Proxy / kvstore URL [default: http://127.0.0.1:18082]
    // The value of RPKV_HTTP_URL is not shown in --help: it may hold a password.
    #[arg(
        long,
        global = true,
        env = "RPKV_HTTP_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub http_url: Option<String>,
    /// Kafka bootstrap brokers, comma-separated [default: 127.0.0.1:19092]
    #[arg(
        long,
        global = true,
        env = "RPKV_BROKERS",
        value_name = "HOST:PORT,..."
    )]
    pub brokers: Option<String>,
    /// Profile from the config file (default: the current profile, if any)
    #[arg(long, global = true, env = "RPKV_PROFILE", value_name = "NAME")]
    pub profile: Option<String>,
    /// PEM file of CA certificates to trust for HTTPS
    #[arg(long, global = true, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// HTTP basic auth user
    #[arg(long, global = true, env = "RPKV_USER")]
    pub user: Option<String>,
    /// HTTP basic auth password (prefer the RPKV_PASSWORD environment variable)
    #[arg(long, global = true, env = "RPKV_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Timeout of one request, in seconds
    #[arg(long, global = true, value_name = "SECONDS", default_value_t = 30.0)]
    pub timeout: f64,
    /// Profile file [default: $XDG_CONFIG_HOME/rpkv/rpkv.toml]
    #[arg(long, global = true, env = "RPKV_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Where -p -1 puts a key no partition holds yet: murmur2 (Java, kafka-python,
    /// franz-go), crc32 (librdkafka: kcat, confluent-kafka), fnv1a (Sarama), or a
    /// librdkafka name [default: the profile's, else murmur2]
    #[arg(
        long,
        global = true,
        env = "RPKV_PARTITIONER",
        value_name = "NAME",
        value_parser = check_partitioner
    )]
    pub partitioner: Option<String>,
}

/// Checks a partitioner name at parse time (a bad one is a usage error);
/// empty counts as unset, like the other settings.
fn check_partitioner(s: &str) -> Result<String, String> {
    if !s.is_empty() {
        s.parse::<Partitioner>().map_err(|e| e.to_string())?;
    }
    Ok(s.to_owned())
}

impl std::fmt::Debug for ConnArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ConnArgs {
            http_url,
            brokers,
            profile,
            tls_ca,
            user,
            password,
            timeout,
            config,
            partitioner,
        } = self;
        f.debug_struct("ConnArgs")
            .field("http_url", &http_url.as_deref().map(redact_url))
            .field("brokers", brokers)
            .field("profile", profile)
            .field("tls_ca", tls_ca)
            .field("user", user)
            .field("password", &mask(password))
            .field("timeout", timeout)
            .field("config", config)
            .field("partitioner", partitioner)
            .finish()
    }
}

impl ConnArgs {
    /// The profile file's path.
    pub fn config_path(&self) -> anyhow::Result<PathBuf> {
        match &self.config {
            Some(p) => Ok(p.clone()),
            None => Ok(config::default_path()?),
        }
    }

    /// Merges flags, environment, profile and defaults into a client config.
    pub fn client_config(&self) -> anyhow::Result<ClientConfig> {
        let path = self.config_path()?;
        let file = ConfigFile::load(&path)?;
        // An empty flag or environment variable counts as unset.
        let set = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let (name, profile) = match file.resolve(set(&self.profile).as_deref())? {
            Some((n, p)) => (Some(n), p),
            None => (None, Default::default()),
        };
        if !(self.timeout.is_finite() && self.timeout > 0.0) {
            anyhow::bail!("--timeout must be a positive number of seconds");
        }
        Ok(ClientConfig {
            http_url: set(&self.http_url)
                .or(profile.http_url)
                .unwrap_or_else(|| DEFAULT_HTTP_URL.to_owned()),
            brokers: parse_brokers(
                set(&self.brokers)
                    .or(profile.brokers)
                    .as_deref()
                    .unwrap_or(DEFAULT_BROKERS),
            ),
            tls_ca: self.tls_ca.clone().or(profile.tls_ca),
            user: set(&self.user).or(profile.user),
            password: set(&self.password).or(profile.password),
            timeout: Duration::from_secs_f64(self.timeout),
            read_only: profile.read_only,
            partitioner: self
                .partitioner()?
                .or(profile.partitioner)
                .unwrap_or_default(),
            profile: name,
            ..ClientConfig::default()
        })
    }

    /// `--partitioner` / `RPKV_PARTITIONER`, when set.
    pub fn partitioner(&self) -> anyhow::Result<Option<Partitioner>> {
        match self.partitioner.as_deref() {
            None | Some("") => Ok(None),
            Some(name) => Ok(Some(name.parse()?)),
        }
    }

    /// A client for this configuration.
    pub fn client(&self) -> anyhow::Result<Client> {
        let cfg = self.client_config()?;
        Client::new(cfg).context("setting up the client")
    }
}
