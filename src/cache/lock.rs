//! The lock file beside the cache, compatible with MSAL's msal-extensions.
//!
//! msal-extensions takes its lock by creating `<cache>.lockfile` exclusively
//! (writing `<pid> <program>`) and deleting it when done; with portalocker it
//! also holds an `flock` on it. Doing both excludes either variant. A file left
//! by a crash is recognised as stale (nobody holds its `flock`, and its owner
//! is gone or it is old) and removed, so no crash blocks anyone for good.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

/// msal-extensions holds its lock for milliseconds; we hold ours at most for a
/// refresh, which our HTTP timeouts bound. A lock file older than this that
/// nobody holds an `flock` on is abandoned.
const STALE_AFTER: Duration = Duration::from_secs(60);
/// A lock file without an owner's pid is being written by its creator for
/// microseconds; one that stays empty this long lost its creator to a crash.
const EMPTY_STALE_AFTER: Duration = Duration::from_secs(2);
const RETRY_EVERY: Duration = Duration::from_millis(20);

/// An acquired lock: the file exists, is ours, and we hold its `flock`.
#[derive(Debug)]
pub(crate) struct LockFile {
    path: PathBuf,
    file: File,
}

impl LockFile {
    /// Takes the lock, waiting at most `timeout`.
    pub fn acquire(path: PathBuf, timeout: Duration) -> io::Result<LockFile> {
        // No deadline at all when the timeout is beyond what a clock holds.
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(file) = Self::try_create(&path)? {
                return Ok(LockFile { path, file });
            }
            let Some(holder) = clear_if_stale(&path)? else {
                // It was stale, or released meanwhile: try again at once.
                continue;
            };
            if deadline.is_some_and(|d| Instant::now() >= d) {
                let who = if holder.trim().is_empty() {
                    String::new()
                } else {
                    format!(" (held by process {})", holder.trim())
                };
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the lock {} was not released within {:.1} s{who}",
                        path.display(),
                        timeout.as_secs_f64()
                    ),
                ));
            }
            std::thread::sleep(RETRY_EVERY);
        }
    }

    /// Creates the lock file exclusively and takes its `flock`; `None` when
    /// someone else has it.
    fn try_create(path: &PathBuf) -> io::Result<Option<File>> {
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = match options.open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
            Err(e) => return Err(e),
        };
        // Only a stale-lock check of another process can hold the flock of
        // a file we just made, and only for an instant: wait for it.
        file.lock()?;
        // msal-extensions' format: "<pid> <program>".
        let _ = write!(file, "{} devicecode", std::process::id());
        Ok(Some(file))
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        // Delete while still holding the flock, and only if the path is still
        // our file; a waiter that opened it sees it vanish and starts over.
        if same_file(&self.path, &self.file) {
            let _ = fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
    }
}

/// Looks at an existing lock file. Returns `Ok(None)` when it was stale and
/// has been removed (or vanished), else who holds it.
fn clear_if_stale(path: &PathBuf) -> io::Result<Option<String>> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut holder = String::new();
    let _ = (&file).take(256).read_to_string(&mut holder);
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(Some(holder)),
        Err(TryLockError::Error(e)) => return Err(e),
    }
    // Nobody holds the flock: either an msal-extensions process without
    // portalocker is at work (briefly), or the holder died.
    let age = file
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .unwrap_or_default();
    let owner = holder
        .split_whitespace()
        .next()
        .and_then(|pid| pid.parse::<u32>().ok());
    let stale = match owner {
        Some(pid) => !process_alive(pid) || age > STALE_AFTER,
        None => age > EMPTY_STALE_AFTER,
    };
    if stale && same_file(path, &file) {
        log::warn!(
            "removing the stale lock {} left by process {}",
            path.display(),
            holder.trim()
        );
        fs::remove_file(path)?;
        return Ok(None);
    }
    let _ = file.unlock();
    Ok(Some(holder))
}

/// Whether `path` still names the file open as `file`.
fn same_file(path: &PathBuf, file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (fs::metadata(path), file.metadata()) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (path, file);
        true
    }
}

/// Whether a process with this id exists (Linux: `/proc/<pid>`). Where that
/// cannot be told, every process counts as alive and only age makes stale.
pub(crate) fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        pid == std::process::id() || PathBuf::from(format!("/proc/{pid}")).exists()
    } else {
        true
    }
}
