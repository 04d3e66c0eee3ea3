//! A fault-injecting HTTP proxy in front of moto: the SDK talks to the proxy, which forwards
//! each request to the emulator unless a queued fault matches it. Faults: a 5xx answer (S3's
//! `SlowDown`, `InternalError`), a service's throttling error in its own shape (ELB's query XML,
//! SSM/DynamoDB/EventBridge JSON), a connection reset part way through the response body, and
//! a stall before forwarding. One request per connection (`Connection: close`), so a fault
//! never leaks into the next request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to do to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and body without asking the emulator.
    Answer {
        /// HTTP status.
        status: u16,
        /// Content type.
        content_type: &'static str,
        /// Body.
        body: String,
    },
    /// Forward, then send the response head and half the body, and close the connection.
    ResetMidBody,
    /// Wait this long, then forward (the client has usually given up by then).
    Stall(Duration),
}

impl Fault {
    /// S3's `503 SlowDown`.
    pub fn s3_slow_down() -> Fault {
        Fault::Answer {
            status: 503,
            content_type: "application/xml",
            body: "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".into(),
        }
    }

    /// ELB's (query protocol) `Throttling`.
    pub fn elb_throttling() -> Fault {
        Fault::Answer {
            status: 400,
            content_type: "text/xml",
            body: "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>f0f0</RequestId></ErrorResponse>".into(),
        }
    }

    /// The JSON protocol's error shape (SSM, DynamoDB, EventBridge): `ThrottlingException`,
    /// `ProvisionedThroughputExceededException`, `InternalServerError`, ...
    pub fn json_error(status: u16, code: &str) -> Fault {
        Fault::Answer {
            status,
            content_type: "application/x-amz-json-1.1",
            body: format!("{{\"__type\":\"{code}\",\"message\":\"injected {code}\"}}"),
        }
    }
}

/// A fault for requests whose head contains `matching` (an `X-Amz-Target`, an `Action=`, a
/// path), applied `times` times.
#[derive(Clone, Debug)]
struct Rule {
    matching: String,
    fault: Fault,
    times: u32,
}

/// A running proxy; it stops with the test process.
#[derive(Clone, Debug)]
pub struct FaultProxy {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    rules: Arc<Mutex<Vec<Rule>>>,
    injected: Arc<Mutex<Vec<String>>>,
}

impl FaultProxy {
    /// Starts a proxy in front of `upstream` (`http://host:port`).
    ///
    /// # Panics
    ///
    /// When no local port is free.
    pub fn start(upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let proxy = FaultProxy {
            endpoint: format!("http://127.0.0.1:{port}"),
            rules: Arc::default(),
            injected: Arc::default(),
        };
        let upstream = upstream.trim_start_matches("http://").to_string();
        let worker = proxy.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let worker = worker.clone();
                let upstream = upstream.clone();
                std::thread::spawn(move || {
                    let _ = worker.serve(client, &upstream);
                });
            }
        });
        proxy
    }

    /// Applies `fault` to the next `times` requests whose head contains `matching`.
    pub fn inject(&self, matching: &str, fault: Fault, times: u32) {
        let rule = Rule { matching: matching.to_string(), fault, times };
        self.rules.lock().expect("rules").push(rule);
    }

    /// The faults injected so far, as `<matching>: <fault>`.
    pub fn injected(&self) -> Vec<String> {
        self.injected.lock().expect("injected").clone()
    }

    fn take_fault(&self, head: &str) -> Option<Fault> {
        let mut rules = self.rules.lock().expect("rules");
        let rule = rules.iter_mut().find(|r| r.times > 0 && head.contains(&r.matching))?;
        rule.times -= 1;
        let fault = rule.fault.clone();
        let label = match &fault {
            Fault::Answer { status, body, .. } => {
                format!(
                    "{}: HTTP {status} {}",
                    rule.matching,
                    body.chars().take(60).collect::<String>()
                )
            }
            other => format!("{}: {other:?}", rule.matching),
        };
        self.injected.lock().expect("injected").push(label);
        Some(fault)
    }

    fn serve(&self, client: TcpStream, upstream: &str) -> std::io::Result<()> {
        let mut reader = BufReader::new(client.try_clone()?);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(());
            }
            let end = line == "\r\n";
            if !line.to_ascii_lowercase().starts_with("connection:") {
                head.push_str(&line);
            }
            if end {
                break;
            }
        }
        let length = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
            })
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        let text = format!("{head}{}", String::from_utf8_lossy(&body));
        let fault = self.take_fault(&text);
        let mut client = client;
        if let Some(Fault::Answer { status, content_type, body }) = &fault {
            let response = format!(
                "HTTP/1.1 {status} Injected\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            client.write_all(response.as_bytes())?;
            return client.shutdown(Shutdown::Both);
        }
        if let Some(Fault::Stall(pause)) = &fault {
            std::thread::sleep(*pause);
        }
        let mut server = TcpStream::connect(upstream)?;
        let head = head.trim_end_matches("\r\n").to_string();
        server.write_all(format!("{head}\r\nConnection: close\r\n\r\n").as_bytes())?;
        server.write_all(&body)?;
        let mut response = Vec::new();
        server.read_to_end(&mut response)?;
        if fault == Some(Fault::ResetMidBody) {
            let split = response.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |p| p + 4);
            let half = split + (response.len() - split) / 2;
            client.write_all(&response[..half])?;
            client.flush()?;
            // Abort rather than close cleanly: the reader sees a reset, not an end of stream.
            drop(client);
            return Ok(());
        }
        client.write_all(&response)?;
        client.shutdown(Shutdown::Both)
    }
}
