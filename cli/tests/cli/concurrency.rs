//! Several processes (not threads) share one token file and refresh at the
//! same moments against an authority whose refresh tokens rotate and are
//! revoked when replayed. Every process must get a token, and no refresh
//! token may ever be replayed (`invalid_grant`).

use super::cli_command;
use crate::common::{CLIENT_ID, Seen, builder};
use devicecode::{Authority, CancelHandle, FileCache, ManualClock};
use devicecode_test_authority::{Approval, Endpoint, TestAuthority};
use std::process::Stdio;
use std::sync::Arc;

const PROCESSES: usize = 8;
const ROUNDS: usize = 5;

#[test]
fn processes_refreshing_at_once_never_replay_a_rotated_refresh_token() {
    // Access tokens live 60 s, under the 5 minutes a cached token must have
    // left: every silent call of every process has to refresh.
    let clock = ManualClock::new();
    let auth = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .token_lifetime(60)
        .rotate_refresh_tokens(true)
        .start()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("devicecode-concurrency-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cache = dir.join("tokens.json");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, auth.ca_pem()).unwrap();

    // Sign in once, in this process.
    let authority = Authority::entra_at(&auth.base_url(), "organizations").unwrap();
    let app = builder(&auth, authority, &clock, &Seen::default())
        .token_cache(FileCache::new(&cache))
        .build()
        .unwrap();
    app.sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
        .unwrap();

    let authority = format!("{}/organizations", auth.base_url());
    let mut tokens = Vec::new();
    for round in 0..ROUNDS {
        let children: Vec<_> = (0..PROCESSES)
            .map(|_| {
                cli_command()
                    .args(["token", "--client-id", CLIENT_ID, "--authority", &authority])
                    .args(["--scope", "User.Read", "--ca-file", ca.to_str().unwrap()])
                    .args(["--cache", cache.to_str().unwrap()])
                    .env("NO_PROXY", "127.0.0.1")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "round {round}: {stderr}");
            let token = String::from_utf8(out.stdout).unwrap();
            assert!(!token.trim().is_empty(), "round {round}: no token printed");
            tokens.push(token);
        }
    }

    let stats = auth.stats();
    let refreshes: Vec<_> = stats
        .requests
        .iter()
        .filter(|r| r.endpoint == Some(Endpoint::Token))
        .filter(|r| r.param("grant_type") == Some("refresh_token"))
        .collect();
    let refused: Vec<&str> = refreshes
        .iter()
        .map(|r| r.answer.as_str())
        .filter(|a| *a != "token")
        .collect();
    assert!(refused.is_empty(), "refresh answers: {refused:?}");
    // Each process refreshed once, each with the refresh token the one
    // before it saved: all different, none replayed.
    assert_eq!(refreshes.len(), PROCESSES * ROUNDS);
    let mut presented: Vec<&str> = refreshes
        .iter()
        .filter_map(|r| r.param("refresh_token"))
        .collect();
    presented.sort_unstable();
    presented.dedup();
    assert_eq!(
        presented.len(),
        PROCESSES * ROUNDS,
        "a refresh token was reused"
    );
    tokens.sort();
    tokens.dedup();
    assert_eq!(
        tokens.len(),
        PROCESSES * ROUNDS,
        "every process got its own token"
    );

    // The file holds the newest refresh token: it still works.
    let later = devicecode::PublicClient::builder(CLIENT_ID)
        .authority(Authority::entra_at(&auth.base_url(), "organizations").unwrap())
        .only_root_certificates_pem(auth.ca_pem())
        .token_cache(FileCache::new(&cache))
        .no_proxy()
        .build()
        .unwrap();
    let options = devicecode::SilentOptions::default().force_refresh(true);
    later
        .acquire_token_silent_with(&["User.Read"], None, &options)
        .unwrap();
    let last = auth.stats().requests.last().cloned().unwrap();
    assert_eq!(last.param("grant_type"), Some("refresh_token"));
    assert_eq!(last.answer, "token");
    println!(
        "{} processes in {ROUNDS} rounds: {} refreshes, 0 invalid_grant",
        PROCESSES * ROUNDS,
        refreshes.len()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
