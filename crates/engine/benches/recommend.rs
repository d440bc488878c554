//! "For you" speed: retraining one reader's model after a vote, and the daily job's scoring of
//! one day's new papers for many readers.
//!
//! `cargo bench -p paperboy-engine --bench recommend`. The vectors are synthetic: unit vectors
//! around 64 topic centres (384 dimensions, as all-MiniLM-L6-v2's), 100,000 papers over 334
//! days (~300 a day), each with a 150-word synthetic text (70% of its words from its topic's
//! 300) and five authors (four of its topic's 100, one of 20,000 others). `BENCH_READERS` (default 10,000) readers, each with `BENCH_VOTES` (default 20) upvotes
//! on one topic; the retraining case uses 200 votes. Both halves of the model are trained (the
//! embedding half, and the tf-idf half against every row of the lexicon through its shared
//! statistics) and fused, and the authors the reader's papers share add their affinity.

use std::collections::HashSet;
use std::time::Instant;

use chrono::{Days, NaiveDate};
use paperboy_core::PaperId;
use paperboy_core::{Author, Paper, Source};
use paperboy_engine::recommend::{add_affinity, background, fit, Inputs, Lexical, Rated, ReaderModel, Reason, PARAMS};
use paperboy_engine::search::vectors::{SlotMeta, VectorSet};
use rayon::prelude::*;

const DIM: usize = 384;
const PAPERS: usize = 100_000;
const PER_DAY: usize = 300;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn normal(&mut self) -> f32 {
        // Sum of uniforms: close enough to a Gaussian for directions.
        (0..6).map(|_| (self.next() % 10_000) as f32 / 10_000.0).sum::<f32>() - 3.0
    }
}

fn unit(mut v: Vec<f32>) -> Vec<f32> {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter_mut().for_each(|x| *x /= n);
    v
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let readers = env("BENCH_READERS", 10_000);
    let votes = env("BENCH_VOTES", 20);
    let mut rng = Rng(0x5EED);
    let centres: Vec<Vec<f32>> = (0..64).map(|_| unit((0..DIM).map(|_| rng.normal()).collect())).collect();
    let first = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let mut set = VectorSet::new(DIM);
    let mut topic = Vec::with_capacity(PAPERS);
    for i in 0..PAPERS {
        let t = (rng.next() % 64) as usize;
        let v = unit(centres[t].iter().map(|c| c + 0.08 * rng.normal()).collect());
        let id: PaperId = format!("{:02}{:02}.{:05}", 20 + i / 1_200_000, 1 + (i / 100_000) % 12, i % 100_000).parse().unwrap();
        let day = first.checked_add_days(Days::new((i / PER_DAY) as u64)).unwrap();
        set.push_keyed(SlotMeta { id, day: Some(day), categories: vec![] }, &v, i as u64);
        topic.push(t);
    }
    // Texts: 150 words, 70% from the paper's topic's 300 words, the rest from 3,000 common ones.
    let word = |t: usize, k: u64| if t == usize::MAX { format!("common{}", k % 3000) } else { format!("t{t}w{}", k % 300) };
    let texts: Vec<String> = (0..PAPERS)
        .map(|i| {
            let mut r = Rng(i as u64 * 7919 + 1);
            (0..150).map(|_| if r.next() % 10 < 7 { word(topic[i], r.next()) } else { word(usize::MAX, r.next()) }).collect::<Vec<_>>().join(" ")
        })
        .collect();
    let paper = |s: usize| {
        let mut p = Paper::new(set.meta[s].id.clone(), String::new(), Source::Atom);
        p.abstract_text = texts[s].clone();
        let mut r = Rng(s as u64 * 104_729 + 3);
        p.authors = (0..4).map(|_| Author::new(format!("Topic{} Author{}", topic[s], r.next() % 100))).collect();
        p.authors.push(Author::new(format!("Other Author{}", r.next() % 20_000)));
        p
    };
    let start = Instant::now();
    let recent: Vec<Paper> = (PAPERS - paperboy_engine::recommend::LEXICAL_PAPERS..PAPERS).map(paper).collect();
    let lexical = Lexical::fit(&recent, set.len());
    println!("lexicon: {} features fitted on the {} most recent papers in {:.2} s (once, shared by every reader)", lexical.lexicon.len(), recent.len(), start.elapsed().as_secs_f64());
    // The last full day (the very last holds the remainder).
    let last_day = set.meta[PAPERS - PER_DAY - 1].day.unwrap();
    let today: Vec<usize> = (0..set.len()).filter(|&s| set.meta[s].day == Some(last_day)).collect();
    let inputs_of = |seed: u64, n: usize| -> Inputs {
        let t = (seed % 64) as usize;
        let mut r = Rng(seed | 1);
        let mut positives = Vec::new();
        while positives.len() < n {
            let s = (r.next() % (PAPERS - PER_DAY) as u64) as usize;
            if topic[s] == t {
                positives.push(Rated { paper: set.meta[s].id.clone(), title: String::new(), reason: Reason::Upvoted, vector: set.vector(s), row: lexical.row_of(&paper(s)), authors: paperboy_engine::recommend::paper_author_keys(&paper(s)) });
            }
        }
        Inputs { positives, ..Default::default() }
    };

    // Both halves over the day's papers, fused as the product ranks.
    let rank_today = |model: &ReaderModel, lexical: &Lexical, today: &[usize]| -> Vec<(f32, usize)> {
        let embedding: Vec<f32> = today.iter().map(|&s| model.score_stored(set.stored(s), &PARAMS)).collect();
        let lex: Vec<f32> = today.iter().map(|&s| paperboy_engine::recommend::tfidf::score(&model.lexical, lexical.row(&set.meta[s].id).expect("a recent paper"))).collect();
        let mut fused = paperboy_engine::recommend::fuse(&embedding, &lex, model.lexical_weight);
        add_affinity(&mut fused, &lexical.affinities(&model.affinity, today.iter().map(|&s| &set.meta[s].id)), PARAMS.author_weight);
        let mut scored: Vec<(f32, usize)> = fused.into_iter().zip(today.iter().copied()).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored
    };

    // Retraining after a vote: 200 votes, then scoring the day's papers.
    let mut times = Vec::new();
    for seed in 1..=50u64 {
        let inputs = inputs_of(seed, 200);
        let start = Instant::now();
        let model = ReaderModel::train(inputs, &set, Some(&lexical), seed, &PARAMS);
        let scores = rank_today(&model, &lexical, &today);
        std::hint::black_box(scores);
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "retrain both halves (200 votes; {} background vectors, {} steps; every lexicon row) and rank {} papers: p50 {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        PARAMS.background,
        PARAMS.iterations,
        today.len(),
        times[times.len() / 2],
        times[times.len() * 9 / 10],
        times[times.len() - 1]
    );
    let fit_only = {
        let inputs = inputs_of(7, 200);
        let pos: Vec<&[f32]> = inputs.positives.iter().map(|r| r.vector.as_slice()).collect();
        let bg: Vec<Vec<f32>> = background(&set, PARAMS.background, 7, &HashSet::new()).into_iter().map(|s| set.vector(s)).collect();
        let neg: Vec<&[f32]> = bg.iter().map(|v| v.as_slice()).collect();
        let start = Instant::now();
        for _ in 0..20 {
            std::hint::black_box(fit(&pos, &neg, &PARAMS));
        }
        start.elapsed().as_secs_f64() * 1000.0 / 20.0
    };
    println!("  of which fitting alone: {fit_only:.2} ms");

    // The daily job: every reader's model trained and the day's papers scored, on all cores.
    let all: Vec<Inputs> = (0..readers as u64).map(|r| inputs_of(r + 1000, votes)).collect();
    let start = Instant::now();
    let picks: usize = all
        .into_par_iter()
        .enumerate()
        .map(|(r, inputs)| {
            let model = ReaderModel::train(inputs, &set, Some(&lexical), r as u64, &PARAMS);
            let mut scored = rank_today(&model, &lexical, &today);
            scored.truncate(5);
            scored.len()
        })
        .sum();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "daily job: {readers} readers x {votes} votes, {} papers of the day, {} threads: {secs:.2} s, {:.0} readers/s ({picks} picks)",
        today.len(),
        rayon::current_num_threads(),
        readers as f64 / secs
    );
}
