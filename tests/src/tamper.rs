//! A loopback HTTP proxy that forwards each request to a node and changes the proof in
//! image status responses, to check that clients reject a proof altered in transit.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;

/// A change to make in the `proof` object of image status responses.
#[derive(Clone, Copy, Debug)]
pub enum Tamper {
    /// Flip one bit of the proven record.
    Record,
    /// Flip one bit of the state proof.
    StateProof,
    /// Flip one bit of the header.
    Header,
}

/// Starts the proxy in front of `node` (`http://host:port`) and returns its URL; it
/// serves until the test process exits.
pub fn start_proxy(node: &str, tamper: Tamper) -> String {
    let upstream: SocketAddr = node.trim_start_matches("http://").parse().expect("the node URL is host:port");
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port for the proxy");
    let address = listener.local_addr().expect("the proxy's address");
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            thread::spawn(move || serve(client, upstream, tamper));
        }
    });
    format!("http://{address}")
}

fn serve(mut client: TcpStream, upstream: SocketAddr, tamper: Tamper) {
    let Some((method, path)) = read_request_line(&client) else { return };
    let mut node = TcpStream::connect(upstream).expect("the node accepts connections");
    let request = format!("{method} {path} HTTP/1.1\r\nhost: {upstream}\r\nconnection: close\r\n\r\n");
    node.write_all(request.as_bytes()).expect("the request is sent");
    let mut answer = Vec::new();
    node.read_to_end(&mut answer).expect("the node answers");
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").expect("the answer has a header end") + 4;
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status_line = head.lines().next().unwrap_or("HTTP/1.1 500 Internal Server Error").to_owned();
    let body = change_proof(&answer[split..], tamper);
    let response = format!(
        "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = client.write_all(response.as_bytes());
    let _ = client.write_all(&body);
}

fn read_request_line(client: &TcpStream) -> Option<(String, String)> {
    let mut reader = BufReader::new(client.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header.trim().is_empty() {
            break;
        }
    }
    Some((method, path))
}

fn change_proof(body: &[u8], tamper: Tamper) -> Vec<u8> {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(body) else { return body.to_vec() };
    let field = match tamper {
        Tamper::Record => "record",
        Tamper::StateProof => "state_proof",
        Tamper::Header => "header",
    };
    if let Some(text) = value.pointer(&format!("/proof/{field}")).and_then(|v| v.as_str()) {
        let mut bytes = STANDARD.decode(text).expect("proof fields are base64");
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        value["proof"][field] = serde_json::Value::String(STANDARD.encode(bytes));
    }
    serde_json::to_vec(&value).expect("JSON values serialize")
}
