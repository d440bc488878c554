//! Settings: a TOML file, overridden by environment variables, overridden by flags.
//!
//! ```toml
//! data_dir = "/var/lib/paperboy"
//!
//! [harvest]
//! url = "https://oaipmh.arxiv.org/oai"
//! set = "cs"
//! metadata_prefix = "arXivRaw"
//! delay_secs = 3
//! user_agent = "paperboy (mailto:you@example.org)"
//!
//! [serve]
//! listen = "127.0.0.1:8080"
//! base_url = "https://papers.example.org"
//! search_per_minute = 300
//! subscribe_per_hour = 20
//! tick_secs = 30          # how often a worker looks at the clock and the outbox
//!
//! [mail]
//! smtp_url = "smtp://127.0.0.1:2525"
//! from = "paperboy <digest@example.org>"
//! base_url = "https://papers.example.org"
//! send_hour = 6
//! harvest = true
//! claim_lease_secs = 300  # a dead worker's claimed messages go out again after this
//! ```
//!
//! `database = "postgres://…"` (top level, or `--database`, or `PAPERBOY_DATABASE`) puts the
//! store on PostgreSQL; the data directory then holds only this node's indexes and secret.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

/// arXiv's OAI-PMH endpoint.
pub const ARXIV_OAI_URL: &str = "https://oaipmh.arxiv.org/oai";

/// The config file's contents; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the database and indexes live.
    pub data_dir: Option<PathBuf>,
    /// The database, when not the data directory's SQLite file: `postgres://…` or `sqlite:PATH`.
    pub database: Option<String>,
    /// Harvest settings.
    #[serde(default)]
    pub harvest: HarvestConfig,
    /// Web service settings.
    #[serde(default)]
    pub serve: ServeConfig,
    /// Email settings.
    #[serde(default)]
    pub mail: MailSettings,
}

/// `[mail]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub smtp_url: Option<String>,
    pub from: Option<String>,
    pub base_url: Option<String>,
    /// The hour (UTC, 0-23) at which `serve` runs the daily jobs.
    pub send_hour: Option<u32>,
    /// Whether the daily jobs start with an OAI-PMH harvest (`[harvest]` settings).
    pub harvest: Option<bool>,
    /// Seconds a worker's claim on outbox rows lasts (default 300).
    pub claim_lease_secs: Option<u64>,
}

/// `[serve]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    pub listen: Option<String>,
    pub base_url: Option<String>,
    pub search_per_minute: Option<u32>,
    pub subscribe_per_hour: Option<u32>,
    /// Seconds between the scheduler's looks at the clock and the outbox (default 30).
    pub tick_secs: Option<u64>,
}

/// `[harvest]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarvestConfig {
    pub url: Option<String>,
    pub set: Option<String>,
    pub metadata_prefix: Option<String>,
    pub delay_secs: Option<u64>,
    pub user_agent: Option<String>,
}

impl Config {
    /// Reads `explicit` (which must exist), else the default file if it exists, else defaults.
    pub fn load(explicit: Option<&Path>) -> Result<Config> {
        let path = match explicit {
            Some(p) => p.to_owned(),
            None => match dirs::config_dir().map(|d| d.join("paperboy").join("paperboy.toml")) {
                Some(p) if p.exists() => p,
                _ => return Ok(Config::default()),
            },
        };
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// The data directory: the flag or `PAPERBOY_DATA_DIR`, else the file's, else the platform's.
    pub fn data_dir(&self, flag: Option<PathBuf>) -> Result<PathBuf> {
        flag.or_else(|| self.data_dir.clone())
            .or_else(|| dirs::data_dir().map(|d| d.join("paperboy")))
            .context("no data directory: pass --data-dir or set PAPERBOY_DATA_DIR")
    }
}
