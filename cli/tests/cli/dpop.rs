//! `--dpop` and `headers`: a sign-in bound to a key kept beside the token
//! file, and the headers a resource wants for such a token.

use super::{cache_command, run_owned, scratch, text};
use devicecode_test_authority::{Approval, DpopPolicy, TestAuthority};
use std::os::unix::fs::PermissionsExt;

#[test]
fn login_with_dpop_then_token_and_headers_use_the_key() {
    let auth = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .dpop(DpopPolicy::new().required(true))
        .start()
        .unwrap();
    let dir = scratch("dpop");
    let cache = dir.join("tokens.json");
    let mut login = cache_command(&auth, "dpop", "login", &cache);
    login.extend(["--scope".into(), "User.Read".into(), "--dpop".into()]);
    let out = run_owned(&login);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("(tokens bound to DPoP key "),
        "{}",
        text(&out.stderr)
    );
    let key = dir.join("tokens.json.dpop-key.pem");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // `token` finds the key beside the token file by itself.
    let mut token = cache_command(&auth, "dpop", "token", &cache);
    token.extend([
        "--scope".into(),
        "User.Read".into(),
        "--force-refresh".into(),
    ]);
    let out = run_owned(&token);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed = text(&out.stdout).trim().to_string();
    let issued = auth.access_token(&printed).unwrap();
    assert!(issued.jkt.is_some(), "a DPoP-bound token");

    let url = "https://api.example/v1/me?x=1";
    let mut headers = cache_command(&auth, "dpop", "headers", &cache);
    headers.extend([
        "--scope".into(),
        "User.Read".into(),
        "--method".into(),
        "GET".into(),
        "--url".into(),
        url.into(),
    ]);
    let out = run_owned(&headers);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let authorization = lines[0].strip_prefix("Authorization: ").unwrap();
    let proof = lines[1].strip_prefix("DPoP: ").unwrap();
    assert_eq!(authorization, format!("DPoP {printed}"));
    auth.check_resource_request("GET", url, authorization, proof)
        .unwrap();
    let err = auth
        .check_resource_request("GET", url, authorization, proof)
        .unwrap_err();
    assert!(err.contains("replay"), "{err}");

    // Without the key, the bound refresh token is not tried: exit 3.
    std::fs::remove_file(&key).unwrap();
    let out = run_owned(&token);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("DPoP"), "{}", text(&out.stderr));

    let mut missing = cache_command(&auth, "dpop", "headers", &cache);
    missing.extend(["--url".into(), url.into()]);
    let out = run_owned(&missing);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--method"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(dir);
}
