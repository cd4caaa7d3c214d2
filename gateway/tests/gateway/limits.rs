//! What a client that misbehaves at the HTTP level can hold: half-sent
//! requests are cut off at the header deadline, oversized bodies are refused
//! with 413 however they are sent, and nothing is charged for either.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{World, ROUTES};

#[tokio::test]
async fn a_thousand_half_sent_requests_are_cut_off_at_the_header_deadline() {
    let world = World::start().await;
    let gateway = world
        .another_gateway_with("header_read_timeout_secs = 1", ROUTES)
        .await;
    let address = gateway.url().trim_start_matches("http://").to_string();
    let mut slow = Vec::new();
    for _ in 0..1_000 {
        let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    let started = Instant::now();
    for stream in &mut slow {
        let mut rest = Vec::new();
        let closed =
            tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
        assert!(
            closed.is_ok(),
            "a half-sent request was still open after 10 s"
        );
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let health = world
        .http
        .get(format!("{}/health", gateway.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the gateway kept serving");
    gateway.shutdown().await;
}

/// A chunked body of `size` bytes: no length announced up front.
fn chunked(size: usize) -> reqwest::Body {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..size / 1024).map(|_| Ok(vec![b'x'; 1024])).collect();
    reqwest::Body::wrap_stream(futures_util::stream::iter(chunks))
}

#[tokio::test]
async fn an_oversized_chunked_body_is_refused_with_413_and_its_payment_is_kept() {
    let mut world = World::start().await;
    let gateway = world
        .another_gateway_with("max_body_bytes = 4096", ROUTES)
        .await;
    let free = world
        .http
        .post(format!("{}/echo", gateway.url()))
        .body(chunked(64 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(free.status(), 413);

    let url = format!("{}/v1/slow/upload", gateway.url());
    let proof = world.proof_for("POST", &url).await;
    let refused = world
        .http
        .post(&url)
        .header("paytab-proof", &proof)
        .body(chunked(64 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 413, "refused, and nothing charged");
    let small = || {
        world
            .http
            .post(&url)
            .header("paytab-proof", &proof)
            .body("small")
            .send()
    };
    assert_eq!(
        small().await.unwrap().status(),
        200,
        "the proof still pays once"
    );
    assert_eq!(small().await.unwrap().status(), 402, "and only once");
    gateway.shutdown().await;
}

#[tokio::test]
async fn readiness_says_whether_used_payments_can_be_recorded() {
    let world = World::start().await;
    let ready = world.http.get(world.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["reservations"], "ok");
}
