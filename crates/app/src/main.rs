//! `paperboy`: a self-hosted research-paper discovery service in one binary.
//!
//! `main` stays thin: parse the command line, set up logging, run the command, and print the
//! whole chain of causes when something fails.

mod cli;
mod commands;
mod config;
mod demo;
mod digest;
mod migrate;
mod search;
mod serve;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: the model's forward pass allocates and frees large buffers all the time; the system
/// allocator hands them back zeroed page by page.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PAPERBOY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if cli.verbose || cli.command.is_service() { "info,tantivy=warn" } else { "warn" })),
        )
        .init();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
