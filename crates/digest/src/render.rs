//! The messages: the digest and the confirmation email, each as HTML (inline styles, a table
//! layout mail clients keep, a dark-mode block for clients that honour it) and plain text.

use paperboy_core::text::long_day;
use maud::{html, Markup, PreEscaped, DOCTYPE};
use paperboy_core::{urls, Paper};
use paperboy_engine::outbox::OutgoingMessage;
use paperboy_engine::readers::SIGN_IN_TTL;
use paperboy_engine::subscriptions::{Subscriber, CONFIRM_TTL};
use sha2::{Digest as _, Sha256};

use crate::compose::Digest;
use crate::error::MailConfig;

const DARK_MODE: &str = "@media (prefers-color-scheme: dark) { .bg { background:#121417 !important; } .card { background:#1b1f24 !important; border-color:#2c3138 !important; } \
    .fg { color:#e6e8eb !important; } .muted { color:#a7adb8 !important; } a { color:#8ab4f8 !important; } }";

/// Links for one subscriber.
pub struct Links {
    /// One-click unsubscribe (also the `List-Unsubscribe` URL).
    pub unsubscribe: String,
    /// Preferences page.
    pub preferences: String,
}

impl Links {
    /// The links of `sub` under the instance's public address.
    pub fn of(sub: &Subscriber, base_url: &str) -> Self {
        Links { unsubscribe: urls::unsubscribe(base_url, &sub.manage_key), preferences: urls::preferences(base_url, &sub.manage_key) }
    }
}

/// A Message-ID that is the same every time for this subscriber and `what` (a period key, or
/// a confirmation's issue time), so a message sent twice reads as one.
pub fn message_id(subscriber: i64, what: &str, base_url: &str) -> String {
    let host = base_url.split("://").nth(1).unwrap_or(base_url).split(['/', ':']).next().filter(|h| !h.is_empty()).unwrap_or("paperboy.invalid");
    let tag: String = Sha256::digest(format!("{subscriber}|{what}").as_bytes()).iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("<{}.{subscriber}.{tag}@{host}>", what.replace([':', ' '], "-"))
}

fn paper_block(p: &Paper, base_url: &str) -> Markup {
    let url = urls::paper(base_url, &p.id);
    let authors: Vec<&str> = p.authors.iter().take(4).map(|a| a.name.as_str()).collect();
    let more = if p.authors.len() > 4 { " et al." } else { "" };
    let abstract_start: String = p.abstract_text.chars().take(300).collect();
    let cut = if p.abstract_text.chars().count() > 300 { "…" } else { "" };
    html! {
        tr { td.card style="padding:14px 16px;border:1px solid #dde1e6;border-radius:8px;background:#f6f7f9;" {
            a href=(url) style="color:#0b57d0;font-size:16px;font-weight:bold;text-decoration:none;" { (p.title) }
            div.muted style="color:#555b66;font-size:13px;margin:4px 0;" {
                (authors.join(", ")) (more)
                @if let Some(v) = p.signals.hf_upvotes { " · ▲ " (v) }
            }
            div.fg style="color:#1b1d21;font-size:14px;line-height:1.5;" { (abstract_start) (cut) }
        } }
        tr { td style="height:10px;line-height:10px;" { (PreEscaped("&nbsp;")) } }
    }
}

fn text_block(out: &mut String, p: &Paper, base_url: &str) {
    out.push_str(&format!("* {}\n  {}\n", p.title, urls::paper(base_url, &p.id)));
    if let Some(v) = p.signals.hf_upvotes {
        out.push_str(&format!("  {v} upvotes\n"));
    }
    out.push('\n');
}

fn shell(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                meta name="supported-color-schemes" content="light dark";
                title { (title) }
                style { (PreEscaped(DARK_MODE)) }
            }
            body.bg style="margin:0;padding:0;background:#ffffff;font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;" {
                table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="border-collapse:collapse;" { tr { td align="center" style="padding:16px;" {
                    table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:640px;border-collapse:separate;" { (body) }
                } } }
            }
        }
    }
    .into_string()
}

/// The subject: the date and how many papers.
pub fn subject(d: &Digest) -> String {
    let n = d.len();
    format!("paperboy: {n} paper{} for {}", if n == 1 { "" } else { "s" }, long_day(d.period.day))
}

/// The digest email for `sub`.
pub fn digest_message(d: &Digest, sub: &Subscriber, cfg: &MailConfig) -> OutgoingMessage {
    let base = &cfg.base_url;
    let links = Links::of(sub, base);
    let heading = match d.period.frequency {
        paperboy_engine::subscriptions::Frequency::Daily => format!("Papers of {}", long_day(d.period.day)),
        paperboy_engine::subscriptions::Frequency::Weekly => format!("The week to {}", long_day(d.period.day)),
    };
    let section = |title: &str, papers: &[Paper]| {
        html! {
            @if !papers.is_empty() {
                tr { td style="padding:12px 0 8px;" { h2.fg style="margin:0;font-size:17px;color:#1b1d21;" { (title) } } }
                @for p in papers { (paper_block(p, base)) }
            }
        }
    };
    let body = html! {
        tr { td style="padding:0 0 8px;" {
            a href=(format!("{base}/")) style="color:#1b1d21;font-size:20px;font-weight:bold;text-decoration:none;" { "paperboy" }
            h1.fg style="margin:6px 0 0;font-size:22px;color:#1b1d21;" { (heading) }
        } }
        (section("Trending", &d.trending))
        (section("From authors you follow", &d.followed))
        @if !d.for_you.is_empty() {
            tr { td style="padding:12px 0 8px;" { h2.fg style="margin:0;font-size:17px;color:#1b1d21;" { "For you" } } }
            @for (p, why) in &d.for_you {
                (paper_block(p, base))
                tr { td.muted style="padding:0 0 10px;color:#555b66;font-size:12px;" { "Why: " (why) } }
            }
        }
        @if !d.alerts.is_empty() {
            tr { td style="padding:12px 0 8px;" { h2.fg style="margin:0;font-size:17px;color:#1b1d21;" { "From your alerts" } } }
            @for (p, names) in &d.alerts {
                (paper_block(p, base))
                tr { td.muted style="padding:0 0 10px;color:#555b66;font-size:12px;" { (names) } }
            }
        }
        (section("For your interests", &d.matches))
        tr { td.muted style="padding:16px 0;color:#555b66;font-size:12px;line-height:1.6;" {
            "You get this " (sub.frequency) " digest at " (sub.email) " because you subscribed at " a href=(format!("{base}/")) style="color:#0b57d0;" { (base) } ". "
            a href=(links.preferences) style="color:#0b57d0;" { "Change what you get" } " · "
            a href=(links.unsubscribe) style="color:#0b57d0;" { "Unsubscribe" }
        } }
    };
    let mut text = format!("{heading}\n\n");
    // Each section's papers, each with the line it carries under it (why it was picked).
    fn plain(papers: &[Paper]) -> Vec<(&Paper, Option<String>)> {
        papers.iter().map(|p| (p, None)).collect()
    }
    let sections = [
        ("Trending", plain(&d.trending)),
        ("From authors you follow", plain(&d.followed)),
        ("For you", d.for_you.iter().map(|(p, why)| (p, Some(format!("Why: {why}")))).collect()),
        ("From your alerts", d.alerts.iter().map(|(p, why)| (p, Some(why.clone()))).collect()),
        ("For your interests", plain(&d.matches)),
    ];
    for (title, papers) in sections {
        if !papers.is_empty() {
            text.push_str(&format!("{title}\n{}\n\n", "-".repeat(title.len())));
            for (p, why) in papers {
                text_block(&mut text, p, base);
                if let Some(why) = why {
                    text.push_str(&format!("   {why}\n\n"));
                }
            }
        }
    }
    text.push_str(&format!("--\nChange what you get: {}\nUnsubscribe: {}\n", links.preferences, links.unsubscribe));
    OutgoingMessage {
        message_id: message_id(sub.id, &d.period.key(), base),
        recipient: sub.email.to_string(),
        subject: subject(d),
        html: shell(&heading, body),
        text,
        unsubscribe_url: Some(links.unsubscribe),
    }
}

/// A reader's alert email as a message of its own: what their alerts found and their watched
/// papers' news since the last one, each with why; `key` makes it unique (its run).
pub fn alert_message(section: &[(Paper, String)], sub: &Subscriber, cfg: &MailConfig, key: &str) -> OutgoingMessage {
    let base = &cfg.base_url;
    let links = Links::of(sub, base);
    let n = section.len();
    let heading = format!("{n} new from your alerts");
    let body = html! {
        tr { td style="padding:0 0 8px;" {
            a href=(format!("{base}/")) style="color:#1b1d21;font-size:20px;font-weight:bold;text-decoration:none;" { "paperboy" }
            h1.fg style="margin:6px 0 0;font-size:22px;color:#1b1d21;" { (heading) }
        } }
        @for (p, why) in section {
            (paper_block(p, base))
            tr { td.muted style="padding:0 0 10px;color:#555b66;font-size:12px;" { (why) } }
        }
        tr { td.muted style="padding:16px 0;color:#555b66;font-size:12px;line-height:1.6;" {
            "You get this at " (sub.email) " because your alerts at " a href=(format!("{base}/alerts")) style="color:#0b57d0;" { (base) "/alerts" } " send email as messages of their own. "
            a href=(links.preferences) style="color:#0b57d0;" { "Change what you get" } " · "
            a href=(links.unsubscribe) style="color:#0b57d0;" { "Unsubscribe" }
        } }
    };
    let mut text = format!("{heading}\n\n");
    for (p, why) in section {
        text_block(&mut text, p, base);
        text.push_str(&format!("   {why}\n\n"));
    }
    text.push_str(&format!("--\nYour alerts: {base}/alerts\nChange what you get: {}\nUnsubscribe: {}\n", links.preferences, links.unsubscribe));
    OutgoingMessage {
        message_id: message_id(sub.id, key, base),
        recipient: sub.email.to_string(),
        subject: format!("paperboy: {n} new from your alerts"),
        html: shell(&heading, body),
        text,
        unsubscribe_url: Some(links.unsubscribe),
    }
}

/// A mail that carries one single-use link and nothing else (sign-in, confirmation).
struct LinkMail<'a> {
    /// Subject and heading.
    subject: &'a str,
    /// Why the mail came, ending in a full stop.
    why: String,
    /// How long the link works, in words ("15 minutes").
    lasts: String,
    /// The link's button.
    button: &'a str,
    /// The plain-text lead-in to the link ("Sign in").
    action: &'a str,
    /// What to do if it was not the reader.
    not_you: &'a str,
}

fn link_mail(mail: LinkMail<'_>, id: i64, email: &str, link: &str, period: &str, base: &str) -> OutgoingMessage {
    let LinkMail { subject, why, lasts, button, action, not_you } = mail;
    let body = html! {
        tr { td style="padding:0 0 8px;" {
            h1.fg style="margin:6px 0 12px;font-size:22px;color:#1b1d21;" { (subject) }
            p.fg style="font-size:15px;color:#1b1d21;line-height:1.5;" { (why) " The link works once, for " (lasts) "." }
            p { a href=(link) style="display:inline-block;background:#0b57d0;color:#ffffff;padding:10px 18px;border-radius:6px;text-decoration:none;font-weight:bold;" { (button) } }
            p.muted style="font-size:12px;color:#555b66;" { "If it was not you, ignore this email: " (not_you) }
        } }
    };
    OutgoingMessage {
        message_id: message_id(id, period, base),
        recipient: email.to_owned(),
        subject: subject.into(),
        html: shell(subject, body),
        text: format!("{why}\n\n{action} (the link works once, for {lasts}):\n{link}\n\nIf it was not you, ignore this email: {not_you}\n"),
        unsubscribe_url: None,
    }
}

/// The sign-in email: a single-use link valid for [`SIGN_IN_TTL`].
pub fn sign_in_message(reader: i64, email: &str, token: &str, next: Option<&str>, issued: &str, base: &str) -> OutgoingMessage {
    let mail = LinkMail {
        subject: "Sign in to paperboy",
        why: format!("Someone, hopefully you, asked to sign in to paperboy as {email}."),
        lasts: format!("{} minutes", SIGN_IN_TTL.num_minutes()),
        button: "Sign in",
        action: "Sign in",
        not_you: "nobody can sign in without the link.",
    };
    link_mail(mail, reader, email, &urls::sign_in_link(base, token, next), &format!("sign-in:{issued}"), base)
}

/// The double opt-in email: a confirmation link, nothing else.
pub fn confirmation_message(sub_id: i64, email: &str, token: &str, issued: &str, base: &str) -> OutgoingMessage {
    let mail = LinkMail {
        subject: "Confirm your paperboy digest",
        why: format!("Someone, hopefully you, asked for the paperboy digest of trending papers at {email}."),
        lasts: format!("{} hours", CONFIRM_TTL.num_hours()),
        button: "Confirm my subscription",
        action: "Confirm",
        not_you: "nothing more will be sent.",
    };
    link_mail(mail, sub_id, email, &urls::confirm(base, token), &format!("confirm:{issued}"), base)
}
