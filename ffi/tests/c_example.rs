//! The C example (`examples/c/devicecode-c`), built with make against
//! libdevicecode.a and run as a real process against the test authority:
//! the same exit codes as the Rust command, a token on stdout, SIGTERM
//! through the cancel call, and valgrind memcheck on the native build.
//!
//! Needs `make` and a C compiler (the target's `CC_<target>` when cross
//! testing, run through `DEVICECODE_TEST_RUNNER`), and valgrind natively: a
//! missing tool fails the test when `CI` is set, and skips it otherwise.

use devicecode_test_authority::{Approval, Flavor, TestAuthority};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
const USER: &str = "device.user@contoso.example";

/// target/<triple>/<profile>, where cargo put libdevicecode.a.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().to_path_buf()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The C compiler for the target the tests were built for.
fn c_compiler() -> String {
    let target = env!("DEVICECODE_FFI_TARGET").replace('-', "_");
    std::env::var(format!("CC_{target}"))
        .or_else(|_| std::env::var("CC"))
        .unwrap_or_else(|_| "cc".to_string())
}

/// Whether the tests run for another machine (under qemu): the checks of
/// the build itself (valgrind, the header, the installed library) are
/// native only.
fn cross() -> bool {
    let (target, host) = (env!("DEVICECODE_FFI_TARGET"), env!("DEVICECODE_FFI_HOST"));
    target != host
}

/// A musl build of the library needs a musl C toolchain to link a C
/// program, which the cross setup does not have: those runs skip, loudly,
/// and fail under CI, where a skip would pass without proving anything.
fn skip_c_example() -> bool {
    let musl = env!("DEVICECODE_FFI_TARGET").ends_with("-musl");
    if musl {
        assert!(
            std::env::var_os("CI").is_none(),
            "a musl C toolchain is needed to link the C example (CI is set, so this fails instead of skipping)"
        );
        eprintln!("SKIPPED: no musl C toolchain to link the C example with");
    }
    musl
}

/// A tool the test cannot do without: fails under CI, else skips.
fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is needed for this test (install it; CI is set, so this fails instead of skipping)"
        );
        eprintln!("SKIPPED: {tool} is not installed");
    }
    found
}

/// Builds libdevicecode.a for the target and profile of these tests:
/// `cargo test` builds only the test binaries, and an old library would
/// test old code.
fn build_library(lib: &Path) {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    // What cargo told this test about its own package: build scripts (ring's)
    // watch some of it, and would rebuild for this call and again for the
    // next plain `cargo build`.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        let ours = [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|prefix| name.starts_with(prefix))
            || ["OUT_DIR", "CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR"].contains(&&*name);
        if ours {
            cargo.env_remove(&*name);
        }
    }
    cargo
        .current_dir(repo_root())
        .args(["build", "--quiet", "-p", "devicecode-ffi", "--lib"])
        .arg("--target-dir")
        .arg(target_dir(lib));
    let target = env!("DEVICECODE_FFI_TARGET");
    // target/<triple>/<profile> when cargo was given --target.
    if lib.parent().and_then(Path::file_name) == Some(target.as_ref()) {
        cargo.args(["--target", target]);
    }
    match lib.file_name().and_then(|p| p.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cargo.arg("--release");
        }
        Some(profile) => {
            cargo.args(["--profile", profile]);
        }
        None => panic!("no profile directory in {}", lib.display()),
    }
    let built = cargo
        .output()
        .expect("cargo runs the tests, so it is there");
    assert!(
        built.status.success(),
        "cargo build -p devicecode-ffi failed:\n{}",
        text(&built.stderr)
    );
}

/// The target directory above target/[<triple>/]<profile>.
fn target_dir(lib: &Path) -> PathBuf {
    let above = lib.parent().unwrap();
    if above.file_name() == Some(env!("DEVICECODE_FFI_TARGET").as_ref()) {
        above.parent().unwrap().to_path_buf()
    } else {
        above.to_path_buf()
    }
}

/// The directory of a current libdevicecode.a and .so, built once per run.
fn library() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let lib = lib_dir();
        build_library(&lib);
        lib
    })
}

/// Builds the example once per test run, with the Makefile a user runs.
fn example() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let lib = library().to_path_buf();
        assert!(
            lib.join("libdevicecode.a").exists(),
            "{} is missing after cargo build",
            lib.join("libdevicecode.a").display()
        );
        let out = lib.join("c-example").join("devicecode-c");
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        let made = Command::new("make")
            .arg("-C")
            .arg(repo_root().join("examples/c"))
            .arg("--always-make")
            .arg(format!("CC={}", c_compiler()))
            .arg(format!("LIBDIR={}", lib.display()))
            .arg(format!("OUT={}", out.display()))
            .output()
            .expect("make is needed to build the C example");
        assert!(
            made.status.success(),
            "make failed:\n{}{}",
            text(&made.stdout),
            text(&made.stderr)
        );
        out
    })
}

/// The example through the emulator when there is one, with a private HOME
/// so that no test touches a real token file.
fn command_with(prefix: &[&str]) -> Command {
    let mut argv: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
    if let Ok(runner) = std::env::var("DEVICECODE_TEST_RUNNER") {
        argv.extend(runner.split_whitespace().map(str::to_string));
    }
    argv.push(example().display().to_string());
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .env("NO_PROXY", "127.0.0.1")
        .env("HOME", scratch("home"))
        .env_remove("XDG_STATE_HOME")
        .env_remove("STATE_DIRECTORY");
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("devicecode-ffi-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `command` against the authority's Entra "organizations" tenant, trusting
/// its CA, with the token file in `dir`.
fn args(auth: &TestAuthority, dir: &Path, command: &str) -> Vec<String> {
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, auth.ca_pem()).unwrap();
    vec![
        command.into(),
        "--client-id".into(),
        CLIENT_ID.into(),
        "--authority".into(),
        format!("{}/organizations", auth.base_url()),
        "--ca-file".into(),
        ca.display().to_string(),
        "--cache".into(),
        dir.join("tokens.json").display().to_string(),
    ]
}

fn run(args: &[String]) -> Output {
    command_with(&[]).args(args).output().unwrap()
}

fn with(mut args: Vec<String>, extra: &[&str]) -> Vec<String> {
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

fn authority(approval: Approval) -> TestAuthority {
    TestAuthority::builder()
        .approval(approval)
        .interval(Some(1))
        .start()
        .unwrap()
}

/// The access token the token file holds (one).
fn cached_access_token(cache: &Path) -> String {
    let doc = std::fs::read_to_string(cache).unwrap();
    let marker = "\"secret\":";
    // The AccessToken section comes first in MSAL's layout; find its secret
    // without a JSON dependency by reading the section alone.
    let section = &doc[doc.find("\"AccessToken\"").unwrap()..];
    let section = &section[..section.find("\"RefreshToken\"").unwrap_or(section.len())];
    let start = section.find(marker).unwrap() + marker.len();
    let value = section[start..].trim_start().strip_prefix('"').unwrap();
    value[..value.find('"').unwrap()].to_string()
}

#[test]
fn sign_in_then_silent_token_from_c() {
    if skip_c_example() {
        return;
    }
    let auth = authority(Approval::AfterPolls(1));
    let dir = scratch("sign-in");
    let out = run(&with(args(&auth, &dir, "login"), &["--scope", "User.Read"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The show callback printed the server's sentence with the code.
    assert!(
        text(&out.stdout).contains("enter the code"),
        "{}",
        text(&out.stdout)
    );
    // The finished callback named the account.
    assert!(
        text(&out.stderr).contains(&format!("signed in as {USER}")),
        "{}",
        text(&out.stderr)
    );

    let out = run(&with(args(&auth, &dir, "token"), &["--scope", "User.Read"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    assert_eq!(printed.lines().count(), 1, "{printed}");
    let cached = cached_access_token(&dir.join("tokens.json"));
    assert_eq!(printed.trim_end(), cached);

    // --force-refresh redeems the refresh token: a new access token.
    let out = run(&with(
        args(&auth, &dir, "token"),
        &["--scope", "User.Read", "--force-refresh", "--account", USER],
    ));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let refreshed = text(&out.stdout);
    assert!(!refreshed.trim().is_empty());
    assert_ne!(refreshed.trim_end(), cached);

    // An account that never signed in needs a sign-in.
    let out = run(&with(
        args(&auth, &dir, "token"),
        &["--account", "someone.else@contoso.example"],
    ));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}

#[test]
fn token_before_any_sign_in_exits_3() {
    if skip_c_example() {
        return;
    }
    let auth = authority(Approval::Manual);
    let dir = scratch("no-sign-in");
    let out = run(&args(&auth, &dir, "token"));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn declined_exits_4() {
    if skip_c_example() {
        return;
    }
    let auth = authority(Approval::DenyAfterPolls(1));
    let dir = scratch("declined");
    let out = run(&args(&auth, &dir, "login"));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
}

#[test]
fn expired_and_timeout_exit_5() {
    if skip_c_example() {
        return;
    }
    let auth = TestAuthority::builder()
        .flavor(Flavor::Generic)
        .expires_in(2)
        .interval(Some(1))
        .start()
        .unwrap();
    let dir = scratch("expired");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, auth.ca_pem()).unwrap();
    let out = run(&[
        "login".into(),
        "--client-id".into(),
        CLIENT_ID.into(),
        "--device-endpoint".into(),
        auth.device_authorization_endpoint(),
        "--token-endpoint".into(),
        auth.token_endpoint(),
        "--ca-file".into(),
        ca.display().to_string(),
        "--cache".into(),
        dir.join("tokens.json").display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));

    let auth = authority(Approval::Manual);
    let out = run(&with(args(&auth, &dir, "login"), &["--timeout", "1"]));
    assert_eq!(out.status.code(), Some(5), "{}", text(&out.stderr));
}

#[test]
fn sigterm_cancels_through_the_cancel_call_with_exit_6() {
    if skip_c_example() {
        return;
    }
    let auth = authority(Approval::Manual);
    let dir = scratch("cancel");
    let child = command_with(&[])
        .args(args(&auth, &dir, "login"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the code was requested and a poll came: the wait is on.
    let deadline = Instant::now() + Duration::from_secs(30);
    while auth.stats().polls().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!auth.stats().polls().is_empty(), "the example never polled");
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let stopped_at = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(stopped_at.elapsed() < Duration::from_secs(3));
    assert!(
        text(&out.stderr).contains("cancel"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn unwritable_token_file_exits_9_before_a_code_is_shown() {
    if skip_c_example() {
        return;
    }
    let auth = authority(Approval::AfterPolls(1));
    let dir = scratch("cache-error");
    // A regular file where the token file's directory should be.
    let blocker = dir.join("not-a-directory");
    std::fs::write(&blocker, "x").unwrap();
    let mut login = args(&auth, &dir, "login");
    let last = login.len() - 1;
    login[last] = blocker.join("tokens.json").display().to_string();
    let out = run(&login);
    assert_eq!(out.status.code(), Some(9), "{}", text(&out.stderr));
    assert!(
        out.stdout.is_empty(),
        "a code was shown: {}",
        text(&out.stdout)
    );
    assert_eq!(auth.stats().requests.len(), 0);
}

#[test]
fn refused_client_exits_8_with_the_oauth_error_and_aadsts() {
    if skip_c_example() {
        return;
    }
    let auth = TestAuthority::builder()
        .client_ids(vec!["someone-else".into()])
        .start()
        .unwrap();
    let dir = scratch("refused");
    let out = run(&args(&auth, &dir, "login"));
    assert_eq!(out.status.code(), Some(8), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("the server said "), "{stderr}");
    assert!(stderr.contains("(AADSTS700016)"), "{stderr}");
}

#[test]
fn usage_and_configuration_errors_exit_2() {
    if skip_c_example() {
        return;
    }
    let auth = authority(Approval::Manual);
    let dir = scratch("usage");
    let cases: Vec<Vec<String>> = vec![
        vec![],
        vec!["logon".into()],
        with(args(&auth, &dir, "login"), &["--timeout", "soon"]),
        with(args(&auth, &dir, "login"), &["--tenant", "contoso.com"]),
        with(args(&auth, &dir, "login"), &["--scope"]),
        with(
            args(&auth, &dir, "login"),
            &["--ca-file", "/nonexistent/ca.pem"],
        ),
        vec!["token".into(), "--tenant".into(), "contoso.com".into()],
        vec![
            "login".into(),
            "--client-id".into(),
            "has spaces".into(),
            "--tenant".into(),
            "contoso.com".into(),
        ],
    ];
    for case in cases {
        let out = run(&case);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{case:?}: {}",
            text(&out.stderr)
        );
        assert!(!out.stderr.is_empty(), "{case:?}");
    }
    assert_eq!(auth.stats().requests.len(), 0);
}

#[test]
fn verbose_routes_log_records_to_the_c_callback() {
    if skip_c_example() {
        return;
    }
    let auth = authority(Approval::AfterPolls(1));
    let dir = scratch("verbose");
    let out = run(&with(args(&auth, &dir, "login"), &["--verbose"]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("[DEBUG] ") || stderr.contains("[INFO] "),
        "{stderr}"
    );
    // The log never carries the tokens the file holds.
    let secret = cached_access_token(&dir.join("tokens.json"));
    assert!(!stderr.contains(&secret));
}

/// valgrind's verdict on one run: exit code 1 is its own (no status of the
/// example is 1), anything else is the example's. The suppressions cover
/// only memcheck's false positive on ring's AES-GCM assembly.
fn under_valgrind(args: &[String]) -> Output {
    let suppressions = format!(
        "--suppressions={}/tests/valgrind.supp",
        env!("CARGO_MANIFEST_DIR")
    );
    command_with(&[
        "valgrind",
        "--quiet",
        "--leak-check=full",
        "--errors-for-leak-kinds=definite,indirect",
        "--error-exitcode=1",
        &suppressions,
    ])
    .args(args)
    .output()
    .unwrap()
}

#[test]
fn valgrind_finds_no_leak_and_no_invalid_access() {
    if cross() || skip_c_example() {
        eprintln!("SKIPPED: valgrind runs on the native build only");
        return;
    }
    if !have("valgrind") {
        return;
    }
    let auth = authority(Approval::AfterPolls(1));
    let dir = scratch("valgrind");
    let expectations = [
        (with(args(&auth, &dir, "login"), &["--verbose"]), 0),
        (args(&auth, &dir, "token"), 0),
        (with(args(&auth, &dir, "token"), &["--force-refresh"]), 0),
        (
            with(args(&auth, &dir, "token"), &["--account", "nobody"]),
            3,
        ),
        (with(args(&auth, &dir, "login"), &["--timeout", "soon"]), 2),
    ];
    for (args, expected) in expectations {
        let out = under_valgrind(&args);
        assert_eq!(
            out.status.code(),
            Some(expected),
            "{args:?} under valgrind:\n{}",
            text(&out.stderr)
        );
        assert!(!text(&out.stderr).contains("=="), "{}", text(&out.stderr));
    }
    let declined = authority(Approval::DenyAfterPolls(1));
    let out = under_valgrind(&args(&declined, &dir, "login"));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
}

#[test]
fn header_compiles_alone_as_c99_and_cpp11() {
    if cross() || !have("g++") {
        return;
    }
    let header = repo_root().join("ffi/include/devicecode.h");
    for (compiler, flags) in [
        ("gcc", ["-std=c99", "-x", "c"]),
        ("g++", ["-std=c++11", "-x", "c++"]),
    ] {
        let out = Command::new(compiler)
            .args(flags)
            .args(["-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only"])
            .arg(&header)
            .output()
            .unwrap();
        assert!(out.status.success(), "{compiler}: {}", text(&out.stderr));
    }
}

#[test]
fn shared_library_carries_its_soname() {
    if cross() || !have("readelf") {
        return;
    }
    let out = Command::new("readelf")
        .arg("-d")
        .arg(library().join("libdevicecode.so"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Library soname: [libdevicecode.so.0]"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn installed_shared_library_links_through_pkg_config() {
    if cross() || !have("pkg-config") || !have("readelf") {
        return;
    }
    let lib = library();
    let root = scratch("install");
    let sysroot = root.join("sysroot");
    let installed = Command::new("make")
        .arg("-C")
        .arg(repo_root().join("ffi"))
        .arg("install")
        .arg(format!("DESTDIR={}", sysroot.display()))
        .arg("PREFIX=/usr")
        .arg(format!("LIBDIR={}", lib.display()))
        .output()
        .unwrap();
    assert!(installed.status.success(), "{}", text(&installed.stderr));
    let flags = Command::new("pkg-config")
        .args(["--cflags", "--libs", "devicecode"])
        .env("PKG_CONFIG_SYSROOT_DIR", &sysroot)
        .env("PKG_CONFIG_LIBDIR", sysroot.join("usr/lib/pkgconfig"))
        .output()
        .unwrap();
    assert!(flags.status.success(), "{}", text(&flags.stderr));
    let program = root.join("devicecode-c-shared");
    let built = Command::new(c_compiler())
        .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&program)
        .arg(repo_root().join("examples/c/devicecode-c.c"))
        .args(text(&flags.stdout).split_whitespace())
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", text(&built.stderr));
    let dynamic = Command::new("readelf")
        .arg("-d")
        .arg(&program)
        .output()
        .unwrap();
    assert!(
        text(&dynamic.stdout).contains("Shared library: [libdevicecode.so.0]"),
        "{}",
        text(&dynamic.stdout)
    );
    // The program finds the library by its SONAME and works with it.
    let auth = authority(Approval::Manual);
    let out = Command::new(&program)
        .args(args(&auth, &root, "token"))
        .env("LD_LIBRARY_PATH", sysroot.join("usr/lib"))
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
}
