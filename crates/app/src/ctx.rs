//! What every command shares: the resolved settings, how to open the store, and how to talk to
//! the person at the terminal (progress bars, JSON).

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use paperboy_engine::Store;

use crate::settings::Settings;

/// A command's context.
pub struct Ctx {
    /// Every setting, resolved.
    pub settings: Settings,
}

impl Ctx {
    /// Machine-readable output, no progress bars.
    pub fn json(&self) -> bool {
        self.settings.json
    }

    /// The database, for messages (a PostgreSQL URL without its password).
    pub fn db_name(&self) -> String {
        self.settings.database.display()
    }

    /// A new connection to the store (the data directory is created first).
    pub fn open_store(&self) -> Result<Box<dyn Store>> {
        self.settings.open_store()
    }

    /// A spinner on stderr for long jobs; hidden with --json or when stderr is not a terminal.
    pub fn spinner(&self, message: &str) -> ProgressBar {
        if self.json() || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new_spinner().with_message(message.to_owned());
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}: {pos} records ({per_sec}, {elapsed})").expect("valid template"));
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }

    /// A bar for steps with a known length; hidden like the spinner.
    pub fn progress_bar(&self) -> ProgressBar {
        if self.json() || !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let bar = ProgressBar::new(0);
        bar.set_style(ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} ({per_sec}, eta {eta})").expect("valid template"));
        bar
    }

    /// One JSON document on stdout.
    pub fn print_json(&self, value: serde_json::Value) {
        println!("{value}");
    }
}
