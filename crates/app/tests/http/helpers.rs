//! `spawn_app`: the real `serve` (settings → `Application::build` → `run_until`), on port 0 and
//! a temporary data directory, in this process; stopped when the `TestApp` is dropped.

use std::path::Path;
use std::time::{Duration, Instant};

use paperboy::{Application, Settings};
use paperboy_testkit::http::{self, Answer};

/// A running service.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The settings it was built with (after `Application::build` filled in the base URL).
    pub settings: Settings,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

/// The defaults of `paperboy serve` on `data_dir`, listening on a port the system picks.
pub fn settings(data_dir: &Path) -> Settings {
    let mut settings = Settings::for_serve(data_dir);
    settings.serve.listen = "127.0.0.1:0".into();
    settings
}

/// Builds and starts the service with `settings`.
pub fn spawn_app(settings: Settings) -> TestApp {
    let app = Application::build(settings.clone()).expect("the application builds");
    let address = app.address().expect("a web role binds an address");
    let mut settings = settings;
    // The base URL the application decided on (the bound address when none was given).
    settings.mail.cfg.base_url = app.state().config().base_url.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        app.run_until(async {
            let _ = stopped.await;
        })
    });
    TestApp { url: format!("http://{address}"), settings, stop: Some(stop), thread: Some(thread) }
}

impl TestApp {
    pub fn get(&self, path: &str) -> Answer {
        http::get(&format!("{}{path}", self.url)).expect("GET")
    }

    pub fn post_form(&self, path: &str, form: &str) -> Answer {
        http::post_form(&format!("{}{path}", self.url), form, &[]).expect("POST")
    }

    pub fn json(&self, path: &str) -> serde_json::Value {
        let answer = self.get(path);
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
        serde_json::from_str(&answer.body).unwrap_or_else(|e| panic!("{path}: {e}: {}", answer.body))
    }

    /// Waits until `/healthz` says search is ready.
    pub fn wait_for_search(&self) -> serde_json::Value {
        let mut health = serde_json::Value::Null;
        until("search to open", Duration::from_secs(300), || {
            health = self.json("/healthz");
            health["search"]["ready"] == true
        });
        health
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let result = thread.join().expect("the server thread");
            if !std::thread::panicking() {
                result.expect("the server ran");
            }
        }
    }
}

/// Waits until `done` says so, polling; panics with `what` after `timeout`.
pub fn until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
