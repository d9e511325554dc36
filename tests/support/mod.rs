//! Helpers shared by the hardening and fault-injection tests: gzip bodies built from the
//! sample records, and a hand-written HTTP/1.1 server for what wiremock cannot do
//! (stalls, trickles, dropped connections, byte ranges).
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use flate2::Compression;
use flate2::write::GzEncoder;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub const IP_RECORDS: &str = include_str!("../../src/sandbox/data/random100_ioc_ip_latest.json");

pub fn gzip(text: &[u8]) -> Vec<u8> {
    gzip_with(text, Compression::default())
}

pub fn gzip_with(text: &[u8], level: Compression) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), level);
    encoder.write_all(text).unwrap();
    encoder.finish().unwrap()
}

/// `count` IP records made from the samples, each with its own address and id, so that
/// a lost, repeated or reordered record is visible.
pub fn ip_records_text(count: usize) -> Vec<u8> {
    let samples: Vec<serde_json::Value> = IP_RECORDS
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut out = Vec::with_capacity(count * 900);
    for i in 0..count {
        let mut record = samples[i % samples.len()].clone();
        record["ip"]["v4"] = ip_for(i).into();
        record["id"] = format!("rec-{i}").into();
        serde_json::to_writer(&mut out, &record).unwrap();
        out.push(b'\n');
    }
    out
}

/// `count` small but complete IP records (address and id only).
pub fn small_ip_records_text(count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count * 60);
    for i in 0..count {
        writeln!(out, r#"{{"ip":{{"v4":"{}"}},"id":"rec-{i}"}}"#, ip_for(i)).unwrap();
    }
    out
}

pub fn ip_for(i: usize) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

/// One request as the raw server saw it: the request line and headers, as text.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub head: String,
}

impl SeenRequest {
    pub fn target(&self) -> &str {
        self.head.split(' ').nth(1).unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// A local HTTP/1.1 server answering each connection's first request with `handler`,
/// which writes the raw response. Connections are one request each.
pub struct RawServer {
    pub addr: SocketAddr,
    pub requests: Arc<Mutex<Vec<SeenRequest>>>,
}

impl RawServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn seen(&self) -> Vec<SeenRequest> {
        self.requests.lock().unwrap().clone()
    }
}

pub async fn raw_server<F, Fut>(handler: F) -> RawServer
where
    F: Fn(usize, SeenRequest, TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = requests.clone();
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        let mut index = 0;
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let Some(head) = read_head(&mut stream).await else {
                continue;
            };
            let request = SeenRequest { head };
            seen.lock().unwrap().push(request.clone());
            let handler = handler.clone();
            let i = index;
            index += 1;
            tokio::spawn(async move { handler(i, request, stream).await });
        }
    });
    RawServer { addr, requests }
}

async fn read_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// Writes a status line and headers (each `"Name: value"`), ending the head.
pub async fn write_head(stream: &mut TcpStream, status: &str, headers: &[String]) {
    let mut head = format!("HTTP/1.1 {status}\r\nConnection: close\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes()).await;
}

/// Writes one chunk of a chunked body; `false` once the peer is gone.
pub async fn write_chunk(stream: &mut TcpStream, data: &[u8]) -> bool {
    let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(b"\r\n");
    stream.write_all(&chunk).await.is_ok()
}

/// Ends a chunked body.
pub async fn end_chunks(stream: &mut TcpStream) {
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let _ = stream.shutdown().await;
}
