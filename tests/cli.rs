//! The `devicecode` command-line example, run as a real process against the
//! test authority: its output contract and its exit codes.

use devicecode::test_authority::{Approval, Flavor, TestAuthority};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";

/// `cargo test` builds the examples next to the test binaries.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples")
        .join(format!("devicecode{}", std::env::consts::EXE_SUFFIX))
}

fn ca_file(auth: &TestAuthority, name: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("devicecode-cli-{}-{name}.pem", std::process::id()));
    std::fs::write(&path, auth.ca_pem()).unwrap();
    path
}

fn run(args: &[&str]) -> Output {
    Command::new(example())
        .args(args)
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap()
}

/// `login` against the authority's Entra "organizations" tenant, trusting its CA.
fn login_args(auth: &TestAuthority, name: &str) -> Vec<String> {
    let ca = ca_file(auth, name);
    let authority = format!("{}/organizations", auth.base_url());
    [
        "login",
        "--client-id",
        CLIENT_ID,
        "--authority",
        &authority,
        "--ca-file",
        ca.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

fn login(auth: &TestAuthority, name: &str, extra: &[&str]) -> Output {
    let mut args = login_args(auth, name);
    args.extend(extra.iter().map(|a| a.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn signs_in_and_prints_no_token() {
    let auth = TestAuthority::builder()
        .approval(Approval::After(Duration::from_secs(1)))
        .interval(Some(1))
        .start()
        .unwrap();
    let out = login(&auth, "ok", &["--scope", "User.Read"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(stdout.contains("enter the code"), "{stdout}");
    assert!(
        stderr.contains("signed in as device.user@contoso.example"),
        "{stderr}"
    );
    assert!(
        !stdout.contains("eyJ") && !stderr.contains("eyJ"),
        "no JWT printed"
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(
        run(&["login", "--tenant", "contoso.com"]).status.code(),
        Some(2),
        "no client id"
    );
    assert_eq!(
        run(&["login", "--client-id", CLIENT_ID]).status.code(),
        Some(2),
        "no authority"
    );
    let out = run(&[
        "login",
        "--client-id",
        CLIENT_ID,
        "--authority",
        "http://login.example.com/t",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("https"), "{}", text(&out.stderr));
    assert_eq!(
        run(&[
            "login",
            "--client-id",
            CLIENT_ID,
            "--tenant",
            "t",
            "--bogus"
        ])
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn declined_exits_4() {
    let auth = TestAuthority::builder()
        .approval(Approval::DenyAfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    assert_eq!(login(&auth, "declined", &[]).status.code(), Some(4));
}

#[test]
fn expired_and_timeout_exit_5() {
    let auth = TestAuthority::builder()
        .flavor(Flavor::Generic)
        .expires_in(2)
        .interval(Some(1))
        .start()
        .unwrap();
    let ca = ca_file(&auth, "expired");
    let out = run(&[
        "login",
        "--client-id",
        CLIENT_ID,
        "--device-endpoint",
        &auth.device_authorization_endpoint(),
        "--token-endpoint",
        &auth.token_endpoint(),
        "--ca-file",
        ca.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
    let auth = TestAuthority::builder().interval(Some(1)).start().unwrap();
    assert_eq!(
        login(&auth, "timeout", &["--timeout", "1"]).status.code(),
        Some(5)
    );
}

#[test]
fn sigterm_cancels_with_exit_6() {
    let auth = TestAuthority::builder().start().unwrap();
    let mut child = Command::new(example())
        .args(login_args(&auth, "cancel"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the code was requested, then stop it as systemd would.
    let deadline = Instant::now() + Duration::from_secs(20);
    while auth.stats().requests.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let stopped_at = Instant::now();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(6));
    assert!(stopped_at.elapsed() < Duration::from_secs(2));
}

#[test]
fn unreachable_server_exits_7_and_refused_client_exits_8() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let authority = format!("http://127.0.0.1:{port}/organizations");
    let out = run(&["login", "--client-id", CLIENT_ID, "--authority", &authority]);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));

    let auth = TestAuthority::builder()
        .client_ids(vec!["someone-else".into()])
        .start()
        .unwrap();
    let out = login(&auth, "refused", &[]);
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("AADSTS700016"),
        "{}",
        text(&out.stderr)
    );
}
