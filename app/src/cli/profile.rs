//! `rpkv profile create|use|list|delete`.

use anyhow::{Result, bail};
use clap::Subcommand;
use serde::Serialize;

use super::conn::ConnArgs;
use super::{print_json, print_text};
use crate::client::{ClientConfig, redact_url};
use crate::config::{ConfigFile, Profile};
use crate::format::{OutputFormat, Table};

#[derive(Subcommand, Debug)]
pub enum ProfileCommand {
    /// Create (or replace) a profile from the connection flags given.
    #[command(after_help = "Examples:
  rpkv profile create local --http-url http://127.0.0.1:18082 --brokers 127.0.0.1:19092 --use
  rpkv profile create prod --http-url https://redpanda:8082 --tls-ca ca.pem --user alice --read-only
  RPKV_PASSWORD=secret rpkv profile create ci --user ci --save-password
  rpkv profile create librdkafka --partitioner crc32   # keys produced by kcat / confluent-kafka
  rpkv profile create cloud --brokers seed.example.com:9092 --http-url https://seed.example.com:30082 \
      --kafka-tls --sasl-mechanism SCRAM-SHA-256 --user alice --use   # SASL_SSL, like Redpanda Cloud

The password is written to the file (mode 0600) only with --save-password; otherwise
give it with --password or RPKV_PASSWORD when you use the profile.")]
    Create {
        name: String,
        /// Refuse every write through this profile.
        #[arg(long)]
        read_only: bool,
        /// Store the password (--password / RPKV_PASSWORD) in the file.
        #[arg(long)]
        save_password: bool,
        /// Make it the current profile.
        #[arg(long = "use")]
        make_current: bool,
    },
    /// Make a profile the current one.
    #[command(after_help = "Examples:\n  rpkv profile use prod")]
    Use { name: String },
    /// List profiles (the current one is marked).
    #[command(
        visible_alias = "ls",
        after_help = "Examples:\n  rpkv profile list --format json"
    )]
    List {
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Delete a profile.
    #[command(after_help = "Examples:\n  rpkv profile delete prod")]
    Delete { name: String },
}

#[derive(Serialize)]
struct ProfileRow {
    name: String,
    current: bool,
    http_url: Option<String>,
    brokers: Option<String>,
    tls_ca: Option<String>,
    /// PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    kafka_security: &'static str,
    kafka_tls: bool,
    tls_cert: Option<String>,
    tls_key: Option<String>,
    sasl_mechanism: Option<String>,
    user: Option<String>,
    password_saved: bool,
    read_only: bool,
    partitioner: Option<String>,
}

pub fn run(conn: &ConnArgs, cmd: ProfileCommand) -> Result<()> {
    let conn = &conn.with_rpk_options();
    let path = conn.config_path()?;
    let mut file = ConfigFile::load(&path)?;
    match cmd {
        ProfileCommand::Create {
            name,
            read_only,
            save_password,
            make_current,
        } => {
            if name.trim().is_empty() {
                bail!("a profile needs a name");
            }
            if save_password && conn.password.is_none() {
                bail!("--save-password needs a password (--password or RPKV_PASSWORD)");
            }
            let sasl_mechanism = conn.sasl_mechanism()?;
            if let Some(m) = sasl_mechanism
                && conn.user.as_deref().is_none_or(str::is_empty)
            {
                bail!("--sasl-mechanism {m} needs the user to authenticate as: pass --user");
            }
            if conn.tls_cert.is_some() != conn.tls_key.is_some() {
                bail!("a Kafka client certificate needs both --tls-cert and --tls-key");
            }
            let profile = Profile {
                http_url: conn.http_url.clone(),
                brokers: conn.brokers.clone(),
                tls_ca: conn.tls_ca.clone(),
                kafka_tls: conn.kafka_tls.unwrap_or(false),
                tls_cert: conn.tls_cert.clone(),
                tls_key: conn.tls_key.clone(),
                sasl_mechanism,
                user: conn.user.clone(),
                password: if save_password {
                    conn.password.clone()
                } else {
                    None
                },
                read_only,
                partitioner: conn.partitioner()?,
            };
            file.profiles.insert(name.clone(), profile);
            if make_current || file.current.is_none() {
                file.current = Some(name.clone());
            }
            file.save(&path)?;
            print_text(&format!("created profile {name:?} in {}\n", path.display()))
        }
        ProfileCommand::Use { name } => {
            if !file.profiles.contains_key(&name) {
                bail!("no profile named {name:?} in {}", path.display());
            }
            file.current = Some(name.clone());
            file.save(&path)?;
            print_text(&format!("now using profile {name:?}\n"))
        }
        ProfileCommand::Delete { name } => {
            if file.profiles.remove(&name).is_none() {
                bail!("no profile named {name:?} in {}", path.display());
            }
            if file.current.as_deref() == Some(name.as_str()) {
                file.current = None;
            }
            file.save(&path)?;
            print_text(&format!("deleted profile {name:?}\n"))
        }
        ProfileCommand::List { format } => {
            let rows: Vec<ProfileRow> = file
                .profiles
                .iter()
                .map(|(n, p)| ProfileRow {
                    name: n.clone(),
                    current: file.current.as_deref() == Some(n.as_str()),
                    // A password in the URL is never shown.
                    http_url: p.http_url.as_deref().map(redact_url),
                    brokers: p.brokers.clone(),
                    tls_ca: p.tls_ca.as_ref().map(|c| c.display().to_string()),
                    kafka_security: ClientConfig {
                        kafka_tls: p.kafka_tls,
                        tls_cert: p.tls_cert.clone(),
                        tls_key: p.tls_key.clone(),
                        sasl_mechanism: p.sasl_mechanism,
                        ..ClientConfig::default()
                    }
                    .kafka_security_protocol(),
                    kafka_tls: p.kafka_tls,
                    tls_cert: p.tls_cert.as_ref().map(|c| c.display().to_string()),
                    tls_key: p.tls_key.as_ref().map(|c| c.display().to_string()),
                    sasl_mechanism: p.sasl_mechanism.map(|m| m.name().to_owned()),
                    user: p.user.clone(),
                    password_saved: p.password.is_some(),
                    read_only: p.read_only,
                    partitioner: p.partitioner.map(|p| p.name().to_owned()),
                })
                .collect();
            match format {
                OutputFormat::Json => print_json(&rows),
                OutputFormat::Text => {
                    let mut t = Table::new([
                        "NAME",
                        "CURRENT",
                        "HTTP-URL",
                        "BROKERS",
                        "KAFKA",
                        "USER",
                        "READ-ONLY",
                        "PARTITIONER",
                    ]);
                    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
                    for r in &rows {
                        t.row([
                            r.name.clone(),
                            if r.current { "*".into() } else { String::new() },
                            dash(&r.http_url),
                            dash(&r.brokers),
                            match &r.sasl_mechanism {
                                Some(m) => format!("{} {m}", r.kafka_security),
                                None => r.kafka_security.to_owned(),
                            },
                            dash(&r.user),
                            r.read_only.to_string(),
                            dash(&r.partitioner),
                        ]);
                    }
                    print_text(&t.render())
                }
            }
        }
    }
}
