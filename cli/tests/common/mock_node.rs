//! A stand-in for a node's HTTP API on a loopback port, for the CLI tests that run
//! before a real `vouchd` is available: each request gets the response a test's
//! handler returns, and every request is recorded.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// One request as the mock node received it.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// The path with its query string.
    pub target: String,
    pub body: Vec<u8>,
}

/// A response: HTTP status and JSON body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Response {
    /// A 200 response with `value` as JSON.
    pub fn json(value: &impl serde::Serialize) -> Response {
        Response { status: 200, body: serde_json::to_vec(value).unwrap() }
    }

    /// An error response in the API's `{"error": {"code", "message"}}` form.
    pub fn error(status: u16, code: &str, message: &str) -> Response {
        let body = serde_json::json!({"error": {"code": code, "message": message}});
        Response { status, body: serde_json::to_vec(&body).unwrap() }
    }
}

/// A running mock node; its thread ends with the test process.
pub struct MockNode {
    pub url: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl MockNode {
    /// Serves `handler`'s responses on a free loopback port, one connection at a time.
    pub fn start(handler: impl Fn(&Request) -> Response + Send + 'static) -> MockNode {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve(stream, &handler, &recorded);
            }
        });
        MockNode { url, requests }
    }

    /// Returns the requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

/// Reads one request, records it, then writes the handler's response. Recording comes
/// first so that a test sees every request once `vouch` has its response.
fn serve(stream: TcpStream, handler: &impl Fn(&Request) -> Response, recorded: &Mutex<Vec<Request>>) -> Option<()> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();

    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;

    let request = Request { method, target, body };
    let response = handler(&request);
    recorded.lock().unwrap().push(request);
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 {} Mock\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        response.status,
        response.body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&response.body);
    let _ = stream.flush();
    Some(())
}
