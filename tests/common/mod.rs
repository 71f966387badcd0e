//! Shared helpers for the end-to-end tests: a client wired to a test authority.
#![allow(dead_code)]

pub mod proxy;
pub mod qr;

use devicecode::{Authority, FnDisplay, ManualClock, Outcome, PublicClient, PublicClientBuilder};
use devicecode_test_authority::{Endpoint, RecordedRequest, Stats, TestAuthority};
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";

/// What the display was told, in order.
#[derive(Clone, Default)]
pub struct Seen(pub Arc<Mutex<Vec<String>>>);

impl Seen {
    pub fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    pub fn display(&self) -> FnDisplay {
        let shown = self.clone();
        let finished = self.clone();
        FnDisplay::new(move |flow| {
            shown
                .0
                .lock()
                .unwrap()
                .push(format!("show {} {}", flow.user_code(), flow.message()));
            Ok(())
        })
        .on_finished(move |outcome| {
            let line = match outcome {
                Outcome::SignedIn(account) => {
                    format!("signed in {}", account.map_or("?", |a| a.username()))
                }
                Outcome::Failed(e) => format!("failed {:?}", e.kind()),
                _ => "other".to_string(),
            };
            finished.0.lock().unwrap().push(line);
        })
    }
}

/// A builder trusting only the authority's CA, on the shared clock.
pub fn builder(
    auth: &TestAuthority,
    authority: Authority,
    clock: &ManualClock,
    seen: &Seen,
) -> PublicClientBuilder {
    PublicClient::builder(CLIENT_ID)
        .authority(authority)
        .only_root_certificates_pem(auth.ca_pem())
        .clock(clock.clone())
        .display(seen.display())
        .no_proxy()
}

/// An Entra client for the authority's "organizations" tenant.
pub fn entra_client(auth: &TestAuthority, clock: &ManualClock, seen: &Seen) -> PublicClient {
    let authority = Authority::entra_at(&auth.base_url(), "organizations").unwrap();
    builder(auth, authority, clock, seen).build().unwrap()
}

/// Server-clock times of the device-code polls.
pub fn poll_times(stats: &Stats) -> Vec<Duration> {
    stats.polls().iter().map(|r| r.at).collect()
}

/// Gaps between consecutive polls, and from the code request to the first.
pub fn poll_gaps(stats: &Stats) -> Vec<u64> {
    let start = stats
        .requests
        .iter()
        .find(|r| r.endpoint == Some(Endpoint::DeviceAuthorization))
        .map(|r| r.at)
        .unwrap_or_default();
    let mut last = start;
    poll_times(stats)
        .into_iter()
        .map(|t| {
            let gap = t.saturating_sub(last).as_secs();
            last = t;
            gap
        })
        .collect()
}

pub fn form<'a>(request: &'a RecordedRequest, key: &str) -> Option<&'a str> {
    request
        .form
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// An example binary; `cargo test` builds the examples next to the tests.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX))
}

/// The program and arguments that run a binary. When the tests run under
/// emulation (scripts/cross-test.sh), `DEVICECODE_TEST_RUNNER` holds the
/// emulator command (e.g. `qemu-aarch64-static -L /usr/aarch64-linux-gnu`)
/// that must run the foreign binaries the tests start.
pub fn argv(program: PathBuf) -> Vec<String> {
    let mut argv: Vec<String> = std::env::var("DEVICECODE_TEST_RUNNER")
        .map(|r| r.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    argv.push(program.display().to_string());
    argv
}

/// A command that runs a binary (through the emulator when there is one).
pub fn command(program: PathBuf) -> Command {
    let argv = argv(program);
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    command
}

/// A command that runs an example of the library crate.
pub fn example_command(name: &str) -> Command {
    command(example(name))
}
