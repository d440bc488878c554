//! Search as new users meet it: `cargo bench -p paperboy --bench fresh`.
//!
//! Starts the release `paperboy serve` on the demo corpus (its own data directory, rate limits
//! off) and sends it `scripts/bench-fresh-queries.txt` (600 distinct queries: SciFact dev claims
//! and demo titles, `scripts/make-fresh-queries.py`) over keep-alive HTTP/1.1 connections from
//! this process, on the same machine:
//!
//! 1. **one at a time**: the first 100 queries, each sent once, one connection;
//! 2. **fresh**: the other 500, each sent once, over `BENCH_CONNECTIONS` connections (default
//!    16): no query vector is cached, every query is embedded;
//! 3. **warm**: those 500 again, the same way: every vector comes from the query cache.
//!
//! For each: searches/s, p50 and p99 latency, non-200 answers, and the server's CPU use (cores
//! busy, from `/proc/PID/stat`). `BENCH_MODE` picks the mode (default `hybrid`). Prints a
//! Markdown table. Each run starts once the server is idle (its start-up work done). Then
//! **overload**: `BENCH_FLOOD` connections (default 160) against a server whose `search_queue`
//! is 32, each sending fresh queries for 5 s and waiting the second `Retry-After` asks after a
//! 503: how many are answered 503 at once, and the latency of those served.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One keep-alive connection: sends GETs and reads status and body (Content-Length framed).
struct Conn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Conn {
    fn open(port: u16) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream.set_nodelay(true).unwrap();
        Conn { reader: BufReader::new(stream.try_clone().unwrap()), writer: stream }
    }

    /// Status of `GET path`.
    fn get(&mut self, path: &str) -> u16 {
        write!(self.writer, "GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n").expect("send");
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("status line");
        let status: u16 = line.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("status line {line:?}"));
        let mut length = 0usize;
        loop {
            line.clear();
            self.reader.read_line(&mut line).expect("header");
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("length");
                }
            }
        }
        let mut body = vec![0u8; length];
        self.reader.read_exact(&mut body).expect("body");
        status
    }
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Clock ticks of CPU the process has used (user + system).
fn cpu_ticks(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    // After the name: state is field 3, utime 14 and stime 15 (1-based over the whole line).
    fields.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0) + fields.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0)
}

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(search_queue: usize) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(dir.path().join("paperboy.toml"), format!("[serve]\nsearch_queue = {search_queue}\n")).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_paperboy"))
        .args(["--data-dir"])
        .arg(dir.path())
        .arg("--config")
        .arg(dir.path().join("paperboy.toml"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--search-rate", "0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("paperboy serve");
    let server = Server { child, port, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        assert!(Instant::now() < deadline, "serve did not get ready");
        if let Ok(stream) = TcpStream::connect(("127.0.0.1", port)) {
            drop(stream);
            let mut c = Conn::open(port);
            let mut health = String::new();
            write!(c.writer, "GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").unwrap();
            let _ = c.reader.read_to_string(&mut health);
            if health.contains("\"ready\":true") {
                wait_idle(server.child.id());
                return server;
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Waits until the server has finished its start-up work (the vector graph, the first
/// catch-up): under 5% of a core for a whole second.
fn wait_idle(pid: u32) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        let before = cpu_ticks(pid);
        std::thread::sleep(Duration::from_secs(1));
        if cpu_ticks(pid) - before < 5.0 {
            return;
        }
    }
    panic!("the server stayed busy after start-up");
}

struct Run {
    per_second: f64,
    p50: f64,
    p99: f64,
    errors: usize,
    cores: f64,
}

/// Sends each query once over `connections` connections; latencies in ms.
fn run(server: &Server, queries: &[String], mode: &str, connections: usize) -> Run {
    let next = Arc::new(AtomicUsize::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(queries.len())));
    let errors = Arc::new(AtomicUsize::new(0));
    let queries = Arc::new(queries.to_vec());
    let (ticks, start) = (cpu_ticks(server.child.id()), Instant::now());
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let (next, latencies, errors, queries, port, mode) = (next.clone(), latencies.clone(), errors.clone(), queries.clone(), server.port, mode.to_owned());
            std::thread::spawn(move || {
                let mut conn = Conn::open(port);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(q) = queries.get(i) else { break };
                    let t = Instant::now();
                    let status = conn.get(&format!("/api/v1/search?mode={mode}&limit=10&q={}", encode(q)));
                    latencies.lock().unwrap().push(t.elapsed().as_secs_f64() * 1e3);
                    if status != 200 {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let wall = start.elapsed().as_secs_f64();
    let cores = (cpu_ticks(server.child.id()) - ticks) / 100.0 / wall;
    let mut l = latencies.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    let at = |q: f64| l[((l.len() as f64 * q) as usize).min(l.len() - 1)];
    Run { per_second: l.len() as f64 / wall, p50: at(0.5), p99: at(0.99), errors: errors.load(Ordering::Relaxed), cores }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let queries: Vec<String> = std::fs::read_to_string(root.join("scripts/bench-fresh-queries.txt")).expect("queries file").lines().map(str::to_owned).collect();
    let mode = std::env::var("BENCH_MODE").unwrap_or_else(|_| "hybrid".into());
    let connections: usize = std::env::var("BENCH_CONNECTIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(16);
    let server = start(paperboy_web::SEARCH_QUEUE);
    let (single, rest) = queries.split_at(100);
    println!("| {mode} search, demo corpus | connections | searches | searches/s | p50 (ms) | p99 (ms) | non-200 | server CPU (cores) |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for (what, list, conns) in [("one at a time, fresh", single, 1), ("fresh (each query once)", rest, connections), ("warm (the same queries again)", rest, connections)] {
        wait_idle(server.child.id());
        let r = run(&server, list, &mode, conns);
        println!("| {what} | {conns} | {} | {:.0} | {:.1} | {:.1} | {} | {:.2} |", list.len(), r.per_second, r.p50, r.p99, r.errors, r.cores);
    }
    drop(server);
    // Overload: many more connections than the queue admits, fresh queries for 5 s.
    let flood: usize = std::env::var("BENCH_FLOOD").ok().and_then(|n| n.parse().ok()).unwrap_or(160);
    let server = start(32);
    let mut many: Vec<String> = Vec::new();
    for round in 0..40 {
        many.extend(queries.iter().map(|q| format!("{q} {round}")));
    }
    let stop = Instant::now() + Duration::from_secs(5);
    let list: Vec<String> = many;
    let next = Arc::new(AtomicUsize::new(0));
    let served = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(Vec::new()));
    let list = Arc::new(list);
    let threads: Vec<_> = (0..flood)
        .map(|_| {
            let (next, served, refused, list, port, mode) = (next.clone(), served.clone(), refused.clone(), list.clone(), server.port, mode.clone());
            std::thread::spawn(move || {
                let mut conn = Conn::open(port);
                while Instant::now() < stop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(q) = list.get(i) else { break };
                    let t = Instant::now();
                    let status = conn.get(&format!("/api/v1/search?mode={mode}&limit=10&q={}", encode(q)));
                    let ms = t.elapsed().as_secs_f64() * 1e3;
                    match status {
                        200 => served.lock().unwrap().push(ms),
                        _ => {
                            refused.lock().unwrap().push(ms);
                            // As the answer's Retry-After asks.
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let pct = |v: &Mutex<Vec<f64>>, q: f64| {
        let mut v = v.lock().unwrap().clone();
        v.sort_by(f64::total_cmp);
        v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1))).copied().unwrap_or(0.0)
    };
    let (s, r) = (served.lock().unwrap().len(), refused.lock().unwrap().len());
    println!();
    println!("| overload: {flood} connections, search_queue 32, 5 s | answered | served/s | served p50 (ms) | served p99 (ms) | 503s | 503 p99 (ms) |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    println!("| {mode}, fresh queries | {} | {:.0} | {:.1} | {:.1} | {r} | {:.1} |", s + r, s as f64 / 5.0, pct(&served, 0.5), pct(&served, 0.99), pct(&refused, 0.99));
}
