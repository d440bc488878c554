//! `paperboy digest run|preview` and `paperboy subscribers import|list`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use chrono::{NaiveDate, Utc};
use paperboy_core::EmailAddress;
use paperboy_digest::{compose, compose_all_on, deliver_due, digest_message, preview_all, request_subscription, Period};
use paperboy_engine::subscriptions::{Frequency, Interests};
use paperboy_engine::Store;
use serde_json::json;

use crate::ctx::Ctx;
use crate::jobs::{COMPOSERS, DELIVERY_BATCH};

fn digest_day(store: &dyn Store, date: Option<NaiveDate>) -> Result<NaiveDate> {
    match date {
        Some(d) => Ok(d),
        None => Ok(store.latest_day()?.unwrap_or_else(|| Utc::now().date_naive())),
    }
}

/// `digest run`: compose every due digest, then deliver the outbox.
pub fn run(ctx: &Ctx, date: Option<NaiveDate>, dry_run: bool) -> Result<()> {
    let mail = &ctx.settings.mail;
    let mut store = ctx.open_store()?;
    let day = digest_day(&*store, date)?;
    let mailer = if dry_run { None } else { Some(mail.mailer()?) };
    if !mail.base_url_given && !dry_run {
        tracing::warn!("no base URL set (PAPERBOY_BASE_URL, or base_url in the config file's [mail] or [serve]): links in the emails point to {}", mail.cfg.base_url);
    }
    let service = crate::search::open_service(ctx, &mut *store, paperboy_engine::search::Mode::Hybrid)?;
    let now = Utc::now();
    let (composed, previews) = match dry_run {
        true => preview_all(&mut *store, Some(&service), day)?,
        false => {
            let mut composers = (0..COMPOSERS).map(|_| ctx.open_store()).collect::<Result<Vec<_>>>()?;
            let mut composers: Vec<&mut dyn Store> = composers.iter_mut().map(|s| &mut **s as &mut dyn Store).collect();
            (compose_all_on(&mut composers, Some(&service), &mail.cfg, day, now)?, Vec::new())
        }
    };
    let delivered = match &mailer {
        Some(m) => deliver_due(&mut *store, m, now, DELIVERY_BATCH)?,
        None => Default::default(),
    };
    // What is left waiting: retries not yet due, or claims of a worker that died.
    let waiting = store.outbox_counts()?;
    let (queued, next_attempt) = (waiting.queued + waiting.sending, waiting.next_attempt);
    if ctx.json() {
        ctx.print_json(json!({
            "day": day, "dry_run": dry_run, "composed": composed.composed, "empty": composed.empty, "skipped": composed.skipped,
            "sent": delivered.sent, "failed": delivered.failed, "retrying": delivered.retrying,
            "queued": queued, "next_attempt": next_attempt,
        }));
    } else {
        for (sub, d) in &previews {
            println!("would send to {}: {}", sub.email, paperboy_digest::render::subject(d));
        }
        println!(
            "{day}: {} digests composed{}, {} with nothing new, {} skipped; {} sent, {} failed, {} to retry",
            composed.composed,
            if dry_run { " (dry run: nothing recorded or sent)" } else { "" },
            composed.empty,
            composed.skipped,
            delivered.sent,
            delivered.failed,
            delivered.retrying
        );
        if let Some(at) = next_attempt.filter(|_| queued > 0) {
            println!("{queued} messages wait in the outbox; the next is due at {} (a later `digest run` or `serve` sends it)", at.format("%Y-%m-%d %H:%M:%S UTC"));
        }
    }
    Ok(())
}

/// `digest preview --email`: writes the HTML and text one subscriber would get.
pub fn preview(ctx: &Ctx, email: &str, date: Option<NaiveDate>, out: &Path) -> Result<()> {
    let email = EmailAddress::parse(email)?;
    let mut store = ctx.open_store()?;
    let sub = store.subscriber_by_email(&email)?.with_context(|| format!("no subscriber {email}; see `paperboy subscribers list`"))?;
    let day = digest_day(&*store, date)?;
    let service = crate::search::open_service(ctx, &mut *store, paperboy_engine::search::Mode::Hybrid)?;
    let period = Period { frequency: sub.frequency, day };
    let Some(digest) = compose(&*store, Some(&service), &sub, &period)? else {
        println!("nothing new for {email} on {day}: no email would be sent");
        return Ok(());
    };
    let message = digest_message(&digest, &sub, &ctx.settings.mail.cfg);
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let html = out.join("digest.html");
    let text = out.join("digest.txt");
    std::fs::write(&html, &message.html).with_context(|| format!("writing {}", html.display()))?;
    std::fs::write(&text, &message.text).with_context(|| format!("writing {}", text.display()))?;
    if ctx.json() {
        ctx.print_json(json!({"subject": message.subject, "html": html, "text": text, "papers": digest.len()}));
    } else {
        println!("{}\n  {}\n  {}", message.subject, html.display(), text.display());
    }
    Ok(())
}

/// `subscribers import FILE.csv [--confirmed]`: columns email, frequency, interests (a header
/// row names them; frequency and interests may be missing). Pending imports get a confirmation
/// email (sent by the next delivery); bad rows are reported with their line and skipped.
pub fn import(ctx: &Ctx, path: &Path, confirmed: bool) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).trim(csv::Trim::All).from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let headers = reader.headers().with_context(|| format!("{}: no header row", path.display()))?.clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let Some(email_col) = col("email") else { bail!("{}: the header row has no \"email\" column (columns: email, frequency, interests)", path.display()) };
    let (freq_col, interests_col) = (col("frequency"), col("interests"));
    let mut store = ctx.open_store()?;
    let (mut imported, mut known, mut errors) = (0u64, 0u64, Vec::new());
    let now = Utc::now();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("{}:{line}: {e}", path.display()));
                continue;
            }
        };
        let field = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("");
        let parsed = EmailAddress::parse(field(Some(email_col)))
            .map_err(|e| e.to_string())
            .and_then(|email| Ok((email, field(freq_col).parse::<Frequency>()?, Interests::from_fields(field(interests_col), "", "", "")?)));
        let (email, frequency, interests) = match parsed {
            Ok(p) => p,
            Err(e) => {
                errors.push(format!("{}:{line}: {e}", path.display()));
                continue;
            }
        };
        if store.subscriber_by_email(&email)?.is_some() {
            known += 1;
        } else if confirmed {
            store.import_subscriber(&email, frequency, &interests, true, now)?;
            imported += 1;
        } else {
            request_subscription(&mut *store, &ctx.settings.mail.cfg.base_url, &email, frequency, &interests, now)?;
            imported += 1;
        }
    }
    if ctx.json() {
        ctx.print_json(json!({"imported": imported, "already_known": known, "rejected": errors.len(), "errors": errors.iter().take(20).collect::<Vec<_>>()}));
    } else {
        println!(
            "{imported} imported as {}, {known} already known, {} rejected",
            if confirmed { "confirmed" } else { "pending (confirmation emails queued)" },
            errors.len()
        );
        for e in errors.iter().take(20) {
            println!("  {e}");
        }
    }
    Ok(())
}

/// `subscribers list`.
pub fn list(ctx: &Ctx) -> Result<()> {
    let store = ctx.open_store()?;
    let subs = store.subscribers(1_000_000)?;
    if ctx.json() {
        ctx.print_json(json!({"subscribers": subs}));
    } else if subs.is_empty() {
        println!("no subscribers");
    } else {
        for s in &subs {
            let interests = serde_json::to_string(&s.interests)?;
            println!("{:<40} {:<12} {:<7} {}", s.email.as_str(), format!("{:?}", s.status).to_lowercase(), s.frequency, interests);
        }
        println!("{} subscribers", subs.len());
    }
    Ok(())
}
