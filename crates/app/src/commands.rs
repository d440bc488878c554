//! What each subcommand does: open the store, call the engine, print for people or, with
//! `--json`, for programs.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use paperboy_core::{Paper, PaperId};
use paperboy_engine::harvest::{harvest, HarvestOptions};
use paperboy_engine::ingest::ingest_path;
use paperboy_engine::{IngestReport, Location, Store};
use serde_json::json;

use crate::cli::{Cli, Command, DigestAction, SubscribersAction};
use crate::config::{Config, ARXIV_OAI_URL};
use crate::{demo, search};

/// Runs one command.
pub fn run(cli: Cli) -> Result<()> {
    let config = Config::load(cli.config.as_deref())?;
    let data_dir = config.data_dir(cli.data_dir.clone())?;
    let database = match cli.database.clone().or_else(|| config.database.clone()) {
        Some(url) => Location::parse(&url)?,
        None => Location::Sqlite(data_dir.join("paperboy.db")),
    };
    let ctx = Ctx { json: cli.json, data_dir, database };
    let mail = crate::digest::Mail::from_settings(cli.smtp_url.clone(), &config.mail, None);
    match cli.command {
        Command::Digest { action: DigestAction::Run { date, dry_run } } => crate::digest::run(&ctx, &mail, date, dry_run),
        Command::Digest { action: DigestAction::Preview { email, date, out } } => crate::digest::preview(&ctx, &mail, &email, date, &out),
        Command::Subscribers { action: SubscribersAction::Import { file, confirmed } } => crate::digest::import(&ctx, &mail, &file, confirmed),
        Command::Subscribers { action: SubscribersAction::List } => crate::digest::list(&ctx),
        Command::Serve { listen, base_url, no_demo, search_rate, role } => {
            crate::serve::serve(&ctx, &config, mail, crate::serve::Options { listen, base_url, no_demo, search_rate, role })
        }
        Command::Migrate { from, to } => crate::migrate::run(&ctx, &Location::parse(&from)?, &Location::parse(&to)?),
        Command::Ingest { format, path } => ingest(&ctx, format.into(), &path),
        Command::Harvest { url, set, from, until, metadata_prefix } => {
            let mut opts = harvest_options(&config, url, set, metadata_prefix);
            opts.from = from;
            opts.until = until;
            run_harvest(&ctx, &opts)
        }
        Command::Papers { date } => papers(&ctx, date),
        Command::Paper { id } => paper(&ctx, &id),
        Command::Stats => stats(&ctx),
        Command::Runs { limit } => runs(&ctx, limit),
        Command::Demo { export_vectors: Some(path) } => demo::export_vectors(&ctx, &path),
        Command::Demo { export_vectors: None } => load_demo(&ctx),
        Command::Search { query, mode, limit, since, category } => search::search(&ctx, &query, &mode, limit, since, category),
        Command::Similar { id, limit } => search::similar(&ctx, &id, limit),
        Command::Embed => search::embed(&ctx),
        Command::BenchSearch { queries } => search::bench(&ctx, queries),
        Command::Synth { papers } => search::synth(&ctx, papers),
        Command::Reindex => search::reindex(&ctx),
        Command::Eval { corpus, queries, qrels, mode } => search::eval(&ctx, &corpus, &queries, &qrels, &mode),
    }
}

/// Harvest options: flags over the config file over defaults.
pub fn harvest_options(config: &Config, url: Option<String>, set: Option<String>, metadata_prefix: Option<String>) -> HarvestOptions {
    let h = &config.harvest;
    let mut opts = HarvestOptions::new(url.or_else(|| h.url.clone()).unwrap_or_else(|| ARXIV_OAI_URL.to_owned()));
    opts.set = set.or_else(|| h.set.clone());
    if let Some(p) = metadata_prefix.or_else(|| h.metadata_prefix.clone()) {
        opts.metadata_prefix = p;
    }
    if let Some(secs) = h.delay_secs {
        opts.delay = Duration::from_secs(secs);
    }
    if let Some(ua) = &h.user_agent {
        opts.user_agent = ua.clone();
    }
    opts
}

pub struct Ctx {
    pub json: bool,
    /// Indexes, the CSRF secret and (by default) the SQLite database.
    pub data_dir: PathBuf,
    /// The database.
    pub database: Location,
}

impl Ctx {
    /// The database, for messages (a PostgreSQL URL without its password).
    pub fn db_name(&self) -> String {
        self.database.display()
    }

    pub fn open_store(&self) -> Result<Box<dyn Store>> {
        std::fs::create_dir_all(&self.data_dir)
            .with_context(|| format!("cannot create data directory {}", self.data_dir.display()))?;
        self.database.open().with_context(|| format!("cannot open database {}", self.db_name()))
    }

    /// A spinner on stderr for long jobs; hidden with --json or when stderr is not a terminal.
    fn spinner(&self, message: &str) -> ProgressBar {
        if self.json || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner().with_message(message.to_owned());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}: {pos} records ({per_sec}, {elapsed})").expect("valid template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// A bar for steps with a known length; hidden like the spinner.
    pub fn progress_bar(&self) -> ProgressBar {
        if self.json || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(0);
        bar.set_style(ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} ({per_sec}, eta {eta})").expect("valid template"));
        bar
    }

    pub fn print_json(&self, value: serde_json::Value) {
        println!("{value}");
    }
}

fn counts_json(r: &IngestReport) -> serde_json::Value {
    json!({"new": r.new, "updated": r.updated, "unchanged": r.unchanged, "rejected": r.rejected, "first_errors": r.first_errors})
}

fn ingest(ctx: &Ctx, source: paperboy_core::Source, path: &Path) -> Result<()> {
    if !path.exists() {
        bail!("{} does not exist", path.display());
    }
    let mut store = ctx.open_store()?;
    let bar = ctx.spinner(&format!("ingesting {}", path.display()));
    let report = ingest_path(&mut *store, source, path, &mut |seen| bar.set_position(seen))
        .with_context(|| format!("ingesting {} as {}", path.display(), source.as_str()))?;
    bar.finish_and_clear();
    if ctx.json {
        ctx.print_json(counts_json(&report));
    } else {
        println!("{report}");
    }
    Ok(())
}

fn run_harvest(ctx: &Ctx, opts: &HarvestOptions) -> Result<()> {
    let mut store = ctx.open_store()?;
    let bar = ctx.spinner(&format!("harvesting {}", opts.base_url));
    let summary = harvest(&mut *store, opts, &mut |d| std::thread::sleep(d), &mut |p| {
        bar.set_position(p.records);
        if let Some(total) = p.complete_list_size {
            bar.set_message(format!("harvesting {} (page {}, list of {total})", opts.base_url, p.pages));
        }
    })
    .with_context(|| format!("harvesting {}", opts.base_url))?;
    bar.finish_and_clear();
    if ctx.json {
        let mut out = counts_json(&summary.report);
        out["pages"] = json!(summary.pages);
        out["retries"] = json!(summary.retries);
        out["from"] = json!(summary.from);
        out["last_datestamp"] = json!(summary.last_datestamp);
        ctx.print_json(out);
    } else {
        println!("{} ({} pages, {} retries)", summary.report, summary.pages, summary.retries);
        if let Some(d) = summary.last_datestamp {
            println!("next harvest starts from {d}");
        }
    }
    Ok(())
}

fn papers(ctx: &Ctx, date: Option<chrono::NaiveDate>) -> Result<()> {
    let store = ctx.open_store()?;
    let Some(day) = date.map_or_else(|| store.latest_day(), |d| Ok(Some(d)))? else {
        bail!("the store at {} has no papers yet: run `paperboy demo` or `paperboy ingest`", ctx.db_name());
    };
    let papers = store.papers_on(day)?;
    if ctx.json {
        let list: Vec<_> = papers.iter().map(paper_summary).collect();
        ctx.print_json(json!({"date": day, "papers": list}));
    } else {
        println!("{} papers on {day}", papers.len());
        for p in &papers {
            let votes = p.signals.hf_upvotes.map(|v| format!("{v:>4}▲")).unwrap_or_else(|| "     ".into());
            println!("{votes}  {:<16} {}", p.id.to_string(), p.title);
        }
    }
    Ok(())
}

fn paper_summary(p: &Paper) -> serde_json::Value {
    json!({
        "id": p.id, "title": p.title, "authors": p.authors.iter().map(|a| &a.name).collect::<Vec<_>>(),
        "categories": p.categories, "upvotes": p.signals.hf_upvotes, "day": p.day(),
    })
}

fn paper(ctx: &Ctx, id: &str) -> Result<()> {
    let id: PaperId = id.parse()?;
    let store = ctx.open_store()?;
    let Some(p) = store.paper(&id)? else {
        bail!("no paper {id} in {}", ctx.db_name());
    };
    if ctx.json {
        let mut value = serde_json::to_value(&p)?;
        value["abs_url"] = json!(p.abs_url());
        value["pdf_url"] = json!(p.pdf_url());
        ctx.print_json(value);
        return Ok(());
    }
    println!("{}\n{}\n", p.id, p.title);
    let shown: Vec<&str> = p.authors.iter().take(12).map(|a| a.name.as_str()).collect();
    let more = p.authors.len().saturating_sub(shown.len());
    println!("{}{}", shown.join(", "), if more > 0 { format!(" and {more} more") } else { String::new() });
    if !p.categories.is_empty() {
        let cats: Vec<String> = p
            .categories
            .iter()
            .map(|c| match c.name() {
                Some(n) => format!("{c} ({n})"),
                None => c.to_string(),
            })
            .collect();
        println!("categories: {}", cats.join(", "));
    }
    let versions: Vec<String> = p
        .versions
        .iter()
        .map(|v| format!("v{}{}", v.version, v.date.map(|d| format!(" {}", d.date_naive())).unwrap_or_default()))
        .collect();
    if !versions.is_empty() {
        println!("versions: {}", versions.join(", "));
    }
    for (label, value) in [
        ("listed on", p.listed_on.map(|d| d.to_string())),
        ("upvotes", p.signals.hf_upvotes.map(|v| v.to_string())),
        ("doi", p.doi.clone()),
        ("journal", p.journal_ref.clone()),
        ("comments", p.comments.clone()),
        ("abs", p.abs_url()),
        ("pdf", p.pdf_url()),
        ("code", p.links.code.clone()),
        ("project", p.links.project.clone()),
    ] {
        if let Some(v) = value {
            println!("{label}: {v}");
        }
    }
    println!("\n{}", p.abstract_text);
    Ok(())
}

fn stats(ctx: &Ctx) -> Result<()> {
    let store = ctx.open_store()?;
    let s = store.stats()?;
    if ctx.json {
        ctx.print_json(serde_json::to_value(&s)?);
    } else {
        println!("database:    {}", ctx.db_name());
        println!("papers:      {} ({} on arXiv)", s.papers, s.arxiv_papers);
        println!("days:        {}{}", s.days, s.latest_day.map(|d| format!(" (latest {d})")).unwrap_or_default());
        println!("ingest runs: {}", s.ingest_runs);
    }
    Ok(())
}

fn runs(ctx: &Ctx, limit: usize) -> Result<()> {
    let store = ctx.open_store()?;
    let runs = store.ingest_runs(limit)?;
    if ctx.json {
        ctx.print_json(serde_json::to_value(&runs)?);
    } else {
        for r in runs {
            println!("{}  {}  {r}", r.started.format("%Y-%m-%d %H:%M:%S"), r.input);
        }
    }
    Ok(())
}

fn load_demo(ctx: &Ctx) -> Result<()> {
    let mut store = ctx.open_store()?;
    let bar = ctx.spinner("loading the demo corpus");
    let reports = demo::load(&mut *store)?;
    bar.finish_and_clear();
    if ctx.json {
        let total = |f: fn(&IngestReport) -> u64| reports.iter().map(f).sum::<u64>();
        ctx.print_json(json!({
            "new": total(|r| r.new), "updated": total(|r| r.updated),
            "unchanged": total(|r| r.unchanged), "rejected": total(|r| r.rejected),
        }));
    } else {
        for r in &reports {
            println!("{r}");
        }
        println!("demo corpus loaded into {}", ctx.db_name());
    }
    Ok(())
}
