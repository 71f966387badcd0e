//! What `token` and `login` do when the token file cannot take what the
//! server issued: the token is printed all the same and the failure is said
//! (exit 10); `login` checks the file before it shows a code.

use super::{cache_command, command, login_args, run_owned, scratch, signed_in, text};
use devicecode_test_authority::{Approval, Endpoint, Fault, TestAuthority};
use std::time::{Duration, Instant};

#[test]
fn token_prints_the_token_and_exits_10_when_the_file_could_not_be_written() {
    let auth = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let (dir, cache) = signed_in(&auth, "not-saved");
    // The refresh answer comes after 2 s; meanwhile the room reserved for
    // the new file disappears, so the rename after the answer fails.
    auth.inject(Endpoint::Token, Fault::Delay(Duration::from_secs(2)));
    let mut args = cache_command(&auth, "not-saved", "token", &cache);
    args.push("--force-refresh".into());
    let child = command()
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let mut removed = 0;
    while removed == 0 && started.elapsed() < Duration::from_secs(10) {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with("tokens.json.") && name.ends_with(".tmp") {
                std::fs::remove_file(entry.path()).unwrap();
                removed += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(removed > 0, "the reservation was made before the request");
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(10), "{stderr}");
    let printed = text(&out.stdout);
    assert!(
        printed.trim().len() > 20,
        "the token is printed: {printed:?}"
    );
    assert!(stderr.contains("the token was printed, but"), "{stderr}");
    assert!(stderr.contains("could not write"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn login_checks_the_token_file_before_it_shows_a_code() {
    let auth = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let dir = scratch("login-preflight");
    std::fs::write(dir.join("file"), b"a file, not a directory").unwrap();
    let fifo = dir.join("fifo.json");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (what, cache) in [
        ("a directory", dir.clone()),
        ("a path under a file", dir.join("file/tokens.json")),
        ("a FIFO", fifo),
    ] {
        let started = Instant::now();
        let mut args = login_args(&auth, "login-preflight");
        args.extend(["--cache".to_string(), cache.display().to_string()]);
        let out = run_owned(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(9), "{what}: {stderr}");
        assert!(out.stdout.is_empty(), "{what}: no code was shown");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{what}: at once"
        );
    }
    assert_eq!(auth.stats().requests.len(), 0, "no code was asked for");
    let _ = std::fs::remove_dir_all(dir);
}
