//! `--ca-file` that is not a small regular file: refused at once, without
//! reading forever (`/dev/zero`) or blocking on open (a FIFO).

use super::{CLIENT_ID, command, scratch, signed_in, text};
use devicecode_test_authority::{Approval, TestAuthority};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// `token` with `ca` as its CA file, killed if it runs for 20 s; and how
/// long it took.
fn token_with_ca(auth: &TestAuthority, cache: &Path, ca: &Path) -> (Output, Duration) {
    let authority = format!("{}/organizations", auth.base_url());
    let started = Instant::now();
    let mut child = command()
        .args(["token", "--client-id", CLIENT_ID, "--authority", &authority])
        .arg("--cache")
        .arg(cache)
        .arg("--ca-file")
        .arg(ca)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = started + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("--ca-file {} hung the command", ca.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (out, started.elapsed())
}

#[test]
fn a_ca_file_that_is_no_small_regular_file_is_refused_at_once() {
    let auth = TestAuthority::start().unwrap();
    let dir = scratch("ca-file");
    let cache = dir.join("tokens.json");

    let fifo = dir.join("fifo.pem");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let socket = dir.join("socket.pem");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let zero_link = dir.join("zero.pem");
    std::os::unix::fs::symlink("/dev/zero", &zero_link).unwrap();
    // Sparse: a file just over the cap costs no disk.
    let large = dir.join("large.pem");
    std::fs::File::create(&large)
        .unwrap()
        .set_len((1 << 20) + 1)
        .unwrap();
    let no_certificate = dir.join("empty.pem");
    std::fs::write(&no_certificate, "not a certificate\n").unwrap();

    for (ca, says) in [
        (Path::new("/dev/zero"), "a device"),
        (zero_link.as_path(), "a device"),
        (fifo.as_path(), "a FIFO"),
        (socket.as_path(), "a socket"),
        (dir.as_path(), "a directory"),
        (large.as_path(), "larger than 1 MiB"),
        (no_certificate.as_path(), "no certificate"),
        (Path::new("/nonexistent/ca.pem"), "cannot read"),
    ] {
        let (out, took) = token_with_ca(&auth, &cache, ca);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", ca.display());
        assert!(stderr.contains("--ca-file"), "{stderr}");
        assert!(stderr.contains(says), "{says}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(took < Duration::from_secs(3), "{}: {took:?}", ca.display());
    }
    assert!(auth.stats().requests.is_empty());
    assert!(!cache.exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_ca_file_without_usable_roots_is_named_with_the_problem() {
    let auth = TestAuthority::start().unwrap();
    let dir = scratch("ca-content");
    let cache = dir.join("tokens.json");
    let not_der = dir.join("not-der.pem");
    std::fs::write(
        &not_der,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let key_only = dir.join("key.pem");
    std::fs::write(
        &key_only,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    for (ca, says) in [
        (
            not_der.as_path(),
            "certificate 1 of the PEM bundle is not a usable root certificate",
        ),
        (key_only.as_path(), "holds no certificate"),
    ] {
        let (out, _) = token_with_ca(&auth, &cache, ca);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", ca.display());
        let named = format!("--ca-file {}: ", ca.display());
        assert!(stderr.contains(&named), "{named}: {stderr}");
        assert!(stderr.contains(says), "{says}: {stderr}");
    }
    assert!(auth.stats().requests.is_empty());
    assert!(!cache.exists());
    let _ = std::fs::remove_dir_all(dir);
}

/// A certificate framed right (PEM and DER) but no X.509 inside passes the
/// client's look over at its build, and is parsed at its first request: a
/// token served from the cache is printed, and a command that connects
/// fails before connecting, naming the file as the build would.
#[test]
fn a_ca_file_whole_but_holding_no_root_fails_the_first_request() {
    let auth = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let (dir, cache) = signed_in(&auth, "ca-hollow");
    let hollow = dir.join("hollow.pem");
    std::fs::write(
        &hollow,
        "-----BEGIN CERTIFICATE-----\nMAYCAQACAQA=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let requests = auth.stats().requests.len();
    let (out, _) = token_with_ca(&auth, &cache, &hollow);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).trim().is_empty(), "the cached token");
    let authority = format!("{}/organizations", auth.base_url());
    let out = command()
        .args(["token", "--force-refresh", "--client-id", CLIENT_ID])
        .args(["--authority", &authority, "--cache"])
        .arg(&cache)
        .arg("--ca-file")
        .arg(&hollow)
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let named = format!(
        "--ca-file {}: certificate 1 of the PEM bundle is not a usable root certificate",
        hollow.display()
    );
    assert!(stderr.contains(&named), "{named}: {stderr}");
    assert_eq!(auth.stats().requests.len(), requests, "no request was sent");
    let _ = std::fs::remove_dir_all(dir);
}
