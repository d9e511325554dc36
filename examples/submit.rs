//! Submits an indicator for inclusion in the feeds, or reports one as a false positive.
//!
//! ```text
//! cargo run --example submit -- submit evil.example "seen in a phishing campaign"
//! cargo run --example submit -- false-positive good.example "our own mail server"
//! ```

use std::process::ExitCode;

mod support;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (action, value, description) = match args.as_slice() {
        [action, value] => (action.as_str(), value, "manual submission"),
        [action, value, description] => (action.as_str(), value, description.as_str()),
        _ => {
            eprintln!("usage: submit (submit|false-positive) INDICATOR [DESCRIPTION]");
            return ExitCode::from(2);
        }
    };
    let result = async {
        let (client, _sandbox) = support::client().await?;
        match action {
            "submit" => client.submit(value, description).await,
            "false-positive" | "fp" => client.report_false_positive(value, description).await,
            other => Err(rstcloud::Error::InvalidInput {
                what: "action",
                reason: format!("{other:?} is not submit or false-positive"),
            }),
        }
    }
    .await;
    match result {
        Ok(reply) => {
            println!(
                "{}: {}",
                reply.ioc_value.as_deref().unwrap_or(value),
                reply.status.as_deref().unwrap_or("no status")
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            support::report(&error);
            ExitCode::FAILURE
        }
    }
}
