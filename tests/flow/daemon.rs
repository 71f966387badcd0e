//! The systemd-style daemon example, run as a real process: it signs in once
//! through its custom display, then works from the token file, and SIGTERM
//! stops it cleanly.

use crate::common::example_command;
use devicecode_test_authority::{Approval, Endpoint, TestAuthority};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

fn start(auth: &TestAuthority, dir: &Path) -> (Child, Receiver<String>) {
    std::fs::write(dir.join("ca.pem"), auth.ca_pem()).unwrap();
    let mut child = example_command("daemon")
        .env(
            "DEVICECODE_CLIENT_ID",
            "11111111-2222-3333-4444-555555555555",
        )
        .env(
            "DEVICECODE_AUTHORITY",
            format!("{}/organizations", auth.base_url()),
        )
        .env("DEVICECODE_CA_FILE", dir.join("ca.pem"))
        .env("DEVICECODE_EVERY", "1")
        .env("STATE_DIRECTORY", dir.join("state"))
        .env("RUNTIME_DIRECTORY", dir)
        .env("NO_PROXY", "127.0.0.1")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, receiver) = channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            if lines.send(line.unwrap_or_default()).is_err() {
                break;
            }
        }
    });
    (child, receiver)
}

/// Waits for a line containing `text`; returns every line seen until then.
fn wait_for(lines: &Receiver<String>, text: &str, also: impl Fn()) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        also();
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(20)) {
            let found = line.contains(text);
            seen.push(line);
            if found {
                return seen;
            }
        }
    }
    panic!("no line with '{text}' in {seen:?}");
}

fn stop(mut child: Child, lines: &Receiver<String>) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let asked = Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(asked.elapsed() < Duration::from_secs(2));
    wait_for(lines, "stopping", || {});
}

#[test]
fn signs_in_once_then_lives_on_the_token_file() {
    let auth = TestAuthority::builder()
        .approval(Approval::AfterPolls(2))
        .interval(Some(1))
        .start()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("devicecode-daemon-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let code_file = dir.join("signin-code");
    let image_file = dir.join("signin-code.pbm");

    let (child, lines) = start(&auth, &dir);
    let shown = std::sync::Mutex::new(None);
    let image = std::sync::Mutex::new(None);
    let seen = wait_for(&lines, "signed in as device.user@contoso.example", || {
        if let Ok(text) = std::fs::read_to_string(&code_file) {
            assert!(!text.is_empty(), "a reader never sees a half-written code");
            shown.lock().unwrap().get_or_insert(text);
        }
        if let Ok(bytes) = std::fs::read(&image_file) {
            image.lock().unwrap().get_or_insert(bytes);
        }
    });
    assert!(
        seen.iter()
            .any(|l| l.starts_with("<5>") && l.contains("enter the code")),
        "{seen:?}"
    );
    let shown = shown
        .into_inner()
        .unwrap()
        .expect("the code file was written");
    assert!(shown.contains("/devicelogin"), "{shown}");
    assert!(
        !code_file.exists() && !image_file.exists(),
        "the code and its image are cleared when the sign-in ends"
    );
    // The panel's image is a QR code of the address the person opens.
    let image = image
        .into_inner()
        .unwrap()
        .expect("the QR code image was written");
    assert_eq!(
        crate::common::qr::decode_pbm(&image),
        format!("{}/devicelogin", auth.base_url())
    );
    wait_for(&lines, "have a token", || {});
    // The next round is a silent cache hit.
    wait_for(&lines, "have a token", || {});
    assert_eq!(auth.stats().count(Endpoint::DeviceAuthorization), 1);
    stop(child, &lines);
    assert!(dir.join("state/tokens.json").exists());

    // Restarted (a reboot), it needs no sign-in.
    let (child, lines) = start(&auth, &dir);
    let seen = wait_for(&lines, "have a token", || {});
    assert!(
        !seen.iter().any(|l| l.contains("enter the code")),
        "{seen:?}"
    );
    assert_eq!(auth.stats().count(Endpoint::DeviceAuthorization), 1);
    stop(child, &lines);
    let _ = std::fs::remove_dir_all(&dir);
}
