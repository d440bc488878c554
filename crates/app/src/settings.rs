//! Settings, decided once: [`Settings::resolve`] layers the command line over the environment
//! over the config file over the defaults, and every other module reads the result. Nothing
//! below this module reads an environment variable or joins a data-directory path itself.
//!
//! The config file (TOML; every key optional):
//!
//! ```toml
//! data_dir = "/var/lib/paperboy"
//! database = "postgres://paperboy@db/paperboy"   # default: paperboy.db in the data directory
//!
//! [harvest]
//! url = "https://oaipmh.arxiv.org/oai"
//! set = "cs"
//! metadata_prefix = "arXivRaw"
//! delay_secs = 3
//! user_agent = "paperboy (mailto:you@example.org)"
//! api_url = "https://export.arxiv.org/api"   # set to let library imports fetch papers by arXiv id
//!
//! [serve]
//! listen = "127.0.0.1:8080"
//! base_url = "https://papers.example.org"
//! search_per_minute = 300
//! subscribe_per_hour = 20
//! tick_secs = 30          # how often a worker looks at the clock and the outbox
//! trusted_proxies = ["127.0.0.1", "10.0.0.0/8"]   # whose X-Forwarded-For/Forwarded name the client
//! search_queue = 64       # searches in flight past which search answers 503 (Retry-After: 1)
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
//! With `database = "postgres://…"` (or `--database`, or `PAPERBOY_DATABASE`) the data directory
//! holds only this node's indexes and secret.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use paperboy_digest::{MailConfig, SmtpMailer};
use paperboy_engine::harvest::HarvestOptions;
use paperboy_engine::search::IndexDirs;
use paperboy_engine::Location;
use paperboy_web::proxy::TrustedProxies;
use paperboy_web::RateLimits;
use serde::Deserialize;

use crate::cli::{Cli, Command, Role};

/// arXiv's OAI-PMH endpoint.
pub const ARXIV_OAI_URL: &str = "https://oaipmh.arxiv.org/oai";
/// Default listen address: this machine only.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default sender of emails.
const DEFAULT_FROM: &str = "paperboy <paperboy@localhost>";
/// How often a worker looks at the clock and the outbox (`[serve] tick_secs`).
const DEFAULT_TICK: Duration = Duration::from_secs(30);
/// The hour (UTC) of the daily jobs (`[mail] send_hour`).
const DEFAULT_SEND_HOUR: u32 = 6;

/// The config file's contents; every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where the database and indexes live.
    pub data_dir: Option<PathBuf>,
    /// The database, when not the data directory's SQLite file: `postgres://…` or `sqlite:PATH`.
    pub database: Option<String>,
    /// `[harvest]`
    #[serde(default)]
    pub harvest: HarvestSection,
    /// `[serve]`
    #[serde(default)]
    pub serve: ServeSection,
    /// `[mail]`
    #[serde(default)]
    pub mail: MailSection,
    /// `[alerts]`
    #[serde(default)]
    pub alerts: AlertsSection,
}

/// `[alerts]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsSection {
    /// Let alerts call webhooks on loopback and private addresses (a home network's ntfy).
    pub allow_private_webhooks: Option<bool>,
}

/// `[mail]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSection {
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
pub struct ServeSection {
    pub listen: Option<String>,
    pub base_url: Option<String>,
    pub search_per_minute: Option<u32>,
    pub subscribe_per_hour: Option<u32>,
    /// Seconds between the scheduler's looks at the clock and the outbox (default 30).
    pub tick_secs: Option<u64>,
    /// Reverse proxies (addresses or CIDR networks) whose `Forwarded`/`X-Forwarded-For` name
    /// the client.
    pub trusted_proxies: Option<Vec<String>>,
    /// Searches waiting or running at once past which search answers 503.
    pub search_queue: Option<usize>,
}

/// `[harvest]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HarvestSection {
    pub url: Option<String>,
    pub set: Option<String>,
    pub metadata_prefix: Option<String>,
    pub delay_secs: Option<u64>,
    pub user_agent: Option<String>,
    /// The arXiv API that library imports may fetch unknown arXiv ids from (unset: no fetching).
    pub api_url: Option<String>,
}

impl ConfigFile {
    /// Reads `explicit` (which must exist), else `default` if it exists, else nothing.
    pub fn load(explicit: Option<&Path>, default: Option<PathBuf>) -> Result<ConfigFile> {
        let path = match (explicit, default) {
            (Some(p), _) => p.to_owned(),
            (None, Some(p)) if p.exists() => p,
            _ => return Ok(ConfigFile::default()),
        };
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// The platform's default config file (`paperboy/paperboy.toml` in its config directory).
    pub fn default_path() -> Option<PathBuf> {
        dirs::config_dir().map(|d| d.join("paperboy").join("paperboy.toml"))
    }
}

/// The data directory and every path in it. Nothing else joins paths under it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir(PathBuf);

impl DataDir {
    /// The data directory at `root` (created on first use, see [`DataDir::create`]).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir(root.into())
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.0
    }

    /// Creates the directory if it is missing.
    pub fn create(&self) -> Result<()> {
        std::fs::create_dir_all(&self.0).with_context(|| format!("cannot create data directory {}", self.0.display()))
    }

    /// The embedded database (used when no other database is named).
    pub fn database(&self) -> PathBuf {
        self.0.join("paperboy.db")
    }

    /// This node's search indexes: the full-text index and the vector graph.
    pub fn indexes(&self) -> IndexDirs {
        IndexDirs::under(&self.0.join("index"))
    }

    /// The CSRF key (32 bytes, kept so forms survive a restart).
    pub fn secret(&self) -> PathBuf {
        self.0.join("secret")
    }
}

/// What `serve` does, resolved.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Address to listen on (`127.0.0.1:0` picks a free port).
    pub listen: String,
    /// Load the demo corpus into an empty store.
    pub demo: bool,
    /// What this process does.
    pub role: Role,
    /// Per-client request rates.
    pub rate_limits: RateLimits,
    /// How often a worker looks at the clock and the outbox.
    pub tick: Duration,
    /// Reverse proxies whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
    /// Searches in flight past which search answers 503.
    pub search_queue: usize,
}

/// Email and the daily jobs, resolved.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Links and sender.
    pub cfg: MailConfig,
    /// Whether the base URL was given (flag, environment or file) rather than assumed.
    pub base_url_given: bool,
    /// The SMTP server, if any.
    pub smtp_url: Option<String>,
    /// The hour (UTC) of the daily jobs.
    pub send_hour: u32,
    /// Whether the daily jobs start with an OAI-PMH harvest.
    pub harvest: bool,
    /// How long a worker's claim on outbox rows lasts.
    pub claim_lease: chrono::Duration,
}

impl MailSettings {
    /// The SMTP client these settings describe; an error that says how to configure one when
    /// there is no server.
    pub fn mailer(&self) -> Result<SmtpMailer> {
        let url = self.smtp_url.as_deref().context("no SMTP server: pass --smtp-url or set PAPERBOY_SMTP_URL (smtp://host:port, smtps://user:pass@host)")?;
        Ok(SmtpMailer::new(url, &self.cfg.from)?)
    }
}

/// Every setting, decided once.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Machine-readable output.
    pub json: bool,
    /// Where indexes, the secret and (by default) the database live.
    pub data: DataDir,
    /// The database.
    pub database: Location,
    /// `serve`.
    pub serve: ServeSettings,
    /// Email and the daily jobs.
    pub mail: MailSettings,
    /// The OAI-PMH harvest (the `harvest` command and the daily jobs).
    pub harvest: HarvestOptions,
    /// The arXiv API for fetching papers by id (library imports), when set.
    pub arxiv_api: Option<HarvestOptions>,
    /// Whether alerts may call webhooks on loopback and private addresses.
    pub allow_private_webhooks: bool,
}

/// The process environment as `resolve` reads it: a variable's value, if set and not empty.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The real process environment.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Settings {
    /// Decides every setting: the command line (clap has already read the variables it
    /// declares, e.g. `PAPERBOY_DATA_DIR`), then `env` for the rest (`PAPERBOY_BASE_URL`,
    /// `PAPERBOY_FROM`, `PAPERBOY_HARVEST_URL`, `PAPERBOY_HARVEST_SET`), then the file, then
    /// the defaults. `platform_data_dir` is the fallback data directory.
    pub fn resolve(cli: &Cli, file: ConfigFile, env: Env<'_>, platform_data_dir: Option<PathBuf>) -> Result<Settings> {
        let root = cli
            .data_dir
            .clone()
            .or(file.data_dir)
            .or(platform_data_dir)
            .context("no data directory: pass --data-dir or set PAPERBOY_DATA_DIR")?;
        let data = DataDir::new(root);
        let database = match cli.database.clone().or(file.database) {
            Some(url) => Location::parse(&url)?,
            None => Location::Sqlite(data.database()),
        };

        let (mut listen, mut flag_base_url, mut demo, mut search_rate, mut role) = (None, None, true, None, Role::All);
        let (mut harvest_url, mut harvest_set, mut harvest_prefix) = (None, None, None);
        match &cli.command {
            Command::Serve { listen: l, base_url, no_demo, search_rate: rate, role: r } => {
                (listen, flag_base_url, demo, search_rate, role) = (l.clone(), base_url.clone(), !no_demo, *rate, *r);
            }
            Command::Harvest { url, set, metadata_prefix, .. } => {
                (harvest_url, harvest_set, harvest_prefix) = (url.clone(), set.clone(), metadata_prefix.clone());
            }
            _ => {}
        }

        let defaults = RateLimits::default();
        let serve = ServeSettings {
            listen: listen.or(file.serve.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_owned()),
            demo,
            role,
            rate_limits: RateLimits {
                search_per_minute: search_rate.or(file.serve.search_per_minute).unwrap_or(defaults.search_per_minute),
                subscribe_per_hour: file.serve.subscribe_per_hour.unwrap_or(defaults.subscribe_per_hour),
            },
            tick: file.serve.tick_secs.map_or(DEFAULT_TICK, Duration::from_secs),
            trusted_proxies: match env("PAPERBOY_TRUSTED_PROXIES") {
                Some(list) => TrustedProxies::parse(list.split(',')),
                None => TrustedProxies::parse(file.serve.trusted_proxies.iter().flatten().map(String::as_str)),
            }
            .map_err(anyhow::Error::msg)?,
            search_queue: file.serve.search_queue.unwrap_or(paperboy_web::SEARCH_QUEUE).max(1),
        };

        let given_base_url = flag_base_url.or_else(|| env("PAPERBOY_BASE_URL")).or(file.serve.base_url).or(file.mail.base_url);
        let mail = MailSettings {
            base_url_given: given_base_url.is_some(),
            cfg: MailConfig {
                base_url: given_base_url.unwrap_or_else(|| format!("http://{}", serve.listen)).trim_end_matches('/').to_owned(),
                from: env("PAPERBOY_FROM").or(file.mail.from).unwrap_or_else(|| DEFAULT_FROM.to_owned()),
            },
            smtp_url: cli.smtp_url.clone().or(file.mail.smtp_url),
            send_hour: file.mail.send_hour.unwrap_or(DEFAULT_SEND_HOUR).min(23),
            harvest: file.mail.harvest.unwrap_or(false),
            claim_lease: file.mail.claim_lease_secs.map_or(paperboy_engine::store::CLAIM_LEASE, |s| chrono::Duration::seconds(s as i64)),
        };

        let h = file.harvest;
        let mut harvest = HarvestOptions::new(harvest_url.or_else(|| env("PAPERBOY_HARVEST_URL")).or(h.url).unwrap_or_else(|| ARXIV_OAI_URL.to_owned()));
        harvest.set = harvest_set.or_else(|| env("PAPERBOY_HARVEST_SET")).or(h.set);
        if let Some(p) = harvest_prefix.or(h.metadata_prefix) {
            harvest.metadata_prefix = p;
        }
        if let Some(secs) = h.delay_secs {
            harvest.delay = Duration::from_secs(secs);
        }
        if let Some(ua) = h.user_agent {
            harvest.user_agent = ua;
        }
        if let Command::Harvest { from, until, .. } = &cli.command {
            harvest.from = *from;
            harvest.until = *until;
        }

        // A reader waits on the import page: short timeouts, one retry.
        let arxiv_api = env("PAPERBOY_ARXIV_API_URL").or(h.api_url).map(|url| HarvestOptions {
            base_url: url,
            timeout: Duration::from_secs(20),
            max_retries: 1,
            max_retry_wait: Duration::from_secs(5),
            ..harvest.clone()
        });
        let allow_private_webhooks = file.alerts.allow_private_webhooks.unwrap_or(false);
        Ok(Settings { json: cli.json, data, database, serve, mail, harvest, arxiv_api, allow_private_webhooks })
    }

    /// A new connection to the store (the data directory is created first).
    pub fn open_store(&self) -> Result<Box<dyn paperboy_engine::Store>> {
        self.data.create()?;
        self.database.open().with_context(|| format!("cannot open database {}", self.database.display()))
    }

    /// Settings for a `serve` on `data_dir` with nothing but defaults, whatever this process's
    /// environment says (tests start from here).
    pub fn for_serve(data_dir: impl Into<PathBuf>) -> Settings {
        let serve = Command::Serve { listen: None, base_url: None, no_demo: false, search_rate: None, role: Role::All };
        let cli = Cli { data_dir: Some(data_dir.into()), database: None, config: None, json: false, smtp_url: None, verbose: false, command: serve };
        Settings::resolve(&cli, ConfigFile::default(), &|_| None, None).expect("defaults resolve")
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn resolve(args: &[&str], file: &str, env: &[(&str, &str)]) -> Settings {
        let cli = Cli::parse_from(args);
        let file: ConfigFile = toml::from_str(file).unwrap();
        let env = |name: &str| env.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string());
        Settings::resolve(&cli, file, &env, Some("/platform/paperboy".into())).unwrap()
    }

    #[test]
    fn flags_win_over_the_environment_over_the_file_over_defaults() {
        let file = "data_dir = \"/file\"\n[serve]\nbase_url = \"https://file.example\"\nsearch_per_minute = 7\n[mail]\nfrom = \"file <f@example.org>\"\n";
        let s = resolve(&["paperboy", "serve", "--base-url", "https://flag.example/"], file, &[("PAPERBOY_BASE_URL", "https://env.example")]);
        assert_eq!(s.mail.cfg.base_url, "https://flag.example");
        assert_eq!(s.data.root(), Path::new("/file"));
        assert_eq!(s.serve.rate_limits.search_per_minute, 7);
        assert_eq!(s.serve.trusted_proxies, TrustedProxies::default(), "no proxy is trusted unless named");
        assert_eq!(s.mail.cfg.from, "file <f@example.org>");
        let s = resolve(&["paperboy", "serve"], file, &[("PAPERBOY_BASE_URL", "https://env.example"), ("PAPERBOY_FROM", "env <e@example.org>")]);
        assert_eq!((s.mail.cfg.base_url.as_str(), s.mail.cfg.from.as_str()), ("https://env.example", "env <e@example.org>"));
        let s = resolve(&["paperboy", "--data-dir", "/flag", "serve", "--search-rate", "0"], file, &[]);
        assert_eq!((s.data.root(), s.serve.rate_limits.search_per_minute), (Path::new("/flag"), 0));
        assert_eq!(s.mail.cfg.base_url, "https://file.example");
    }

    #[test]
    fn defaults_are_decided_here() {
        let s = resolve(&["paperboy", "stats"], "", &[]);
        assert_eq!(s.data.root(), Path::new("/platform/paperboy"));
        assert_eq!(s.database, Location::Sqlite("/platform/paperboy/paperboy.db".into()));
        assert_eq!(s.data.indexes().fulltext, Path::new("/platform/paperboy/index/fulltext"));
        assert_eq!(s.data.indexes().hnsw, Path::new("/platform/paperboy/index/hnsw"));
        assert_eq!(s.data.secret(), Path::new("/platform/paperboy/secret"));
        assert_eq!(s.serve.listen, DEFAULT_LISTEN);
        assert!(!s.mail.base_url_given, "assumed, so a digest run can say so");
        assert_eq!(s.mail.cfg.base_url, "http://127.0.0.1:8080");
        assert_eq!((s.mail.send_hour, s.serve.tick), (DEFAULT_SEND_HOUR, DEFAULT_TICK));
        assert_eq!(s.harvest.base_url, ARXIV_OAI_URL);
    }

    #[test]
    fn the_harvest_takes_flags_then_environment_then_file() {
        let file = "[harvest]\nurl = \"http://file/oai\"\nset = \"math\"\ndelay_secs = 0\n";
        let s = resolve(&["paperboy", "harvest", "--set", "cs"], file, &[("PAPERBOY_HARVEST_URL", "http://env/oai")]);
        assert_eq!((s.harvest.base_url.as_str(), s.harvest.set.as_deref()), ("http://env/oai", Some("cs")));
        // serve's daily harvest reads the same settings.
        let s = resolve(&["paperboy", "serve"], file, &[]);
        assert_eq!((s.harvest.base_url.as_str(), s.harvest.set.as_deref(), s.harvest.delay), ("http://file/oai", Some("math"), Duration::ZERO));
        assert!(s.arxiv_api.is_none(), "imports stay offline unless an arXiv API is set");
        let s = resolve(&["paperboy", "serve"], "[harvest]\napi_url = \"http://file/api\"\n", &[]);
        let api = s.arxiv_api.expect("the arXiv API");
        assert_eq!((api.base_url.as_str(), api.timeout, api.max_retries), ("http://file/api", Duration::from_secs(20), 1));
    }

    #[test]
    fn a_database_url_replaces_the_embedded_file() {
        let s = resolve(&["paperboy", "--database", "postgres://u:p@h/db", "stats"], "", &[]);
        assert_eq!(s.database, Location::Postgres("postgres://u:p@h/db".into()));
        assert!(Settings::resolve(&Cli::parse_from(["paperboy", "--database", "mysql://h/db", "stats"]), ConfigFile::default(), &|_| None, None).is_err());
    }

    #[test]
    fn trusted_proxies_come_from_the_file_or_the_environment_and_bad_ones_are_named() {
        let file = "[serve]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n";
        let s = resolve(&["paperboy", "serve"], file, &[]);
        assert_eq!(s.serve.trusted_proxies, TrustedProxies::parse(["127.0.0.1", "10.0.0.0/8"]).unwrap());
        let s = resolve(&["paperboy", "serve"], file, &[("PAPERBOY_TRUSTED_PROXIES", "::1, 192.168.0.0/16")]);
        assert_eq!(s.serve.trusted_proxies, TrustedProxies::parse(["::1", "192.168.0.0/16"]).unwrap());
        let cli = Cli::parse_from(["paperboy", "serve"]);
        let bad: ConfigFile = toml::from_str("[serve]\ntrusted_proxies = [\"proxy.lan\"]\n").unwrap();
        let err = Settings::resolve(&cli, bad, &|_: &str| None, Some("/platform/paperboy".into())).unwrap_err().to_string();
        assert!(err.contains("proxy.lan"), "{err}");
    }
}
