//! The command line: global options and one subcommand per job.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use paperboy_core::Source;

/// paperboy: research-paper discovery on your own machine.
#[derive(Debug, Parser)]
#[command(name = "paperboy", version, about, propagate_version = true)]
pub struct Cli {
    /// Where the database and indexes live [default: the platform's data directory]
    #[arg(long, global = true, env = "PAPERBOY_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The database: postgres://user:password@host:port/db, or sqlite:PATH [default: paperboy.db
    /// in the data directory]
    #[arg(long, global = true, env = "PAPERBOY_DATABASE", value_name = "URL", hide_env_values = true)]
    pub database: Option<String>,
    /// A TOML config file [default: paperboy.toml in the platform's config directory, if present]
    #[arg(long, global = true, env = "PAPERBOY_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Machine-readable JSON on stdout, no progress bars
    #[arg(long, global = true)]
    pub json: bool,
    /// The SMTP server for emails: smtp://host:port, smtp://host:port?tls=required (STARTTLS),
    /// smtps://user:password@host (TLS)
    #[arg(long, global = true, env = "PAPERBOY_SMTP_URL", value_name = "URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Log what is going on (or set PAPERBOY_LOG, e.g. PAPERBOY_LOG=debug)
    #[arg(long, short, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// The input formats `ingest` reads.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// One saved arXiv OAI-PMH response page (oai_dc, arXiv or arXivRaw)
    OaiPmh,
    /// One saved arXiv export-API (Atom) response
    Atom,
    /// The arXiv metadata snapshot (JSON lines), streamed
    ArxivSnapshot,
    /// Hugging Face daily papers: a day file, a folder of them or a .tar.gz of them
    HfDaily,
    /// Title line / abstract line pairs
    Listing,
    /// A BEIR corpus.jsonl
    Beir,
}

impl From<Format> for Source {
    fn from(f: Format) -> Source {
        match f {
            Format::OaiPmh => Source::OaiPmh,
            Format::Atom => Source::Atom,
            Format::ArxivSnapshot => Source::ArxivSnapshot,
            Format::HfDaily => Source::HfDaily,
            Format::Listing => Source::Listing,
            Format::Beir => Source::Beir,
        }
    }
}

/// What a `serve` process does; several processes on one PostgreSQL database share the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// Pages, JSON API and feeds, with its own search index kept in step with the database
    Web,
    /// The daily jobs (once per day across all workers) and email delivery
    Worker,
    /// Both (one process)
    All,
}

impl Role {
    /// Whether this process answers HTTP.
    pub fn serves_http(self) -> bool {
        self != Role::Worker
    }

    /// Whether this process runs the jobs and delivers email.
    pub fn runs_jobs(self) -> bool {
        self != Role::Web
    }
}

/// The jobs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web service: pages, JSON API and feeds (loads the demo corpus into an empty store)
    Serve {
        /// Address to listen on
        #[arg(long, env = "PAPERBOY_LISTEN", value_name = "ADDR")]
        listen: Option<String>,
        /// The public address of this instance, for absolute links in feeds and emails
        #[arg(long, env = "PAPERBOY_BASE_URL", value_name = "URL")]
        base_url: Option<String>,
        /// Start with an empty store instead of loading the demo corpus
        #[arg(long)]
        no_demo: bool,
        /// Searches per minute per client (0 = no limit)
        #[arg(long, value_name = "N")]
        search_rate: Option<u32>,
        /// What this process does: web (pages, API, feeds, search), worker (daily jobs, email
        /// delivery) or all
        #[arg(long, value_enum, default_value_t = Role::All, env = "PAPERBOY_ROLE")]
        role: Role,
    },
    /// Email digests: compose and deliver, or preview one
    Digest {
        #[command(subcommand)]
        action: DigestAction,
    },
    /// Digest subscribers: import a list, or list them
    Subscribers {
        #[command(subcommand)]
        action: SubscribersAction,
    },
    /// Copy every table from one database to another (SQLite to PostgreSQL, or back), streamed
    /// with progress, then check the row counts; running it again changes nothing
    Migrate {
        /// The database to read: sqlite:PATH or postgres://…
        #[arg(long, value_name = "URL")]
        from: String,
        /// The database to write (created or brought up to date): postgres://… or sqlite:PATH
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Read papers from a file into the store
    Ingest {
        /// What the file is
        #[arg(value_enum)]
        format: Format,
        /// The file (or folder / .tar.gz for hf-daily)
        path: PathBuf,
    },
    /// Harvest new papers from an OAI-PMH server (arXiv by default), incrementally
    Harvest {
        /// The OAI-PMH endpoint
        #[arg(long, env = "PAPERBOY_HARVEST_URL")]
        url: Option<String>,
        /// An OAI set, e.g. cs or physics:hep-th
        #[arg(long, env = "PAPERBOY_HARVEST_SET")]
        set: Option<String>,
        /// Start date [default: where the last harvest of this set ended]
        #[arg(long)]
        from: Option<NaiveDate>,
        /// End date
        #[arg(long)]
        until: Option<NaiveDate>,
        /// Metadata format: arXivRaw, arXiv or oai_dc
        #[arg(long)]
        metadata_prefix: Option<String>,
    },
    /// List the papers of one day, most upvoted first
    Papers {
        /// The day [default: the latest day with papers]
        #[arg(long)]
        date: Option<NaiveDate>,
    },
    /// Show one paper
    Paper {
        /// arXiv id (2401.01234, hep-th/9901001, with or without version) or a source id (listing:…)
        id: String,
    },
    /// Counts over the store
    Stats,
    /// Recent ingest runs with their counts and first errors
    Runs {
        /// How many
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Fill the store with the demo corpus built into this binary (and its cached vectors)
    Demo {
        /// Instead: write the cached vectors of the demo papers to FILE (how data/demo is made)
        #[arg(long, value_name = "FILE", hide = true)]
        export_vectors: Option<PathBuf>,
    },
    /// Search the papers
    Search {
        /// What to look for; phrases in quotes, title:, author:, cat: fields
        query: String,
        /// bm25 (keywords), semantic (meaning) or hybrid (both)
        #[arg(long, default_value = "hybrid")]
        mode: String,
        /// How many hits
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Only papers of this day or later
        #[arg(long)]
        since: Option<NaiveDate>,
        /// Only papers in this category, e.g. cs.LG
        #[arg(long)]
        category: Option<String>,
    },
    /// Papers similar to one paper
    Similar {
        /// The paper's id
        id: String,
        /// How many
        #[arg(long, default_value_t = 10)]
        limit: usize,
    },
    /// Embed every paper that has no vector yet (search does this too, first)
    Embed,
    /// Rebuild the full-text index from the store
    Reindex,
    /// Measure search latency on the papers in the data directory (p50/p99 per mode)
    #[command(hide = true)]
    BenchSearch {
        /// Queries per mode
        #[arg(long, default_value_t = 200)]
        queries: usize,
        /// Also time fresh hybrid queries while the "For you" lexicon is fitted, and while papers
        /// are embedded, over and over (the background work of a serving process)
        #[arg(long)]
        during_background_work: bool,
    },
    /// Add N synthetic papers made from the real ones in the store, with mixed vectors (for
    /// benchmarks at scale; loads the demo corpus first into an empty store)
    #[command(hide = true)]
    Synth {
        /// How many synthetic papers
        #[arg(long, default_value_t = 1_000_000)]
        papers: usize,
    },
    /// Measure quality: search on a BEIR dataset, or the "For you" recommendations
    Eval {
        #[command(subcommand)]
        what: EvalAction,
    },
}

/// `eval …`
#[derive(Debug, Subcommand)]
pub enum EvalAction {
    /// Search quality on a BEIR dataset: nDCG@10, Recall@100, MRR@10
    Search {
        /// corpus.jsonl
        #[arg(long)]
        corpus: PathBuf,
        /// queries.jsonl
        #[arg(long)]
        queries: PathBuf,
        /// qrels .tsv
        #[arg(long)]
        qrels: PathBuf,
        /// bm25, semantic or hybrid
        #[arg(long, default_value = "hybrid")]
        mode: String,
        /// Also write the ranking as a TREC run file (`qid Q0 doc rank score paperboy-MODE`), for
        /// trec_eval or for trying other fusions
        #[arg(long)]
        run: Option<PathBuf>,
    },
    /// "For you" against popularity, mean similarity and tf-idf + SVM on Hugging Face daily
    /// papers (submitters and keyword readers; nDCG@10, recall@10, MRR; both halves)
    Recs {
        /// The daily-papers archive (YYYY-MM-DD.json files in a .tar.gz)
        #[arg(long, default_value = "../shared/data/hf-daily-papers/Paper_metadata_download.all-558-days.tar.gz")]
        archive: PathBuf,
        /// Try other model settings, "LAMBDA,STEPS,BACKGROUND,MEAN_SIMILARITY,LEXICAL_WEIGHT,AUTHOR_WEIGHT" (for tuning)
        #[arg(long)]
        params: Option<String>,
        /// Report the tuning half only (what settings may be chosen by)
        #[arg(long)]
        tuning_only: bool,
        /// Only paperboy's model (skip the baselines)
        #[arg(long)]
        model_only: bool,
    },
}

/// `digest …`
#[derive(Debug, Subcommand)]
pub enum DigestAction {
    /// Compose every due digest (trending + interests, never a paper twice) and deliver the outbox
    Run {
        /// The day the digests cover [default: the latest day with papers]
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Compose and show, but record and send nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the HTML and text one subscriber would get (digest.html, digest.txt)
    Preview {
        /// The subscriber's address
        #[arg(long)]
        email: String,
        /// The day [default: the latest day with papers]
        #[arg(long)]
        date: Option<NaiveDate>,
        /// Where to write the files
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

/// `subscribers …`
#[derive(Debug, Subcommand)]
pub enum SubscribersAction {
    /// Import a CSV file with columns email, frequency, interests (pending: confirmation emails are queued)
    Import {
        /// The CSV file (with a header row)
        file: PathBuf,
        /// The list already opted in: import as confirmed, send no confirmation
        #[arg(long)]
        confirmed: bool,
    },
    /// List the subscribers
    List,
}

impl Command {
    /// A long-running service, which logs what it does by default.
    pub fn is_service(&self) -> bool {
        matches!(self, Command::Serve { .. })
    }
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    /// `Format` mirrors `Source`: every source can be ingested, under the name the store uses.
    #[test]
    fn every_source_has_an_ingest_format_of_the_same_name() {
        for source in Source::ALL {
            let format = Format::value_variants()
                .iter()
                .find(|f| Source::from(**f) == source)
                .unwrap_or_else(|| panic!("no `ingest` format for {source:?}: add one to cli::Format"));
            assert_eq!(format.to_possible_value().unwrap().get_name(), source.as_str());
        }
        assert_eq!(Format::value_variants().len(), Source::ALL.len());
    }
}
