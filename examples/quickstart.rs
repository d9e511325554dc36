//! The main tour: check the key, read each feed's snapshot metadata, stream the four
//! latest JSON snapshots, look up indicators and read a WHOIS record.
//!
//! With `RST_API_KEY` set it talks to the real API (or to `RST_API_URL`); without it,
//! it starts the bundled sandbox, which serves real published feed records.
//!
//! ```text
//! cargo run --example quickstart
//! ```

use std::collections::HashMap;
use std::process::ExitCode;

use futures_util::StreamExt;
use rstcloud::models::FeedRecord;
use rstcloud::{
    Client, DomainRecord, Feed, Format, HashRecord, IpRecord, Lookup, SnapshotDate, UrlRecord,
};
use time::format_description::well_known::Rfc3339;

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
    // The sandbox, when there is one, lives as long as this binding.
    let (client, _sandbox) = support::client().await?;

    let check = client.auth_check().await?;
    let status = check
        .check
        .as_ref()
        .and_then(|c| c.status.clone())
        .unwrap_or_else(|| "unknown".into());
    match &check.quota {
        Some(quota) => println!(
            "\nKey: {status}; quota {} used of {} per {} ({} left)",
            show(quota.used),
            show(quota.limit),
            quota.period.as_deref().unwrap_or("?"),
            show(quota.remaining)
        ),
        None => println!("\nKey: {status}"),
    }

    println!("\nNewest snapshots");
    for feed in Feed::ALL {
        let info = client.snapshot_info(feed, Format::Json).await?;
        println!(
            "  {:<7} {:>12} bytes   modified {}",
            feed.as_str(),
            show(info.content_length),
            info.last_modified
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_else(|| "unknown".into())
        );
    }

    let ips = summarise::<IpRecord>(&client).await?;
    let domains = summarise::<DomainRecord>(&client).await?;
    summarise::<UrlRecord>(&client).await?;
    summarise::<HashRecord>(&client).await?;

    println!("\nLookups");
    let mut values = Vec::new();
    if let Some(top_ip) = ips.top.first() {
        values.push(top_ip.1.clone());
    }
    values.push("192.0.2.1".to_owned());
    for value in &values {
        match client.lookup(value).await? {
            Lookup::Found(record) => println!(
                "  {value:<18} found: score {}, tags {}, threats {}",
                show(record.score_total()),
                list(&record.tags.names),
                list(&record.threat)
            ),
            Lookup::NotFound { value } => println!("  {value:<18} not found"),
        }
    }

    if let Some(domain) = &domains.first {
        let whois = client.whois(domain).await?;
        println!("\nWHOIS of {domain}");
        println!("  registrar   {}", whois.registrar().unwrap_or("unknown"));
        println!("  registrant  {}", whois.registrant().unwrap_or("unknown"));
        println!(
            "  created     {}",
            whois.created_on.as_deref().unwrap_or("unknown")
        );
        println!(
            "  expires     {}",
            whois.expires_on.as_deref().unwrap_or("unknown")
        );
    }
    Ok(())
}

/// What one feed's snapshot held.
struct Summary {
    first: Option<String>,
    top: Vec<(i64, String)>,
}

async fn summarise<T: FeedRecord>(client: &Client) -> rstcloud::Result<Summary> {
    let mut records = client.records::<T>(SnapshotDate::Latest).await?;
    let mut count = 0u64;
    let mut skipped = 0u64;
    let mut tags: HashMap<String, u64> = HashMap::new();
    let mut threats: HashMap<String, u64> = HashMap::new();
    let mut scored: Vec<(i64, String)> = Vec::new();
    let mut first = None;

    while let Some(record) = records.next().await {
        let record = match record {
            Ok(record) => record,
            Err(error) if error.is_retryable() || matches!(error, rstcloud::Error::Snapshot(_)) => {
                return Err(error);
            }
            Err(error) => {
                eprintln!("  skipped a record: {error}");
                skipped += 1;
                continue;
            }
        };
        count += 1;
        let common = record.common();
        for tag in &common.tags.names {
            *tags.entry(tag.clone()).or_default() += 1;
        }
        for threat in common.threat.iter().filter(|t| !t.is_empty()) {
            *threats.entry(threat.clone()).or_default() += 1;
        }
        let indicator = record.indicator().to_owned();
        first.get_or_insert_with(|| indicator.clone());
        scored.push((common.score_total().unwrap_or(0), indicator));
    }
    scored.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    scored.truncate(5);

    println!(
        "\n{} feed: {count} records{}",
        T::FEED,
        skipped_note(skipped)
    );
    println!("  by tag       {}", top_counts(tags, 6));
    println!("  top threats  {}", top_counts(threats, 5));
    println!("  highest scores");
    for (score, indicator) in &scored {
        println!("    {score:>3}  {}", shorten(indicator, 70));
    }
    Ok(Summary { first, top: scored })
}

fn skipped_note(skipped: u64) -> String {
    if skipped == 0 {
        String::new()
    } else {
        format!(" ({skipped} unreadable, skipped)")
    }
}

fn top_counts(counts: HashMap<String, u64>, n: usize) -> String {
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .take(n)
        .map(|(name, count)| format!("{name} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn show<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "?".into(), |v| v.to_string())
}

fn list(values: &[String]) -> String {
    if values.is_empty() {
        "none".into()
    } else {
        values.join(", ")
    }
}

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(max - 1).collect();
        format!("{cut}…")
    }
}
