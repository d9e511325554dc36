//! Looks up the indicators given on the command line, all at once.
//!
//! ```text
//! cargo run --example lookup -- 45.83.122.166 app-gps.cloud 192.0.2.1
//! ```

use std::process::ExitCode;

use rstcloud::Lookup;

mod support;

#[tokio::main]
async fn main() -> ExitCode {
    let values: Vec<String> = std::env::args().skip(1).collect();
    if values.is_empty() {
        eprintln!("usage: lookup INDICATOR...   (IP, domain, URL, MD5, SHA1 or SHA256)");
        return ExitCode::from(2);
    }
    let (client, _sandbox) = match support::client().await {
        Ok(pair) => pair,
        Err(error) => {
            support::report(&error);
            return ExitCode::FAILURE;
        }
    };

    let mut failed = false;
    let outcomes = client.lookup_many(&values, 16).await;
    for (value, outcome) in values.iter().zip(outcomes) {
        match outcome {
            Ok(Lookup::Found(record)) => {
                println!(
                    "{value}: found ({}), score {}, tags [{}], threats [{}], first seen {}",
                    record
                        .ioc_type
                        .as_ref()
                        .map_or_else(|| "?".to_owned(), |t| t.to_string()),
                    record.score_total().map_or("?".into(), |s| s.to_string()),
                    record.tags.names.join(", "),
                    record.threat.join(", "),
                    record
                        .first_seen()
                        .map_or("?".into(), |t| t.date().to_string()),
                );
            }
            Ok(Lookup::NotFound { .. }) => println!("{value}: not found"),
            Err(error) => {
                failed = true;
                println!("{value}: error: {error}");
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
