//! `paperboy migrate --from URL --to URL`: the whole store, table by table, with progress.

use anyhow::{bail, Context, Result};
use paperboy_engine::store::transfer::copy_all;
use paperboy_engine::Location;

use crate::ctx::Ctx;

pub fn run(ctx: &Ctx, from: &Location, to: &Location) -> Result<()> {
    if from == to {
        bail!("--from and --to are the same database ({})", from.display());
    }
    if let Location::Sqlite(path) = from {
        if !path.exists() {
            bail!("no SQLite database at {}", path.display());
        }
    }
    let source = from.open().with_context(|| format!("cannot open {}", from.display()))?;
    let mut target = to.open().with_context(|| format!("cannot open {}", to.display()))?;
    let bar = ctx.progress_bar();
    let mut current = String::new();
    let report = copy_all(&*source, &mut *target, &mut |table, done, total| {
        if current != table {
            current = table.to_owned();
            bar.set_message(table.to_owned());
            bar.set_length(total);
        }
        bar.set_position(done);
    })
    .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    bar.finish_and_clear();
    if ctx.json() {
        ctx.print_json(serde_json::json!({ "from": from.display(), "to": to.display(), "tables": report }));
        return Ok(());
    }
    println!("copied {} to {}", from.display(), to.display());
    println!("{:<20} {:>10} {:>10} {:>10}", "table", "read", "new", "rows");
    for t in &report {
        println!("{:<20} {:>10} {:>10} {:>10}", t.table, t.read, t.inserted, t.target_rows);
    }
    println!("row counts match in every table");
    Ok(())
}
