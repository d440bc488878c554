//! `paperboy`: a self-hosted research-paper discovery service in one binary.
//!
//! The binary (`main.rs`) parses the command line and calls [`run`]. Everything it needs is
//! decided once in [`settings`] ([`Settings::resolve`]); `serve` is built by
//! [`Application::build`], the one composition root that the tests run too; the daily jobs and
//! the delivery worker live in [`jobs`]; each other command is a function in its own module,
//! sharing a [`ctx::Ctx`].

pub mod cli;
pub mod ctx;
pub mod jobs;
pub mod settings;
pub mod startup;

mod commands;
mod demo;
mod digest;
mod migrate;
mod search;

pub use settings::Settings;
pub use startup::Application;

use anyhow::Result;

/// Runs one command line: resolves the settings (flags, environment, config file, defaults),
/// then runs the command.
pub fn run(cli: cli::Cli) -> Result<()> {
    let file = settings::ConfigFile::load(cli.config.as_deref(), settings::ConfigFile::default_path())?;
    let settings = Settings::resolve(&cli, file, &settings::process_env, dirs::data_dir().map(|d| d.join("paperboy")))?;
    commands::run(cli.command, ctx::Ctx { settings })
}
