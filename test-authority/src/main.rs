//! The test authority as a process of its own, for measuring the
//! `devicecode` command (scripts/bench.sh) or trying a daemon by hand.
//!
//! ```text
//! cargo run -p devicecode-test-authority -- CA_FILE [APPROVE_AFTER_POLLS] [INTERVAL_SECS]
//! ```
//!
//! Writes its CA certificate to CA_FILE, prints its base URL on stdout, then
//! reads commands on stdin: `stats` prints one line of counters since the
//! last `reset` (`connections=… tls_handshakes=… requests=… polls=…
//! refreshes=… before_code=…`), `reset` starts counting again. It exits
//! when stdin closes.

#![forbid(unsafe_code)]

use devicecode_test_authority::{Approval, Endpoint, Stats, TestAuthority};
use std::io::BufRead;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let ca_file = args
        .next()
        .ok_or("usage: devicecode-test-authority CA_FILE [APPROVE_AFTER_POLLS] [INTERVAL_SECS]")?;
    let polls: u32 = args.next().map_or(Ok(3), |a| a.parse())?;
    let interval: u64 = args.next().map_or(Ok(1), |a| a.parse())?;
    let authority = TestAuthority::builder()
        .approval(Approval::AfterPolls(polls))
        .interval(Some(interval))
        .start()?;
    std::fs::write(&ca_file, authority.ca_pem())?;
    println!("{}", authority.base_url());

    let mut base = Stats::default();
    for line in std::io::stdin().lock().lines() {
        let now = authority.stats();
        match line?.trim() {
            "stats" => println!("{}", counters(&base, &now)),
            "reset" => base = now,
            other => eprintln!("devicecode-test-authority: unknown command '{other}'"),
        }
    }
    Ok(())
}

/// What happened after `base`.
fn counters(base: &Stats, now: &Stats) -> String {
    let new = &now.requests[base.requests.len().min(now.requests.len())..];
    let before_code = new
        .iter()
        .take_while(|r| r.endpoint != Some(Endpoint::DeviceAuthorization))
        .count();
    let grant = |g: &str| {
        new.iter()
            .filter(|r| r.param("grant_type") == Some(g))
            .count()
    };
    format!(
        "connections={} tls_handshakes={} requests={} polls={} refreshes={} before_code={}",
        now.connections - base.connections,
        now.tls_handshakes - base.tls_handshakes,
        new.len(),
        grant("urn:ietf:params:oauth:grant-type:device_code"),
        grant("refresh_token"),
        if new
            .iter()
            .any(|r| r.endpoint == Some(Endpoint::DeviceAuthorization))
        {
            before_code.to_string()
        } else {
            "-".to_string()
        }
    )
}
