//! Several `paperboy serve` processes on one PostgreSQL database: start them, find their
//! addresses, stop them. Shared by the cluster test and the cluster benchmark.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paperboy_engine::{PgStore, Store};

/// A PostgreSQL schema of its own for one run, dropped at the end.
pub struct Database {
    pub base: String,
    pub schema: String,
}

impl Database {
    /// A fresh schema on the test server, or `None` (after saying so) without one.
    pub fn new(what: &str) -> Option<Database> {
        let base = match std::env::var("PAPERBOY_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => url,
            _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!("PAPERBOY_TEST_POSTGRES_URL is not set: in CI the cluster test must run"),
            _ => {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "SKIPPED: {what} (PAPERBOY_TEST_POSTGRES_URL is not set)");
                return None;
            }
        };
        let schema = format!("cluster_{}", &paperboy_engine::subscriptions::random_token()[..10]);
        Some(Database { base, schema })
    }

    /// A store connection (creates and migrates the schema on first use).
    pub fn store(&self) -> PgStore {
        PgStore::connect_in_schema(&self.base, &self.schema).expect("PostgreSQL")
    }

    /// The URL processes get: the schema rides along as the connection's search path.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.base, self.schema)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = PgStore::drop_schema(&self.base, &self.schema);
    }
}

/// One running `paperboy serve`.
pub struct Node {
    pub name: String,
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    /// `http://127.0.0.1:PORT` for a web node.
    pub url: Option<String>,
}

impl Node {
    /// Starts `paperboy serve --role ROLE` with its own data directory under `root`.
    pub fn start(name: &str, role: &str, root: &Path, database: &str, config: &Path, smtp_url: &str) -> Node {
        let data_dir: PathBuf = root.join(name);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_paperboy"));
        for (k, _) in std::env::vars() {
            if k.starts_with("PAPERBOY_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("PAPERBOY_LOG", "paperboy=info")
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--config")
            .arg(config)
            .arg("--database")
            .arg(database)
            .arg("--smtp-url")
            .arg(smtp_url)
            .args(["serve", "--no-demo", "--role", role, "--listen", "127.0.0.1:0", "--search-rate", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start paperboy");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line);
                }
            });
        }
        let mut node = Node { name: name.to_owned(), child, log, url: None };
        let ready = if role == "worker" { "paperboy is working" } else { "paperboy is serving http://" };
        let line = node.wait_for(ready, Duration::from_secs(120));
        if role != "worker" {
            let addr = line.split("http://").nth(1).and_then(|r| r.split('/').next()).expect("an address");
            node.url = Some(format!("http://{addr}"));
        }
        node
    }

    /// Waits for a log line containing `text`; returns it.
    pub fn wait_for(&mut self, text: &str, timeout: Duration) -> String {
        let start = Instant::now();
        loop {
            if let Some(line) = self.log.lock().unwrap().iter().find(|l| l.contains(text)) {
                return line.clone();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}) before {text:?}:\n{}", self.name, self.log());
            }
            assert!(start.elapsed() < timeout, "{} said no {text:?} in {timeout:?}:\n{}", self.name, self.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A worker configuration: jobs due at once, a tick of a second, claims of `lease_secs`.
pub fn worker_config(dir: &Path, lease_secs: u64) -> PathBuf {
    let path = dir.join("paperboy.toml");
    std::fs::write(
        &path,
        format!(
            "[serve]\ntick_secs = 1\n\n[mail]\nfrom = \"paperboy <digest@paperboy.test>\"\nbase_url = \"http://paperboy.test\"\nsend_hour = 0\nclaim_lease_secs = {lease_secs}\n"
        ),
    )
    .unwrap();
    path
}

/// `n` confirmed daily subscribers `reader{i}@example.org`.
pub fn subscribers(store: &mut dyn Store, n: usize) {
    let now = chrono::Utc::now();
    for i in 0..n {
        let email = paperboy_core::EmailAddress::parse(&format!("reader{i}@example.org")).unwrap();
        store
            .import_subscriber(&email, paperboy_engine::subscriptions::Frequency::Daily, &Default::default(), true, now)
            .unwrap();
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
