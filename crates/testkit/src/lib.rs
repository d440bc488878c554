//! Test support shared by paperboy's crates, kept out of the product: every crate takes it as a
//! dev-dependency only, so `cargo tree -e normal` of the product crates never shows it.
//!
//! - [`sink::SmtpSink`]: a real SMTP server on a loopback port that keeps what it receives;
//! - [`replay::ReplayServer`]: an HTTP server on a loopback port that answers with canned
//!   replies (recorded arXiv responses) and records every request;
//! - [`http`]: a minimal HTTP client for tests against a running server;
//! - [`fixture`] / [`read_fixture`]: files under the repository's `tests/fixtures`;
//! - [`peak_rss_mib`]: the process's peak resident memory, for the benchmarks.

pub mod http;
pub mod replay;
pub mod sink;

use std::path::PathBuf;

pub use replay::{ReplayServer, Reply, Seen};
pub use sink::{Received, SmtpSink};

/// A file under the repository's `tests/fixtures` (each fixture's provenance is in the README
/// beside it).
pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures").join(rel)
}

/// A fixture's bytes; panics with its name when it cannot be read.
pub fn read_fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

/// The peak resident set of this process in MiB (`VmHWM` in `/proc/self/status`; 0 where
/// there is no such file).
pub fn peak_rss_mib() -> f64 {
    status_kib("VmHWM").map_or(0.0, |kib| kib as f64 / 1024.0)
}

/// The resident set of this process now, in MiB (`VmRSS`; 0 where there is no such file).
pub fn rss_mib() -> f64 {
    status_kib("VmRSS").map_or(0.0, |kib| kib as f64 / 1024.0)
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
