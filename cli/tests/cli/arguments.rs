//! The command line itself: any bytes in, help and version, options from
//! the environment, values that are refused before anything is sent.

use super::{CLIENT_ID, OPTION_VARIABLES, ca_file, command, scratch, text};
use devicecode_test_authority::{Approval, Endpoint, TestAuthority};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::process::Output;

fn os(bytes: &[u8]) -> OsString {
    OsString::from_vec(bytes.to_vec())
}

fn run_os(args: &[&[u8]]) -> Output {
    command().args(args.iter().map(|a| os(a))).output().unwrap()
}

/// A usage error: exit 2, one line on stderr, nothing on stdout, no panic.
fn assert_usage_error(out: &Output, what: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{what}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
    assert!(stderr.starts_with("devicecode: "), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    assert!(out.stdout.is_empty(), "{what}");
}

#[test]
fn non_utf8_paths_work_and_other_non_utf8_arguments_exit_2() {
    let auth = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let dir = scratch("non-utf8");
    let cache = dir.join(OsStr::from_bytes(b"tokens-\xff.json"));
    let ca = dir.join(OsStr::from_bytes(b"ca-\xfe.pem"));
    std::fs::write(&ca, auth.ca_pem()).unwrap();
    let authority = format!("{}/organizations", auth.base_url());
    let out = command()
        .args(["login", "--client-id", CLIENT_ID, "--authority", &authority])
        .arg("--ca-file")
        .arg(&ca)
        .arg("--cache")
        .arg(&cache)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(cache.is_file(), "the token file is at the very path given");
    let out = command()
        .arg("accounts")
        .arg(OsString::from_vec(
            [b"--cache=".as_slice(), cache.as_os_str().as_bytes()].concat(),
        ))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("device.user@contoso.example\t"));
    // The same path from the environment.
    let out = command()
        .arg("accounts")
        .env("DEVICECODE_CACHE", &cache)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("device.user@contoso.example\t"));

    let odd: &[&[&[u8]]] = &[
        &[b"\xff"],
        &[b""],
        &[b"-"],
        &[b"--"],
        &[b"login", b"\xff"],
        &[b"login", b"--\xff"],
        &[b"login", b"--client-id", b"\xff"],
        &[b"login", b"--client-id=\xff\xfe"],
        &[b"login", b"--timeout", b"\xc3"],
        &[b"token", b"--scope", b"User.Read\xff"],
        &[b"token", b"--tenant", b"\xed\xa0\x80"],
        &[b"token", b"--account", b"\xff"],
        &[b"logout", b"--account=\xff"],
        &[b"help", b"\xff"],
        &[b"login", b"="],
        &[b"login", b"--=x"],
        &[b"login", b"--scope="],
        &[b"login", b"--scope"],
        &[b"login", b"--timeout", b"99999999999999999999999"],
        &[b"login", b"--timeout=-5"],
        &[b"login", b"-v", b"-v", b"--verbose"],
        &[b"accounts", b"--force-refresh"],
    ];
    for args in odd {
        assert_usage_error(&run_os(args), &format!("{args:?}"));
    }
    let out = command()
        .args(["token", "--tenant", "contoso.com"])
        .env("DEVICECODE_CLIENT_ID", os(b"\xff"))
        .output()
        .unwrap();
    assert_usage_error(&out, "DEVICECODE_CLIENT_ID");
    assert!(text(&out.stderr).contains("DEVICECODE_CLIENT_ID"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn help_and_version_go_to_stdout_and_exit_0() {
    let help = |args: &[&str]| {
        let out = command().args(args).output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout)
    };
    let overview = help(&["--help"]);
    assert_eq!(help(&["-h"]), overview);
    assert_eq!(help(&["help"]), overview);
    for command in ["login", "token", "accounts", "logout"] {
        assert!(overview.contains(&format!("  {command} ")), "{overview}");
    }
    for name in OPTION_VARIABLES {
        assert!(overview.contains(name), "{name} in\n{overview}");
    }
    for code in 2..=9 {
        assert!(overview.contains(&format!("\n  {code}  ")), "{code}");
    }
    // Every variable the help names is one the tests clear.
    for word in overview.split(|c: char| !(c.is_ascii_uppercase() || c == '_')) {
        if word.starts_with("DEVICECODE_") {
            assert!(OPTION_VARIABLES.contains(&word), "{word}");
        }
    }

    let login = help(&["help", "login"]);
    assert!(login.starts_with("Usage: devicecode login"), "{login}");
    for (command, has, lacks) in [
        ("login", "--timeout SECS", "--force-refresh"),
        ("token", "--force-refresh", "--timeout"),
        ("accounts", "--cache FILE", "--scope"),
        ("logout", "--account USERNAME", "--scope"),
    ] {
        let text = help(&[command, "--help"]);
        assert_eq!(help(&["help", command]), text);
        // Help wins wherever it comes, even after a bad value.
        assert_eq!(help(&[command, "--scope", "a b", "-h"]), text);
        assert!(
            text.contains(has) && !text.contains(lacks),
            "{command}:\n{text}"
        );
        assert!(text.contains("DEVICECODE_CACHE") && text.contains("Exit codes:"));
    }

    let version = format!("devicecode {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(help(&["--version"]), version);
    assert_eq!(help(&["-V"]), version);

    assert_usage_error(
        &command().args(["help", "signin"]).output().unwrap(),
        "help signin",
    );
}

#[test]
fn options_come_from_the_environment_and_flags_win() {
    let auth = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let dir = scratch("environment");
    let cache = dir.join("tokens.json");
    let ca = ca_file(&auth, "environment");
    let authority = format!("{}/organizations", auth.base_url());
    let with = |args: &[&str], vars: &[(&str, &OsStr)]| {
        let mut command = command();
        command
            .args(args)
            .env("DEVICECODE_CLIENT_ID", CLIENT_ID)
            .env("DEVICECODE_AUTHORITY", &authority)
            .env("DEVICECODE_CA_FILE", &ca)
            .env("DEVICECODE_CACHE", &cache)
            .env("DEVICECODE_SCOPE", " User.Read  Mail.Read ");
        for (name, value) in vars {
            command.env(name, value);
        }
        command.output().unwrap()
    };
    let out = with(&["login"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(cache.is_file());
    let stats = auth.stats();
    let asked = stats
        .requests
        .iter()
        .find(|r| r.endpoint == Some(Endpoint::DeviceAuthorization))
        .and_then(|r| r.param("scope"))
        .unwrap();
    assert!(
        asked.contains("User.Read") && asked.contains("Mail.Read"),
        "{asked}"
    );

    let out = with(&["token"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert!(!printed.trim().is_empty());

    // Each flag beats its variable: a wrong client id, a token file that is
    // not there, scopes and accounts that were never signed in.
    let elsewhere = dir.join("nothing-here.json");
    let out = with(
        &[
            "token",
            "--client-id",
            CLIENT_ID,
            "--cache",
            cache.to_str().unwrap(),
            "--scope",
            "User.Read",
            "--account",
            "device.user@contoso.example",
        ],
        &[
            ("DEVICECODE_CLIENT_ID", OsStr::new("someone-else")),
            ("DEVICECODE_CACHE", elsewhere.as_os_str()),
            ("DEVICECODE_SCOPE", OsStr::new("Files.Read")),
            ("DEVICECODE_ACCOUNT", OsStr::new("nobody@contoso.example")),
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), printed, "the same cached token");
    assert!(!elsewhere.exists());
    // ... and the variable alone is used.
    let out = with(
        &["token"],
        &[("DEVICECODE_ACCOUNT", OsStr::new("nobody@contoso.example"))],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));

    // Two server variables conflict; one server flag outranks them all.
    let tenant = [("DEVICECODE_TENANT", OsStr::new("contoso.com"))];
    assert_usage_error(&with(&["token"], &tenant), "two server variables");
    let out = with(&["token", "--authority", &authority], &tenant);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // DEVICECODE_TIMEOUT is login's: token ignores it, login obeys it, and
    // --timeout outranks it without it being read.
    let bogus = [("DEVICECODE_TIMEOUT", OsStr::new("soon"))];
    assert_eq!(with(&["token"], &bogus).status.code(), Some(0));
    assert_usage_error(&with(&["login"], &bogus), "DEVICECODE_TIMEOUT=soon");
    let waiting = TestAuthority::builder()
        .approval(Approval::Manual)
        .interval(Some(1))
        .start()
        .unwrap();
    let waiting_authority = format!("{}/organizations", waiting.base_url());
    let waiting_ca = ca_file(&waiting, "environment-timeout");
    let server = [
        ("DEVICECODE_AUTHORITY", OsStr::new(&waiting_authority)),
        ("DEVICECODE_CA_FILE", waiting_ca.as_os_str()),
    ];
    let one = [
        server.as_slice(),
        &[("DEVICECODE_TIMEOUT", OsStr::new("1"))],
    ]
    .concat();
    assert_eq!(with(&["login"], &one).status.code(), Some(5));
    let overridden = [server.as_slice(), &bogus].concat();
    assert_eq!(
        with(&["login", "--timeout", "1"], &overridden)
            .status
            .code(),
        Some(5)
    );
    // An empty variable counts as unset (systemd's `Environment=NAME=`).
    let empty = [("DEVICECODE_TENANT", OsStr::new(""))];
    assert_eq!(with(&["token"], &empty).status.code(), Some(0));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn scopes_with_spaces_or_controls_and_empty_paths_are_usage_errors() {
    let auth = TestAuthority::builder()
        .approval(Approval::Manual)
        .start()
        .unwrap();
    let dir = scratch("bad-values");
    let ca = ca_file(&auth, "bad-values");
    let authority = format!("{}/organizations", auth.base_url());
    let cache = dir.join("tokens.json");
    let base = |name: &str| -> Vec<OsString> {
        [
            name,
            "--client-id",
            CLIENT_ID,
            "--authority",
            &authority,
            "--ca-file",
            ca.to_str().unwrap(),
            "--cache",
            cache.to_str().unwrap(),
        ]
        .map(OsString::from)
        .to_vec()
    };
    let with_extra = |name: &str, extra: &[&[u8]]| {
        let mut args = base(name);
        args.extend(extra.iter().map(|a| os(a)));
        command().args(args).output().unwrap()
    };
    for scope in [
        b"User.Read Mail.Read".as_slice(),
        b" User.Read",
        b"User.Read\t",
        b"User.Read\n",
        b"User.Read\x1b[2J",
        b"User.Read\x7f",
        b"",
    ] {
        for name in ["login", "token"] {
            let out = with_extra(name, &[b"--scope", scope]);
            assert_usage_error(&out, &format!("{name} --scope {scope:?}"));
            assert!(
                !out.stderr.contains(&0x1b),
                "the bad scope is shown escaped"
            );
        }
    }
    let out = with_extra("token", &[b"--scope", b"User.Read Mail.Read".as_slice()]);
    assert!(
        text(&out.stderr).contains("own --scope"),
        "{}",
        text(&out.stderr)
    );
    for scope in ["User.Read\tMail.Read", "User.Read\u{7}"] {
        let out = command()
            .args(base("login"))
            .env("DEVICECODE_SCOPE", scope)
            .output()
            .unwrap();
        assert_usage_error(&out, &format!("DEVICECODE_SCOPE={scope:?}"));
        assert!(text(&out.stderr).contains("DEVICECODE_SCOPE"));
    }

    for args in [
        ["accounts", "--cache", ""].as_slice(),
        &["accounts", "--cache="],
        &["logout", "--cache", ""],
        &[
            "token",
            "--client-id",
            CLIENT_ID,
            "--tenant",
            "t",
            "--cache",
            "",
        ],
        &[
            "login",
            "--client-id",
            CLIENT_ID,
            "--tenant",
            "t",
            "--ca-file",
            "",
        ],
        &["accounts", "--ca-file="],
    ] {
        assert_usage_error(
            &command().args(args).output().unwrap(),
            &format!("{args:?}"),
        );
    }
    assert!(
        auth.stats().requests.is_empty(),
        "nothing reached the server"
    );
    assert!(!Path::new(&cache).exists());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn readme_documents_every_variable_and_exit_code() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    for name in OPTION_VARIABLES {
        assert!(readme.contains(&format!("`{name}`")), "{name}");
    }
    for code in [0, 2, 3, 4, 5, 6, 7, 8, 9, 10] {
        assert!(
            readme.contains(&format!("\n| {code} | ")),
            "exit code {code}"
        );
    }
}

#[test]
fn help_into_a_closed_pipe_exits_0_quietly() {
    for args in [["--help"].as_slice(), &["token", "--help"], &["--version"]] {
        let mut child = command()
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Whoever reads the output is gone before it comes (or, if the
        // child was quicker, its write simply succeeded).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        // Like `devicecode --help | head -1`: nothing to complain about.
        assert_eq!(
            out.status.code(),
            Some(0),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    }
}
