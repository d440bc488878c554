//! The arXiv OAI-PMH harvester: asks a server for `ListRecords`, follows resumption tokens to
//! the end of the list, waits as told by HTTP 503 `Retry-After` (bounded), and remembers the
//! last complete datestamp so the next run is incremental.
//!
//! Incremental means: the next run starts `from` the last datestamp it finished (inclusive,
//! since OAI-PMH dates have day granularity and that day may have grown); re-reading those
//! records changes nothing because ingest is idempotent. The checkpoint only moves once a whole
//! list was read, so an interrupted harvest is simply repeated.

use std::time::Duration;

use chrono::NaiveDate;
use paperboy_core::urls::encode;
use paperboy_core::Source;

use crate::ingest::oai_pmh::{parse_page, OaiError};
use crate::ingest::{IngestReport, IngestRun};
use crate::store::{PaperStore, StoreError};

/// How to harvest.
#[derive(Debug, Clone)]
pub struct HarvestOptions {
    /// The OAI-PMH endpoint, e.g. `https://oaipmh.arxiv.org/oai`.
    pub base_url: String,
    /// `arXivRaw` (versions with dates; the default), `arXiv` or `oai_dc`.
    pub metadata_prefix: String,
    /// An OAI set such as `cs` or `physics:hep-th`.
    pub set: Option<String>,
    /// First datestamp; by default the last complete one of the previous run.
    pub from: Option<NaiveDate>,
    /// Last datestamp.
    pub until: Option<NaiveDate>,
    /// Sent with every request; say who you are.
    pub user_agent: String,
    /// Pause between page requests.
    pub delay: Duration,
    /// Retries of one request (503s and network errors) before giving up.
    pub max_retries: u32,
    /// The longest single wait, whatever `Retry-After` says.
    pub max_retry_wait: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
}

impl HarvestOptions {
    /// Polite defaults for `base_url`.
    pub fn new(base_url: impl Into<String>) -> Self {
        HarvestOptions {
            base_url: base_url.into(),
            metadata_prefix: "arXivRaw".into(),
            set: None,
            from: None,
            until: None,
            user_agent: concat!("paperboy/", env!("CARGO_PKG_VERSION"), " (self-hosted paper discovery; OAI-PMH harvester)").into(),
            delay: Duration::from_secs(3),
            max_retries: 5,
            max_retry_wait: Duration::from_secs(120),
            timeout: Duration::from_secs(120),
        }
    }

    /// The checkpoint key: one per endpoint, metadata format and set.
    pub fn checkpoint_key(&self) -> String {
        format!("{}|{}|{}", self.base_url, self.metadata_prefix, self.set.as_deref().unwrap_or("*"))
    }
}

/// What a harvest did.
#[derive(Debug, Clone)]
pub struct HarvestSummary {
    /// The ingest counts.
    pub report: IngestReport,
    /// Pages fetched.
    pub pages: u32,
    /// Requests repeated after a 503 or a network error.
    pub retries: u32,
    /// The `from` date used.
    pub from: Option<NaiveDate>,
    /// The latest datestamp seen, now the checkpoint.
    pub last_datestamp: Option<NaiveDate>,
}

/// Why a harvest stopped. Papers of the pages read before it stopped are kept.
#[derive(Debug, thiserror::Error)]
pub enum HarvestError {
    /// The request could not be made.
    #[error("request to {url} failed: {message}")]
    Http {
        /// The URL.
        url: String,
        /// What the client said.
        message: String,
    },
    /// The server answered with an error status.
    #[error("{url} answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// Still failing after every retry.
    #[error("{url}: gave up after {attempts} attempts (last: {last})")]
    GaveUp {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The server rejected the resumption token; the list must be restarted.
    #[error("the server rejected resumption token {token:?} ({message}); run the harvest again to restart the list")]
    BadResumptionToken {
        /// The token sent.
        token: String,
        /// The server's message.
        message: String,
    },
    /// A page was not a usable OAI-PMH response.
    #[error(transparent)]
    Oai(OaiError),
    /// An arXiv API response was not a usable Atom feed.
    #[error(transparent)]
    Atom(#[from] crate::ingest::atom::AtomError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Ids asked of the arXiv API per request.
const IDS_PER_REQUEST: usize = 100;

/// Fetches papers by arXiv id from the arXiv API (`{api}/query?id_list=…`, Atom) and stores
/// them; returns how many the API gave. `opts` gives the user agent, retries and delay
/// (between requests, for more than 100 ids).
pub fn fetch_by_ids(store: &mut dyn PaperStore, api: &str, ids: &[paperboy_core::ArxivId], opts: &HarvestOptions, sleep: &mut dyn FnMut(Duration)) -> Result<u64, HarvestError> {
    let agent = ureq::Agent::new_with_config(ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(opts.timeout)).build());
    let mut retries = 0;
    let mut fetched = 0;
    for (n, chunk) in ids.chunks(IDS_PER_REQUEST).enumerate() {
        if n > 0 {
            sleep(opts.delay);
        }
        let list: Vec<String> = chunk.iter().map(|id| encode(id.as_str())).collect();
        let url = format!("{}/query?id_list={}&max_results={}", api.trim_end_matches('/'), list.join(","), chunk.len());
        let body = fetch(&agent, &url, opts, sleep, &mut retries)?;
        let feed = crate::ingest::atom::parse_feed(&body, &url)?;
        let papers: Vec<_> = feed.records.into_iter().filter_map(|r| r.map_err(|e| tracing::warn!("{url}: {e}")).ok()).collect();
        fetched += papers.len() as u64;
        store.upsert_papers(papers)?;
    }
    Ok(fetched)
}

/// Reads `Retry-After` as seconds or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// Progress of a harvest, after each page.
#[derive(Debug, Clone, Copy)]
pub struct PageProgress {
    /// Pages read so far.
    pub pages: u32,
    /// Records read so far.
    pub records: u64,
    /// The list's size, when the server says.
    pub complete_list_size: Option<u64>,
}

/// Fetches one URL, retrying 503s (honouring `Retry-After`) and network errors.
fn fetch(
    agent: &ureq::Agent,
    url: &str,
    opts: &HarvestOptions,
    sleep: &mut dyn FnMut(Duration),
    retries: &mut u32,
) -> Result<Vec<u8>, HarvestError> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let backoff = Duration::from_secs(2u64.saturating_pow(attempt).min(opts.max_retry_wait.as_secs().max(1)));
        let failure = match agent.get(url).header("User-Agent", &opts.user_agent).call() {
            Ok(mut response) => {
                let status = response.status().as_u16();
                if status == 200 {
                    return response
                        .body_mut()
                        .with_config()
                        .limit(256 * 1024 * 1024)
                        .read_to_vec()
                        .map_err(|e| HarvestError::Http { url: url.to_owned(), message: e.to_string() });
                }
                if status != 503 && status != 429 {
                    return Err(HarvestError::Status { url: url.to_owned(), status });
                }
                let wait = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(retry_after)
                    .unwrap_or(backoff);
                (format!("HTTP {status}"), wait)
            }
            Err(e) => (e.to_string(), backoff),
        };
        let (last, wait) = failure;
        if attempt > opts.max_retries {
            return Err(HarvestError::GaveUp { url: url.to_owned(), attempts: attempt, last });
        }
        let wait = wait.min(opts.max_retry_wait);
        tracing::info!(url, %last, wait_s = wait.as_secs_f64(), "OAI-PMH server asked us to wait; retrying");
        *retries += 1;
        sleep(wait);
    }
}

/// Harvests `ListRecords` into the store. `sleep` is called for every wait (polite delays and
/// retries), `progress` after every page.
pub fn harvest(
    store: &mut dyn PaperStore,
    opts: &HarvestOptions,
    sleep: &mut dyn FnMut(Duration),
    progress: &mut dyn FnMut(PageProgress),
) -> Result<HarvestSummary, HarvestError> {
    let key = opts.checkpoint_key();
    let from = match opts.from {
        Some(d) => Some(d),
        None => store.harvest_checkpoint(&key)?,
    };
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(opts.timeout)).build(),
    );
    let mut first = format!("{}?verb=ListRecords&metadataPrefix={}", opts.base_url, encode(&opts.metadata_prefix));
    if let Some(from) = from {
        first.push_str(&format!("&from={from}"));
    }
    if let Some(until) = opts.until {
        first.push_str(&format!("&until={until}"));
    }
    if let Some(set) = &opts.set {
        first.push_str(&format!("&set={}", encode(set)));
    }

    let mut run = IngestRun::new(store, Source::OaiPmh, first.clone());
    let mut pages = 0u32;
    let mut retries = 0u32;
    let mut last_datestamp = None;
    let mut token: Option<String> = None;
    let outcome: Result<(), HarvestError> = (|| loop {
        let url = match &token {
            None => first.clone(),
            Some(t) => format!("{}?verb=ListRecords&resumptionToken={}", opts.base_url, encode(t)),
        };
        if pages > 0 && !opts.delay.is_zero() {
            sleep(opts.delay);
        }
        let body = fetch(&agent, &url, opts, sleep, &mut retries)?;
        let page = match parse_page(&body, &url) {
            Ok(page) => page,
            Err(OaiError::Protocol { code, message, .. }) if code == "badResumptionToken" => {
                return Err(HarvestError::BadResumptionToken { token: token.clone().unwrap_or_default(), message });
            }
            Err(e) => return Err(HarvestError::Oai(e)),
        };
        pages += 1;
        last_datestamp = last_datestamp.max(page.max_datestamp);
        run.accept_all(page.records)?;
        progress(PageProgress { pages, records: run.seen(), complete_list_size: page.complete_list_size });
        match page.resumption_token {
            Some(next) => token = Some(next),
            None => return Ok(()),
        }
    })();
    let report = run.finish()?;
    outcome?;
    if let Some(stamp) = last_datestamp {
        store.set_harvest_checkpoint(&key, stamp)?;
    }
    Ok(HarvestSummary { report, pages, retries, from, last_datestamp })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_tokens() {
        assert_eq!(encode("6511260|1001"), "6511260%7C1001");
        assert_eq!(encode("physics:hep-th"), "physics%3Ahep-th");
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after("10"), Some(Duration::from_secs(10)));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert_eq!(retry_after("soon"), None);
    }
}
