//! The search commands: `search`, `similar`, `embed`, `reindex` and `eval`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use paperboy_core::{Category, PaperId, Source};
use paperboy_embed::{Embedder, MiniLm};
use paperboy_engine::ingest::{beir, ingest_path};
use paperboy_engine::search::eval::{evaluate, read_qrels, read_queries};
use paperboy_engine::search::fulltext::FullTextIndex;
use paperboy_engine::search::service::{embed_missing, rebuild_fulltext};
use paperboy_engine::search::{Embed, Filters, Hit, Mode, SearchQuery, SearchService};
use paperboy_engine::{SqliteStore, Store};
use serde_json::json;

use crate::ctx::Ctx;

/// A [`paperboy_engine::search::service::Progress`] callback that moves `bar`.
fn report_to(bar: &indicatif::ProgressBar) -> impl FnMut(&str, u64, u64) + '_ {
    move |what, done, total| {
        bar.set_message(what.to_owned());
        bar.set_length(total);
        bar.set_position(done);
    }
}

fn load_model() -> Result<Arc<dyn Embedder>> {
    Ok(Arc::new(MiniLm::load().context("loading the embedding model")?))
}

/// Opens the search service over the data directory's store, catching up index and vectors.
pub(crate) fn open_service(ctx: &Ctx, store: &mut dyn Store, mode: Mode) -> Result<SearchService> {
    let model = load_model()?;
    let bar = ctx.progress_bar();
    let dirs = ctx.settings.data.indexes();
    // The store is both the source of papers and the vector cache; open a second handle for
    // the cache so the two borrows stay apart (SQLite serialises the writes).
    let mut cache = ctx.open_store()?;
    let embed = if mode == Mode::Bm25 { Embed::Later } else { Embed::Missing };
    let service = SearchService::open(store, &mut *cache, Some(&dirs), model, embed, &mut report_to(&bar))
    .context("opening the search index")?;
    bar.finish_and_clear();
    Ok(service)
}

fn print_hits(ctx: &Ctx, store: &dyn Store, hits: &[Hit]) -> Result<()> {
    let mut rows = Vec::with_capacity(hits.len());
    for h in hits {
        let title = store.paper(&h.id)?.map(|p| p.title).unwrap_or_default();
        rows.push((h, title));
    }
    if ctx.json() {
        let list: Vec<_> = rows
            .iter()
            .map(|(h, title)| json!({"id": h.id, "title": title, "score": h.score, "snippet_html": h.snippet_html, "explain": h.explain}))
            .collect();
        ctx.print_json(json!({ "hits": list }));
    } else if rows.is_empty() {
        println!("no results");
    } else {
        for (i, (h, title)) in rows.iter().enumerate() {
            let why = match (h.explain.bm25_rank, h.explain.vector_rank) {
                _ if h.explain.exact => "exact match".to_owned(),
                _ if h.explain.author => "by the author named".to_owned(),
                (Some(b), Some(v)) => format!("bm25 #{b}, vector #{v}"),
                (Some(b), None) => format!("bm25 #{b}"),
                (None, Some(v)) => format!("vector #{v}"),
                (None, None) => String::new(),
            };
            println!("{:>2}. {:<18} {:.4}  {title}  [{why}]", i + 1, h.id.to_string(), h.score);
        }
    }
    Ok(())
}

pub fn search(ctx: &Ctx, query: &str, mode: &str, limit: usize, since: Option<chrono::NaiveDate>, category: Option<String>) -> Result<()> {
    let query = SearchQuery::parse(query)?;
    let mode: Mode = mode.parse()?;
    let category = category.map(|c| c.parse::<Category>()).transpose()?;
    let filters = Filters { since, until: None, category };
    let mut store = ctx.open_store()?;
    let service = open_service(ctx, &mut *store, mode)?;
    let hits = service.search(&*store, &query, mode, &filters, limit.clamp(1, 1000))?;
    print_hits(ctx, &*store, &hits)
}

pub fn similar(ctx: &Ctx, id: &str, limit: usize) -> Result<()> {
    let id: PaperId = id.parse()?;
    let mut store = ctx.open_store()?;
    if store.paper(&id)?.is_none() {
        anyhow::bail!("no paper {id} in {}", ctx.db_name());
    }
    let service = open_service(ctx, &mut *store, Mode::Semantic)?;
    let hits = service.similar(&id, limit.clamp(1, 1000))?;
    print_hits(ctx, &*store, &hits)
}

pub fn embed(ctx: &Ctx) -> Result<()> {
    let store = ctx.open_store()?;
    let mut cache = ctx.open_store()?;
    let model = load_model()?;
    let bar = ctx.progress_bar();
    let start = std::time::Instant::now();
    let n = embed_missing(&*store, &mut *cache, model.as_ref(), &mut report_to(&bar))?;
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    if ctx.json() {
        ctx.print_json(json!({"embedded": n, "seconds": secs}));
    } else {
        println!("embedded {n} papers in {secs:.1} s ({:.1}/s) with {}", n as f64 / secs.max(1e-9), model.model_id());
    }
    Ok(())
}

pub fn reindex(ctx: &Ctx) -> Result<()> {
    let store = ctx.open_store()?;
    let dir = ctx.settings.data.indexes().fulltext;
    let mut index = FullTextIndex::open(&dir)?;
    let bar = ctx.progress_bar();
    let n = rebuild_fulltext(&*store, &mut index, &mut |_, done, _| bar.set_position(done))?;
    bar.finish_and_clear();
    if ctx.json() {
        ctx.print_json(json!({"indexed": n}));
    } else {
        println!("indexed {n} papers into {}", dir.display());
    }
    Ok(())
}

pub fn eval(ctx: &Ctx, corpus: &Path, queries: &Path, qrels: &Path, mode: &str, run_file: Option<&Path>) -> Result<()> {
    let mode: Mode = mode.parse()?;
    let qrels = read_qrels(qrels)?;
    let queries = read_queries(queries)?;
    // The corpus goes into a temporary store and index; vectors come from (and go into) the
    // data directory's cache, so a second run embeds nothing.
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let mut papers = SqliteStore::open(&tmp.path().join("eval.db"))?;
    let report = ingest_path(&mut papers, Source::Beir, corpus, &mut |_| {})?;
    if report.rejected > 0 {
        eprintln!("warning: {} corpus records rejected, first: {:?}", report.rejected, report.first_errors.first());
    }
    let dataset = beir::dataset_name(corpus);
    let mut cache = ctx.open_store()?;
    let bar = ctx.progress_bar();
    let embed = if mode == Mode::Bm25 { Embed::Later } else { Embed::Missing };
    let service = SearchService::open(&papers, &mut *cache, None, load_model()?, embed, &mut report_to(&bar))?;
    bar.finish_and_clear();
    let prefix = format!("beir:{dataset}:");
    let mut runs: HashMap<String, Vec<String>> = HashMap::new();
    let mut trec = String::new();
    for (qid, text) in queries.iter().filter(|(q, _)| qrels.contains_key(q)) {
        let Ok(query) = SearchQuery::parse(text) else { continue };
        let hits = service.search(&papers, &query, mode, &Filters::default(), 100)?;
        let mut docs = Vec::with_capacity(hits.len());
        for h in &hits {
            let Some(doc) = h.id.to_string().strip_prefix(&prefix).map(str::to_owned) else { continue };
            if run_file.is_some() {
                let _ = writeln!(trec, "{qid} Q0 {doc} {} {} paperboy-{mode}", docs.len() + 1, h.score);
            }
            docs.push(doc);
        }
        runs.insert(qid.clone(), docs);
    }
    if let Some(path) = run_file {
        std::fs::write(path, trec).with_context(|| format!("writing the run file {}", path.display()))?;
    }
    let m = evaluate(&runs, &qrels);
    if ctx.json() {
        ctx.print_json(serde_json::to_value(m)?);
    } else {
        println!("{dataset} ({mode}, {} queries): nDCG@10 {:.4}  Recall@100 {:.4}  MRR@10 {:.4}", m.queries, m.ndcg_10, m.recall_100, m.mrr_10);
    }
    Ok(())
}

/// `paperboy eval recs`: the "For you" model against the peers' recipes on the daily-papers
/// archive. Vectors come from (and go into) the data directory's embedding cache, so only the
/// first run embeds (about 9,600 papers, minutes on 2 cores).
pub fn eval_recs(ctx: &Ctx, archive: &Path, params: Option<&str>, tuning_only: bool, model_only: bool) -> Result<()> {
    use paperboy_engine::recommend::{self, eval};
    anyhow::ensure!(archive.exists(), "{} is missing: pass --archive with the Hugging Face daily-papers archive (../shared/data/hf-daily-papers/)", archive.display());
    let papers = eval::read_archive(archive).map_err(anyhow::Error::msg)?;
    let model = load_model()?;
    let model_id = model.model_id().to_string();
    let mut cache = ctx.open_store()?;
    let hashes: Vec<String> = papers.iter().map(|p| paperboy_core::text::stable_digest(&p.text)).collect();
    let mut vectors = cache.cached_embeddings(&model_id, &hashes)?;
    let missing: Vec<usize> = (0..papers.len()).filter(|&i| !vectors.contains_key(&hashes[i])).collect();
    if !missing.is_empty() {
        eprintln!("embedding {} of {} papers (cached for the next run)", missing.len(), papers.len());
        let bar = ctx.progress_bar();
        bar.set_length(missing.len() as u64);
        for chunk in missing.chunks(64) {
            let texts: Vec<&str> = chunk.iter().map(|&i| papers[i].text.as_str()).collect();
            let embedded = model.embed(&texts)?;
            let rows: Vec<(String, Vec<f32>)> = chunk.iter().zip(embedded).map(|(&i, v)| (hashes[i].clone(), v.into_vec())).collect();
            cache.cache_embeddings(&model_id, &rows)?;
            vectors.extend(rows);
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
    }
    let vectors: Vec<Vec<f32>> = hashes.iter().map(|h| vectors.remove(h).expect("every paper embedded")).collect();
    let n = papers.len();
    let start = std::time::Instant::now();
    let corpus = eval::Corpus::new(papers, vectors);
    let p = match params {
        None => recommend::PARAMS,
        Some(text) => {
            let parts: Vec<&str> = text.split(',').map(str::trim).collect();
            anyhow::ensure!(parts.len() == 6, "--params: LAMBDA,STEPS,BACKGROUND,MEAN_SIMILARITY,LEXICAL_WEIGHT,AUTHOR_WEIGHT, e.g. 0.01,40,128,0.5,1,10");
            recommend::Params {
                lambda: parts[0].parse().context("--params: lambda")?,
                iterations: parts[1].parse().context("--params: steps")?,
                background: parts[2].parse().context("--params: background")?,
                mean_similarity: parts[3].parse().context("--params: mean similarity")?,
                lexical_weight: parts[4].parse().context("--params: lexical weight")?,
                author_weight: parts[5].parse().context("--params: author weight")?,
            }
        }
    };
    let methods: Vec<eval::Method> = if model_only { vec![eval::Method::Paperboy] } else { eval::Method::ALL.to_vec() };
    let mut rows = eval::submitters(&corpus, &methods, false, &p);
    rows.extend(eval::submitters(&corpus, &methods, true, &p));
    rows.extend(eval::keyword_readers(&corpus, &methods, 5, &p));
    rows.extend(eval::keyword_readers(&corpus, &methods, 20, &p));
    if tuning_only {
        rows.retain(|r| r.half == "tuning");
    }
    if ctx.json() {
        ctx.print_json(json!({"papers": n, "params": format!("{p:?}"), "rows": rows}));
        return Ok(());
    }
    println!("{n} papers, {:?}, {:.0} s\n", p, start.elapsed().as_secs_f64());
    println!("| protocol | half | method | readers | nDCG@10 | recall@10 | MRR |");
    println!("| --- | --- | --- | ---: | ---: | ---: | ---: |");
    for r in &rows {
        let s = r.scores;
        println!("| {} | {} | {} | {} | {:.4} | {:.4} | {:.4} |", r.protocol, r.half, r.method.name(), s.readers, s.ndcg10, s.recall10, s.mrr);
    }
    println!("\npaperboy against the best baseline, nDCG@10 points paired by reader (95% bootstrap interval, {} resamples):\n", eval::RESAMPLES);
    println!("| protocol | half | best baseline | points | 95% interval | readers better / worse |");
    println!("| --- | --- | --- | ---: | --- | --- |");
    for r in &rows {
        if let Some(m) = r.margin {
            println!("| {} | {} | {} | {:+.1} | {:+.1} to {:+.1} | {} / {} |", r.protocol, r.half, m.baseline.name(), m.points, m.low, m.high, m.better, m.worse);
        }
    }
    Ok(())
}

/// `paperboy synth`: fills the data directory with a synthetic corpus for benchmarks.
pub fn synth(ctx: &Ctx, papers: usize) -> Result<()> {
    let mut store = ctx.open_store()?;
    if store.latest_day()?.is_none() {
        paperboy_engine::demo::load(&mut *store)?;
    }
    let last_day = store.latest_day()?.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let bar = ctx.progress_bar();
    let start = std::time::Instant::now();
    let seeds = paperboy_engine::synth::generate(&mut *store, paperboy_embed::MINILM_ID, papers, last_day, &mut report_to(&bar))?;
    bar.finish_and_clear();
    anyhow::ensure!(seeds >= 3, "too few papers with vectors to make a synthetic corpus from ({seeds})");
    println!("{papers} synthetic papers from {seeds} real ones in {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// A memory figure of this process from /proc (`VmRSS`, `VmHWM`), as written there ("123 kB").
fn memory_status(key: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(':')).map(|v| v.trim().to_owned())))
        .unwrap_or_default()
}

/// Latency of each mode on the store's papers: queries are the first four words of paper
/// titles spread over the store, so each has real matches; the query embedding is included
/// (the query-vector cache is emptied before each mode).
pub fn bench(ctx: &Ctx, n: usize, during_background_work: bool) -> Result<()> {
    let mut store = ctx.open_store()?;
    let open_start = std::time::Instant::now();
    let service = open_service(ctx, &mut *store, Mode::Hybrid)?;
    let open_secs = open_start.elapsed().as_secs_f64();
    // What serving holds: measured before the benchmark reads its queries.
    let serving_rss = memory_status("VmRSS");
    // Every step-th paper's title, read a page at a time (a million papers do not fit in memory
    // as one list).
    let total = store.stats()?.papers as usize;
    anyhow::ensure!(total > 0, "no papers to search: run `paperboy demo` first");
    let step = (total / n.max(1)).max(1);
    let (mut queries, mut seen, mut seq) = (Vec::new(), 0usize, 0);
    while queries.len() < n {
        let page = store.papers_changed_since(seq, 10_000)?;
        let Some(&(last, _)) = page.last() else { break };
        for (_, p) in &page {
            if seen % step == 0 && queries.len() < n {
                if let Ok(q) = SearchQuery::parse(&p.title.split_whitespace().take(4).collect::<Vec<_>>().join(" ")) {
                    queries.push(q);
                }
            }
            seen += 1;
        }
        seq = last;
    }
    // Two rounds: the first meets a cold page cache (index files read from disk as queries
    // touch them), the second the steady state. The query vectors are forgotten before each
    // mode, so every timing includes embedding the query.
    let mut rows = Vec::new();
    for round in ["first", "second"] {
        for mode in [Mode::Bm25, Mode::Semantic, Mode::Hybrid] {
            service.clear_query_cache();
            let mut times: Vec<f64> = Vec::with_capacity(queries.len());
            let mut slowest: Vec<(f64, &str)> = Vec::new();
            for q in &queries {
                let start = std::time::Instant::now();
                service.search(&*store, q, mode, &Filters::default(), 10)?;
                let ms = start.elapsed().as_secs_f64() * 1000.0;
                times.push(ms);
                slowest.push((ms, q.as_str()));
            }
            slowest.sort_by(|a, b| b.0.total_cmp(&a.0));
            let named: Vec<String> = slowest.iter().take(3).map(|(ms, q)| format!("{q:?} {ms:.0} ms")).collect();
            eprintln!("{round} round, {mode}: slowest {}", named.join(", "));
            times.sort_by(f64::total_cmp);
            let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
            rows.push((round, mode, pct(0.5), pct(0.99), times.iter().sum::<f64>() / times.len() as f64));
        }
    }
    println!(
        "{total} papers, {} with vectors; open (index sync + vector load) {open_secs:.2} s; RSS after open {serving_rss}, after the queries {} (anonymous {}, mapped files {}), peak {}",
        service.embedded(),
        memory_status("VmRSS"),
        memory_status("RssAnon"),
        memory_status("RssFile"),
        memory_status("VmHWM")
    );
    if during_background_work {
        rows.push(during_lexicon_fits(&*store, &service, &queries)?);
        rows.push(during_embedding(&*store, &service, &queries)?);
    }
    println!("| round | mode | queries | p50 (ms) | p99 (ms) | mean (ms) |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for (round, mode, p50, p99, mean) in rows {
        println!("| {round} | {mode} | {} | {p50:.2} | {p99:.2} | {mean:.2} |", queries.len());
    }
    Ok(())
}

/// Hybrid latency of `queries` (fresh: the query-vector cache emptied first) while another
/// thread fits the "For you" lexicon on the most recent papers over and over, as a serving
/// process does after start-up and as papers arrive.
fn during_lexicon_fits(store: &dyn paperboy_engine::store::Store, service: &SearchService, queries: &[SearchQuery]) -> Result<Row> {
    let papers = first_papers(store, paperboy_engine::recommend::LEXICAL_PAPERS)?;
    let done = format!("fits of {} papers", papers.len());
    during("during lexicon fits", &done, store, service, queries, &|| {
        std::hint::black_box(paperboy_engine::recommend::Lexical::fit(&papers, papers.len()));
    })
}

/// Hybrid latency of `queries` (fresh) while another thread embeds papers' texts over and over,
/// as a serving process does with each harvest's new papers.
fn during_embedding(store: &dyn paperboy_engine::store::Store, service: &SearchService, queries: &[SearchQuery]) -> Result<Row> {
    let texts: Vec<String> = first_papers(store, paperboy_engine::search::service::EMBED_CHUNK)?.iter().map(|p| paperboy_embed::paper_text(&p.title, &p.abstract_text)).collect();
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let done = format!("batches of {} papers embedded", texts.len());
    during("during embedding", &done, store, service, queries, &|| {
        std::hint::black_box(paperboy_engine::search::service::embed_papers(service.embedder().as_ref(), &texts).expect("embedding"));
    })
}

/// A row of the latency table: round, mode, p50, p99, mean.
type Row = (&'static str, Mode, f64, f64, f64);

/// The store's first `n` papers.
fn first_papers(store: &dyn paperboy_engine::store::Store, n: usize) -> Result<Vec<paperboy_core::Paper>> {
    let mut papers = Vec::new();
    let mut seq = 0;
    while papers.len() < n {
        let page = store.papers_changed_since(seq, 10_000)?;
        let Some(&(last, _)) = page.last() else { break };
        papers.extend(page.into_iter().map(|(_, p)| p));
        seq = last;
    }
    papers.truncate(n);
    Ok(papers)
}

/// Hybrid latency of `queries` (fresh, one every 20 ms) while another thread does `work` over
/// and over.
fn during(label: &'static str, done: &str, store: &dyn paperboy_engine::store::Store, service: &SearchService, queries: &[SearchQuery], work: &(dyn Fn() + Sync)) -> Result<Row> {
    let stop = std::sync::atomic::AtomicBool::new(false);
    let rounds = std::sync::atomic::AtomicUsize::new(0);
    service.clear_query_cache();
    let times = std::thread::scope(|scope| -> Result<Vec<f64>> {
        scope.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                work();
                rounds.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        // Let the work get going.
        std::thread::sleep(std::time::Duration::from_millis(200));
        let mut times = Vec::with_capacity(queries.len());
        let result = queries.iter().try_for_each(|q| {
            let start = std::time::Instant::now();
            service.search(store, q, Mode::Hybrid, &Filters::default(), 10)?;
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            // Queries arrive spaced, as users' do, rather than back to back.
            std::thread::sleep(std::time::Duration::from_millis(20));
            anyhow::Ok(())
        });
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        result.map(|()| times)
    })?;
    eprintln!("{label}: {} {done} while {} hybrid queries were timed", rounds.into_inner(), times.len());
    let mut times = times;
    times.sort_by(f64::total_cmp);
    let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    Ok((label, Mode::Hybrid, pct(0.5), pct(0.99), times.iter().sum::<f64>() / times.len() as f64))
}
