//! Proxies: set in code, and from `HTTPS_PROXY` in the environment (through
//! the CLI, so the test process's own environment is left alone). The proxy
//! is a minimal HTTP CONNECT tunnel on loopback that records what it tunnels.

mod common;

use common::*;
use devicecode::test_authority::{Approval, TestAuthority};
use devicecode::{Authority, CancelHandle, ManualClock};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A CONNECT proxy that only tunnels to loopback; returns its URL and the
/// list of CONNECT targets it saw.
fn connect_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let record = Arc::clone(&record);
            std::thread::spawn(move || tunnel(client, &record));
        }
    });
    (url, seen)
}

fn tunnel(mut client: TcpStream, record: &Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
    record.lock().unwrap().push(target.clone());
    if !head.starts_with("CONNECT ") || !target.starts_with("127.0.0.1:") {
        let _ = client.write_all(b"HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n");
        return;
    }
    let Ok(mut server) = TcpStream::connect(&target) else {
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let (mut client_in, mut server_out) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || std::io::copy(&mut client_in, &mut server_out));
    let _ = std::io::copy(&mut server, &mut client);
}

#[test]
fn a_proxy_set_in_code_carries_the_whole_flow() {
    let (proxy, seen) = connect_proxy();
    let clock = ManualClock::new();
    let auth = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .approval(Approval::AfterPolls(2))
        .start()
        .unwrap();
    let display = Seen::default();
    let app = builder(
        &auth,
        Authority::entra_at(&auth.base_url(), "organizations").unwrap(),
        &clock,
        &display,
    )
    .proxy(&proxy)
    .build()
    .unwrap();
    let token = app
        .sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
        .unwrap();
    assert!(token.account().is_some());
    let target = auth.base_url().trim_start_matches("https://").to_string();
    assert_eq!(
        *seen.lock().unwrap(),
        [target],
        "one tunnel for the whole flow"
    );
    assert_eq!(auth.stats().connections, 1);
}

#[test]
fn https_proxy_from_the_environment_is_used() {
    let (proxy, seen) = connect_proxy();
    let auth = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let ca = std::env::temp_dir().join(format!("devicecode-proxy-{}.pem", std::process::id()));
    std::fs::write(&ca, auth.ca_pem()).unwrap();
    let out = example_command("devicecode")
        .args([
            "login",
            "--client-id",
            CLIENT_ID,
            "--authority",
            &format!("{}/organizations", auth.base_url()),
        ])
        .args(["--ca-file", ca.to_str().unwrap()])
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .env("HTTPS_PROXY", &proxy)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the CLI went through the proxy"
    );
}
