//! Captures every log record of whole flows at trace level (ours, ureq's and
//! the test authority's) and checks that no secret appears in any of them.

mod common;

use common::*;
use devicecode::{Authority, CancelHandle, FileCache, ManualClock};
use devicecode_test_authority::{Approval, DpopPolicy, Endpoint, Fault, TestAuthority};
use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {} {}", record.level(), record.target(), record.args());
        RECORDS.lock().unwrap().push(line);
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture;

#[test]
fn no_secret_is_logged_at_any_level() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Trace);

    let clock = ManualClock::new();
    let dir = std::env::temp_dir().join(format!("devicecode-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let cache = dir.join("tokens.json");
    let auth = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .approval(Approval::AfterPolls(3))
        .dpop(DpopPolicy::new().nonce(true))
        .start()
        .unwrap();
    // A retried failure and a refused request also go through the log.
    auth.inject(
        Endpoint::Token,
        Fault::Status {
            status: 503,
            retry_after: None,
            body: String::new(),
        },
    );
    let seen = Seen::default();
    let app = builder(
        &auth,
        Authority::entra_at(&auth.base_url(), "organizations").unwrap(),
        &clock,
        &seen,
    )
    .display(devicecode::LogDisplay::new())
    .token_cache(FileCache::new(&cache))
    // DPoP too: the proof key must never reach a log.
    .dpop_key_file(dir.join("dpop-key.pem"))
    .build()
    .unwrap();
    let token = app
        .sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
        .unwrap();
    // Silent calls: a hit, a refresh, and a refused refresh; and a cache
    // file others can read, which is warned about.
    std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o644)).unwrap();
    app.acquire_token_silent(&["User.Read"], None).unwrap();
    clock.advance(Duration::from_secs(3600));
    let refreshed = app.acquire_token_silent(&["User.Read"], None).unwrap();
    clock.advance(Duration::from_secs(3600));
    auth.revoke_refresh_tokens();
    let refused = app.acquire_token_silent(&["User.Read"], None).unwrap_err();
    assert!(refused.is_interaction_required());
    let declined = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .approval(Approval::DenyAfterPolls(1))
        .start()
        .unwrap();
    let other = builder(
        &declined,
        Authority::entra_at(&declined.base_url(), "organizations").unwrap(),
        &clock,
        &seen,
    )
    .build()
    .unwrap();
    let failed = other
        .sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
        .unwrap_err();
    log::error!(target: "devicecode", "{failed} / {failed:?} / {token:?} / {refused:?}");

    let mut secrets: Vec<String> = Vec::new();
    for stats in [auth.stats(), declined.stats()] {
        for poll in stats.polls() {
            secrets.extend(form(poll, "device_code").map(str::to_string));
        }
    }
    secrets.push(token.access_token().secret().to_string());
    secrets.push(token.refresh_token().unwrap().secret().to_string());
    secrets.push(refreshed.access_token().secret().to_string());
    secrets.push(refreshed.refresh_token().unwrap().secret().to_string());
    let id_token = token.id_token().unwrap().secret().to_string();
    // Any one part of the id_token is as telling as the whole.
    secrets.extend(
        id_token
            .split('.')
            .filter(|p| p.len() > 8)
            .map(str::to_string),
    );
    secrets.push(id_token);
    let key = std::fs::read_to_string(dir.join("dpop-key.pem")).unwrap();
    secrets.extend(
        key.lines()
            .filter(|l| !l.starts_with("-----"))
            .map(str::to_string),
    );
    assert_eq!(token.token_type(), "DPoP");
    secrets.sort();
    secrets.dedup();
    assert!(secrets.len() >= 5, "{} secrets collected", secrets.len());

    let records = RECORDS.lock().unwrap().clone();
    assert!(
        records
            .iter()
            .any(|r| r.contains("devicecode") && r.starts_with("DEBUG")),
        "our debug lines are captured"
    );
    assert!(
        records.iter().any(|r| r.contains("ureq")),
        "ureq's own lines are captured too"
    );
    assert!(
        records
            .iter()
            .any(|r| r.contains("signed in as device.user@contoso.example"))
    );
    assert!(
        records
            .iter()
            .any(|r| r.starts_with("WARN") && r.contains("readable") && r.contains("chmod 600")),
        "a cache file others can read is warned about"
    );
    assert!(
        records
            .iter()
            .any(|r| r.contains("redeeming the refresh token")),
        "the refresh was logged"
    );
    for record in &records {
        for secret in &secrets {
            assert!(
                !record.contains(secret.as_str()),
                "a secret was logged: {record}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
