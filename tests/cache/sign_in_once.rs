//! A board signs in once: a full disk, a bad path, a slow lock holder or a
//! misbehaving server never costs the sign-in (issue "a board signs in
//! once"). Against an authority that rotates refresh tokens and revokes the
//! grant when an old one is replayed, so a refresh token that was spent but
//! not kept would show up as `invalid_grant`.
//!
//! A full disk is a real one where the tests run as root (CI does): a small
//! tmpfs. Elsewhere a store wrapping `FileCache` fails with ENOSPC where the
//! disk would.

use super::{authority, client, is_root, read_json, refreshes, scratch, sign_in};
use crate::common::{Seen, builder};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use devicecode::{
    Authority, CancelHandle, ErrorKind, FileCache, ManualClock, SilentOptions, StoreLock,
    TokenStore,
};
use devicecode_test_authority::{Endpoint, Fault, TestAuthority};
use serde_json::{Value, json};
use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A small tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str, read_only: bool) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let mut options = format!("size={size},mode=0700");
        if read_only {
            options.push_str(",ro");
        }
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount a tmpfs at {}", dir.display());
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Fills the file system of `dir` to the last byte.
fn fill_disk(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = [0xA5u8; 4096];
    loop {
        match file.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
    // Fill to the byte: what a page did not take, a byte may.
    while file.write(&[0]).is_ok_and(|n| n == 1) {}
    let _ = file.sync_all();
    path
}

/// A `FileCache` with seams where a disk could fail.
struct Seam {
    inner: FileCache,
    /// `prepare_save` fails with ENOSPC (no tmpfs: the disk is "full").
    full_before: AtomicBool,
    /// `save` fails with ENOSPC (the disk filled after the answer).
    full_after: AtomicBool,
    /// Right after a successful `prepare_save`, fill this file system.
    fill_after_prepare: Option<PathBuf>,
}

impl Seam {
    fn new(path: &Path) -> Seam {
        Seam {
            inner: FileCache::new(path),
            full_before: AtomicBool::new(false),
            full_after: AtomicBool::new(false),
            fill_after_prepare: None,
        }
    }
}

fn enospc() -> io::Error {
    io::Error::from_raw_os_error(28)
}

impl TokenStore for Seam {
    fn load(&self) -> io::Result<Option<Vec<u8>>> {
        self.inner.load()
    }
    fn save(&self, contents: &[u8]) -> io::Result<()> {
        if self.full_after.load(Ordering::SeqCst) {
            return Err(enospc());
        }
        self.inner.save(contents)
    }
    fn lock(&self) -> io::Result<StoreLock> {
        self.inner.lock()
    }
    fn lock_waiting(&self, patience: Duration) -> io::Result<StoreLock> {
        self.inner.lock_waiting(patience)
    }
    fn prepare_save(&self, size: u64) -> io::Result<()> {
        if self.full_before.load(Ordering::SeqCst) {
            return Err(enospc());
        }
        self.inner.prepare_save(size)?;
        if let Some(dir) = &self.fill_after_prepare {
            fill_disk(dir);
        }
        Ok(())
    }
    fn revision(&self) -> io::Result<Option<u64>> {
        self.inner.revision()
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

fn refresh_secret(path: &Path) -> String {
    let doc = read_json(path);
    let entries = doc["RefreshToken"].as_object().unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.values().next().unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_string()
}

fn force() -> SilentOptions {
    SilentOptions::default().force_refresh(true)
}

/// No refresh token was presented twice (a replay, which the authority
/// punishes by revoking the grant).
fn assert_no_replay(auth: &TestAuthority) {
    let seen = auth.stats();
    let presented: Vec<&str> = seen
        .requests
        .iter()
        .filter_map(|r| r.param("refresh_token"))
        .collect();
    let mut distinct = presented.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        presented.len(),
        "a refresh token was replayed"
    );
}

#[test]
fn full_disk_before_a_refresh_spends_nothing() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("full-before");
    let (_mount, path) = if is_root() {
        let mnt = dir.join("mnt");
        (
            Some(Tmpfs::mount(&mnt, "256k", false)),
            mnt.join("tokens.json"),
        )
    } else {
        (None, dir.join("tokens.json"))
    };
    let seam = Arc::new(Seam::new(&path));
    let app = client(&auth, &clock, Arc::clone(&seam));
    sign_in(&app);
    let before = refresh_secret(&path);

    let filler = if is_root() {
        Some(fill_disk(path.parent().unwrap()))
    } else {
        seam.full_before.store(true, Ordering::SeqCst);
        None
    };
    let err = app
        .acquire_token_silent_with(&["User.Read"], None, &force())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cache, "{err}");
    assert!(err.to_string().contains("free some disk space"), "{err}");
    assert_eq!(refreshes(&auth), 0, "the refresh token was not sent");
    assert_eq!(refresh_secret(&path), before, "the file is untouched");

    // Room again: the same refresh token still works (it was never spent).
    match filler {
        Some(filler) => std::fs::remove_file(filler).unwrap(),
        None => seam.full_before.store(false, Ordering::SeqCst),
    }
    let token = app
        .acquire_token_silent_with(&["User.Read"], None, &force())
        .unwrap();
    assert!(token.cache_error().is_none());
    assert_eq!(refreshes(&auth), 1);
    assert_no_replay(&auth);
    assert_ne!(refresh_secret(&path), before, "the rotated token is saved");
    drop(app);
    drop(_mount);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_disk_that_fills_during_a_refresh_still_gets_the_new_tokens() {
    // The disk fills up between the reservation and the server's answer:
    // the answer goes into the room reserved before the request.
    if !is_root() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root to mount a small tmpfs for this test"
        );
        eprintln!("not root: no tmpfs to fill; the ENOSPC seam tests cover the rest");
        return;
    }
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("full-during");
    let mnt = dir.join("mnt");
    let mount = Tmpfs::mount(&mnt, "256k", false);
    let path = mnt.join("tokens.json");
    let mut seam = Seam::new(&path);
    seam.fill_after_prepare = Some(mnt.clone());
    let seam = Arc::new(seam);
    let app = client(&auth, &clock, Arc::clone(&seam));
    sign_in(&app);
    let before = refresh_secret(&path);
    std::fs::remove_file(mnt.join("filler")).unwrap();

    let token = app
        .acquire_token_silent_with(&["User.Read"], None, &force())
        .unwrap();
    assert!(
        token.cache_error().is_none(),
        "saved into the reserved room: {:?}",
        token.cache_error()
    );
    let after = refresh_secret(&path);
    assert_ne!(after, before);
    assert_eq!(after, token.refresh_token().unwrap().secret());
    drop(app);
    drop(mount);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_save_that_fails_after_the_answer_keeps_the_tokens_in_memory() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("full-after");
    let path = dir.join("tokens.json");
    let seam = Arc::new(Seam::new(&path));
    let app = client(&auth, &clock, Arc::clone(&seam));
    sign_in(&app);
    let before = refresh_secret(&path);

    seam.full_after.store(true, Ordering::SeqCst);
    let token = app
        .acquire_token_silent_with(&["User.Read"], None, &force())
        .unwrap();
    let err = token.cache_error().expect("the save failed");
    assert_eq!(err.kind(), ErrorKind::Cache, "{err}");
    assert_eq!(refresh_secret(&path), before, "the file could not change");
    // Served from memory meanwhile: no request, the same token.
    let again = app.acquire_token_silent(&["User.Read"], None).unwrap();
    assert_eq!(again.access_token().secret(), token.access_token().secret());
    assert_eq!(refreshes(&auth), 1);

    // The disk has room again: the next call saves the rotated token...
    seam.full_after.store(false, Ordering::SeqCst);
    assert_eq!(app.accounts().unwrap().len(), 1);
    assert_eq!(
        refresh_secret(&path),
        token.refresh_token().unwrap().secret(),
        "saved at the next call that could"
    );
    // ...and it works: the grant was never lost.
    app.acquire_token_silent_with(&["User.Read"], None, &force())
        .unwrap();
    assert_no_replay(&auth);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn login_checks_the_cache_before_showing_a_code() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("preflight");
    let fifo = dir.join("fifo.json");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let mut bad = vec![
        ("a directory", dir.clone()),
        ("a FIFO", fifo),
        ("an empty path", PathBuf::new()),
        ("a path under a file", dir.join("file/tokens.json")),
    ];
    std::fs::write(dir.join("file"), b"not a directory").unwrap();
    let _read_only = if is_root() {
        let ro = dir.join("ro");
        let mount = Tmpfs::mount(&ro, "64k", true);
        bad.push(("a read-only file system", ro.join("tokens.json")));
        Some(mount)
    } else {
        use std::os::unix::fs::PermissionsExt;
        let ro = dir.join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o500)).unwrap();
        bad.push(("a read-only directory", ro.join("tokens.json")));
        None
    };
    for (what, path) in bad {
        let seen = Seen::default();
        let app = builder(
            &auth,
            Authority::entra_at(&auth.base_url(), "organizations").unwrap(),
            &clock,
            &seen,
        )
        .token_cache(FileCache::new(&path))
        .build()
        .unwrap();
        let err = within_seconds(move || {
            app.sign_in_with_device_code(&["User.Read"], &CancelHandle::new())
                .map(|_| ())
        })
        .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Cache, "{what}: {err}");
        assert!(seen.events().is_empty(), "{what}: no code was shown");
    }
    assert_eq!(
        auth.stats().requests.len(),
        0,
        "no device code was asked for"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_fifo_at_the_cache_path_fails_at_once() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("fifo");
    let path = dir.join("tokens.json");
    let made = Command::new("mkfifo").arg(&path).status().unwrap();
    assert!(made.success());
    let app = client(&auth, &clock, FileCache::new(&path));
    let err = within_seconds(move || app.acquire_token_silent(&["User.Read"], None).map(|_| ()))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cache, "{err}");
    assert!(err.to_string().contains("regular file"), "{err}");
    let source = std::error::Error::source(&err).unwrap().to_string();
    assert!(source.contains("FIFO"), "{source}");
    let listing = within_seconds(move || FileCache::new(&path).accounts().map(|_| ()));
    assert_eq!(listing.unwrap_err().kind(), ErrorKind::Cache);
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs `call` on a thread; a call that hangs fails the test (in 20 s)
/// instead of hanging the suite.
fn within_seconds<T: Send + 'static>(
    call: impl FnOnce() -> Result<T, devicecode::Error> + Send + 'static,
) -> Result<T, devicecode::Error> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(call());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the call hung on the cache path")
}

#[test]
fn a_refresh_answer_for_another_user_is_refused() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("other-user");
    let path = dir.join("tokens.json");
    let app = client(&auth, &clock, FileCache::new(&path));
    sign_in(&app);
    let before = read_json(&path);
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let id_token = format!(
        "{}.{}.sig",
        b64(json!({"alg": "none", "typ": "JWT"})),
        b64(json!({
            "sub": "mallory-sub", "oid": "mallory-oid", "tid": "mallory-tenant",
            "preferred_username": "mallory@evil.example", "name": "Mallory",
            "iss": "https://login.example/v2.0", "aud": "x",
        }))
    );
    let answer = json!({
        "token_type": "Bearer", "scope": "User.Read openid profile offline_access",
        "expires_in": 3600, "ext_expires_in": 3600,
        "access_token": "mallorys-access-token", "refresh_token": "mallorys-refresh-token",
        "id_token": id_token,
        "client_info": b64(json!({"uid": "mallory-oid", "utid": "mallory-tenant"})),
    });
    auth.inject(
        Endpoint::Token,
        Fault::Status {
            status: 200,
            retry_after: None,
            body: answer.to_string(),
        },
    );
    let err = app
        .acquire_token_silent_with(&["User.Read"], None, &force())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert!(err.to_string().contains("another account"), "{err}");
    assert_eq!(read_json(&path), before, "nothing was saved");
    assert_eq!(app.accounts().unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_live_holder_within_its_limits_is_waited_for() {
    // Another process holds the lock for a refresh (here: 2 s). With the
    // default wait (one refresh within the client's HTTP limits, 145 s) the
    // caller waits and then uses what the holder saved.
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("holder");
    let path = dir.join("tokens.json");
    let app = client(&auth, &clock, FileCache::new(&path));
    sign_in(&app);
    let lockfile = dir.join("tokens.json.lockfile");
    let holder = std::fs::File::create_new(&lockfile).unwrap();
    holder.lock().unwrap();
    use std::io::Write;
    write!(&holder, "{} devicecode", std::process::id()).unwrap();
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(2));
        std::fs::remove_file(&lockfile).unwrap();
        drop(holder);
    });
    let started = std::time::Instant::now();
    let token = app
        .acquire_token_silent_with(&["User.Read"], None, &force())
        .unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "it waited");
    assert!(token.cache_error().is_none());
    release.join().unwrap();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn discovery_never_runs_under_the_lock() {
    // An issuer authority's client discovers its endpoints before it takes
    // the lock: a holder that waits to see the discovery request before it
    // lets go would otherwise deadlock until the lock wait runs out.
    let clock = ManualClock::new();
    let auth = TestAuthority::builder()
        .clock(Arc::new(clock.clone()))
        .flavor(devicecode_test_authority::Flavor::Generic)
        .approval(devicecode_test_authority::Approval::AfterPolls(1))
        .interval(Some(1))
        .start()
        .unwrap();
    let dir = scratch("discovery");
    let path = dir.join("tokens.json");
    let make = || {
        builder(
            &auth,
            Authority::issuer(&auth.issuer()).unwrap(),
            &clock,
            &Seen::default(),
        )
        .token_cache(FileCache::new(&path).lock_timeout(Duration::from_secs(10)))
        .build()
        .unwrap()
    };
    sign_in(&make());
    let fresh = make();
    let discoveries = || auth.stats().count(Endpoint::Discovery);
    let seen_before = discoveries();
    let lockfile = dir.join("tokens.json.lockfile");
    let holder = std::fs::File::create_new(&lockfile).unwrap();
    holder.lock().unwrap();
    let released = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| {
            let started = std::time::Instant::now();
            while discoveries() == seen_before {
                if started.elapsed() > Duration::from_secs(8) {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            std::fs::remove_file(&lockfile).unwrap();
            holder.unlock().unwrap();
            true
        });
        let token = fresh.acquire_token_silent_with(&["User.Read"], None, &force());
        let released = waiter.join().unwrap();
        token.unwrap();
        released
    });
    assert!(
        released,
        "discovery happened while the lock was held elsewhere"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn extreme_setter_values_do_not_panic() {
    let clock = ManualClock::new();
    let auth = authority(&clock);
    let dir = scratch("extreme");
    let app = builder(
        &auth,
        Authority::entra_at(&auth.base_url(), "organizations").unwrap(),
        &clock,
        &Seen::default(),
    )
    .connect_timeout(Duration::MAX)
    .io_timeout(Duration::MAX)
    .token_cache(FileCache::new(dir.join("tokens.json")).lock_timeout(Duration::MAX))
    .build()
    .unwrap();
    let flow = app.start_device_flow(&["User.Read"]).unwrap();
    let token = app
        .wait_for_token_with_timeout(&flow, &CancelHandle::new(), Duration::MAX)
        .unwrap();
    assert!(token.cache_error().is_none());
    app.acquire_token_silent_with(&["User.Read"], None, &force())
        .unwrap();
    let _ = std::fs::remove_dir_all(dir);
}
