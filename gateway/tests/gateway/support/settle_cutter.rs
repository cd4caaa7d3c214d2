//! A link between a gateway and its facilitator that can lose a settlement's
//! answer: the `/settle` is delivered (and acted on), then the connection is
//! closed without a reply, as when the facilitator dies after committing or
//! the network drops the response. It can also stand for a facilitator that is
//! down (503 to every payment call). Everything else passes through.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The link; its URL replaces the facilitator's.
pub struct SettleCutter {
    pub url: String,
    cut: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

impl SettleCutter {
    /// A link to the facilitator at `facilitator`.
    pub async fn start(facilitator: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let cut = Arc::new(AtomicUsize::new(0));
        let down = Arc::new(AtomicBool::new(false));
        let target = facilitator.to_string();
        let (counter, is_down) = (cut.clone(), down.clone());
        tokio::spawn(async move {
            let http = reqwest::Client::new();
            while let Ok((stream, _)) = listener.accept().await {
                let link = Link {
                    http: http.clone(),
                    target: target.clone(),
                    cut: counter.clone(),
                    down: is_down.clone(),
                };
                tokio::spawn(relay(stream, link));
            }
        });
        Self { url, cut, down }
    }

    /// Answers every `/verify` and `/settle` with 503, as a facilitator that
    /// cannot reach its chain or store does.
    pub fn go_down(&self) {
        self.down.store(true, Ordering::SeqCst);
    }

    /// Loses the answers of the next `count` settlements.
    pub fn lose_next_settle_answers(&self, count: usize) {
        self.cut.store(count, Ordering::SeqCst);
    }
}

/// Where one connection is relayed, and how.
struct Link {
    http: reqwest::Client,
    target: String,
    cut: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
}

/// Relays one request (`connection: close`), or delivers a `/settle` and hangs up.
async fn relay(mut stream: TcpStream, link: Link) {
    let Link {
        http,
        target,
        cut,
        down,
    } = link;
    let Some((method, path, headers, body)) = read_request(&mut stream).await else {
        return;
    };
    if down.load(Ordering::SeqCst) && (path == "/verify" || path == "/settle") {
        let body = br#"{"error":"unavailable","message":"the chain cannot be reached"}"#;
        let head = format!(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            body.len()
        );
        let _ = stream.write_all(head.as_bytes()).await;
        let _ = stream.write_all(body).await;
        return;
    }
    let mut request = http.request(method, format!("{target}{path}")).body(body);
    for (name, value) in headers {
        if name == "authorization" || name == "content-type" {
            request = request.header(name, value);
        }
    }
    let lose = path == "/settle"
        && cut
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok();
    let Ok(answer) = request.send().await else {
        return;
    };
    let status = answer.status();
    let body = answer.bytes().await.unwrap_or_default();
    if lose {
        // Acted on by the facilitator; its answer never arrives.
        return;
    }
    let head = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(&body).await;
}

type Head = (reqwest::Method, String, Vec<(String, String)>, Vec<u8>);

async fn read_request(stream: &mut TcpStream) -> Option<Head> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
        if let Some(end) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break end + 4;
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.parse().ok()?;
    let path = request_line.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = buffer[header_end..].to_vec();
    while body.len() < length {
        let read = stream.read(&mut chunk).await.ok()?;
        if read == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..read]);
    }
    Some((method, path, headers, body))
}
