//! What `token` and `accounts` print from a token file any program of the
//! user could write: only a bearer token, and no control characters.

use super::{cache_command, read_cache, run_owned, signed_in, text};
use devicecode_test_authority::{Approval, TestAuthority};
use std::process::Stdio;

#[test]
fn token_refuses_an_access_token_that_is_not_a_bearer_token() {
    let auth = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let (dir, cache) = signed_in(&auth, "hostile-token");
    let mut token = cache_command(&auth, "hostile-token", "token", &cache);
    token.extend(["--scope".into(), "User.Read".into()]);
    let good = run_owned(&token);
    assert_eq!(good.status.code(), Some(0), "{}", text(&good.stderr));

    // Another program rewrites the file: the entry stays valid-looking and
    // fresh, only its secret changes.
    for hostile in [
        "eyJ0eXAi.payload\u{1b}]0;x\u{7}.sig\nX-Injected: 1",
        "token with spaces",
        "tok\r\nen",
        "=abc",
        "",
    ] {
        let mut saved = read_cache(&cache);
        let entries = saved["AccessToken"].as_object_mut().unwrap();
        assert_eq!(entries.len(), 1);
        for entry in entries.values_mut() {
            entry["secret"] = hostile.into();
        }
        std::fs::write(&cache, serde_json::to_vec_pretty(&saved).unwrap()).unwrap();
        let before = auth.stats().requests.len();
        let out = run_owned(&token);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(8), "{hostile:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{hostile:?}: nothing on stdout");
        assert!(stderr.contains("not printed"), "{stderr}");
        assert!(stderr.contains("--force-refresh"), "{stderr}");
        assert!(!stderr.contains('\u{1b}') && !stderr.contains("X-Injected"));
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert_eq!(auth.stats().requests.len(), before, "read from the file");
    }

    // As the message says, a forced refresh replaces it.
    token.push("--force-refresh".into());
    let out = run_owned(&token);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).trim().is_empty());

    // A token that cannot be handed over is a failure, not a panic: the
    // reader is gone long before the token file has been read.
    let mut child = super::command()
        .args(&token)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("could not write the token"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn accounts_never_prints_control_characters_from_the_file() {
    let auth = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let (dir, cache) = signed_in(&auth, "hostile-account");
    let mut saved = read_cache(&cache);
    for entry in saved["Account"].as_object_mut().unwrap().values_mut() {
        entry["home_account_id"] = "uid.utid\u{1b}]0;owned\u{7}\r\n".into();
        entry["username"] = "ada\u{1b}[2J@contoso.example".into();
    }
    std::fs::write(&cache, serde_json::to_vec_pretty(&saved).unwrap()).unwrap();
    let out = super::run(&["accounts", "--cache", cache.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let listed = text(&out.stdout);
    assert_eq!(listed.lines().count(), 1, "{listed:?}");
    assert!(!listed.contains(['\u{1b}', '\u{7}', '\r']), "{listed:?}");
    assert!(listed.starts_with("ada"), "{listed:?}");
    let _ = std::fs::remove_dir_all(dir);
}
