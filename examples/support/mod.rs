//! What every example needs: a client for the real API when `RST_API_KEY` is set, or
//! for the bundled sandbox when it is not, and a report of errors with their causes.

use rstcloud::Client;
use rstcloud::sandbox::Sandbox;

/// A client, and the sandbox it talks to when there is no key (kept alive with it).
pub async fn client() -> rstcloud::Result<(Client, Option<Sandbox>)> {
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
