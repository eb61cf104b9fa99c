//! Connection flags shared by every command, resolved against profiles.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::client::{
    Client, ClientConfig, DEFAULT_BROKERS, DEFAULT_HTTP_URL, DEFAULT_TIMEOUT, Partitioner,
    SaslMechanism, mask, parse_brokers, redact_url,
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
    /// PEM file of CA certificates to trust for HTTPS and Kafka TLS
    #[arg(long, global = true, env = "RPKV_TLS_CA", value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// Speak TLS to the Kafka brokers (rpk's tls.enabled; SSL, or SASL_SSL with
    /// --sasl-mechanism); --kafka-tls=false turns a profile's off [default: the
    /// profile's, else off unless --tls-cert is given]
    #[arg(
        long,
        global = true,
        env = "RPKV_KAFKA_TLS",
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true"
    )]
    pub kafka_tls: Option<bool>,
    /// PEM client certificate for Kafka mTLS (needs --tls-key; turns Kafka TLS on)
    #[arg(long, global = true, env = "RPKV_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert
    #[arg(long, global = true, env = "RPKV_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// User of HTTP basic auth and Kafka SASL
    #[arg(long, global = true, env = "RPKV_USER")]
    pub user: Option<String>,
    /// Password of HTTP basic auth and Kafka SASL (prefer the RPKV_PASSWORD environment variable)
    #[arg(long, global = true, env = "RPKV_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Authenticate Kafka connections with SASL as --user: PLAIN, SCRAM-SHA-256
    /// or SCRAM-SHA-512 (rpk's sasl.mechanism) [default: the profile's, else none]
    #[arg(
        long,
        global = true,
        env = "RPKV_SASL_MECHANISM",
        value_name = "MECHANISM",
        value_parser = check_sasl_mechanism
    )]
    pub sasl_mechanism: Option<String>,
    /// Timeout of one request: seconds (2.5) or a duration (30s, 1m) [default:
    /// 30s]. In `kv watch` it is how long to watch, and requests keep the default.
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
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
    /// rpk's -X options: brokers, tls.enabled, tls.ca, tls.cert, tls.key,
    /// sasl.mechanism, user, pass (repeatable; the flags above win)
    #[arg(short = 'X', global = true, value_name = "KEY=VALUE", value_parser = check_rpk_option)]
    pub rpk_options: Vec<String>,
}

/// The `-X` keys rpkv knows, as rpk spells them.
const RPK_KEYS: &str =
    "brokers, tls.enabled, tls.ca, tls.cert, tls.key, sasl.mechanism, user, pass";

/// Checks one `-X KEY=VALUE` at parse time.
fn check_rpk_option(s: &str) -> Result<String, String> {
    let Some((key, value)) = s.split_once('=') else {
        return Err(format!("expected KEY=VALUE (keys: {RPK_KEYS})"));
    };
    match key {
        "brokers" | "tls.ca" | "tls.cert" | "tls.key" | "user" | "pass" => {}
        "tls.enabled" => {
            value
                .parse::<bool>()
                .map_err(|_| format!("tls.enabled takes true or false, not {value:?}"))?;
        }
        "sasl.mechanism" => {
            check_sasl_mechanism(value)?;
        }
        other => {
            return Err(format!("unknown -X key {other:?} (rpkv knows {RPK_KEYS})"));
        }
    }
    Ok(s.to_owned())
}

/// Checks a partitioner name at parse time (a bad one is a usage error);
/// empty counts as unset, like the other settings.
fn check_partitioner(s: &str) -> Result<String, String> {
    if !s.is_empty() {
        s.parse::<Partitioner>().map_err(|e| e.to_string())?;
    }
    Ok(s.to_owned())
}

/// Checks a SASL mechanism at parse time (a bad one is a usage error);
/// empty counts as unset, like the other settings.
fn check_sasl_mechanism(s: &str) -> Result<String, String> {
    if !s.is_empty() {
        s.parse::<SaslMechanism>().map_err(|e| e.to_string())?;
    }
    Ok(s.to_owned())
}

/// `--timeout`: a positive number of seconds, or a duration such as `30s` or
/// `1m 30s` (humantime).
fn parse_timeout(s: &str) -> Result<Duration, String> {
    let d = match s.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 => Duration::try_from_secs_f64(secs)
            .map_err(|e| format!("{s:?} is not a number of seconds: {e}"))?,
        Ok(_) => return Err("must be a positive number of seconds".to_owned()),
        Err(_) => humantime::parse_duration(s).map_err(|e| {
            format!("{s:?}: {e} (give seconds, as in 2.5, or a duration, as in 30s)")
        })?,
    };
    if d.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(d)
}

impl std::fmt::Debug for ConnArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ConnArgs {
            http_url,
            brokers,
            profile,
            tls_ca,
            kafka_tls,
            tls_cert,
            tls_key,
            user,
            password,
            sasl_mechanism,
            timeout,
            config,
            partitioner,
            rpk_options,
        } = self;
        f.debug_struct("ConnArgs")
            .field("http_url", &http_url.as_deref().map(redact_url))
            .field("brokers", brokers)
            .field("profile", profile)
            .field("tls_ca", tls_ca)
            .field("kafka_tls", kafka_tls)
            .field("tls_cert", tls_cert)
            .field("tls_key", tls_key)
            .field("user", user)
            .field("password", &mask(password))
            .field("sasl_mechanism", sasl_mechanism)
            .field("timeout", timeout)
            .field("config", config)
            .field("partitioner", partitioner)
            .field(
                "rpk_options",
                &rpk_options
                    .iter()
                    .map(|o| match o.split_once('=') {
                        Some(("pass", _)) => format!("pass={}", crate::client::MASK),
                        _ => o.clone(),
                    })
                    .collect::<Vec<_>>(),
            )
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

    /// These settings with rpk's `-X` options folded in: each fills its flag
    /// when the flag (or its environment variable) is unset.
    pub fn with_rpk_options(&self) -> ConnArgs {
        let mut out = self.clone();
        out.rpk_options.clear();
        let unset = |v: &Option<String>| v.as_deref().is_none_or(str::is_empty);
        for option in &self.rpk_options {
            let Some((key, value)) = option.split_once('=') else {
                continue; // checked at parse time
            };
            let value = value.to_owned();
            match key {
                "brokers" if unset(&out.brokers) => out.brokers = Some(value),
                "user" if unset(&out.user) => out.user = Some(value),
                "pass" if unset(&out.password) => out.password = Some(value),
                "sasl.mechanism" if unset(&out.sasl_mechanism) => out.sasl_mechanism = Some(value),
                "tls.enabled" if out.kafka_tls.is_none() => out.kafka_tls = value.parse().ok(),
                "tls.ca" if out.tls_ca.is_none() => out.tls_ca = Some(value.into()),
                "tls.cert" if out.tls_cert.is_none() => out.tls_cert = Some(value.into()),
                "tls.key" if out.tls_key.is_none() => out.tls_key = Some(value.into()),
                _ => {}
            }
        }
        out
    }

    /// Merges flags, `-X` options, environment, profile and defaults into a
    /// client config.
    pub fn client_config(&self) -> anyhow::Result<ClientConfig> {
        if !self.rpk_options.is_empty() {
            return self.with_rpk_options().client_config();
        }
        let path = self.config_path()?;
        let file = ConfigFile::load(&path)?;
        // An empty flag or environment variable counts as unset.
        let set = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        let path = |v: &Option<PathBuf>| v.clone().filter(|p| !p.as_os_str().is_empty());
        let (name, profile) = match file.resolve(set(&self.profile).as_deref())? {
            Some((n, p)) => (Some(n), p),
            None => (None, Default::default()),
        };
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
            tls_ca: path(&self.tls_ca).or(profile.tls_ca),
            kafka_tls: self.kafka_tls.unwrap_or(profile.kafka_tls),
            tls_cert: path(&self.tls_cert).or(profile.tls_cert),
            tls_key: path(&self.tls_key).or(profile.tls_key),
            user: set(&self.user).or(profile.user),
            password: set(&self.password).or(profile.password),
            sasl_mechanism: self.sasl_mechanism()?.or(profile.sasl_mechanism),
            timeout: self.timeout.unwrap_or(DEFAULT_TIMEOUT),
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

    /// `--sasl-mechanism` / `RPKV_SASL_MECHANISM`, when set.
    pub fn sasl_mechanism(&self) -> anyhow::Result<Option<SaslMechanism>> {
        match self.sasl_mechanism.as_deref() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<super::super::Cli, clap::Error> {
        let mut all = vec!["rpkv"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["topic", "list"]);
        super::super::Cli::try_parse_from(all)
    }

    #[test]
    fn rpk_options_fill_unset_flags() {
        let cli = parse(&[
            "-X",
            "brokers=seed:9092",
            "-X",
            "tls.enabled=true",
            "-X",
            "sasl.mechanism=scram-sha-512",
            "-X",
            "user=alice",
            "-X",
            "pass=x-s3cret",
            "-X",
            "tls.ca=ca.pem",
            "--user",
            "bob",
        ])
        .unwrap();
        let shown = format!("{:?}", cli.conn);
        assert!(!shown.contains("s3cret"), "{shown}");
        let conn = cli.conn.with_rpk_options();
        assert_eq!(conn.brokers.as_deref(), Some("seed:9092"));
        assert_eq!(conn.kafka_tls, Some(true));
        assert_eq!(
            conn.sasl_mechanism().unwrap(),
            Some(SaslMechanism::ScramSha512)
        );
        assert_eq!(conn.user.as_deref(), Some("bob"), "the flag wins");
        assert_eq!(conn.password.as_deref(), Some("x-s3cret"));
        assert_eq!(conn.tls_ca, Some(PathBuf::from("ca.pem")));
    }

    #[test]
    fn bad_rpk_options_are_usage_errors() {
        for bad in [
            "tls.enabled=yes",
            "sasl.mechanism=GSSAPI",
            "nokey",
            "admin.hosts=x",
        ] {
            let err = parse(&["-X", bad])
                .err()
                .unwrap_or_else(|| panic!("{bad} parsed"));
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn kafka_tls_takes_an_optional_value() {
        let conn = |args: &[&str]| parse(args).unwrap().conn.kafka_tls;
        assert_eq!(conn(&[]), None);
        assert_eq!(conn(&["--kafka-tls"]), Some(true));
        assert_eq!(conn(&["--kafka-tls=false"]), Some(false));
    }

    #[test]
    fn timeout_is_seconds_or_a_duration() {
        let timeout = |args: &[&str]| parse(args).map(|c| c.conn.timeout);
        assert_eq!(timeout(&[]).unwrap(), None);
        let secs = Duration::from_secs_f64;
        assert_eq!(timeout(&["--timeout", "2.5"]).unwrap(), Some(secs(2.5)));
        assert_eq!(timeout(&["--timeout", "1m 30s"]).unwrap(), Some(secs(90.0)));
        assert_eq!(timeout(&["--timeout", "250ms"]).unwrap(), Some(secs(0.25)));
        for bad in ["0", "-1", "0s", "nan", "soon"] {
            let err = timeout(&["--timeout", bad]).expect_err(bad);
            assert_eq!(err.exit_code(), 2, "{bad}");
        }
    }
}
