//! What each subcommand does: open the store, call the engine, print for people or, with
//! `--json`, for programs.

use std::path::Path;

use anyhow::{bail, Context, Result};
use paperboy_core::{Paper, PaperId};
use paperboy_engine::harvest::{harvest, HarvestOptions};
use paperboy_engine::ingest::ingest_path;
use paperboy_engine::{IngestReport, Location};
use serde_json::json;

use crate::cli::{Command, DigestAction, EvalAction, SubscribersAction};
use crate::ctx::Ctx;
use crate::{demo, search, Application};

/// Runs one command.
pub fn run(command: Command, ctx: Ctx) -> Result<()> {
    match command {
        Command::Digest { action: DigestAction::Run { date, dry_run } } => crate::digest::run(&ctx, date, dry_run),
        Command::Digest { action: DigestAction::Preview { email, date, out } } => crate::digest::preview(&ctx, &email, date, &out),
        Command::Subscribers { action: SubscribersAction::Import { file, confirmed } } => crate::digest::import(&ctx, &file, confirmed),
        Command::Subscribers { action: SubscribersAction::List } => crate::digest::list(&ctx),
        Command::Serve { .. } => Application::build(ctx.settings)?.run_until_stopped(),
        Command::Migrate { from, to } => crate::migrate::run(&ctx, &Location::parse(&from)?, &Location::parse(&to)?),
        Command::Ingest { format, path } => ingest(&ctx, format.into(), &path),
        Command::Harvest { .. } => run_harvest(&ctx, &ctx.settings.harvest),
        Command::Papers { date } => papers(&ctx, date),
        Command::Paper { id } => paper(&ctx, &id),
        Command::Stats => stats(&ctx),
        Command::Runs { limit } => runs(&ctx, limit),
        Command::Demo { export_vectors: Some(path) } => demo::export_vectors(&ctx, &path),
        Command::Demo { export_vectors: None } => load_demo(&ctx),
        Command::Search { query, mode, limit, since, category } => search::search(&ctx, &query, &mode, limit, since, category),
        Command::Similar { id, limit } => search::similar(&ctx, &id, limit),
        Command::Embed => search::embed(&ctx),
        Command::BenchSearch { queries, during_background_work } => search::bench(&ctx, queries, during_background_work),
        Command::Synth { papers } => search::synth(&ctx, papers),
        Command::Reindex => search::reindex(&ctx),
        Command::Eval { what: EvalAction::Search { corpus, queries, qrels, mode, run } } => search::eval(&ctx, &corpus, &queries, &qrels, &mode, run.as_deref()),
        Command::Eval { what: EvalAction::Recs { archive, params, tuning_only, model_only } } => search::eval_recs(&ctx, &archive, params.as_deref(), tuning_only, model_only),
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
    if ctx.json() {
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
    if ctx.json() {
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
    if ctx.json() {
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
    if ctx.json() {
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
    if ctx.json() {
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
    if ctx.json() {
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
    if ctx.json() {
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
