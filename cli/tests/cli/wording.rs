//! Errors speak the command line's language: flags, variables and
//! commands, never the library's functions.

use super::{CLIENT_ID, ca_file, cache_command, command, run, run_owned, signed_in, text};
use devicecode_test_authority::{Approval, Flavor, TestAuthority};
use std::process::Output;

/// Stderr of a failure, checked for the library's words.
fn stderr_of(out: &Output, code: i32) -> String {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    for library_word in ["()", "FileCache", "_pem", "PublicClient", "io: "] {
        assert!(!stderr.contains(library_word), "{library_word}: {stderr}");
    }
    assert!(out.stdout.is_empty(), "{stderr}");
    stderr
}

#[test]
fn several_accounts_ask_for_account_and_list_them() {
    let first = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let (dir, cache) = signed_in(&first, "two-accounts");
    // Another person signs in to the same application on the same host:
    // a second account in the same file.
    let second = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .user("second.user@contoso.example", "Second User")
        .start()
        .unwrap();
    let mut login = cache_command(&second, "two-accounts-2", "login", &cache);
    login.extend(["--scope".into(), "User.Read".into()]);
    assert_eq!(run_owned(&login).status.code(), Some(0));

    let mut token = cache_command(&first, "two-accounts", "token", &cache);
    token.extend(["--scope".into(), "User.Read".into()]);
    let accounts = run_owned(&cache_command(&first, "two-accounts", "accounts", &cache));
    assert_eq!(text(&accounts.stdout).lines().count(), 2);

    let stderr = stderr_of(&run_owned(&token), 2);
    assert!(stderr.contains("--account USERNAME"), "{stderr}");
    assert!(
        stderr.contains("device.user@contoso.example")
            && stderr.contains("second.user@contoso.example"),
        "{stderr}"
    );
    let logout = cache_command(&first, "two-accounts", "logout", &cache);
    let stderr = stderr_of(&run_owned(&logout), 2);
    assert!(stderr.contains("--account USERNAME"), "{stderr}");

    let mut chosen = token.clone();
    chosen.extend(["--account".into(), "SECOND.user@contoso.example".into()]);
    let out = run_owned(&chosen);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).trim().is_empty());

    let mut gone = logout.clone();
    gone.extend(["--account".into(), "second.user@contoso.example".into()]);
    assert_eq!(run_owned(&gone).status.code(), Some(0));
    let out = run_owned(&token);
    assert_eq!(
        out.status.code(),
        Some(0),
        "one account left: {}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn failures_name_flags_variables_and_commands() {
    // No HOME: the default token file has no place.
    let out = command()
        .arg("accounts")
        .env_remove("HOME")
        .output()
        .unwrap();
    let stderr = stderr_of(&out, 2);
    assert!(
        stderr.contains("--cache FILE") && stderr.contains("DEVICECODE_CACHE"),
        "{stderr}"
    );

    let stderr = stderr_of(&run(&["token", "--tenant", "contoso.com"]), 2);
    assert!(stderr.contains("--client-id"), "{stderr}");
    let stderr = stderr_of(&run(&["token", "--client-id", CLIENT_ID]), 2);
    assert!(
        stderr.contains("--tenant") && stderr.contains("--issuer"),
        "{stderr}"
    );

    // Nothing signed in: the command to run.
    let auth = TestAuthority::start().unwrap();
    let dir = super::scratch("wording");
    let cache = dir.join("tokens.json");
    let stderr = stderr_of(
        &run_owned(&cache_command(&auth, "wording", "token", &cache)),
        3,
    );
    assert!(stderr.contains("run `devicecode login`"), "{stderr}");
    let mut nobody = cache_command(&auth, "wording", "token", &cache);
    nobody.extend(["--account".into(), "nobody@contoso.example".into()]);
    let stderr = stderr_of(&run_owned(&nobody), 3);
    assert!(stderr.contains("`devicecode login`"), "{stderr}");

    // Discovery that cannot work: the flags that do without it.
    let generic = TestAuthority::builder()
        .flavor(Flavor::Generic)
        .start()
        .unwrap();
    let ca = ca_file(&generic, "wording-issuer");
    let issuer = format!("{}/no-such-issuer", generic.base_url());
    let out = run(&[
        "login",
        "--client-id",
        CLIENT_ID,
        "--issuer",
        &issuer,
        "--ca-file",
        ca.to_str().unwrap(),
        "--cache",
        cache.to_str().unwrap(),
    ]);
    let stderr = stderr_of(&out, 2);
    assert!(
        stderr.contains("--device-endpoint") && stderr.contains("--token-endpoint"),
        "{stderr}"
    );

    // A server whose CA is not trusted: the flag that adds it.
    let authority = format!("{}/organizations", auth.base_url());
    let out = run(&[
        "login",
        "--client-id",
        CLIENT_ID,
        "--authority",
        &authority,
        "--cache",
        cache.to_str().unwrap(),
    ]);
    let stderr = stderr_of(&out, 7);
    assert!(
        stderr.contains("TLS") && stderr.contains("--ca-file"),
        "{stderr}"
    );

    // A network failure says why, not only that it failed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let authority = format!("http://127.0.0.1:{port}/organizations");
    let out = run(&["login", "--client-id", CLIENT_ID, "--authority", &authority]);
    let stderr = stderr_of(&out, 7);
    assert!(stderr.to_lowercase().contains("refused"), "{stderr}");

    let _ = std::fs::remove_dir_all(dir);
}
