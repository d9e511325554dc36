//! End-to-end benchmark: large IP snapshots served the way the API serves them, read by
//! the client, and indicator lookups against the same server.
//!
//! The snapshots are built from the real sample records in the sandbox (address, number
//! and id varied per record, so the mix of fields stays real). The API host answers
//! `GET /v1/ip` with a 302 to a storage host on another port, which serves the gzip.
//!
//! Subcommands (`benches/compare.sh` drives them):
//!
//! - `serve RECORDS CACHE_DIR`: build (or reuse) the snapshot, print `api=URL` and
//!   `file=PATH`, and serve until killed;
//! - `stream API_URL`: stream every record of the latest IP snapshot, typed;
//! - `lookup API_URL CONCURRENCY COUNT`: look indicators up, one at a time at
//!   concurrency 1, through `Client::lookup_many` otherwise.
//!
//! Without a subcommand (as under `cargo bench`) it serves 250,000 records in-process and
//! runs one streaming pass and both lookup modes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use rstcloud::{Client, IpRecord, SnapshotDate};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SAMPLE: &str = include_str!("../src/sandbox/data/random100_ioc_ip_latest.json");

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let runtime = tokio::runtime::Runtime::new()?;
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    match arg(0) {
        "serve" => runtime.block_on(serve(arg(1).parse()?, Path::new(arg(2)))),
        "stream" => runtime.block_on(stream(arg(1))),
        "lookup" => runtime.block_on(lookup(arg(1), arg(2).parse()?, arg(3).parse()?)),
        "" => runtime.block_on(quick()),
        other => Err(format!("unknown subcommand {other:?}").into()),
    }
}

/// The sample lines, as sent (their key order kept).
fn sample_lines() -> Vec<&'static str> {
    SAMPLE.lines().filter(|l| !l.trim().is_empty()).collect()
}

/// The address a generated record `i` carries: 10.0.0.0 onwards, one per record.
fn address(i: u64) -> (String, u32) {
    let num = 0x0a00_0000u32.wrapping_add(i as u32);
    (std::net::Ipv4Addr::from(num).to_string(), num)
}

/// Writes `records` NDJSON lines built from the samples, with the address (also in the
/// title and description), its number and the id replaced per record.
fn generate(records: u64, out: &mut impl Write) -> std::io::Result<()> {
    let samples: Vec<(serde_json::Value, &str)> = sample_lines()
        .into_iter()
        .map(|l| (serde_json::from_str(l).expect("sample is JSON"), l))
        .collect();
    for i in 0..records {
        let (value, line) = &samples[(i % samples.len() as u64) as usize];
        let old_v4 = value["ip"]["v4"].as_str().unwrap_or_default();
        let old_num = value["ip"]["num"].as_u64().unwrap_or_default();
        let old_id = value["id"].as_str().unwrap_or_default();
        let (v4, num) = address(i);
        let id = format!("{:08x}-{:04x}-3000-a000-{:012x}", i, i % 0xffff, i * 7919);
        let line = line
            .replace(old_v4, &v4)
            .replacen(
                &format!("\"num\": {old_num}"),
                &format!("\"num\": {num}"),
                1,
            )
            .replace(old_id, &id);
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// The gzip'd snapshot of `records` records, built once and kept in `cache`.
fn snapshot_file(records: u64, cache: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(cache)?;
    let path = cache.join(format!("ip_{records}.json.gz"));
    if !path.exists() {
        let partial = cache.join(format!("ip_{records}.json.gz.part"));
        let file = std::io::BufWriter::new(std::fs::File::create(&partial)?);
        let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        generate(records, &mut gz)?;
        gz.finish()?.flush()?;
        std::fs::rename(&partial, &path)?;
    }
    Ok(path)
}

/// A lookup answer for `value`, shaped as the API answers: a sample record without its
/// indicator object, with `ioc_value` and `ioc_type` added.
fn lookup_answers() -> Vec<String> {
    sample_lines()
        .into_iter()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("sample is JSON");
            let fields = v.as_object_mut().expect("records are objects");
            let ip = fields.remove("ip").unwrap_or_default();
            fields.insert("ioc_value".into(), ip["v4"].clone());
            fields.insert("ioc_type".into(), "ip".into());
            v.to_string()
        })
        .collect()
}

/// Addresses that are looked up: those of the sample records, over and over.
fn lookup_values(count: usize) -> Vec<String> {
    let v4: Vec<String> = sample_lines()
        .into_iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("sample is JSON");
            v["ip"]["v4"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    (0..count).map(|i| v4[i % v4.len()].clone()).collect()
}

/// The API host and the storage host, each on its own port.
struct Servers {
    api: String,
}

async fn start_servers(body: Arc<Vec<u8>>) -> Result<Servers, BoxError> {
    let storage = TcpListener::bind("127.0.0.1:0").await?;
    let storage_port = storage.local_addr()?.port();
    let api = TcpListener::bind("127.0.0.1:0").await?;
    let api_port = api.local_addr()?.port();
    let answers = Arc::new(lookup_answers());

    tokio::spawn(accept(storage, move |_path| {
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/gzip\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        (head, Some(body.clone()))
    }));
    tokio::spawn(accept(api, move |path| {
        if path.starts_with("/v1/ip?") {
            let head = format!(
                "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{storage_port}\
                 /snapshots/ip.json.gz?signature=bench\r\ncontent-length: 0\r\n\r\n"
            );
            return (head, None);
        }
        if let Some(value) = path.strip_prefix("/v1/ioc?value=") {
            let pick = value.bytes().map(usize::from).sum::<usize>() % answers.len();
            let answer = &answers[pick];
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\
                 \r\n\r\n{answer}",
                answer.len()
            );
            return (head, None);
        }
        let head = "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n".to_owned();
        (head, None)
    }));
    Ok(Servers {
        api: format!("http://127.0.0.1:{api_port}/v1"),
    })
}

/// Serves keep-alive HTTP/1.1 `GET`s: `answer` maps a path to a head and an optional body.
async fn accept<F>(listener: TcpListener, answer: F)
where
    F: Fn(&str) -> (String, Option<Arc<Vec<u8>>>) + Clone + Send + 'static,
{
    while let Ok((socket, _)) = listener.accept().await {
        let answer = answer.clone();
        tokio::spawn(async move {
            let _ = connection(socket, answer).await;
        });
    }
}

async fn connection<F>(mut socket: TcpStream, answer: F) -> std::io::Result<()>
where
    F: Fn(&str) -> (String, Option<Arc<Vec<u8>>>),
{
    socket.set_nodelay(true)?;
    let mut buf = Vec::with_capacity(4096);
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            let n = socket.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let request = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let path = request.split(' ').nth(1).unwrap_or("/");
        let (head, body) = answer(path);
        socket.write_all(head.as_bytes()).await?;
        if let Some(body) = body {
            socket.write_all(&body).await?;
        }
    }
}

async fn serve(records: u64, cache: &Path) -> Result<(), BoxError> {
    let path = snapshot_file(records, cache)?;
    let body = Arc::new(std::fs::read(&path)?);
    let servers = start_servers(body).await?;
    println!("api={}", servers.api);
    println!("file={}", path.display());
    std::io::stdout().flush()?;
    std::future::pending::<()>().await;
    Ok(())
}

fn client(api: &str) -> Result<Client, BoxError> {
    Ok(Client::builder()
        .api_key("bench-key")
        .base_url(api)
        .build()?)
}

/// Streams every record and prints `seconds records`.
async fn stream(api: &str) -> Result<(), BoxError> {
    let client = client(api)?;
    let start = Instant::now();
    let mut records = client.records::<IpRecord>(SnapshotDate::Latest).await?;
    let mut count = 0u64;
    let mut checksum = 0u64;
    while let Some(record) = records.next().await {
        let record = record?;
        count += 1;
        checksum = checksum.wrapping_add(u64::from(record.ip.num.unwrap_or_default()));
    }
    let seconds = start.elapsed().as_secs_f64();
    println!("{seconds:.4} {count} {checksum}");
    Ok(())
}

/// Looks `count` indicators up and prints `lookups_per_second`.
async fn lookup(api: &str, concurrency: usize, count: usize) -> Result<(), BoxError> {
    let client = client(api)?;
    let values = lookup_values(count);

    // One lookup first, so the connection is open before the clock starts.
    client.lookup(&values[0]).await?;
    let start = Instant::now();
    if concurrency <= 1 {
        for value in &values {
            client.lookup(value).await?;
        }
    } else {
        for outcome in client.lookup_many(&values, concurrency).await {
            outcome?;
        }
    }
    let rate = count as f64 / start.elapsed().as_secs_f64();
    println!("{rate:.0}");
    Ok(())
}

async fn quick() -> Result<(), BoxError> {
    let cache = std::env::temp_dir().join("rstcloud-bench");
    let path = snapshot_file(250_000, &cache)?;
    let servers = start_servers(Arc::new(std::fs::read(&path)?)).await?;
    print!("stream 250000 records (seconds records checksum): ");
    stream(&servers.api).await?;
    print!("lookups/s at concurrency 1: ");
    lookup(&servers.api, 1, 2_000).await?;
    print!("lookups/s through lookup_many at concurrency 64: ");
    lookup(&servers.api, 64, 20_000).await?;
    Ok(())
}
