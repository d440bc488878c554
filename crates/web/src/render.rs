//! The HTML pieces every page is made of: the layout, the subscribe form, paper items, lists
//! and pagers. All text goes through
//! maud, which escapes it; the only markup inserted as is comes from the search engine's
//! snippets, which are escaped there and carry nothing but `<b>`.

use maud::{html, Markup, PreEscaped, DOCTYPE};
use paperboy_core::{urls, Paper};

use paperboy_engine::readers::{author_slug, Vote};

use crate::security::csrf_token;
use crate::session::Viewer;
use crate::state::AppState;

/// Why a store has no categories, for the places that offer them (category pages, the search
/// filter, digest interests) when none of its papers has one.
pub fn no_categories_note() -> Markup {
    html! {
        p.note.no-categories {
            "No paper here has arXiv categories yet: Hugging Face's daily lists carry none. "
            "An arXiv harvest (" code { "paperboy harvest" } ") brings them, for the papers already here too."
        }
    }
}

/// A whole page: head, site header, `main`, the subscribe form and the footer.
pub fn page(state: &AppState, title: &str, main: Markup) -> Markup {
    page_with(state, title, main, None)
}

/// [`page`] with an extra aside (the home page's trending list).
pub fn page_with(state: &AppState, title: &str, main: Markup, aside: Option<Markup>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                title { (title) " · paperboy" }
                link rel="stylesheet" href="/assets/style.css";
                link rel="stylesheet" href="/assets/katex/katex.min.css";
                link rel="alternate" type="application/rss+xml" title="paperboy: daily papers" href="/feeds/daily.xml";
                link rel="alternate" type="application/rss+xml" title="paperboy: trending" href="/feeds/trending.xml";
                script defer src="/assets/katex/katex.min.js" {}
                script defer src="/assets/katex/contrib/auto-render.min.js" {}
                script defer src="/assets/app.js" {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    a.brand href="/" { "paperboy" }
                    nav aria-label="Main" {
                        a href="/" { "Daily papers" }
                        a href="/?period=week" { "This week" }
                        a href="/search" { "Search" }
                        a href="/for-you" { "For you" }
                        a href="/alerts" { "Alerts" }
                        a href="/account" { "Account" }
                    }
                    form.quick role="search" aria-label="Quick search" action="/search" method="get" {
                        label.visually-hidden for="quick-q" { "Search papers" }
                        input #quick-q type="search" name="q" placeholder="Search papers" maxlength="1000";
                        button type="submit" { "Search" }
                    }
                    button.theme-toggle type="button" hidden aria-label="Switch between light and dark theme" { "◐" }
                }
                div.layout {
                    main #main tabindex="-1" { (main) }
                    @if let Some(aside) = aside {
                        aside.side aria-label="Trending" { (aside) }
                    }
                }
                footer.site {
                    (subscribe_form(state))
                    p.feeds {
                        "Feeds: " a href="/feeds/daily.xml" { "daily (RSS)" } " · "
                        a href="/feeds/daily.xml?format=atom" { "daily (Atom)" } " · "
                        a href="/feeds/trending.xml" { "trending (RSS)" } " · "
                        a href="/api/openapi.json" { "API" }
                    }
                }
            }
        }
    }
}

/// "Get trending papers in your email inbox once a day", on every page.
pub fn subscribe_form(state: &AppState) -> Markup {
    html! {
        section.subscribe aria-labelledby="subscribe-title" {
            h2 #subscribe-title { "Get trending papers in your email inbox once a day" }
            form method="post" action="/subscribe" {
                input type="hidden" name="csrf" value=(csrf_token(&state.config().secret));
                div.field {
                    label for="sub-email" { "Email address" }
                    input #sub-email type="email" name="email" required autocomplete="email" maxlength="254" placeholder="you@example.org";
                }
                div.field {
                    label for="sub-frequency" { "How often" }
                    select #sub-frequency name="frequency" {
                        option value="daily" selected { "Daily" }
                        option value="weekly" { "Weekly" }
                    }
                }
                div.field.wide {
                    label for="sub-interests" { "Interests (optional)" }
                    input #sub-interests type="text" name="interests" maxlength="500" placeholder="e.g. protein structure prediction";
                }
                button type="submit" { "Subscribe" }
            }
        }
    }
}

/// Authors as a line: the first five, then "et al.".
pub fn author_line(p: &Paper) -> String {
    let names: Vec<&str> = p.authors.iter().take(5).map(|a| a.name.as_str()).collect();
    let mut line = names.join(", ");
    if p.authors.len() > 5 {
        line.push_str(&format!(" et al. ({} authors)", p.authors.len()));
    }
    line
}

/// The link to a paper's page (old-style ids keep their slash: the route takes the rest of the path).
pub fn paper_href(p: &Paper) -> String {
    urls::paper("", &p.id)
}

/// One paper in a list: votes, title, authors, day and categories, the reader's buttons, and
/// optionally a snippet (already-escaped HTML from the search engine) or a note.
pub fn paper_item(p: &Paper, snippet_html: Option<&str>, note: Option<Markup>, v: &Viewer) -> Markup {
    html! {
        li.paper data-paper=(p.id) {
            (vote_count(p, v))
            div.body {
                h3.title.math { a href=(paper_href(p)) { (p.title) } }
                p.meta {
                    @if !p.authors.is_empty() { span.authors { (author_links(p, 5)) } }
                    @if let Some(day) = p.day() { " · " time datetime=(day) { (day.format("%-d %b %Y")) } }
                    @for c in p.categories.iter().take(3) { " · " a.cat href=(urls::category("", c)) { (c) } }
                    @if let Some(code) = safe_url(&p.links.code) { " · " a href=(code) rel="nofollow noopener" { "code" } }
                }
                @if let Some(s) = snippet_html { p.snippet.math { (PreEscaped(s)) } }
                @if let Some(n) = note { (n) }
                (actions(p, v))
            }
        }
    }
}

/// The vote count: Hugging Face's upvotes plus this instance's.
pub fn vote_count(p: &Paper, v: &Viewer) -> Markup {
    let hf = p.signals.hf_upvotes.unwrap_or(0);
    let local = v.local_votes.get(&p.id).copied().unwrap_or(0);
    html! {
        div.votes title=(format!("{hf} Hugging Face upvotes + {local} here")) {
            span aria-hidden="true" { "▲" }
            span.count { (hf + local) }
            span.visually-hidden { " upvotes" }
        }
    }
}

/// A paper's authors, the first `n` of them linked to their pages, then "et al.".
pub fn author_links(p: &Paper, n: usize) -> Markup {
    html! {
        @for (i, a) in p.authors.iter().take(n).enumerate() {
            @if i > 0 { ", " }
            @let slug = author_slug(&a.name);
            @if slug.is_empty() { (a.name) } @else { a.author href=(urls::author("", &slug)) { (a.name) } }
        }
        @if p.authors.len() > n { " et al. (" (p.authors.len()) " authors)" }
    }
}

/// One mark button: a form that works without JavaScript (and is posted in place with it).
fn mark_form(p: &Paper, v: &Viewer, kind: &str, on: bool, label: (&str, &str), title: &str) -> Markup {
    let action = match (kind, on) {
        ("up" | "not_for_me", true) => "clear_vote",
        ("read", true) => "unread",
        ("save", true) => "unsave",
        (k, _) => k,
    };
    html! {
        form.mark method="post" action="/mark" data-kind=(kind) {
            input type="hidden" name="csrf" value=(v.csrf);
            input type="hidden" name="paper" value=(p.id);
            input type="hidden" name="next" value=(v.here);
            input type="hidden" name="action" value=(action);
            button type="submit" aria-pressed=(on) title=(title) { (if on { label.1 } else { label.0 }) }
        }
    }
}

/// The reader's buttons on a paper: upvote, not for me, read, save. Signed out: a link to sign in.
pub fn actions(p: &Paper, v: &Viewer) -> Markup {
    let Some(_) = &v.reader else {
        return html! {};
    };
    let vote = v.marks.votes.get(&p.id).copied();
    html! {
        div.actions role="group" aria-label=(format!("Your marks on {}", p.title)) {
            (mark_form(p, v, "up", vote == Some(Vote::Up), ("▲ Upvote", "▲ Upvoted"), "Upvote: counts in trending and teaches your For you feed"))
            (mark_form(p, v, "not_for_me", vote == Some(Vote::NotForMe), ("Not for me", "Not for me ✓"), "Private: fewer papers like this for you"))
            (mark_form(p, v, "read", v.marks.read.contains(&p.id), ("Mark read", "Read ✓"), "Mark as read"))
            (mark_form(p, v, "save", v.marks.saved.contains(&p.id), ("Save", "Saved ✓"), "Save to your collection “Saved” (saved: remove from all your collections)"))
        }
    }
}

/// Follow or unfollow an author (a toggle: `on` when followed), coming back to `next`.
pub fn follow_toggle(csrf: &str, name: &str, next: &str, on: bool, label: Markup) -> Markup {
    html! {
        form.follow method="post" action="/follow" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="name" value=(name);
            input type="hidden" name="next" value=(next);
            input type="hidden" name="action" value=(if on { "unfollow" } else { "follow" });
            button type="submit" aria-pressed=(on) { (label) }
        }
    }
}

/// A one-button form that posts `action` on `paper` to `to`, coming back to `next` (a list's
/// "Remove" or "Stop watching").
pub fn paper_button(to: &str, csrf: &str, paper: &paperboy_core::PaperId, action: &str, next: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(to) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="paper" value=(paper);
            input type="hidden" name="action" value=(action);
            input type="hidden" name="next" value=(next);
            button type="submit" { (label) }
        }
    }
}

/// A followed author in a list: their page, and a button to stop following, coming back to `next`.
pub fn followed_author(csrf: &str, follow: &paperboy_engine::readers::Follow, next: &str) -> Markup {
    html! {
        a href=(urls::author("", &follow.key.replace(' ', "-"))) { (follow.name) }
        form.inline method="post" action="/follow" {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="name" value=(follow.name);
            input type="hidden" name="action" value="unfollow";
            input type="hidden" name="next" value=(next);
            button type="submit" { "Unfollow" }
        }
    }
}

/// A list of papers, or a message when there are none.
pub fn paper_list(papers: &[Paper], empty: &str, v: &Viewer) -> Markup {
    html! {
        @if papers.is_empty() {
            p.empty { (empty) }
        } @else {
            ol.papers { @for p in papers { (paper_item(p, None, None, v)) } }
        }
    }
}

/// Previous/next links for a paged list.
pub fn pager(page: usize, has_next: bool, href: impl Fn(usize) -> String) -> Markup {
    html! {
        @if page > 1 || has_next {
            nav.pager aria-label="Pages" {
                @if page > 1 { a rel="prev" href=(href(page - 1)) { "← Previous" } }
                span { "Page " (page) }
                @if has_next { a rel="next" href=(href(page + 1)) { "Next →" } }
            }
        }
    }
}

pub use paperboy_core::text::long_day;

/// `url` if it is an http(s) link; stored links come from outside and may be anything.
pub fn safe_url(url: &Option<String>) -> Option<&str> {
    url.as_deref().filter(|u| {
        let lower = u.trim_start().to_ascii_lowercase();
        lower.starts_with("https://") || lower.starts_with("http://")
    })
}

/// `n` and the noun, in the plural unless `n` is 1 ("1 paper", "3 papers").
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// Percent-encodes a query-string value (spaces as `+`, as forms send them).
pub fn url_encode(s: &str) -> String {
    urls::encode(s).replace("%20", "+")
}
