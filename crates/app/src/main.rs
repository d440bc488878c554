//! `paperboy`: parse the command line, set up logging, run the command (the library's
//! [`paperboy::run`]), and print the whole chain of causes when something fails.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc: the model's forward pass allocates and frees large buffers all the time; the system
/// allocator hands them back zeroed page by page.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = paperboy::cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PAPERBOY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if cli.verbose || cli.command.is_service() { "info,tantivy=warn" } else { "warn" })),
        )
        .init();
    match paperboy::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            // Many errors already say their cause ("cannot read x: No such file"): a cause is
            // printed only when the line above does not hold it.
            let mut said = e.to_string();
            for cause in e.chain().skip(1) {
                let text = cause.to_string();
                if !said.contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                said = text;
            }
            ExitCode::FAILURE
        }
    }
}
