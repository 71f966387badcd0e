//! The `devicecode` command, run as a real process against the
//! test authority: its output contract and its exit codes.

mod arguments;
mod ca_paths;
#[path = "../../../tests/common/mod.rs"]
mod common;
mod concurrency;
#[cfg(feature = "dpop")]
mod dpop;
mod not_saved;
mod qr;
mod token_safety;
mod wording;

use common::proxy::connect_proxy;
use common::{argv, command as command_for};
use devicecode_test_authority::{Approval, Flavor, TestAuthority};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::CLIENT_ID;

/// The `devicecode` binary of this crate.
fn cli() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_devicecode"))
}

/// The variables the command reads options from. A test sets those it
/// means to; one leaking from the environment the tests run in must not
/// change what a test sees.
const OPTION_VARIABLES: [&str; 13] = [
    "DEVICECODE_CLIENT_ID",
    "DEVICECODE_TENANT",
    "DEVICECODE_AUTHORITY",
    "DEVICECODE_ISSUER",
    "DEVICECODE_DEVICE_ENDPOINT",
    "DEVICECODE_TOKEN_ENDPOINT",
    "DEVICECODE_SCOPE",
    "DEVICECODE_CA_FILE",
    "DEVICECODE_CACHE",
    "DEVICECODE_TIMEOUT",
    "DEVICECODE_ACCOUNT",
    "DEVICECODE_CLIENT_CAPABILITY",
    "DEVICECODE_DPOP",
];

/// A command that runs it (through the emulator when there is one), with
/// none of its option variables set.
fn cli_command() -> Command {
    let mut command = command_for(cli());
    clear_option_variables(&mut command);
    command
}

fn clear_option_variables(command: &mut Command) {
    for name in OPTION_VARIABLES {
        command.env_remove(name);
    }
}

fn ca_file(auth: &TestAuthority, name: &str) -> PathBuf {
    let path =
        std::env::temp_dir().join(format!("devicecode-cli-{}-{name}.pem", std::process::id()));
    std::fs::write(&path, auth.ca_pem()).unwrap();
    path
}

/// The example, with a private HOME so that the default token cache of a
/// test never lands in the real one.
fn command() -> Command {
    with_env(cli_command())
}

fn with_env(mut command: Command) -> Command {
    clear_option_variables(&mut command);
    let home = std::env::temp_dir().join(format!("devicecode-cli-home-{}", std::process::id()));
    command
        .env("NO_PROXY", "127.0.0.1")
        .env("HOME", home)
        .env_remove("XDG_STATE_HOME")
        .env_remove("STATE_DIRECTORY");
    command
}

fn run(args: &[&str]) -> Output {
    command().args(args).output().unwrap()
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
    let mut child = command()
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

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("devicecode-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `token`, `accounts` or `logout` for the authority and cache of a test.
fn cache_command(auth: &TestAuthority, name: &str, command: &str, cache: &Path) -> Vec<String> {
    let mut args = login_args(auth, name);
    args[0] = command.to_string();
    args.extend(["--cache".to_string(), cache.display().to_string()]);
    args
}

fn run_owned(args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&args)
}

#[test]
fn login_saves_a_private_cache_that_token_accounts_and_logout_use() {
    let auth = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let dir = scratch("cache");
    // The directory does not exist yet, and a careless umask would make the
    // file world-readable: the cache must be 0600 anyway.
    let cache = dir.join("state/nested/tokens.json");
    let mut login = cache_command(&auth, "cache", "login", &cache);
    login.extend(["--scope".into(), "User.Read".into()]);
    let out = with_env(Command::new("sh"))
        .args(["-c", "umask 000; exec \"$0\" \"$@\""])
        .args(argv(cli()))
        .args(&login)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mode = std::fs::metadata(&cache).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "cache mode {mode:o}");
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&cache).unwrap()).unwrap();
    for section in [
        "AccessToken",
        "RefreshToken",
        "IdToken",
        "Account",
        "AppMetadata",
    ] {
        assert!(saved.get(section).is_some(), "{section} missing: {saved}");
    }
    let cached_secret = saved["AccessToken"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_string();

    let out = run_owned(&cache_command(&auth, "cache", "accounts", &cache));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert!(
        listed.starts_with("device.user@contoso.example\t"),
        "{listed}"
    );
    assert_eq!(listed.lines().count(), 1);
    // Without an application, the file's accounts.
    let out = run(&["accounts", "--cache", cache.to_str().unwrap()]);
    assert_eq!(text(&out.stdout), listed);

    // `token` prints exactly the cached access token and asks nobody.
    let before = auth.stats().requests.len();
    let mut token = cache_command(&auth, "cache", "token", &cache);
    token.extend(["--scope".into(), "User.Read".into()]);
    let out = run_owned(&token);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{cached_secret}\n"));
    assert_eq!(
        auth.stats().requests.len(),
        before,
        "a cache hit needs no request"
    );

    // --force-refresh redeems the refresh token once, and prints the new token.
    token.push("--force-refresh".into());
    let out = run_owned(&token);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let fresh = text(&out.stdout);
    assert_ne!(fresh.trim(), cached_secret);
    let refreshes = auth
        .stats()
        .requests
        .iter()
        .filter(|r| r.param("grant_type") == Some("refresh_token"))
        .count();
    assert_eq!(refreshes, 1);

    // An account that is not there: interaction required.
    let mut other = cache_command(&auth, "cache", "token", &cache);
    other.extend(["--account".into(), "nobody@contoso.example".into()]);
    assert_eq!(run_owned(&other).status.code(), Some(3));

    let out = run_owned(&cache_command(&auth, "cache", "logout", &cache));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("signed out device.user@contoso.example"));
    let out = run_owned(&token);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stdout).is_empty());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn token_without_a_sign_in_exits_3_and_a_corrupt_cache_exits_9() {
    let auth = TestAuthority::builder().start().unwrap();
    let dir = scratch("corrupt");
    let cache = dir.join("tokens.json");
    let token = cache_command(&auth, "corrupt", "token", &cache);
    let out = run_owned(&token);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("sign in"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(&cache, b"{\"AccessToken\": {\"trunc").unwrap();
    let out = run_owned(&token);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out.stderr));
    let kept: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("tokens.json.corrupt-"))
        .collect();
    assert_eq!(kept.len(), 1, "the damaged file is kept aside");
    assert!(
        text(&out.stderr).contains(&kept[0]),
        "{}",
        text(&out.stderr)
    );
    assert!(auth.stats().requests.is_empty());
    let _ = std::fs::remove_dir_all(dir);
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
    let out = cli_command()
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

/// Signs in to `auth` (which must approve) with `User.Read`, into a fresh
/// token file; returns the scratch directory and the file.
fn signed_in(auth: &TestAuthority, name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    let cache = dir.join("tokens.json");
    let mut login = cache_command(auth, name, "login", &cache);
    login.extend(["--scope".into(), "User.Read".into()]);
    let out = run_owned(&login);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    (dir, cache)
}

/// The token file as JSON.
fn read_cache(cache: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(cache).unwrap()).unwrap()
}

/// CAE from the command line: `--client-capability CP1` gets a long-lived
/// token; a resource's claims challenge, given with `--claims-challenge`,
/// skips the cached token and asks for the claims, merged with CP1.
#[test]
fn token_with_a_claims_challenge_and_client_capability() {
    let auth = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let dir = scratch("cae");
    let cache = dir.join("tokens.json");
    let mut login = cache_command(&auth, "cae", "login", &cache);
    login.extend(["--scope", "User.Read", "--client-capability", "CP1"].map(String::from));
    let out = run_owned(&login);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let mut token = cache_command(&auth, "cae", "token", &cache);
    token.extend(["--scope", "User.Read", "--client-capability", "CP1"].map(String::from));
    let first = run_owned(&token);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let first = text(&first.stdout);
    let issued = auth.access_token(first.trim()).expect("a token it issued");
    assert_eq!(issued.capabilities, ["CP1"]);
    assert_eq!(issued.lifetime, 28 * 3600, "a long-lived CAE token");

    auth.revoke_access_tokens_by_event();
    let header = auth.resource_challenge(first.trim()).expect("a challenge");
    let b64 = header
        .split("claims=\"")
        .nth(1)
        .unwrap()
        .trim_end_matches('"');
    token.extend(["--claims-challenge".to_string(), b64.to_string()]);
    let second = run_owned(&token);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    let second = text(&second.stdout);
    assert_ne!(first.trim(), second.trim(), "the cached token was skipped");
    let reissued = auth.access_token(second.trim()).unwrap();
    let claims: serde_json::Value =
        serde_json::from_str(reissued.claims.as_deref().unwrap()).unwrap();
    assert_eq!(claims["access_token"]["xms_cc"]["values"][0], "CP1");
    assert_eq!(claims["access_token"]["nbf"]["essential"], true);

    // A challenge that is not one is a usage error, before any request.
    let before = auth.stats().requests.len();
    let last = token.len() - 1;
    token[last] = "not-a-challenge".to_string();
    let bad = run_owned(&token);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).contains("claims challenge"),
        "{}",
        text(&bad.stderr)
    );
    assert_eq!(auth.stats().requests.len(), before);
    let _ = std::fs::remove_dir_all(dir);
}
