//! What every example needs: a client for the real API when `RST_API_KEY` is set, or
//! for the bundled sandbox when it is not, logs controlled by `RUST_LOG`, and a report of
//! errors with their causes.

use rstcloud::Client;
use rstcloud::sandbox::Sandbox;

/// Sends `tracing` output to stderr, filtered by `RUST_LOG` (such as `rstcloud=debug`);
/// only warnings and errors when it is unset.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Fails only when a subscriber is already installed, which is then kept.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// A client, and the sandbox it talks to when there is no key (kept alive with it).
/// Installs the log subscriber first (see [`init_tracing`]).
pub async fn client() -> rstcloud::Result<(Client, Option<Sandbox>)> {
    init_tracing();
    match std::env::var("RST_API_KEY") {
        Ok(key) if !key.trim().is_empty() => {
            let client = Client::from_env()?;
            eprintln!("Using the API at {}", client.base_url());
            Ok((client, None))
        }
        _ => {
            let sandbox = Sandbox::start().await;
            eprintln!(
                "RST_API_KEY is not set: using the bundled sandbox at {} (real sample records)",
                sandbox.base_url()
            );
            let client = Client::builder()
                .api_key(sandbox.api_key())
                .base_url(sandbox.base_url())
                .build()?;
            Ok((client, Some(sandbox)))
        }
    }
}

/// Prints an error and the chain of its causes.
pub fn report(error: &rstcloud::Error) {
    eprintln!("error: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        eprintln!("  caused by: {cause}");
        source = cause.source();
    }
}
