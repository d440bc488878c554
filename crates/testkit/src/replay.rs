//! An HTTP server on a loopback port that answers each request with canned replies (recorded
//! arXiv OAI-PMH responses, errors, throttling) and records what it was asked.

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// One canned answer.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// 200 with an XML body.
    pub fn ok(body: Vec<u8>) -> Self {
        Reply { status: 200, headers: vec![("Content-Type".into(), "text/xml; charset=utf-8".into())], body }
    }
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub url: String,
    pub user_agent: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    /// A header's value (the first of that name, any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// An HTTP server on a loopback port that answers each request with `route(url, n)`, where `n`
/// counts the requests so far; it records every request.
pub struct ReplayServer {
    pub base_url: String,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl ReplayServer {
    /// Starts a server whose `base_url` ends in `/oai2`.
    pub fn start(route: impl Fn(&str, usize) -> Reply + Send + 'static) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind loopback"));
        let port = server.server_addr().to_ip().expect("ip").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (srv, log) = (server.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            for mut request in srv.incoming_requests() {
                let url = request.url().to_owned();
                let headers: Vec<(String, String)> = request.headers().iter().map(|h| (h.field.as_str().as_str().to_owned(), h.value.as_str().to_owned())).collect();
                let user_agent = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("User-Agent")).map(|(_, v)| v.clone());
                let method = request.method().as_str().to_owned();
                let mut body = Vec::new();
                let _ = std::io::Read::read_to_end(request.as_reader(), &mut body);
                let n = {
                    let mut log = log.lock().unwrap();
                    log.push(Seen { method, url: url.clone(), user_agent, headers, body });
                    log.len() - 1
                };
                let reply = route(&url, n);
                let mut response = tiny_http::Response::from_data(reply.body).with_status_code(reply.status);
                for (k, v) in reply.headers {
                    response.add_header(tiny_http::Header::from_bytes(k.as_bytes(), v.as_bytes()).unwrap());
                }
                let _ = request.respond(response);
            }
        });
        ReplayServer { base_url: format!("http://127.0.0.1:{port}/oai2"), seen, server, thread: Some(thread) }
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for ReplayServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
