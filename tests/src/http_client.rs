//! A tiny blocking HTTP/1.1 client for the emulator's JSON control API (loopback only).

use std::io::{Read, Write};
use std::net::TcpStream;

use serde_json::Value;

pub fn request(method: &str, url: &str, body: Option<&Value>) -> Result<Value, String> {
    request_with_headers(method, url, body, &[])
}

/// Like [`request`], with extra headers (e.g. an `Authorization` header whose SigV4
/// credential scope tells the emulator which AWS service is addressed).
pub fn request_with_headers(
    method: &str,
    url: &str,
    body: Option<&Value>,
    headers: &[(&str, &str)],
) -> Result<Value, String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let body = body
        .filter(|b| !b.is_null())
        .map(|b| serde_json::to_vec(b).unwrap())
        .unwrap_or_default();
    let mut stream = TcpStream::connect(host).map_err(|e| e.to_string())?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream
        .write_all(head.as_bytes())
        .map_err(|e| e.to_string())?;
    stream.write_all(&body).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, payload) = text.split_once("\r\n\r\n").ok_or("no HTTP header end")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status")?;
    if !(200..300).contains(&status) {
        return Err(format!("HTTP {status}: {payload}"));
    }
    if payload.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(payload).map_err(|e| format!("{e}: {payload}"))
}
