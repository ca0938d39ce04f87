//! A plain HTTP/1.1 client for tests of the runner's HTTP endpoint: one
//! request per connection (`Connection: close`), read to the end.

use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::time::Duration;

/// A response as received.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Response {
    /// The first header called `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `METHOD path` on `addr`, on a thread of its own so the server under test
/// may share the test's runtime. Panics on a connection or protocol error.
pub async fn request(addr: SocketAddr, method: &str, path: &str) -> Response {
    let req = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    tokio::task::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr)
            .unwrap_or_else(|e| panic!("cannot connect to {addr}: {e}"));
        s.set_read_timeout(Some(Duration::from_secs(120)))
            .expect("a read timeout");
        s.write_all(req.as_bytes()).expect("send the request");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read the response");
        let text = String::from_utf8(raw).expect("a UTF-8 response");
        let (head, body) = text.split_once("\r\n\r\n").expect("a head and a body");
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {head:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
            .collect();
        Response {
            status,
            headers,
            body: body.to_owned(),
        }
    })
    .await
    .expect("the client thread")
}

/// `GET path` on `addr`.
pub async fn get(addr: SocketAddr, path: &str) -> Response {
    request(addr, "GET", path).await
}
