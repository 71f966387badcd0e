//! The lock file beside the cache, compatible with MSAL's msal-extensions.
//!
//! msal-extensions takes its lock by creating `<cache>.lockfile` exclusively
//! (writing `<pid> <program>`) and deleting it when done; with portalocker it
//! also holds an `flock` on it. Doing both excludes either variant. Ours
//! reads `<pid> devicecode boot=<boot id> start=<start time>` on one line: the
//! pid first, as MSAL writes it (MSAL reads nothing back), then what tells a
//! dead owner from a live one without trusting the wall clock.
//!
//! A lock file is stale, and removed, when:
//! 1. it is a symbolic link: no lock protocol makes one (exclusive creation
//!    never does), so it is never read through, only removed; or
//!
//! nobody holds its `flock` and one of these holds, checked in this order:
//! 2. it is ours and records a boot id other than this boot's: it survived a
//!    restart;
//! 3. it names this process, which does not hold it (threads of one process
//!    take turns on a mutex before they take the file, and our own live locks
//!    always hold their `flock`);
//! 4. the process it names has ended (or is a zombie);
//! 5. it is ours and the process now bearing its pid started at another time
//!    than the one recorded: the pid was reused;
//! 6. nothing above decides and it is older than 60 s (2 s when it names no
//!    process, which only a creator killed before writing leaves).
//!
//! Anything else is waited for: a held `flock` (ours, portalocker's), or a
//! live msal-extensions process without portalocker whose lock is young.
//! Any other kind of file there (a directory, a FIFO) is an error that says
//! to remove it. What a lock file says is quoted in logs and errors only as printable
//! ASCII, 80 characters at most.
//!
//! Age is a fallback only, for MSAL's locks and ours from older versions. It
//! is the greater of the age by modification time and how long this process
//! has watched the unchanged file on the monotonic clock, across calls. A modification time
//! in the future (a clock set back, a board without a real-time clock before
//! NTP) counts as unknown, not as old or new, so such a lock goes stale after
//! 60 s (or 2 s) of watching, whatever the clock says, while the live
//! msal-extensions process that holds it for milliseconds is still waited for.

use std::fs::{self, File, Metadata, OpenOptions, TryLockError};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant, SystemTime};

/// msal-extensions holds its lock for milliseconds; we hold ours at most for a
/// refresh, which our HTTP timeouts bound. A lock file older than this that
/// nobody holds an `flock` on is abandoned.
const STALE_AFTER: Duration = Duration::from_secs(60);
/// A lock file without an owner's pid is being written by its creator for
/// microseconds; one that stays empty this long lost its creator to a crash.
const EMPTY_STALE_AFTER: Duration = Duration::from_secs(2);
const RETRY_EVERY: Duration = Duration::from_millis(20);
/// Our stamp is under 100 bytes; MSAL's is a pid and a program path.
const READ_AT_MOST: u64 = 256;
/// How much of a lock file's first line an error or log line may quote.
const QUOTE_AT_MOST: usize = 80;
/// The second word of our stamp, after the pid.
const PROGRAM: &str = "devicecode";

/// An acquired lock: the file exists, is ours, and we hold its `flock`.
#[derive(Debug)]
pub(crate) struct LockFile {
    path: PathBuf,
    file: File,
}

impl LockFile {
    /// Takes the lock, waiting at most `timeout` (a timeout too large to add
    /// to the monotonic clock waits for as long as it takes).
    pub fn acquire(path: PathBuf, timeout: Duration) -> io::Result<LockFile> {
        let deadline = Instant::now().checked_add(timeout);
        loop {
            if let Some(file) = Self::try_create(&path)? {
                return Ok(LockFile { path, file });
            }
            let Some(holder) = clear_if_stale(&path)? else {
                // It was stale, or released meanwhile: try again at once.
                continue;
            };
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                let who = match holder {
                    Some(holder) => format!(" (it says \"{holder}\")"),
                    None => String::new(),
                };
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    // Tenths by integer maths: float formatting would
                    // cost the binary 18 KB for this one message.
                    format!(
                        "the lock {} was not released within {}.{} s{who}",
                        path.display(),
                        timeout.as_secs(),
                        timeout.subsec_millis() / 100
                    ),
                ));
            }
            std::thread::sleep(RETRY_EVERY);
        }
    }

    /// Creates the lock file exclusively and takes its `flock`; `None` when
    /// someone else has it.
    fn try_create(path: &Path) -> io::Result<Option<File>> {
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
        // One write, so a reader sees the stamp whole or not at all (it reads
        // only once it could take the flock, or a waiter is at work).
        let _ = file.write_all(stamp_for_this_process().as_bytes());
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
/// has been removed (or vanished, or was replaced), else `Ok(Some(quote))`
/// with what it says, made safe to print (`None` when it says nothing).
fn clear_if_stale(path: &Path) -> io::Result<Option<Option<String>>> {
    let seen = match fs::symlink_metadata(path) {
        Ok(seen) => seen,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    if seen.file_type().is_symlink() {
        log::warn!(
            "removing {}: it is a symbolic link, which no lock holder makes",
            path.display()
        );
        return remove(path).map(|()| None);
    }
    if !seen.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not a regular file, so no lock holder made it; remove it",
                path.display()
            ),
        ));
    }
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    // Replaced between the look and the open (by a symlink, perhaps): what
    // was opened is not what was looked at, so read nothing and look again.
    if !same_identity(&seen, &file) {
        return Ok(None);
    }
    let held = match file.try_lock() {
        Ok(()) => false,
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(e)) => return Err(e),
    };
    let stamp = Stamp::read(&file);
    if held {
        return Ok(Some(stamp.quote));
    }
    // Nobody holds the flock: either an msal-extensions process without
    // portalocker is at work (briefly), or the holder died. While we hold the
    // flock no other waiter removes the file, so this check stays true until
    // our removal below.
    if !same_file(path, &file) {
        let _ = file.unlock();
        return Ok(None);
    }
    let meta = file.metadata().unwrap_or(seen);
    let age = age(&meta, SystemTime::now(), Instant::now());
    let owner = stamp.pid.map(Process::lookup).unwrap_or(Process::Unknown);
    match verdict(&stamp, &Here::now(), owner, age) {
        Verdict::Stale(reason) => {
            let said = match &stamp.quote {
                Some(quote) => format!("; it said \"{quote}\""),
                None => String::new(),
            };
            log::warn!(
                "removing the stale lock {} ({reason}){said}",
                path.display()
            );
            forget(&meta);
            remove(path)?;
            Ok(None)
        }
        Verdict::Held => {
            let _ = file.unlock();
            Ok(Some(stamp.quote))
        }
    }
}

/// Removes a stale lock file; someone else removing it first is fine.
fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether `path` itself (not what a symlink there points to) is the file
/// open as `file`.
fn same_file(path: &Path, file: &File) -> bool {
    match fs::symlink_metadata(path) {
        Ok(meta) => same_identity(&meta, file),
        Err(_) => false,
    }
}

/// Whether `meta` describes the file open as `file`.
fn same_identity(meta: &Metadata, file: &File) -> bool {
    match (
        identity(meta),
        file.metadata().ok().and_then(|m| identity(&m)),
    ) {
        (Some(a), Some(b)) => a == b,
        // Without inode numbers there is no telling; assume nothing moved.
        _ => true,
    }
}

/// Device and inode: what stays the same for one file, whatever its name.
fn identity(meta: &Metadata) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some((meta.dev(), meta.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

/// What a lock file's first line says about its creator.
#[derive(Debug, Default, PartialEq)]
struct Stamp {
    /// The creator's pid, when the line starts with one.
    pid: Option<u32>,
    /// Whether the creator was this crate (then `boot` and `start` are ours).
    ours: bool,
    /// The boot id it was written in.
    boot: Option<String>,
    /// The creator's start time, in clock ticks after boot.
    start: Option<u64>,
    /// The line made printable and short, for messages; `None` when empty.
    quote: Option<String>,
}

impl Stamp {
    fn read(file: &File) -> Stamp {
        let mut bytes = Vec::new();
        let _ = file.take(READ_AT_MOST).read_to_end(&mut bytes);
        Stamp::parse(&bytes)
    }

    fn parse(bytes: &[u8]) -> Stamp {
        let text = String::from_utf8_lossy(bytes);
        let line = text.lines().next().unwrap_or_default();
        let mut words = line.split_whitespace();
        let pid = words.next().and_then(parse_decimal::<u32>);
        let ours = pid.is_some() && words.next() == Some(PROGRAM);
        let (mut boot, mut start) = (None, None);
        if ours {
            for word in words {
                if let Some(id) = word.strip_prefix("boot=") {
                    boot = valid_boot_id(id);
                } else if let Some(ticks) = word.strip_prefix("start=") {
                    start = start_time(ticks);
                }
            }
        }
        let quote = quote(line);
        Stamp {
            pid,
            ours,
            boot,
            start,
            quote: (!quote.is_empty()).then_some(quote),
        }
    }
}

/// The stamp this process writes into a lock it creates.
fn stamp_for_this_process() -> String {
    let here = Here::now();
    let mut stamp = format!("{} {PROGRAM}", here.pid);
    if let Some(boot) = here.boot {
        stamp.push_str(" boot=");
        stamp.push_str(boot);
    }
    if let Some(start) = here.start {
        stamp.push_str(&format!(" start={start}"));
    }
    stamp
}

/// Digits only: `str::parse` would also take a sign.
fn parse_decimal<T: std::str::FromStr>(text: &str) -> Option<T> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// A start time; 0 is what emulators (qemu-user) put in a faked
/// `/proc/self/stat`, so it tells nothing.
fn start_time(ticks: &str) -> Option<u64> {
    parse_decimal::<u64>(ticks).filter(|&ticks| ticks != 0)
}

/// A boot id is a UUID; anything else in its place is not trusted.
fn valid_boot_id(id: &str) -> Option<String> {
    let plausible =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    plausible.then(|| id.to_ascii_lowercase())
}

/// Someone else's text made fit for a log line or an error message: no
/// escape sequences or control characters, printable ASCII only, bounded.
fn quote(text: &str) -> String {
    let printable = crate::sanitize::printable(text);
    let mut out: String = printable
        .chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .take(QUOTE_AT_MOST)
        .collect();
    if printable.chars().nth(QUOTE_AT_MOST).is_some() {
        out.push_str("...");
    }
    out
}

/// This process and this boot, as a stamp records them.
struct Here {
    pid: u32,
    boot: Option<&'static str>,
    start: Option<u64>,
}

impl Here {
    fn now() -> Here {
        // Neither changes while the process runs; read them once.
        static BOOT: OnceLock<Option<String>> = OnceLock::new();
        static START: OnceLock<Option<u64>> = OnceLock::new();
        let boot = BOOT.get_or_init(|| {
            fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .ok()
                .and_then(|id| valid_boot_id(id.trim()))
        });
        let start = START.get_or_init(|| match Process::lookup_path("/proc/self/stat") {
            Process::Alive { start } => start,
            _ => None,
        });
        Here {
            pid: std::process::id(),
            boot: boot.as_deref(),
            start: *start,
        }
    }
}

/// What can be told about the process a lock names.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Process {
    /// No such process, or a zombie: it holds nothing.
    Gone,
    /// It runs; `start` is its start time when readable.
    Alive { start: Option<u64> },
    /// This system cannot tell (no `/proc`): counts as alive.
    Unknown,
}

impl Process {
    fn lookup(pid: u32) -> Process {
        if !cfg!(target_os = "linux") {
            return Process::Unknown;
        }
        Process::lookup_path(&format!("/proc/{pid}/stat"))
    }

    fn lookup_path(stat: &str) -> Process {
        let mut text = String::new();
        match File::open(stat).and_then(|f| f.take(4096).read_to_string(&mut text)) {
            Ok(_) => Process::from_stat(&text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Process::Gone,
            // It exists but will not say more (permissions, an odd kernel).
            Err(_) => Process::Alive { start: None },
        }
    }

    /// Reads `/proc/<pid>/stat`: `pid (comm) state ... starttime ...`, where
    /// the start time is field 22. The command name may hold spaces and
    /// parentheses, so the fields are counted from the last `)`.
    fn from_stat(text: &str) -> Process {
        let Some((_, fields)) = text.rsplit_once(')') else {
            return Process::Alive { start: None };
        };
        let mut fields = fields.split_whitespace();
        // Field 3; a zombie has exited and only waits to be reaped.
        if matches!(fields.next(), Some("Z" | "X" | "x")) {
            return Process::Gone;
        }
        // Fields 4 to 21 go, field 22 remains.
        let start = fields.nth(18).and_then(start_time);
        Process::Alive { start }
    }
}

/// What to do with a lock nobody holds the `flock` of.
#[derive(Debug, PartialEq)]
enum Verdict {
    /// Remove it, for this reason.
    Stale(String),
    /// Leave it: its owner may be at work.
    Held,
}

/// The rules of the module documentation, 2 to 6; `age` is how long the file
/// has existed at least (see [`age`]).
fn verdict(stamp: &Stamp, here: &Here, owner: Process, age: Duration) -> Verdict {
    let Some(pid) = stamp.pid else {
        return if age > EMPTY_STALE_AFTER {
            Verdict::Stale(format!(
                "it names no process and is over {} s old",
                EMPTY_STALE_AFTER.as_secs()
            ))
        } else {
            Verdict::Held
        };
    };
    if let (Some(then), Some(now)) = (stamp.boot.as_deref(), here.boot)
        && then != now
    {
        return Verdict::Stale("it was written before the system last started".into());
    }
    if pid == here.pid {
        return Verdict::Stale(format!(
            "it names this process ({pid}), which does not hold it"
        ));
    }
    match owner {
        Process::Gone => return Verdict::Stale(format!("process {pid} has ended")),
        Process::Alive { start: Some(now) }
            if stamp.ours && stamp.start.is_some_and(|s| s != now) =>
        {
            return Verdict::Stale(format!("process id {pid} now belongs to another process"));
        }
        _ => {}
    }
    if age > STALE_AFTER {
        return Verdict::Stale(format!(
            "nobody has held it for over {} s",
            STALE_AFTER.as_secs()
        ));
    }
    Verdict::Held
}

/// How long the file has existed at least: by its modification time, unless
/// that is in the future, and by how long this process has watched it.
fn age(meta: &Metadata, now: SystemTime, watch_now: Instant) -> Duration {
    let modified = meta.modified().ok();
    let by_clock = modified
        .and_then(|m| now.duration_since(m).ok())
        .unwrap_or_default();
    let watched = identity(meta)
        .map(|id| watched_for(Sighting { id, modified }, watch_now))
        .unwrap_or_default();
    by_clock.max(watched)
}

/// One version of one lock file: a rewrite or a new file is a new sighting.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sighting {
    id: (u64, u64),
    modified: Option<SystemTime>,
}

/// Lock files this process has waited on, with when it first saw each. Few
/// are ever waited on at once; the oldest sightings go first.
static SIGHTINGS: Mutex<Vec<(Sighting, Instant)>> = Mutex::new(Vec::new());
const SIGHTINGS_KEPT: usize = 16;

/// How long ago, on the monotonic clock, this process first saw `sighting`.
fn watched_for(sighting: Sighting, now: Instant) -> Duration {
    let mut seen = SIGHTINGS.lock().unwrap_or_else(PoisonError::into_inner);
    let first = match seen.iter().find(|(s, _)| *s == sighting) {
        Some((_, first)) => *first,
        None => {
            if seen.len() >= SIGHTINGS_KEPT {
                seen.remove(0);
            }
            seen.push((sighting, now));
            now
        }
    };
    now.saturating_duration_since(first)
}

/// Drops the sightings of a file about to be removed.
fn forget(meta: &Metadata) {
    if let Some(id) = identity(meta) {
        let mut seen = SIGHTINGS.lock().unwrap_or_else(PoisonError::into_inner);
        seen.retain(|(s, _)| s.id != id);
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

#[cfg(test)]
mod tests {
    use super::*;

    const BOOT: &str = "3e7fff7a-4bfb-4a9a-9002-0d695ab57a89";
    const OTHER_BOOT: &str = "00000000-1111-2222-3333-444444444444";

    fn here() -> Here {
        Here {
            pid: 100,
            boot: Some(BOOT),
            start: Some(5000),
        }
    }

    fn ours(pid: u32, boot: &str, start: u64) -> Stamp {
        Stamp::parse(format!("{pid} devicecode boot={boot} start={start}").as_bytes())
    }

    fn alive(start: u64) -> Process {
        Process::Alive { start: Some(start) }
    }

    const YOUNG: Duration = Duration::from_millis(10);

    #[test]
    fn our_stamp_reads_back() {
        let stamp = ours(4242, BOOT, 777);
        assert_eq!(stamp.pid, Some(4242));
        assert!(stamp.ours);
        assert_eq!(stamp.boot.as_deref(), Some(BOOT));
        assert_eq!(stamp.start, Some(777));
        let written = Stamp::parse(stamp_for_this_process().as_bytes());
        assert_eq!(written.pid, Some(std::process::id()));
        assert!(written.ours);
        assert!(
            stamp_for_this_process().starts_with(&format!("{} devicecode", std::process::id()))
        );
    }

    #[test]
    fn foreign_stamps_give_only_a_pid() {
        // msal-extensions: "<pid> <argv0>"; its argv0 cannot pose as ours.
        let msal = Stamp::parse(b"77 /usr/bin/az boot=x start=1");
        assert_eq!((msal.pid, msal.ours, msal.start), (Some(77), false, None));
        assert_eq!(Stamp::parse(b"").pid, None);
        assert_eq!(Stamp::parse(b"").quote, None);
        assert_eq!(Stamp::parse(b"+77 devicecode").pid, None);
        assert_eq!(Stamp::parse(b"99999999999 devicecode").pid, None);
        assert_eq!(Stamp::parse(b"\xff\xfe 1").pid, None);
        assert_eq!(Stamp::parse(b"5 devicecode start=0").start, None);
        let bad = Stamp::parse(b"5 devicecode boot=\x1b[31m start=-3");
        assert_eq!((bad.boot, bad.start), (None, None));
    }

    #[test]
    fn quotes_are_printable_ascii_and_short() {
        let stamp =
            Stamp::parse(b"1 \x1b]0;title\x07\x1b[2Jnice \xc3\xa9\xe2\x80\xae\nsecond line");
        assert_eq!(stamp.quote.as_deref(), Some("1 nice ?"));
        let long = quote(&"x".repeat(1000));
        assert_eq!(long.len(), QUOTE_AT_MOST + 3);
    }

    #[test]
    fn stat_start_time_survives_odd_command_names() {
        let mut tail = String::from("S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 ");
        tail.push_str("424242 23 24");
        let stat = format!("1234 (a) b) (c d) {tail}");
        assert_eq!(Process::from_stat(&stat), alive(424242));
        let zombie = format!("1234 (x) Z{}", &tail[1..]);
        assert_eq!(Process::from_stat(&zombie), Process::Gone);
        assert_eq!(
            Process::from_stat("1234 (x) S 1"),
            Process::Alive { start: None }
        );
        assert_eq!(
            Process::from_stat("garbage"),
            Process::Alive { start: None }
        );
        // This process, read for real.
        assert!(matches!(
            Process::lookup(std::process::id()),
            Process::Alive { start: Some(_) }
        ));
    }

    #[test]
    fn each_rule_decides_what_it_should() {
        let here = here();
        let stale = |v: Verdict| matches!(v, Verdict::Stale(_));
        // A live owner, same boot, right start time, young: waited for.
        assert_eq!(
            verdict(&ours(7, BOOT, 9), &here, alive(9), YOUNG),
            Verdict::Held
        );
        // An earlier boot, though the pid and start time match again.
        assert!(stale(verdict(
            &ours(7, OTHER_BOOT, 9),
            &here,
            alive(9),
            YOUNG
        )));
        // Our own pid, in either format.
        assert!(stale(verdict(
            &ours(100, BOOT, 5000),
            &here,
            alive(5000),
            YOUNG
        )));
        assert!(stale(verdict(
            &Stamp::parse(b"100 python"),
            &here,
            alive(1),
            YOUNG
        )));
        // A reused pid.
        assert!(stale(verdict(&ours(7, BOOT, 9), &here, alive(10), YOUNG)));
        // Gone.
        assert!(stale(verdict(
            &ours(7, BOOT, 9),
            &here,
            Process::Gone,
            YOUNG
        )));
        // msal-extensions: a live pid is waited for until the age fallback.
        let msal = Stamp::parse(b"7 /usr/bin/python3");
        assert_eq!(verdict(&msal, &here, alive(1), YOUNG), Verdict::Held);
        assert!(stale(verdict(&msal, &here, alive(1), STALE_AFTER * 2)));
        assert_eq!(
            verdict(&msal, &here, Process::Unknown, YOUNG),
            Verdict::Held
        );
        // No pid: 2 s.
        let empty = Stamp::parse(b"");
        assert_eq!(
            verdict(&empty, &here, Process::Unknown, YOUNG),
            Verdict::Held
        );
        assert!(stale(verdict(
            &empty,
            &here,
            Process::Unknown,
            Duration::from_secs(3)
        )));
        // An unknown boot id here or there: the other rules still apply.
        let nowhere = Here { boot: None, ..here };
        assert_eq!(
            verdict(&ours(7, BOOT, 9), &nowhere, alive(9), YOUNG),
            Verdict::Held
        );
    }

    #[test]
    fn a_future_modification_time_counts_as_unknown_age() {
        let dir = std::env::temp_dir().join(format!("devicecode-lock-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("future.lockfile");
        let file = File::create(&path).unwrap();
        let now = SystemTime::now();
        file.set_modified(now + Duration::from_secs(86_400))
            .unwrap();
        let meta = file.metadata().unwrap();
        let start = Instant::now();
        // First seen: no age, though the clock is a day behind the file.
        assert!(age(&meta, now, start) < Duration::from_secs(1));
        // Watched on the monotonic clock, it grows old whatever the clock.
        let later = start + STALE_AFTER + Duration::from_secs(1);
        assert!(age(&meta, now, later) > STALE_AFTER);
        // A rewrite is a new sighting.
        file.set_modified(now + Duration::from_secs(90_000))
            .unwrap();
        assert!(age(&file.metadata().unwrap(), now, later) < Duration::from_secs(1));
        // A modification time in the past gives the age by the clock.
        file.set_modified(now - Duration::from_secs(120)).unwrap();
        assert!(age(&file.metadata().unwrap(), now, start) >= Duration::from_secs(120));
        forget(&meta);
        let _ = fs::remove_dir_all(&dir);
    }
}
