//! Downloads a snapshot to a file, written whole or not at all, with a progress bar on a
//! terminal and progress lines otherwise.
//!
//! ```text
//! cargo run --example download -- FEED [DATE] [json|csv] [PATH] [--decompress]
//! cargo run --example download -- ip latest json ip.json.gz
//! cargo run --example download -- domain 20230427 csv domain.csv --decompress
//! ```

use std::process::ExitCode;
use std::sync::Arc;

use rstcloud::{Feed, Format, SaveAs, SnapshotDate};

#[path = "support/progress.rs"]
mod progress;
mod support;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            support::report(&error);
            ExitCode::FAILURE
        }
    }
}

async fn run() -> rstcloud::Result<()> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let decompress = args.iter().any(|a| a == "--decompress");
    args.retain(|a| a != "--decompress");
    let Some(feed) = args.first() else {
        eprintln!("usage: download FEED [DATE] [json|csv] [PATH] [--decompress]");
        std::process::exit(2);
    };
    let feed: Feed = feed.parse()?;
    let date: SnapshotDate = args
        .get(1)
        .map_or(Ok(SnapshotDate::Latest), |d| d.parse())?;
    let format: Format = args.get(2).map_or(Ok(Format::Json), |f| f.parse())?;
    let save_as = if decompress {
        SaveAs::Decompressed
    } else {
        SaveAs::Compressed
    };
    let path = args.get(3).cloned().unwrap_or_else(|| match save_as {
        SaveAs::Compressed => format!("{feed}-{date}.{}.gz", format.extension()),
        SaveAs::Decompressed => format!("{feed}-{date}.{}", format.extension()),
    });

    let (client, _sandbox) = support::client().await?;
    let download = client.download(feed, date, format).await?;
    eprintln!(
        "Downloading {} ({} bytes)",
        download.storage_url(),
        download
            .content_length()
            .map_or_else(|| "unknown".to_owned(), |n| n.to_string())
    );
    let reporter = Arc::new(progress::Reporter::new());
    let shown = reporter.clone();
    let label = format!("{feed} {format}");
    let saved = download
        .on_progress(move |p| shown.update(&label, p))
        .save(&path, save_as)
        .await;
    reporter.finish();
    let saved = saved?;
    println!(
        "{}: {} bytes written ({} downloaded)",
        saved.path.display(),
        saved.bytes_written,
        saved.bytes_downloaded
    );
    Ok(())
}
