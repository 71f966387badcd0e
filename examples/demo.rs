//! The whole device flow with no account and no network: a built-in test
//! authority on loopback plays Entra ID and "approves" the sign-in by itself
//! after a few seconds, as a person on a phone would.
//!
//! ```text
//! cargo run --example demo
//! ```

use devicecode::{Authority, CancelHandle, PublicClient};
use devicecode_test_authority::{Approval, TestAuthority};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let authority = TestAuthority::builder()
        .approval(Approval::After(Duration::from_secs(7)))
        .start()?;
    println!(
        "A test authority is listening at {} (it plays Entra ID).\n",
        authority.base_url()
    );

    let app = PublicClient::builder("11111111-2222-3333-4444-555555555555")
        .authority(Authority::entra_at(
            &authority.base_url(),
            "contoso.onmicrosoft.com",
        )?)
        .only_root_certificates_pem(authority.ca_pem())
        .build()?;

    let started = Instant::now();
    let flow = app.start_device_flow(&["User.Read"])?;
    app.display(&flow)?; // prints the sentence a person would follow
    println!("\n(Nobody needs to do anything: the test authority approves after 7 seconds.)");

    let cancel = CancelHandle::new();
    let token = app.wait_for_token(&flow, &cancel)?;
    let account = token.account().ok_or("the answer named no account")?;
    println!(
        "\nSigned in as {} ({}) after {:.1} s.",
        account.username(),
        account.name().unwrap_or("?"),
        started.elapsed().as_secs_f64()
    );
    println!(
        "Access token: {:?}, refresh token: {:?}",
        token.access_token(),
        token.refresh_token()
    );
    println!("Scopes granted: {}", token.scopes().join(" "));

    let stats = authority.stats();
    let gaps: Vec<String> = stats
        .polls()
        .iter()
        .scan(stats.requests[0].at, |last, poll| {
            let gap = poll.at.saturating_sub(*last);
            *last = poll.at;
            Some(format!("{:.1} s", gap.as_secs_f64()))
        })
        .collect();
    println!(
        "Gaps before each poll (the first counts from the code request): {}",
        gaps.join(", ")
    );
    println!(
        "The whole flow used {} TCP connection(s), {} TLS handshake(s) and {} polls.",
        stats.connections,
        stats.tls_handshakes,
        stats.polls().len()
    );
    Ok(())
}
