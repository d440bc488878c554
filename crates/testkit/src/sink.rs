//! A local SMTP sink (mailin-embedded): a real SMTP server on a loopback port that keeps what
//! it receives, and refuses chosen recipients with 550. For tests and the delivery benchmarks.

use std::io;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::{NO_MAILBOX, OK};
use mailin_embedded::{Handler, Response, Server};

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Envelope recipients.
    pub to: Vec<String>,
    /// The raw message (headers and MIME body).
    pub data: String,
}

impl Received {
    /// A header's value (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The body with quoted-printable soft breaks and `=3D` undone (enough to find links).
    pub fn body_text(&self) -> String {
        self.data.replace("=\r\n", "").replace("=3D", "=")
    }
}

#[derive(Clone)]
struct Sink {
    received: Arc<Mutex<Vec<Received>>>,
    refuse: Arc<Vec<String>>,
    current: Option<(Vec<String>, Vec<u8>)>,
    /// Added before each reply to MAIL, RCPT, DATA and the end of data.
    latency: Duration,
}

impl Sink {
    fn wait(&self) {
        if !self.latency.is_zero() {
            std::thread::sleep(self.latency);
        }
    }
}

impl Handler for Sink {
    fn mail(&mut self, _ip: std::net::IpAddr, _domain: &str, _from: &str) -> Response {
        self.wait();
        OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        self.wait();
        if self.refuse.iter().any(|r| r.eq_ignore_ascii_case(to)) {
            NO_MAILBOX
        } else {
            OK
        }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.wait();
        self.current = Some((to.to_vec(), Vec::new()));
        OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        if let Some((_, data)) = &mut self.current {
            data.extend_from_slice(buf);
        }
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.wait();
        if let Some((to, data)) = self.current.take() {
            self.received.lock().expect("sink lock").push(Received { to, data: String::from_utf8_lossy(&data).into_owned() });
        }
        OK
    }
}

/// A running sink; what it received so far is in [`SmtpSink::received`].
pub struct SmtpSink {
    /// `smtp://127.0.0.1:PORT`.
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl SmtpSink {
    /// Starts a sink on `listener` that refuses the `refuse` recipients (550).
    pub fn start(listener: TcpListener, refuse: &[&str]) -> SmtpSink {
        Self::start_with_latency(listener, refuse, Duration::ZERO)
    }

    /// [`SmtpSink::start`] with `latency` added before the reply to each command of a message
    /// (MAIL, RCPT, DATA, end of data), as a mail server across a network answers: for
    /// benchmarks of delivery to a remote relay.
    pub fn start_with_latency(listener: TcpListener, refuse: &[&str], latency: Duration) -> SmtpSink {
        let url = format!("smtp://{}", listener.local_addr().expect("bound"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Sink { received: received.clone(), refuse: Arc::new(refuse.iter().map(|s| s.to_string()).collect()), current: None, latency };
        let mut server = Server::new(sink);
        server.with_name("sink.paperboy.test").with_num_threads(32).with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpSink { url, received }
    }

    /// Starts a sink on a free loopback port.
    pub fn start_local(refuse: &[&str]) -> SmtpSink {
        Self::start(TcpListener::bind("127.0.0.1:0").expect("a loopback port"), refuse)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("sink lock").clone()
    }
}
