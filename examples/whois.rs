//! Prints the WHOIS record of a domain.
//!
//! ```text
//! cargo run --example whois -- app-gps.cloud
//! cargo run --example whois -- --raw app-gps.cloud
//! ```

use std::process::ExitCode;

mod support;

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let raw = args.first().is_some_and(|a| a == "--raw");
    if raw {
        args.remove(0);
    }
    let [domain] = args.as_slice() else {
        eprintln!("usage: whois [--raw] DOMAIN");
        return ExitCode::from(2);
    };
    let result = async {
        let (client, _sandbox) = support::client().await?;
        if raw {
            client.whois_raw(domain).await
        } else {
            client.whois(domain).await
        }
    }
    .await;
    let whois = match result {
        Ok(whois) => whois,
        Err(error) => {
            support::report(&error);
            return ExitCode::FAILURE;
        }
    };
    if !whois.has_data() {
        println!("{domain}: no registration data");
        return ExitCode::SUCCESS;
    }
    let field = |value: Option<&str>| value.unwrap_or("unknown").to_owned();
    println!("domain       {}", field(whois.domain.as_deref()));
    println!("registrar    {}", field(whois.registrar()));
    println!("registrant   {}", field(whois.registrant()));
    println!("created      {}", field(whois.created_on.as_deref()));
    println!("updated      {}", field(whois.updated_on.as_deref()));
    println!("expires      {}", field(whois.expires_on.as_deref()));
    println!("nameservers  {}", whois.nameservers().join(", "));
    if let Some(text) = &whois.raw {
        println!("\n{text}");
    }
    ExitCode::SUCCESS
}
