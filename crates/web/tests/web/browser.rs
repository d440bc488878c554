//! Pages in real headless Chromium, driven over WebDriver (chromedriver) with fantoccini: the
//! home page lists papers, a search finds relevant papers, a paper page shows rendered math
//! and similar papers, the subscribe form posts and says "check your inbox".
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

use crate::common::{app, MATH_PAPER, MONEY_PAPER};

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

/// One browser, one server, the steps in turn; a failing step leaves a screenshot.
struct Session {
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

    async fn wait_for(&self, css: &str) -> Step {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .map(|_| ())
            .map_err(|e| format!("waiting for {css}: {e}"))
    }

    async fn save(&self, dir: &Path, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            std::fs::create_dir_all(dir).expect("screenshot folder");
            std::fs::write(dir.join(format!("{name}.png")), png).expect("screenshot written");
        }
    }

    async fn run(&self, name: &str, step: impl std::future::Future<Output = Step>) {
        let result = step.await;
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
    let state = app().state.clone();
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
    let s = Session { client, base: format!("http://{addr}"), shots };
    s.run("home", home_lists_papers(&s)).await;
    s.run("search", search_finds_relevant_papers(&s)).await;
    s.run("paper", paper_page_renders_math_and_similar_papers(&s)).await;
    s.run("money", dollars_that_are_money_stay_text(&s)).await;
    s.run("subscribe", subscribe_says_check_your_inbox(&s)).await;
    s.run("paper-dark", dark_theme_switch(&s)).await;
    s.client.close().await.ok();
}
