//! Pages in real headless Chromium, driven over WebDriver (chromedriver) with fantoccini: the
//! home page lists papers, a search finds relevant papers, a paper page shows rendered math
//! and similar papers, the subscribe form posts and says "check your inbox"; a reader signs in
//! with the link from a real SMTP server's mail, votes and saves in place (JavaScript), shares
//! a collection and opens its link, and follows an author. Every page a step ends on is
//! checked by axe-core (WCAG 2.1 A and AA, and best practices; `tests/fixtures/axe-core`), and
//! every same-origin link of the home page and of a paper page is followed: none may lead to an
//! error or an empty page.
//!
//! Needs `chromium` and `chromedriver` (Debian's packages; `.ci/run` installs them and sets
//! `PAPERBOY_BROWSER_TESTS=1`, which turns "not installed" into a failure instead of a skip).
//! A failing step leaves a screenshot in `target/browser-failures/`. With
//! `PAPERBOY_SCREENSHOTS=DIR`, every page visited is also saved there (how `docs/screenshots`
//! is made).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::common::{browser_app, link_after, TestApp, MATH_PAPER, MONEY_PAPER};

fn find_program(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(env) {
        return Some(PathBuf::from(p));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_driver(chromedriver: &Path) -> (Driver, u16) {
    let port = free_port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start listening on {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    (driver, port)
}

async fn connect(port: u16, chromium: &Path, profile: &Path) -> Client {
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--window-size=1280,1100", format!("--user-data-dir={}", profile.display()),
            ],
        },
    });
    let caps = caps.as_object().unwrap().clone();
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session in headless Chromium")
}

/// axe-core, as shipped by its npm package (a test asset; never served by paperboy).
const AXE: &str = include_str!("../../../../tests/fixtures/axe-core/axe.min.js");

/// The headings of paperboy's error pages (`error.rs`).
const ERROR_TITLES: [&str; 6] = ["Not found", "Slow down", "Not allowed", "Busy, try again", "That request did not work", "Something went wrong"];

/// One browser, one server, the steps in turn; a failing step leaves a screenshot.
struct Session {
    app: &'static TestApp,
    client: Client,
    base: String,
    shots: Option<PathBuf>,
}

type Step = Result<(), String>;

macro_rules! check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

impl Session {
    async fn goto(&self, path: &str) -> Step {
        self.client.goto(&format!("{}{path}", self.base)).await.map_err(|e| format!("goto {path}: {e}"))
    }

    async fn texts(&self, css: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for el in self.client.find_all(Locator::Css(css)).await.map_err(|e| format!("{css}: {e}"))? {
            out.push(el.text().await.map_err(|e| format!("{css}: {e}"))?);
        }
        Ok(out)
    }

    /// Waits up to 10 s for `css` to be on the page. Any error counts as "not yet" until then:
    /// a look-up made while a submitted form's page replaces the current one fails with
    /// "aborted by navigation" rather than "no such element".
    async fn wait_for(&self, css: &str) -> Step {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(_) => return Ok(()),
                Err(e) if std::time::Instant::now() >= deadline => return Err(format!("waiting for {css}: {e}")),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }

    async fn save(&self, dir: &Path, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            std::fs::create_dir_all(dir).expect("screenshot folder");
            std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
        }
    }

    /// axe-core's violations on the current page (WCAG 2.1 A/AA and best practices), one line each.
    async fn axe(&self) -> Result<Vec<String>, String> {
        let loaded = self.client.execute("return typeof axe === 'object'", vec![]).await.map_err(|e| format!("axe: {e}"))?;
        if loaded != json!(true) {
            self.client.execute(&format!("{AXE}\n;return true;"), vec![]).await.map_err(|e| format!("loading axe-core: {e}"))?;
        }
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
              .then(r => done(r.violations.map(v => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')}`)))
              .catch(e => done(['axe failed: ' + e]));
        "#;
        let found = self.client.execute_async(script, vec![]).await.map_err(|e| format!("axe: {e}"))?;
        Ok(found.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default())
    }

    /// Fails with axe-core's findings on the current page, if any.
    async fn accessible(&self) -> Step {
        let found = self.axe().await?;
        let url = self.client.current_url().await.map_or_else(|_| "?".into(), |u| u.path().to_owned());
        check!(found.is_empty(), "axe-core on {url}:\n  {}", found.join("\n  "));
        Ok(())
    }

    async fn run(&self, name: &str, step: impl std::future::Future<Output = Step>) {
        let result = match step.await {
            Ok(()) => self.accessible().await,
            e => e,
        };
        if let Some(dir) = &self.shots {
            self.save(dir, name).await;
        }
        if let Err(e) = result {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-failures");
            self.save(&dir, name).await;
            panic!("browser step {name:?} failed: {e} (screenshot in {})", dir.join(format!("{name}.png")).display());
        }
    }
}

async fn home_lists_papers(s: &Session) -> Step {
    s.goto("/").await?;
    let titles = s.texts("ol.papers li.paper h3").await?;
    check!(titles.len() >= 10, "only {} papers on the home page", titles.len());
    check!(titles[0].contains("EnvHarness"), "the most upvoted paper of the day is not first: {:?}", titles[0]);
    let trending = s.texts("aside ol.trending li").await?;
    check!(trending.len() == 10, "trending this week lists {} papers", trending.len());
    Ok(())
}

async fn search_finds_relevant_papers(s: &Session) -> Step {
    s.goto("/").await?;
    let input = s.client.find(Locator::Css("#quick-q")).await.map_err(|e| e.to_string())?;
    input.send_keys("protein structure prediction").await.map_err(|e| e.to_string())?;
    s.client.find(Locator::Css("form.quick button")).await.map_err(|e| e.to_string())?.click().await.map_err(|e| e.to_string())?;
    s.wait_for("p.count").await?;
    let results = s.texts("ol.papers li.paper").await?;
    check!(results.len() == 30, "{} results on the first page", results.len());
    let relevant = results.iter().take(5).filter(|r| r.to_lowercase().contains("protein")).count();
    check!(relevant >= 3, "only {relevant} of the top 5 hits mention proteins: {:?}", &results[..5]);
    let marked = s.texts("p.snippet b").await?;
    check!(!marked.is_empty(), "no highlighted terms in the snippets");
    Ok(())
}

async fn a_name_finds_that_persons_papers(s: &Session) -> Step {
    s.goto("/search?q=Shi%2C+Yuxing").await?;
    s.wait_for("section.notice a").await?;
    let notice = s.texts("section.notice").await?.join(" ");
    check!(notice.contains("Papers by Yuxing Shi come first"), "no notice of whose papers come first: {notice}");
    let first = s.texts("ol.papers li.paper").await?;
    check!(first.first().is_some_and(|p| p.contains("Yuxing Shi") && p.contains("author")), "the first hit is not by the author named: {:?}", first.first());
    let href = attribute(s, "section.notice a", "href").await?;
    check!(href == "/author/yuxing-shi", "the notice links {href}, not the author page");
    Ok(())
}

async fn paper_page_renders_math_and_similar_papers(s: &Session) -> Step {
    s.goto(&format!("/paper/{MATH_PAPER}")).await?;
    s.wait_for("h1 .katex").await?;
    let title = s.texts("h1").await?.join(" ");
    check!(!title.contains("$H_8$"), "the title's LaTeX was not rendered: {title}");
    let math = s.client.find_all(Locator::Css(".abstract .katex")).await.map_err(|e| e.to_string())?;
    check!(!math.is_empty(), "no rendered math in the abstract");
    let similar = s.texts("section.similar li.paper h3").await?;
    check!(similar.len() >= 3, "{} similar papers", similar.len());
    Ok(())
}

async fn dollars_that_are_money_stay_text(s: &Session) -> Step {
    s.goto(&format!("/paper/{MONEY_PAPER}")).await?;
    s.wait_for("h1").await?;
    let rendered = s.client.find_all(Locator::Css(".abstract .katex")).await.map_err(|e| e.to_string())?;
    check!(rendered.is_empty(), "\"$250 … $7,800\" was rendered as math");
    let text = s.texts(".abstract").await?.join(" ");
    check!(text.contains("$250 per robot and $7,800"), "the amounts are not shown as written: {text}");
    Ok(())
}

async fn subscribe_says_check_your_inbox(s: &Session) -> Step {
    s.goto("/papers/2026-01-09").await?;
    let email = s.client.find(Locator::Css("#sub-email")).await.map_err(|e| e.to_string())?;
    email.send_keys("browser.reader@example.org").await.map_err(|e| e.to_string())?;
    s.client.find(Locator::Css("section.subscribe button")).await.map_err(|e| e.to_string())?.click().await.map_err(|e| e.to_string())?;
    s.wait_for("section.notice h1").await?;
    let heading = s.texts("section.notice h1").await?.join("");
    check!(heading == "Check your inbox", "after subscribing the page says {heading:?}");
    Ok(())
}

async fn dark_theme_switch(s: &Session) -> Step {
    s.goto("/paper/2601.05242").await?;
    s.client.find(Locator::Css(".theme-toggle")).await.map_err(|e| e.to_string())?.click().await.map_err(|e| e.to_string())?;
    let theme = s.client.execute("return document.documentElement.getAttribute('data-theme')", vec![]).await.map_err(|e| e.to_string())?;
    check!(theme == json!("dark") || theme == json!("light"), "the theme switch did nothing: {theme}");
    Ok(())
}

async fn click(s: &Session, css: &str) -> Step {
    s.client.find(Locator::Css(css)).await.map_err(|e| format!("{css}: {e}"))?.click().await.map_err(|e| format!("clicking {css}: {e}"))
}

async fn attribute(s: &Session, css: &str, name: &str) -> Result<String, String> {
    let el = s.client.find(Locator::Css(css)).await.map_err(|e| format!("{css}: {e}"))?;
    Ok(el.attr(name).await.map_err(|e| format!("{css}: {e}"))?.unwrap_or_default())
}

/// Waits until `css`'s attribute `name` is `value` (a page script's change, or the page a form
/// post comes back to: an element of the page being left may go stale meanwhile).
async fn wait_attribute(s: &Session, css: &str, name: &str, value: &str) -> Step {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = attribute(s, css, name).await;
        if now.as_deref() == Ok(value) {
            return Ok(());
        }
        check!(std::time::Instant::now() < deadline, "{css} [{name}] is {now:?}, not {value:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in_with_the_emailed_link(s: &Session, sink: &paperboy_testkit::SmtpSink) -> Step {
    s.goto("/account").await?;
    s.wait_for("#sign-in-email").await?;
    s.client.find(Locator::Css("#sign-in-email")).await.map_err(|e| e.to_string())?.send_keys("browser.signin@example.org").await.map_err(|e| e.to_string())?;
    click(s, "main form button").await?;
    s.wait_for("section.notice h1").await?;
    check!(s.texts("section.notice h1").await?.join("") == "Check your inbox", "no \"check your inbox\" after asking for a link");
    // The worker's delivery pass, to the real SMTP server on loopback.
    let mailer = paperboy_digest::SmtpMailer::new(&sink.url, "paperboy <hello@paperboy.test>").map_err(|e| e.to_string())?;
    paperboy_digest::deliver_due(&mut *s.app.state.store(), &mailer, chrono::Utc::now(), 100).map_err(|e| e.to_string())?;
    let mail = sink.received().into_iter().find(|m| m.to == ["browser.signin@example.org"] && m.header("Subject").is_some_and(|s| s == "Sign in to paperboy")).ok_or("no sign-in mail arrived")?;
    let link = link_after(&mail.body_text(), "http://paperboy.test/sign-in/link?token=");
    s.goto(link.trim_start_matches("http://paperboy.test")).await?;
    click(s, "main form button").await?;
    s.wait_for("#acct-digest").await?;
    let who = s.texts("main p strong").await?.join(" ");
    check!(who.contains("browser.signin@example.org"), "the account page is not the reader's: {who}");
    Ok(())
}

async fn vote_and_save_in_place(s: &Session) -> Step {
    s.goto("/papers/2026-01-09").await?;
    s.wait_for("li.paper form.mark").await?;
    let first = "ol.papers li.paper:first-child";
    let before: u32 = s.texts(&format!("{first} .votes .count")).await?.join("").trim().parse().map_err(|e| format!("vote count: {e}"))?;
    click(s, &format!("{first} form[data-kind=up] button")).await?;
    wait_attribute(s, &format!("{first} form[data-kind=up] button"), "aria-pressed", "true").await?;
    let after: u32 = s.texts(&format!("{first} .votes .count")).await?.join("").trim().parse().map_err(|e| format!("vote count: {e}"))?;
    check!(after == before + 1, "the count went from {before} to {after}");
    // In place: the page was not loaded again (a marker set now is still there).
    s.client.execute("window.paperboyMarker = 1", vec![]).await.map_err(|e| e.to_string())?;
    click(s, &format!("{first} form[data-kind=save] button")).await?;
    wait_attribute(s, &format!("{first} form[data-kind=save] button"), "aria-pressed", "true").await?;
    click(s, &format!("{first} form[data-kind=save] button")).await?;
    wait_attribute(s, &format!("{first} form[data-kind=save] button"), "aria-pressed", "false").await?;
    click(s, &format!("{first} form[data-kind=save] button")).await?;
    wait_attribute(s, &format!("{first} form[data-kind=save] button"), "aria-pressed", "true").await?;
    let marker = s.client.execute("return window.paperboyMarker || 0", vec![]).await.map_err(|e| e.to_string())?;
    check!(marker == json!(1), "the page was loaded again: the marks did not update in place");
    // A reload shows what the server kept.
    s.goto("/papers/2026-01-09").await?;
    check!(attribute(s, &format!("{first} form[data-kind=up] button"), "aria-pressed").await? == "true", "the upvote did not stick");
    Ok(())
}

async fn account_lists_the_collection(s: &Session) -> Step {
    s.goto("/account").await?;
    s.wait_for("ul.collections a").await?;
    let names = s.texts("ul.collections li").await?;
    check!(names.iter().any(|n| n.starts_with("Saved")), "no \"Saved\" collection: {names:?}");
    Ok(())
}

async fn share_a_collection_and_open_its_link(s: &Session) -> Step {
    s.goto("/account").await?;
    click(s, "ul.collections a").await?;
    s.wait_for("section.share").await?;
    click(s, "section.share form button").await?;
    s.wait_for("section.share a[href^='/shared/']").await?;
    let link = attribute(s, "section.share a[href^='/shared/']", "href").await?;
    check!(link.len() > 60, "the share link is guessable: {link}");
    let shared = link.split_once("/shared/").map(|(_, k)| format!("/shared/{k}")).unwrap_or(link);
    s.goto(&shared).await?;
    let titles = s.texts("ol.papers li.paper h3").await?;
    check!(titles.len() == 1, "the shared page lists {} papers", titles.len());
    Ok(())
}

async fn the_collection_page(s: &Session) -> Step {
    s.goto("/account").await?;
    click(s, "ul.collections a").await?;
    s.wait_for("form.note-form").await?;
    Ok(())
}

async fn for_you_explains_its_picks(s: &Session) -> Step {
    s.goto("/for-you?period=week").await?;
    s.wait_for("ol.papers li.paper").await?;
    let why = s.texts("p.why-pick").await?;
    check!(!why.is_empty() && why.iter().all(|w| w.starts_with("Why: ")), "picks without reasons: {why:?}");
    check!(why.iter().any(|w| w.contains("which you upvoted") || w.contains("which you saved")), "no pick names a rated paper: {why:?}");
    Ok(())
}

async fn follow_an_author(s: &Session) -> Step {
    s.goto("/author/shih-yang-liu").await?;
    s.wait_for("form.follow button").await?;
    click(s, "form.follow button").await?;
    wait_attribute(s, "form.follow button", "aria-pressed", "true").await?;
    Ok(())
}

async fn save_a_search_as_an_alert_and_watch_a_paper(s: &Session) -> Step {
    s.goto("/paper/2601.05242").await?;
    s.wait_for("form.watch button").await?;
    click(s, "form.watch button").await?;
    wait_attribute(s, "form.watch button", "aria-pressed", "true").await?;
    s.goto("/search?q=protein+folding").await?;
    s.wait_for("ol.papers li.paper").await?;
    click(s, "p.feeds a[href^='/alerts']").await?;
    wait_attribute(s, "#alert-q", "value", "protein folding").await?;
    s.client.find(Locator::Css("#ex-words")).await.map_err(|e| e.to_string())?.send_keys("survey").await.map_err(|e| e.to_string())?;
    click(s, "form.alert-form button[type=submit]").await?;
    s.wait_for("article.alert h3").await?;
    let names = s.texts("article.alert h3").await?;
    check!(names.iter().any(|n| n == "protein folding"), "the alert is not listed: {names:?}");
    let specs = s.texts("article.alert dl").await?.join(" ");
    check!(specs.contains("words: survey"), "the exclusion is not shown: {specs}");
    let watched = s.texts("section[aria-labelledby='watched'] li a").await?;
    check!(!watched.is_empty(), "the watched paper is not listed");
    Ok(())
}

/// What the current page is, for the link walk: `(title, content type, main text, is an empty
/// list (an empty-list message and no paper), feed items)`.
async fn page_facts(s: &Session) -> Result<(String, String, String, bool, u64), String> {
    let facts = s
        .client
        .execute(
            "const main = document.querySelector('main');
             return [document.title, document.contentType, (main || document.body || {innerText: ''}).innerText || '',
                     !!document.querySelector('p.empty') && !document.querySelector('li.paper, .abstract'),
                     document.getElementsByTagName('item').length + document.getElementsByTagName('entry').length];",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let text = |i: usize| facts[i].as_str().unwrap_or("").to_owned();
    Ok((text(0), text(1), text(2), facts[3].as_bool().unwrap_or(false), facts[4].as_u64().unwrap_or(0)))
}

/// Follows every same-origin link of `start` (never one off this machine): each must lead to a
/// page that is neither an error nor empty (a feed with items, a list with papers).
async fn every_link_leads_somewhere(s: &Session, start: &str) -> Step {
    s.goto(start).await?;
    let mut hrefs = vec![];
    for a in s.client.find_all(Locator::Css("a[href]")).await.map_err(|e| e.to_string())? {
        if let Ok(Some(href)) = a.prop("href").await {
            hrefs.push(href);
        }
    }
    let mut links: Vec<String> = hrefs.into_iter().filter_map(|h| h.strip_prefix(&s.base).map(|p| p.split('#').next().unwrap_or("").to_owned())).filter(|p| p.starts_with('/')).collect();
    links.sort();
    links.dedup();
    check!(links.len() >= 10, "{start}: only {} links", links.len());
    let mut bad = vec![];
    for link in &links {
        s.goto(link).await?;
        let (title, kind, main, empty, items) = page_facts(s).await?;
        let heading = title.trim_end_matches(" · paperboy");
        let trouble = if ERROR_TITLES.contains(&heading) {
            Some(format!("an error page ({heading}): {}", main.chars().take(120).collect::<String>()))
        } else if kind.contains("xml") && items == 0 {
            Some("a feed with no items".into())
        } else if empty {
            Some(format!("an empty list: {}", main.chars().take(160).collect::<String>()))
        } else if main.trim().is_empty() {
            Some("nothing on the page".into())
        } else {
            None
        };
        if let Some(t) = trouble {
            bad.push(format!("{link}: {t}"));
        }
    }
    check!(bad.is_empty(), "from {start}, {} of {} links lead nowhere:\n  {}", bad.len(), links.len(), bad.join("\n  "));
    s.goto(start).await
}

/// The page kinds no other step ends on, each checked by axe-core.
async fn other_pages_are_accessible(s: &Session) -> Step {
    let latest = s.app.state.store().latest_day().map_err(|e| e.to_string())?.ok_or("no papers")?;
    for path in [format!("/papers/{latest}"), "/category/math.QA".into(), "/?period=week".into(), "/search".into(), "/sign-in".into(), "/for-you/learned".into(), "/alerts?q=protein+folding".into(), "/no-such-page".into()] {
        s.goto(&path).await?;
        s.accessible().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_work_in_headless_chromium() {
    let required = std::env::var("PAPERBOY_BROWSER_TESTS").is_ok_and(|v| v == "1");
    let (Some(chromium), Some(chromedriver)) = (
        find_program("PAPERBOY_CHROMIUM", &["/usr/bin/chromium", "/usr/bin/chromium-browser"]),
        find_program("PAPERBOY_CHROMEDRIVER", &["/usr/bin/chromedriver"]),
    ) else {
        assert!(!required, "PAPERBOY_BROWSER_TESTS=1 but chromium or chromedriver is not installed");
        eprintln!("SKIPPED: browser tests need chromium and chromedriver (apt-get install chromium chromium-driver)");
        return;
    };
    let app = browser_app();
    let state = app.state.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let service = paperboy_web::router(state).into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service).await.unwrap();
    });
    let (_driver, port) = start_driver(&chromedriver);
    let profile = tempfile::tempdir().unwrap();
    let client = connect(port, &chromium, profile.path()).await;
    let shots = std::env::var_os("PAPERBOY_SCREENSHOTS").map(PathBuf::from);
    let s = Session { app, client, base: format!("http://{addr}"), shots };
    s.run("home", home_lists_papers(&s)).await;
    s.run("search", search_finds_relevant_papers(&s)).await;
    s.run("search-author", a_name_finds_that_persons_papers(&s)).await;
    s.run("paper", paper_page_renders_math_and_similar_papers(&s)).await;
    s.run("money", dollars_that_are_money_stay_text(&s)).await;
    s.run("subscribe", subscribe_says_check_your_inbox(&s)).await;
    s.run("paper-dark", dark_theme_switch(&s)).await;
    let sink = paperboy_testkit::SmtpSink::start_local(&[]);
    s.run("sign-in", sign_in_with_the_emailed_link(&s, &sink)).await;
    s.run("vote", vote_and_save_in_place(&s)).await;
    s.run("account", account_lists_the_collection(&s)).await;
    s.run("collection-shared", share_a_collection_and_open_its_link(&s)).await;
    s.run("collection", the_collection_page(&s)).await;
    s.run("author", follow_an_author(&s)).await;
    s.run("alerts", save_a_search_as_an_alert_and_watch_a_paper(&s)).await;
    s.run("for-you", for_you_explains_its_picks(&s)).await;
    s.run("other-pages", other_pages_are_accessible(&s)).await;
    s.run("links-home", every_link_leads_somewhere(&s, "/")).await;
    s.run("links-paper", every_link_leads_somewhere(&s, &format!("/paper/{MATH_PAPER}"))).await;
    s.client.close().await.ok();
}
