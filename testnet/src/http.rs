//! A minimal HTTP/1.1 client over one keep-alive TCP connection, so that the load
//! generator spends as little CPU per request as possible and measures the node, not
//! itself.
//!
//! # Invariants
//! Only what the Vouch API sends is accepted: responses with `Content-Length` and at
//! most [`RESPONSE_BYTES_MAX`] bytes of body. Anything else is an error that names it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use anyhow::{Context, bail};

/// Maximum size of one response body in bytes.
pub const RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Maximum size of the status line and headers of one response, in bytes.
const HEAD_BYTES_MAX: usize = 64 * 1024;

/// One keep-alive connection to a node.
pub struct Connection {
    address: SocketAddr,
    host: String,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

/// A response: status code and body.
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Connection {
    /// Connects to `address`, with `timeout` for connecting, reading and writing.
    pub fn open(address: SocketAddr, timeout: Duration) -> anyhow::Result<Connection> {
        let stream = TcpStream::connect_timeout(&address, timeout)
            .with_context(|| format!("cannot connect to the node at {address}; is vouchd running there?"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        let writer = stream.try_clone()?;
        Ok(Connection { address, host: address.to_string(), reader: BufReader::new(stream), writer })
    }

    /// Sends a GET request for `path`.
    pub fn get(&mut self, path: &str) -> anyhow::Result<Response> {
        self.request("GET", path, None)
    }

    /// Sends a POST request for `path` with a JSON body.
    pub fn post_json(&mut self, path: &str, body: &[u8]) -> anyhow::Result<Response> {
        self.request("POST", path, Some(body))
    }

    fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> anyhow::Result<Response> {
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {}\r\n", self.host);
        if let Some(body) = body {
            head.push_str(&format!("content-type: application/json\r\ncontent-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut message = head.into_bytes();
        message.extend_from_slice(body.unwrap_or_default());
        self.writer.write_all(&message).with_context(|| format!("sending {method} {path} to {}", self.address))?;
        self.read_response().with_context(|| format!("reading the answer to {method} {path} from {}", self.address))
    }

    fn read_response(&mut self) -> anyhow::Result<Response> {
        let mut line = String::new();
        let mut head_bytes = self.reader.read_line(&mut line)?;
        if head_bytes == 0 {
            bail!("the node closed the connection");
        }
        let status = parse_status(&line)?;
        let mut content_length = None;
        loop {
            line.clear();
            let read = self.reader.read_line(&mut line)?;
            head_bytes += read;
            if read == 0 {
                bail!("the connection closed inside the response headers");
            }
            if head_bytes > HEAD_BYTES_MAX {
                bail!("response headers exceed {HEAD_BYTES_MAX} bytes");
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = Some(value.trim().parse::<usize>().context("invalid content-length")?);
                } else if name.eq_ignore_ascii_case("transfer-encoding") {
                    bail!("chunked responses are not supported by the load client ({header})");
                }
            }
        }
        let length = content_length.context("the response has no content-length")?;
        if length > RESPONSE_BYTES_MAX {
            bail!("response body of {length} bytes exceeds the limit of {RESPONSE_BYTES_MAX}");
        }
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body)?;
        Ok(Response { status, body })
    }
}

fn parse_status(line: &str) -> anyhow::Result<u16> {
    let mut parts = line.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some(version), Some(code)) if version.starts_with("HTTP/1.") => {
            code.parse().with_context(|| format!("invalid status code in {line:?}"))
        }
        _ => bail!("not an HTTP/1.x status line: {line:?}"),
    }
}

/// Resolves a node URL of the form `http://host:port` to a socket address.
pub fn node_address(url: &str) -> anyhow::Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    let rest = url
        .strip_prefix("http://")
        .with_context(|| format!("node URL {url:?} must start with http:// (the load client speaks plain HTTP)"))?;
    let authority = rest.trim_end_matches('/');
    authority
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {authority:?} from node URL {url:?}"))?
        .next()
        .with_context(|| format!("{authority:?} resolves to no address"))
}
