//! Keeps a directory up to date with the newest feed snapshots: ready for cron.
//!
//! ```text
//! cargo run --example mirror -- --dir /var/lib/rstcloud
//! cargo run --example mirror -- --dir /tmp/m --feeds ip,domain --formats json,csv --keep-days 14
//! cargo run --example mirror -- --dir /tmp/m --date 20230427
//! cargo run --example mirror -- --dir /tmp/m --runs 2
//! ```
//!
//! Only snapshots newer than the local copy are downloaded, so running it every hour
//! costs a `HEAD` per file when nothing changed. Without `RST_API_KEY` it mirrors the
//! bundled sandbox, which lives as long as the process: `--runs 2` runs the mirror twice
//! in a row against it, and the second run fetches nothing.
//!
//! Exit status: 0 when every file was fetched, up to date or deleted as planned; 1 when
//! any file failed or the directory is locked by another run; 2 for bad arguments.
//!
//! A crontab line, hourly, with logs:
//!
//! ```text
//! 15 * * * * RST_API_KEY=... /usr/local/bin/mirror --dir /var/lib/rstcloud >>/var/log/rstcloud-mirror.log 2>&1
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use rstcloud::{Feed, Format, Mirror, MirrorReport, SnapshotDate};

#[path = "support/progress.rs"]
mod progress;
mod support;

/// Mirrors RST Cloud feed snapshots into a directory.
#[derive(Debug, Parser)]
#[command(name = "mirror")]
struct Args {
    /// The mirror directory; created when missing.
    #[arg(long)]
    dir: PathBuf,
    /// The feeds, comma-separated: ip, domain, url, hash.
    #[arg(long, value_delimiter = ',', default_value = "ip,domain,url,hash")]
    feeds: Vec<Feed>,
    /// The formats, comma-separated: json, csv.
    #[arg(long, value_delimiter = ',', default_value = "json")]
    formats: Vec<Format>,
    /// Days kept, counted back from the newest; 0 keeps everything.
    #[arg(long, default_value_t = 7)]
    keep_days: u32,
    /// Fetch this past day (YYYYMMDD) instead of the newest snapshots.
    #[arg(long)]
    date: Option<SnapshotDate>,
    /// Run the mirror this many times in a row.
    #[arg(long, default_value_t = 1)]
    runs: u32,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let day = match args.date {
        None => None,
        Some(SnapshotDate::Day(day)) => Some(day),
        Some(other) => {
            eprintln!("error: --date takes a day as YYYYMMDD, not {other}");
            return ExitCode::from(2);
        }
    };
    match run(args, day).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            support::report(&error);
            ExitCode::FAILURE
        }
    }
}

/// Runs the mirror; true when nothing failed.
async fn run(args: Args, day: Option<time::Date>) -> rstcloud::Result<bool> {
    let (client, _sandbox) = support::client().await?;
    let reporter = Arc::new(progress::Reporter::new());
    let shown = reporter.clone();
    let mirror = Mirror::new(client, &args.dir)
        .feeds(args.feeds)
        .formats(args.formats)
        .keep_days(args.keep_days)
        .on_progress(move |feed, format, p| shown.update(&format!("{feed} {format}"), p));

    let mut all_well = true;
    for run in 1..=args.runs.max(1) {
        let report = match day {
            Some(day) => mirror.run_day(day).await,
            None => mirror.run().await,
        };
        reporter.finish();
        let report = report?;
        if args.runs > 1 {
            println!("run {run}:");
        }
        print_report(&report);
        all_well &= report.is_success();
    }
    Ok(all_well)
}

fn print_report(report: &MirrorReport) {
    for entry in &report.entries {
        println!("{entry}");
        if let rstcloud::MirrorOutcome::Failed(error) = &entry.outcome {
            support::report(error);
        }
    }
    println!(
        "{} fetched, {} up to date, {} deleted, {} failed",
        report.fetched().count(),
        report.skipped().count(),
        report.deleted().count(),
        report.failed().count()
    );
}
