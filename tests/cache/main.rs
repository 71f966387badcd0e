//! The token cache and silent acquisition, end to end against the test
//! authority: cache hits, refreshes with rotation, what is kept when a
//! refresh fails, accounts, and the file's own failure modes.

#[path = "../common/mod.rs"]
mod common;
mod msal_python;
mod sign_in_once;

use common::{CLIENT_ID, Seen, builder};
use devicecode::{
    Authority, CancelHandle, ErrorKind, FileCache, ManualClock, PublicClient, SilentOptions,
    StoreLock, TokenStore,
};
use devicecode_test_authority::{Approval, Endpoint, Fault, TestAuthority};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// An Entra-like authority on the test's clock, approving at the first poll.
fn authority(clock: &ManualClock) -> TestAuthority {
    TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("devicecode-cache-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn client(
    auth: &TestAuthority,
    clock: &ManualClock,
    store: impl TokenStore + 'static,
) -> PublicClient {
    let authority = Authority::entra_at(&auth.base_url(), "organizations").unwrap();
    builder(auth, authority, clock, &Seen::default())
        .token_cache(store)
        .build()
        .unwrap()
}

fn sign_in(app: &PublicClient) {
    app.sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
        .unwrap();
}

fn refreshes(auth: &TestAuthority) -> usize {
    auth.stats()
        .requests
        .iter()
        .filter(|r| r.param("grant_type") == Some("refresh_token"))
        .count()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The secret of the only entry of a section.
fn only_secret(doc: &Value, section: &str) -> String {
    let entries = doc[section].as_object().unwrap();
    assert_eq!(entries.len(), 1, "{section}: {entries:?}");
    entries.values().next().unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn cached_token_then_refresh_with_rotation() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("rotation");
    let path = dir.join("tokens.json");
    let app = client(&auth, &clock, FileCache::new(&path));
    sign_in(&app);
    let saved = read_json(&path);
    let first_rt = only_secret(&saved, "RefreshToken");
    let first_at = only_secret(&saved, "AccessToken");

    // A hit: the cached token, no request.
    let requests = auth.stats().requests.len();
    let token = app.acquire_token_silent(&["user.read"], None).unwrap();
    assert_eq!(token.access_token().secret(), first_at);
    assert_eq!(
        token.account().unwrap().username(),
        "device.user@contoso.example"
    );
    assert_eq!(auth.stats().requests.len(), requests);

    // 4 minutes 59 seconds before expiry is too late: refresh.
    clock.advance(Duration::from_secs(3599 - 299));
    let token = app.acquire_token_silent(&["User.Read"], None).unwrap();
    assert_ne!(token.access_token().secret(), first_at);
    assert_eq!(refreshes(&auth), 1);
    let refresh = auth.stats().requests.last().cloned().unwrap();
    assert_eq!(refresh.param("refresh_token"), Some(first_rt.as_str()));
    assert_eq!(refresh.param("client_info"), Some("1"));
    assert_eq!(
        refresh.param("scope"),
        Some("User.Read offline_access openid profile")
    );
    let saved = read_json(&path);
    let second_rt = only_secret(&saved, "RefreshToken");
    assert_ne!(
        second_rt, first_rt,
        "the rotated refresh token replaced the old one"
    );
    assert_eq!(
        only_secret(&saved, "AccessToken"),
        token.access_token().secret()
    );

    // force_refresh redeems even with a good token cached, with the new RT.
    let forced = app
        .acquire_token_silent_with(
            &["User.Read"],
            None,
            &SilentOptions::default().force_refresh(true),
        )
        .unwrap();
    assert_ne!(
        forced.access_token().secret(),
        token.access_token().secret()
    );
    let refresh = auth.stats().requests.last().cloned().unwrap();
    assert_eq!(refresh.param("refresh_token"), Some(second_rt.as_str()));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_transport_failure_keeps_the_refresh_token_and_is_retryable() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("transport");
    let path = dir.join("tokens.json");
    let app = client(&auth, &clock, FileCache::new(&path));
    sign_in(&app);
    clock.advance(Duration::from_secs(3600));
    let before = std::fs::read(&path).unwrap();
    for fault in [
        Fault::Status {
            status: 503,
            retry_after: Some("30".into()),
            body: "busy".into(),
        },
        Fault::Close,
    ] {
        auth.inject(Endpoint::Token, fault);
        let err = app.acquire_token_silent(&["User.Read"], None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Transport, "{err}");
        assert!(err.is_retryable());
        assert!(!err.is_interaction_required());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the file is untouched"
        );
    }
    // The kept refresh token still works once the server is back.
    app.acquire_token_silent(&["User.Read"], None).unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_refused_refresh_token_means_interaction_required_and_is_kept() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("revoked");
    let path = dir.join("tokens.json");
    let app = client(&auth, &clock, FileCache::new(&path));
    sign_in(&app);
    clock.advance(Duration::from_secs(3600));
    auth.revoke_refresh_tokens();
    let rt = only_secret(&read_json(&path), "RefreshToken");
    let err = app.acquire_token_silent(&["User.Read"], None).unwrap_err();
    assert!(err.is_interaction_required(), "{err:?}");
    assert_eq!(err.service_error().unwrap().error, "invalid_grant");
    assert!(err.to_string().contains("sign in again"), "{err}");
    // Kept, as MSAL does; a new sign-in replaces it.
    assert_eq!(only_secret(&read_json(&path), "RefreshToken"), rt);
    sign_in(&app);
    assert_ne!(only_secret(&read_json(&path), "RefreshToken"), rt);
    app.acquire_token_silent(&["User.Read"], None).unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn nothing_cached_is_interaction_required() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let app = client(&auth, &clock, devicecode::MemoryCache::new());
    let err = app.acquire_token_silent(&["User.Read"], None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InteractionRequired);
    assert!(app.accounts().unwrap().is_empty());
    assert!(auth.stats().requests.is_empty());
}

#[test]
fn accounts_are_listed_picked_and_removed_without_touching_other_apps() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("accounts");
    let path = dir.join("tokens.json");
    let app = client(&auth, &clock, FileCache::new(&path));
    sign_in(&app);
    // Another application's tokens in the same file, written by it.
    let other = PublicClient::builder("99999999-8888-7777-6666-555555555555")
        .authority(Authority::entra_at(&auth.base_url(), "organizations").unwrap())
        .only_root_certificates_pem(auth.ca_pem())
        .clock(clock.clone())
        .display(Seen::default().display())
        .token_cache(FileCache::new(&path))
        .no_proxy()
        .build()
        .unwrap();
    sign_in(&other);

    let accounts = app.accounts().unwrap();
    assert_eq!(accounts.len(), 1);
    let account = &accounts[0];
    assert_eq!(account.username(), "device.user@contoso.example");
    assert!(account.home_account_id().contains('.'), "uid.utid");
    assert!(account.tenant_id().is_some());
    let token = app
        .acquire_token_silent(&["User.Read"], Some(account))
        .unwrap();
    assert_eq!(
        token.account().unwrap().home_account_id(),
        account.home_account_id()
    );
    assert_eq!(FileCache::new(&path).accounts().unwrap().len(), 1);

    assert!(app.remove_account(account).unwrap());
    assert!(app.accounts().unwrap().is_empty());
    assert!(
        app.acquire_token_silent(&["User.Read"], None)
            .unwrap_err()
            .is_interaction_required()
    );
    // The other application is still signed in, account entry and all.
    assert_eq!(other.accounts().unwrap().len(), 1);
    other.acquire_token_silent(&["User.Read"], None).unwrap();
    let doc = read_json(&path);
    assert_eq!(doc["Account"].as_object().unwrap().len(), 1);
    assert!(
        !app.remove_account(account).unwrap(),
        "nothing left to remove"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unknown_sections_and_fields_survive_a_rewrite() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("unknown");
    let path = dir.join("tokens.json");
    let app = client(&auth, &clock, FileCache::new(&path));
    sign_in(&app);
    let mut doc = read_json(&path);
    doc["FutureSection"] = serde_json::json!({"k": {"x": "y"}});
    for entry in doc["Account"].as_object_mut().unwrap().values_mut() {
        entry["future_field"] = Value::from("kept");
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    clock.advance(Duration::from_secs(3600));
    app.acquire_token_silent(&["User.Read"], None).unwrap();
    let after = read_json(&path);
    assert_eq!(after["FutureSection"], doc["FutureSection"]);
    let account = after["Account"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(account["future_field"], "kept");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_corrupt_file_is_kept_aside_and_reported_or_replaced_on_request() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    for (name, contents) in [
        ("empty", &b""[..]),
        ("truncated", b"{\"AccessToken\": {"),
        ("garbage", b"\x00\xffnot json"),
    ] {
        let dir = scratch(name);
        let path = dir.join("tokens.json");
        std::fs::write(&path, contents).unwrap();
        let app = client(&auth, &clock, FileCache::new(&path));
        let err = app.acquire_token_silent(&["User.Read"], None).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cache, "{name}: {err}");
        let kept = kept_aside(&dir);
        assert_eq!(kept.len(), 1, "{name}");
        assert_eq!(
            std::fs::read(&kept[0]).unwrap(),
            contents,
            "{name}: bytes kept"
        );
        assert!(err.to_string().contains(kept[0].to_str().unwrap()), "{err}");
        assert!(!path.exists(), "{name}: nothing written in its place");

        // Opting in to a fresh start: set aside again, then carry on.
        std::fs::write(&path, contents).unwrap();
        let app = client(
            &auth,
            &clock,
            FileCache::new(&path).start_fresh_when_unreadable(),
        );
        assert!(
            app.acquire_token_silent(&["User.Read"], None)
                .unwrap_err()
                .is_interaction_required()
        );
        sign_in(&app);
        assert!(read_json(&path)["RefreshToken"].is_object());
        assert_eq!(kept_aside(&dir).len(), 2, "{name}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn kept_aside(dir: &Path) -> Vec<PathBuf> {
    let mut kept: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_str().unwrap().contains("tokens.json.corrupt-"))
        .collect();
    kept.sort();
    kept
}

#[test]
fn a_missing_directory_is_created_private() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("missing");
    let path = dir.join("a/b/tokens.json");
    let app = client(&auth, &clock, FileCache::new(&path));
    sign_in(&app);
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&dir.join("a/b")), 0o700);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn an_unwritable_place_is_a_cache_error() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("unwritable");
    // The "directory" is a file: no cache can be made there.
    std::fs::write(dir.join("file"), b"").unwrap();
    let app = client(&auth, &clock, FileCache::new(dir.join("file/tokens.json")));
    let err = app
        .sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cache, "{err}");
    assert!(err.to_string().contains("file/tokens.json"), "{err}");

    // Directory permissions (root ignores them, so only as another user).
    if !is_root() {
        let locked = dir.join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o500)).unwrap();
        let app = client(&auth, &clock, FileCache::new(locked.join("tokens.json")));
        let err = app
            .sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cache, "{err}");
        assert!(err.to_string().contains("permission"), "{err}");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn is_root() -> bool {
    std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false)
}

#[test]
fn a_held_lock_times_out_and_a_dead_ones_lock_is_cleared() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("lock");
    let path = dir.join("tokens.json");
    let lockfile = dir.join("tokens.json.lockfile");

    // A live holder (this process, through another open file with its flock).
    let holder = std::fs::File::create(&lockfile).unwrap();
    holder.lock().unwrap();
    let app = client(
        &auth,
        &clock,
        FileCache::new(&path).lock_timeout(Duration::from_millis(300)),
    );
    let started = std::time::Instant::now();
    // The device code is spent when the lock times out: the sign-in is not
    // lost, the token comes back with the cache failure on it.
    let token = app
        .sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
        .unwrap();
    let err = token.cache_error().expect("the save failed");
    assert_eq!(err.kind(), ErrorKind::Cache, "{err}");
    assert!(err.to_string().contains("lock"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // A silent call while the lock is still held is served from memory.
    let again = app.acquire_token_silent(&["User.Read"], None).unwrap();
    assert_eq!(again.access_token().secret(), token.access_token().secret());
    assert!(!path.exists(), "nothing could be written yet");
    std::fs::remove_file(&lockfile).unwrap();
    drop(holder);
    // Once the lock is free, the next call saves what was kept in memory.
    assert_eq!(app.accounts().unwrap().len(), 1);
    assert!(path.exists(), "saved at the next call that could");

    // A lock file left by a process that is gone (msal-extensions' format).
    std::fs::write(&lockfile, "2147480000 python").unwrap();
    sign_in(&app);
    assert!(!lockfile.exists(), "removed when done");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_clock_before_the_release_is_reported_not_trusted() {
    let clock = ManualClock::starting_at(SystemTime::UNIX_EPOCH + Duration::from_secs(86_400));
    let auth = authority(&clock);
    let app = client(&auth, &clock, devicecode::MemoryCache::new());
    let err = app.acquire_token_silent(&["User.Read"], None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Clock);
    assert!(err.to_string().contains("1970-01-02"), "{err}");
    assert!(err.to_string().contains("time-sync"), "{err}");
}

/// A user's own store: a shared buffer with a lock that counts its use.
#[derive(Clone, Default)]
struct CountingStore {
    bytes: Arc<Mutex<Option<Vec<u8>>>>,
    locks: Arc<Mutex<usize>>,
}

impl TokenStore for CountingStore {
    fn load(&self) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self.bytes.lock().unwrap().clone())
    }
    fn save(&self, contents: &[u8]) -> std::io::Result<()> {
        *self.bytes.lock().unwrap() = Some(contents.to_vec());
        Ok(())
    }
    fn lock(&self) -> std::io::Result<StoreLock> {
        *self.locks.lock().unwrap() += 1;
        Ok(StoreLock::new(()))
    }
}

#[test]
fn a_custom_store_holds_the_msal_document() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let store = CountingStore::default();
    let app = client(&auth, &clock, store.clone());
    sign_in(&app);
    let doc: Value = serde_json::from_slice(store.bytes.lock().unwrap().as_ref().unwrap()).unwrap();
    let key = doc["RefreshToken"]
        .as_object()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    let account = &app.accounts().unwrap()[0];
    assert_eq!(
        key,
        format!(
            "{}-127.0.0.1-refreshtoken-{CLIENT_ID}--user.read openid profile",
            account.home_account_id()
        )
    );
    assert_eq!(*store.locks.lock().unwrap(), 1, "the save took the lock");
    clock.advance(Duration::from_secs(3600));
    app.acquire_token_silent(&["User.Read"], None).unwrap();
    assert_eq!(*store.locks.lock().unwrap(), 2, "the refresh took the lock");
}

#[test]
fn a_planted_symlink_is_never_followed() {
    let dir = scratch("symlink");
    let path = dir.join("tokens.json");
    let victim = dir.join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    // Temporary names are `<file>.<pid>.<n>.tmp`: plant links at the next ones.
    for n in 0..500 {
        let name = format!("tokens.json.{}.{n}.tmp", std::process::id());
        std::os::unix::fs::symlink(&victim, dir.join(name)).unwrap();
    }
    let store = FileCache::new(&path);
    // Whether the save goes around the links or gives up, nothing is
    // written through them.
    let _ = store.save(b"{}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    if let Ok(meta) = std::fs::symlink_metadata(&path) {
        assert!(meta.file_type().is_file(), "the cache is a plain file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_server_without_id_tokens_still_gets_silent_calls() {
    // A generic RFC 8628 server: no id_token (no `openid` asked), so no
    // account; the tokens are still cached and refreshed for "the" user.
    let clock = ManualClock::new();
    let auth = TestAuthority::builder()
        .flavor(devicecode_test_authority::Flavor::Generic)
        .clock(Arc::new(clock.clone()))
        .approval(Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let authority = Authority::endpoints(
        &auth.device_authorization_endpoint(),
        &auth.token_endpoint(),
    )
    .unwrap();
    let app = builder(&auth, authority, &clock, &Seen::default())
        .build()
        .unwrap();
    let signed_in = app
        .sign_in_with_device_code(&["repo"], &CancelHandle::new())
        .unwrap();
    assert!(signed_in.account().is_none());
    assert!(app.accounts().unwrap().is_empty());
    let hit = app.acquire_token_silent(&["repo"], None).unwrap();
    assert_eq!(
        hit.access_token().secret(),
        signed_in.access_token().secret()
    );
    clock.advance(Duration::from_secs(3600));
    let refreshed = app.acquire_token_silent(&["repo"], None).unwrap();
    assert_ne!(
        refreshed.access_token().secret(),
        hit.access_token().secret()
    );
    let sent = auth.stats().requests.last().cloned().unwrap();
    assert_eq!(sent.param("grant_type"), Some("refresh_token"));
    assert_eq!(
        sent.param("scope"),
        Some("repo"),
        "no OpenID scopes added for a generic server"
    );
    assert_eq!(sent.param("client_info"), None);
}

#[test]
fn a_domain_authority_stores_under_the_tenant_id() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("domain");
    let path = dir.join("tokens.json");
    let by_domain = Authority::entra_at(&auth.base_url(), "contoso.example").unwrap();
    let app = builder(&auth, by_domain, &clock, &Seen::default())
        .token_cache(FileCache::new(&path))
        .build()
        .unwrap();
    sign_in(&app);
    let tid = app.accounts().unwrap()[0].tenant_id().unwrap().to_string();
    let doc = read_json(&path);
    let at = doc["AccessToken"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(
        at["realm"],
        tid.as_str(),
        "MSAL's realm: the tenant id, not the domain"
    );
    let requests = auth.stats().requests.len();
    app.acquire_token_silent(&["User.Read"], None).unwrap();
    // The same tenant named by its id finds the same token.
    let by_id = Authority::entra_at(&auth.base_url(), &tid).unwrap();
    let same = builder(&auth, by_id, &clock, &Seen::default())
        .token_cache(FileCache::new(&path))
        .build()
        .unwrap();
    same.acquire_token_silent(&["User.Read"], None).unwrap();
    assert_eq!(
        auth.stats().requests.len(),
        requests,
        "both were cache hits"
    );
    let _ = std::fs::remove_dir_all(dir);
}
