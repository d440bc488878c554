//! The demo corpus, built into the binary (see `data/demo/PROVENANCE.md`): twelve months of
//! Hugging Face daily papers and the seed listing, so a fresh install has real papers to show.

use anyhow::{Context, Result};
use paperboy_core::Source;
use paperboy_engine::ingest::{hf_daily, listing};
use paperboy_engine::{IngestReport, IngestRun, PaperStore};

const HF_DAILY_TAR_GZ: &[u8] = include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/hf-daily.tar.gz"));
const LISTING: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/demo/papers-listing.txt"));

/// Loads the demo corpus into `store`. Loading it again changes nothing.
pub fn load(store: &mut dyn PaperStore) -> Result<Vec<IngestReport>> {
    let mut run = IngestRun::new(store, Source::HfDaily, "demo:hf-daily.tar.gz");
    let mut failed = None;
    hf_daily::read_tar_gz(HF_DAILY_TAR_GZ, "demo:hf-daily.tar.gz", &mut |record| {
        if failed.is_none() {
            failed = run.accept(record).err();
        }
    })
    .context("the built-in demo corpus is unreadable")?;
    if let Some(e) = failed {
        return Err(e).context("storing the demo corpus");
    }
    let hf = run.finish()?;
    let mut run = IngestRun::new(store, Source::Listing, "demo:papers-listing.txt");
    run.accept_all(listing::parse_listing(LISTING, "demo:papers-listing.txt"))?;
    Ok(vec![hf, run.finish()?])
}
