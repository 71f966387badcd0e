//! The lock file beside the token file, as other processes leave it: stale
//! locks are recognised at once without the wall clock (an earlier boot, our
//! own pid, a reused pid, a clock behind the file), live holders are waited
//! for, and what a lock file says reaches logs and errors only made safe.
//!
//! Processes are real: `sleep` stands for a live process whose pid a lock
//! names, and this test binary, run again as a child, holds a lock through
//! the public API.
#![cfg(target_os = "linux")]

mod common;

use devicecode::{FileCache, TokenStore};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, ErrorKind};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, Once};
use std::thread::ThreadId;
use std::time::{Duration, SystemTime};

/// Long enough for any judged-stale lock to be taken on a loaded machine,
/// far below the 60 s age fallback, so success proves a check other than age.
const ENOUGH: Duration = Duration::from_secs(3);
/// What a waiter gives a lock that must be waited for.
const SHORT: Duration = Duration::from_millis(300);
const OTHER_BOOT: &str = "00000000-1111-2222-3333-444444444444";
/// Set in the child that holds the lock: the token file's path.
const HOLDER: &str = "DEVICECODE_LOCK_HOLDER";
/// What the child prints once it holds the lock.
const LOCKED: &str = "holding the lock";

/// A fresh directory for one test; returns the token file's path in it.
fn token_file(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("devicecode-lock-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir.join("tokens.json")
}

fn lock_path(token_file: &Path) -> PathBuf {
    let mut name = token_file.as_os_str().to_owned();
    name.push(".lockfile");
    PathBuf::from(name)
}

fn boot_id() -> String {
    fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap()
        .trim()
        .to_string()
}

/// Field 22 of `/proc/<pid>/stat`, counted after the command name.
fn start_time(pid: u32) -> u64 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, fields) = stat.rsplit_once(')').unwrap();
    fields.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// A live process that is not us; killed when dropped.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(Command::new("sleep").arg("30").spawn().unwrap())
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The pid of a process that has ended (and been reaped).
fn dead_pid() -> u32 {
    let mut child = Command::new("true").spawn().unwrap();
    child.wait().unwrap();
    child.id()
}

/// Our stamp, as another devicecode process would write it.
fn stamp(pid: u32, boot: &str, start: u64) -> String {
    format!("{pid} devicecode boot={boot} start={start}")
}

/// Leaves a lock file nobody holds, as a crashed process would.
fn leave_lock(token_file: &Path, contents: &str) -> PathBuf {
    let path = lock_path(token_file);
    fs::write(&path, contents).unwrap();
    path
}

/// Takes the lock; asserts the file it leaves while held is our own stamp.
fn take(token_file: &Path, timeout: Duration) -> std::io::Result<devicecode::StoreLock> {
    let store = FileCache::new(token_file).lock_timeout(timeout);
    let lock = store.lock()?;
    let written = fs::read_to_string(lock_path(token_file)).unwrap();
    let ours = format!("{} devicecode boot={}", std::process::id(), boot_id());
    assert!(written.starts_with(&ours), "lock file says {written:?}");
    Ok(lock)
}

/// Asserts the lock is waited for: `SHORT` passes and the file is untouched.
fn assert_waited_for(token_file: &Path, contents: &str) {
    let err = FileCache::new(token_file)
        .lock_timeout(SHORT)
        .lock()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert_eq!(fs::read_to_string(lock_path(token_file)).unwrap(), contents);
}

static RECORDS: Mutex<Vec<(ThreadId, String)>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}", record.level(), record.args());
        let thread = std::thread::current().id();
        RECORDS.lock().unwrap().push((thread, line));
    }
    fn flush(&self) {}
}

static LOGGER: Capture = Capture;

/// Starts capturing log records (tests run on threads of their own, so each
/// reads back only its own records).
fn capture_logs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        log::set_logger(&LOGGER).unwrap();
        log::set_max_level(log::LevelFilter::Trace);
    });
}

fn my_logs() -> Vec<String> {
    let me = std::thread::current().id();
    RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|(thread, _)| *thread == me)
        .map(|(_, line)| line.clone())
        .collect()
}

fn printable_ascii(text: &str) -> bool {
    text.chars().all(|c| c == ' ' || c.is_ascii_graphic())
}

#[test]
fn lock_from_an_earlier_boot_is_stale_at_once() {
    let tokens = token_file("earlier-boot");
    // The pid and its start time match a live process again, as after a
    // power cut; only the boot id tells the lock is from before it.
    let sleeper = Sleeper::start();
    let start = start_time(sleeper.pid());
    leave_lock(&tokens, &stamp(sleeper.pid(), OTHER_BOOT, start));
    take(&tokens, ENOUGH).unwrap();
}

#[test]
fn lock_naming_our_own_pid_not_held_is_stale_at_once() {
    let tokens = token_file("own-pid");
    let me = std::process::id();
    // Ours, from this boot, and even with our own start time (the daemon
    // restarted as the same pid); and MSAL's format.
    for contents in [
        stamp(me, &boot_id(), start_time(me)),
        format!("{me} devicecode"),
        format!("{me} /usr/bin/python3"),
    ] {
        leave_lock(&tokens, &contents);
        drop(take(&tokens, ENOUGH).unwrap());
    }
}

#[test]
fn lock_naming_a_reused_pid_is_stale_at_once() {
    let tokens = token_file("reused-pid");
    let sleeper = Sleeper::start();
    let start = start_time(sleeper.pid());
    // The recorded start time matches: the process that wrote it lives, and
    // is waited for (it holds no flock: a filesystem without flock support).
    let alive = leave_lock(&tokens, &stamp(sleeper.pid(), &boot_id(), start));
    assert_waited_for(&tokens, &fs::read_to_string(&alive).unwrap());
    // Another start time: the pid now belongs to another process.
    leave_lock(&tokens, &stamp(sleeper.pid(), &boot_id(), start + 1));
    take(&tokens, ENOUGH).unwrap();
}

#[test]
fn lock_with_a_future_modification_time_is_judged_by_the_other_checks() {
    let tokens = token_file("future-mtime");
    let sleeper = Sleeper::start();
    let (pid, start, boot, me) = (
        sleeper.pid(),
        start_time(sleeper.pid()),
        boot_id(),
        std::process::id(),
    );
    // The clock is a day behind the lock file (no RTC, before NTP).
    let future = SystemTime::now() + Duration::from_secs(86_400);
    for contents in [
        stamp(pid, OTHER_BOOT, start),
        stamp(me, &boot, start_time(me)),
        stamp(pid, &boot, start + 1),
        stamp(dead_pid(), &boot, start),
    ] {
        let path = leave_lock(&tokens, &contents);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(future)
            .unwrap();
        drop(take(&tokens, ENOUGH).unwrap());
    }
    // Nor does it make a live msal-extensions lock look old.
    let msal = format!("{pid} /usr/bin/python3");
    let path = leave_lock(&tokens, &msal);
    File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(future)
        .unwrap();
    assert_waited_for(&tokens, &msal);
}

#[test]
fn live_holder_is_waited_for_then_its_crash_is_not() {
    if let Some(path) = std::env::var_os(HOLDER) {
        hold(Path::new(&path));
    }
    let tokens = token_file("live-holder");
    let exe = std::env::current_exe().unwrap();
    let mut holder = common::command(exe)
        .args([
            "--exact",
            "live_holder_is_waited_for_then_its_crash_is_not",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HOLDER, &tokens)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    assert!(
        lines.any(|line| line.unwrap().ends_with(LOCKED)),
        "the child never took the lock"
    );
    // It holds the flock: waited for, and named in the error.
    let err = FileCache::new(&tokens)
        .lock_timeout(SHORT)
        .lock()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(err.to_string().contains(&holder.id().to_string()), "{err}");
    // Killed, it leaves its lock file behind; its pid has ended.
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert!(lock_path(&tokens).exists());
    take(&tokens, ENOUGH).unwrap();
}

/// The child: takes the lock through the public API and keeps it.
fn hold(token_file: &Path) -> ! {
    let _lock = FileCache::new(token_file).lock().unwrap();
    // After libtest's "test <name> ... ", on the same line.
    println!("{LOCKED}");
    std::thread::sleep(Duration::from_secs(30));
    std::process::exit(0)
}

#[test]
fn msal_locks_are_waited_for_while_their_holder_lives() {
    let tokens = token_file("msal");
    // msal-extensions without portalocker: no flock, a live pid, young.
    let sleeper = Sleeper::start();
    let msal = format!("{} /usr/bin/python3", sleeper.pid());
    leave_lock(&tokens, &msal);
    assert_waited_for(&tokens, &msal);
    // With portalocker: the flock is held, whatever the file says.
    let gone = format!("{} /usr/bin/python3", dead_pid());
    let path = leave_lock(&tokens, &gone);
    let portalocker = File::open(&path).unwrap();
    portalocker.lock().unwrap();
    assert_waited_for(&tokens, &gone);
    drop(portalocker);
    take(&tokens, ENOUGH).unwrap();
}

#[test]
fn symlink_lockfile_is_never_read_through_nor_logged() {
    capture_logs();
    let tokens = token_file("symlink");
    let target = tokens.with_file_name("target");
    let evil = "1 \u{1b}]0;pwned\u{7}\u{1b}[2J EVIL";
    fs::write(&target, evil).unwrap();
    std::os::unix::fs::symlink(&target, lock_path(&tokens)).unwrap();
    take(&tokens, ENOUGH).unwrap();
    // The link went, its target stays as it was.
    assert_eq!(fs::read_to_string(&target).unwrap(), evil);
    let logs = my_logs();
    assert!(logs.iter().any(|l| l.contains("symbolic link")), "{logs:?}");
    for line in &logs {
        assert!(
            !line.contains("EVIL") && !line.contains("pwned"),
            "{line:?}"
        );
        assert!(!line.contains('\u{1b}'), "{line:?}");
    }
}

#[test]
fn lock_contents_reach_logs_and_errors_only_sanitised() {
    capture_logs();
    let tokens = token_file("sanitised");
    let escapes = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{9b}31m\u{202e}EVIL\u{7}";
    // A dead owner's lock is removed with a warning quoting it.
    leave_lock(&tokens, &format!("{} {escapes}", dead_pid()));
    take(&tokens, ENOUGH).unwrap();
    let logs = my_logs();
    let warning = logs.iter().find(|l| l.contains("stale lock")).unwrap();
    assert!(printable_ascii(warning), "{warning:?}");
    assert!(!warning.contains("pwned"), "{warning:?}");
    // A live owner's lock is quoted in the timeout error.
    let sleeper = Sleeper::start();
    let long = "x".repeat(10_000);
    leave_lock(&tokens, &format!("{} {escapes}{long}", sleeper.pid()));
    let err = FileCache::new(&tokens)
        .lock_timeout(SHORT)
        .lock()
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&sleeper.pid().to_string()), "{message}");
    assert!(printable_ascii(&message), "{message:?}");
    assert!(!message.contains("pwned"), "{message}");
    assert!(message.len() < 400, "{} bytes", message.len());
}

#[test]
fn huge_lock_timeout_does_not_panic() {
    let tokens = token_file("huge-timeout");
    for timeout in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
        drop(take(&tokens, timeout).unwrap());
        // And while a stale lock is cleared first.
        leave_lock(&tokens, &format!("{} devicecode", dead_pid()));
        drop(take(&tokens, timeout).unwrap());
    }
}
