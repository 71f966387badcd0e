//! Interoperability with MSAL Python, whose token cache schema we share.
//!
//! - A cache MSAL Python 1.39 wrote (tests/msal/samples/, made with
//!   tests/msal/msal_cache.py against the test authority; see its README)
//!   is read: accounts, a silent cache hit, and its refresh token redeemed.
//! - When `python3 -c "import msal"` works (CI installs it, and with `CI`
//!   set its absence fails the test), both programs share one live file: MSAL signs in and we refresh from its file; we
//!   sign in and MSAL gets a silent hit and refreshes from ours. Tokens for
//!   two scope sets of one account live side by side in one file, whichever
//!   program wrote them, and each program is served both from the cache.

use crate::common::{CLIENT_ID, Seen, builder};
use devicecode::{Authority, CancelHandle, ErrorKind, FileCache, ManualClock, PublicClient};
use devicecode_test_authority::{Approval, TestAuthority};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const USERNAME: &str = "device.user@contoso.example";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("devicecode-msal-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/msal/samples/msal-python-1.39.0.json")
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn only(doc: &Value, section: &str, field: &str) -> String {
    let entries = doc[section].as_object().unwrap();
    assert_eq!(entries.len(), 1, "{section}");
    entries.values().next().unwrap()[field]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn reads_a_cache_msal_python_wrote() {
    let dir = scratch("sample");
    let path = dir.join("tokens.json");
    std::fs::copy(sample(), &path).unwrap();
    let doc = read_json(&path);
    let cached_at: u64 = only(&doc, "AccessToken", "cached_at").parse().unwrap();
    let clock =
        ManualClock::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(cached_at + 60));

    // Nothing listens on port 9: a cache hit must need no request at all.
    let app = PublicClient::builder(CLIENT_ID)
        .authority(Authority::entra_at("https://127.0.0.1:9", "organizations").unwrap())
        .clock(clock.clone())
        .token_cache(FileCache::new(&path))
        .no_proxy()
        .build()
        .unwrap();
    let accounts = app.accounts().unwrap();
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].username(), USERNAME);
    assert_eq!(
        accounts[0].home_account_id(),
        only(&doc, "Account", "home_account_id")
    );
    let token = app.acquire_token_silent(&["User.Read"], None).unwrap();
    assert_eq!(
        token.access_token().secret(),
        only(&doc, "AccessToken", "secret")
    );
    assert_eq!(token.account().unwrap().username(), USERNAME);

    // Expired: we redeem MSAL's refresh token (refused by an authority that
    // never issued it, which is interaction required).
    clock.advance(Duration::from_secs(3600));
    let auth = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .start()
        .unwrap();
    let app = builder(
        &auth,
        Authority::entra_at(&auth.base_url(), "organizations").unwrap(),
        &clock,
        &Seen::default(),
    )
    .token_cache(FileCache::new(&path))
    .build()
    .unwrap();
    let err = app.acquire_token_silent(&["User.Read"], None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InteractionRequired, "{err}");
    let sent = auth.stats().requests.last().cloned().unwrap();
    assert_eq!(
        sent.param("refresh_token").unwrap(),
        only(&doc, "RefreshToken", "secret")
    );
    let _ = std::fs::remove_dir_all(dir);
}

fn msal_available() -> bool {
    Command::new("python3")
        .args(["-c", "import msal"])
        .output()
        .is_ok_and(|out| out.status.success())
}

fn msal(mode: &str, auth: &TestAuthority, ca: &Path, cache: &Path, extra: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/msal/msal_cache.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(mode)
        .arg(format!("{}/organizations", auth.base_url()))
        .arg(ca)
        .arg(CLIENT_ID)
        .arg(cache)
        .args(extra)
        .env("NO_PROXY", "127.0.0.1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "MSAL Python {mode}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap()
}

#[test]
fn msal_python_and_devicecode_share_one_file() {
    if !msal_available() {
        // CI installs MSAL Python; there, its absence is a failure, never a
        // quiet pass.
        assert!(
            std::env::var_os("CI").is_none(),
            "MSAL Python is not installed (pip install msal==1.39.0), and CI must run this test"
        );
        eprintln!(
            "SKIPPED: MSAL Python is not installed (pip install msal); only the committed sample was checked"
        );
        return;
    }
    let auth = TestAuthority::builder()
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let dir = scratch("live");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, auth.ca_pem()).unwrap();
    let authority = || Authority::entra_at(&auth.base_url(), "organizations").unwrap();
    let client = |path: &Path| {
        PublicClient::builder(CLIENT_ID)
            .authority(authority())
            .only_root_certificates_pem(auth.ca_pem())
            .token_cache(FileCache::new(path))
            .display(Seen::default().display())
            .no_proxy()
            .build()
            .unwrap()
    };

    // MSAL signs in and writes; we read its file, hit, and refresh.
    let theirs = dir.join("msal-wrote.json");
    msal("sign-in", &auth, &ca, &theirs, &[]);
    if let Ok(keep) = std::env::var("DEVICECODE_KEEP_MSAL_SAMPLE") {
        std::fs::copy(&theirs, keep).unwrap();
    }
    let doc = read_json(&theirs);
    let app = client(&theirs);
    assert_eq!(app.accounts().unwrap()[0].username(), USERNAME);
    let hit = app.acquire_token_silent(&["User.Read"], None).unwrap();
    assert_eq!(
        hit.access_token().secret(),
        only(&doc, "AccessToken", "secret")
    );
    let options = devicecode::SilentOptions::default().force_refresh(true);
    let ours = app
        .acquire_token_silent_with(&["User.Read"], None, &options)
        .unwrap();
    let rewritten = read_json(&theirs);
    assert_ne!(
        only(&rewritten, "RefreshToken", "secret"),
        only(&doc, "RefreshToken", "secret"),
        "our rotated refresh token replaced MSAL's, in MSAL's entry"
    );
    // MSAL reads our rewrite: a hit on our access token, and a refresh with
    // our rotated refresh token (a replayed one would revoke the sign-in).
    let seen = msal(
        "silent",
        &auth,
        &ca,
        &theirs,
        &[USERNAME, ours.access_token().secret()],
    );
    assert_eq!(seen["cache_hit"], "cache");
    assert_eq!(seen["refreshed"], "identity_provider");
    let hit = app.acquire_token_silent(&["User.Read"], None).unwrap();
    assert_eq!(
        seen["refreshed_access_token"].as_str(),
        Some(hit.access_token().secret()),
        "we read MSAL's rewrite of its own file"
    );

    // MSAL adds a Mail.Read token beside User.Read (a refresh); we are
    // served both from its file without a request, and our refresh of one
    // leaves MSAL's other in place for MSAL.
    let got = msal("scopes", &auth, &ca, &theirs, &[USERNAME, "Mail.Read="]);
    assert_eq!(got["Mail.Read"]["source"], "identity_provider");
    let doc = read_json(&theirs);
    assert_eq!(
        doc["AccessToken"].as_object().unwrap().len(),
        2,
        "MSAL keeps both"
    );
    let before = auth.stats().requests.len();
    let user = app.acquire_token_silent(&["User.Read"], None).unwrap();
    let mail = app.acquire_token_silent(&["Mail.Read"], None).unwrap();
    assert_eq!(
        Some(mail.access_token().secret()),
        got["Mail.Read"]["access_token"].as_str()
    );
    assert_eq!(auth.stats().requests.len(), before, "both from MSAL's file");
    let mail = app
        .acquire_token_silent_with(&["Mail.Read"], None, &options)
        .unwrap();
    let user_pair = format!("User.Read={}", user.access_token().secret());
    let mail_pair = format!("Mail.Read={}", mail.access_token().secret());
    msal(
        "scopes",
        &auth,
        &ca,
        &theirs,
        &[USERNAME, &user_pair, &mail_pair],
    );

    // We sign in into an empty file; MSAL reads it.
    let mine = dir.join("devicecode-wrote.json");
    let app = client(&mine);
    let token = app
        .sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
        .unwrap();
    let seen = msal(
        "silent",
        &auth,
        &ca,
        &mine,
        &[USERNAME, token.access_token().secret()],
    );
    assert_eq!(seen["cache_hit"], "cache");
    assert_eq!(
        seen["home_account_id"],
        app.accounts().unwrap()[0].home_account_id()
    );
    // And we read MSAL's rewrite: our cache hit is the token MSAL just got.
    let hit = app.acquire_token_silent(&["User.Read"], None).unwrap();
    assert_eq!(
        seen["refreshed_access_token"].as_str(),
        Some(hit.access_token().secret())
    );

    // We keep two scope sets in our file; MSAL is served both from it.
    let mail = app.acquire_token_silent(&["Mail.Read"], None).unwrap();
    let doc = read_json(&mine);
    assert_eq!(doc["AccessToken"].as_object().unwrap().len(), 2);
    let user_pair = format!("User.Read={}", hit.access_token().secret());
    let mail_pair = format!("Mail.Read={}", mail.access_token().secret());
    msal(
        "scopes",
        &auth,
        &ca,
        &mine,
        &[USERNAME, &user_pair, &mail_pair],
    );
    let _ = std::fs::remove_dir_all(dir);
}
