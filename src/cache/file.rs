//! The token file: the one place a cache file is read, written and set aside.

use super::lock::LockFile;
use super::{StoreLock, TokenStore};
use crate::error::Error;
use crate::http::HttpSettings;
use log::warn;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// A file bigger than this is not a token cache (1000 accounts take ~5 MB);
/// refusing it bounds the memory a damaged or hostile file can take.
const MAX_FILE: u64 = 32 * 1024 * 1024;
const FILE_NAME: &str = "tokens.json";

/// Tokens in one JSON file, shared safely by several processes.
///
/// - Written atomically: a temporary file in the same directory, `fsync`,
///   `rename`, `fsync` of the directory. A power cut or `kill -9` at any
///   instant leaves the old or the new file, never a torn one.
/// - Private: created with mode 0600 whatever the umask (the directory, when
///   it has to be made, 0700); a file others can read is reported with a
///   warning. The temporary file is created exclusively, so it never follows a
///   symlink planted in its place.
/// - Locked: changes happen under an exclusive lock on `<file>.lockfile`, the
///   lock file MSAL's msal-extensions uses, so MSAL tools and this crate
///   exclude each other. A lock left behind by a crashed process is detected
///   and removed; a live holder is waited for as long as it may legitimately
///   hold the lock (see [`lock_timeout`](Self::lock_timeout)).
/// - Room first: before a refresh token or a device code is spent, the
///   temporary file for the next save is created and filled to the current
///   size plus a margin, so a full disk stops the call before any grant is
///   redeemed; the answer is then written over that room, synced and renamed
///   into place, a window of milliseconds.
/// - Only a regular file: a directory, FIFO, socket or device at the path is
///   an error at once (a FIFO is never opened). A symbolic link at the path
///   is read through, and replaced by a regular file at the first save.
/// - Never silently replaced: a file that is empty, truncated or not JSON is
///   renamed to `<file>.corrupt-<unix time>` and reported.
///
/// ```no_run
/// use devicecode::{Authority, FileCache, PublicClient};
///
/// let app = PublicClient::builder("11111111-2222-3333-4444-555555555555")
///     .authority(Authority::entra("organizations")?)
///     .token_cache(FileCache::new("/var/lib/mydaemon/tokens.json"))
///     .build()?;
/// # Ok::<(), devicecode::Error>(())
/// ```
#[derive(Debug)]
pub struct FileCache {
    path: PathBuf,
    lock_timeout: Option<Duration>,
    start_fresh: bool,
    warned_mode: AtomicBool,
    // The temporary file filled ahead of the next save (see prepare_save).
    reserved: Mutex<Option<Reserved>>,
}

/// Room for the next save: a private temporary file beside the cache,
/// already written to `size` bytes.
#[derive(Debug)]
struct Reserved {
    path: PathBuf,
    file: File,
    size: u64,
}

impl FileCache {
    /// The cache in the file at `path`. Nothing is touched until it is used;
    /// a missing file is an empty cache, a missing directory is created.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileCache {
            path: path.into(),
            lock_timeout: None,
            start_fresh: false,
            warned_mode: AtomicBool::new(false),
            reserved: Mutex::new(None),
        }
    }

    /// The cache at [`default_path`](Self::default_path).
    pub fn at_default_location() -> Result<Self, Error> {
        Ok(FileCache::new(Self::default_path()?))
    }

    /// `tokens.json` in `$STATE_DIRECTORY` (systemd's `StateDirectory=`),
    /// else in `$XDG_STATE_HOME/devicecode`, else in
    /// `~/.local/state/devicecode`.
    pub fn default_path() -> Result<PathBuf, Error> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        // systemd joins several state directories with ':'; the first is ours.
        let state_dir = var("STATE_DIRECTORY").and_then(|dirs| {
            dirs.to_str()
                .and_then(|d| d.split(':').find(|d| !d.is_empty()))
                .map(PathBuf::from)
        });
        let dir = state_dir
            .or_else(|| var("XDG_STATE_HOME").map(|d| PathBuf::from(d).join("devicecode")))
            .or_else(|| {
                var("HOME").map(|home| PathBuf::from(home).join(".local/state/devicecode"))
            })
            .ok_or_else(|| {
                Error::config(
                    "no place for the token cache: none of STATE_DIRECTORY, XDG_STATE_HOME or HOME is set; give a path to FileCache::new",
                )
            })?;
        Ok(dir.join(FILE_NAME))
    }

    /// How long to wait for another process's lock before failing with
    /// [`ErrorKind::Cache`](crate::ErrorKind::Cache).
    ///
    /// By default a client waits as long as a holder may legitimately keep
    /// the lock: one refresh request within the client's HTTP limits
    /// ([`connect_timeout`](crate::PublicClientBuilder::connect_timeout) plus
    /// four times [`io_timeout`](crate::PublicClientBuilder::io_timeout), one
    /// per phase), plus 15 s for the file itself: 145 s with the default
    /// limits. A stale lock (its holder died or the board rebooted) is
    /// removed at once, whatever this says. A shorter timeout can give up on
    /// a holder that is still refreshing.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = Some(timeout);
        self
    }

    /// Goes on with an empty cache, with a warning, when the file cannot be
    /// read (after renaming it aside), instead of failing until a person looks.
    /// For unattended devices that would rather sign in again.
    pub fn start_fresh_when_unreadable(mut self) -> Self {
        self.start_fresh = true;
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The same file with the same settings (no reservation): a short-lived
    /// handle for tools that work on the file as a whole.
    pub(super) fn same_file(&self) -> FileCache {
        FileCache {
            path: self.path.clone(),
            lock_timeout: self.lock_timeout,
            start_fresh: self.start_fresh,
            warned_mode: AtomicBool::new(self.warned_mode.load(Ordering::Relaxed)),
            reserved: Mutex::new(None),
        }
    }

    /// Fails unless the path names a regular file (through a symbolic link
    /// too) or nothing yet; a FIFO there would block `open` for ever.
    fn check_kind(&self) -> io::Result<()> {
        if self.path.as_os_str().is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the path of the token cache is empty",
            ));
        }
        let meta = match fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if meta.is_file() {
            return Ok(());
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is {}, not a regular file",
                self.path.display(),
                kind_of(&meta)
            ),
        ))
    }

    /// Creates a private temporary file beside the cache, exclusively.
    fn create_temp(&self) -> io::Result<(PathBuf, File)> {
        create_private_temp(&self.path)
    }

    /// The reservation, which a save consumes.
    fn take_reserved(&self) -> Option<Reserved> {
        self.reserved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    fn lock_path(&self) -> PathBuf {
        sibling(&self.path, ".lockfile")
    }

    fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn create_dir(&self) -> io::Result<()> {
        create_private_dir(&self.dir())
    }

    #[cfg(unix)]
    fn check_mode(&self, meta: &fs::Metadata) {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 && !self.warned_mode.swap(true, Ordering::Relaxed) {
            warn!(
                "{} is readable or writable by other users (mode {mode:o}): its refresh tokens let anyone who reads them act as the account; run `chmod 600` on it",
                self.path.display()
            );
        }
    }

    #[cfg(not(unix))]
    fn check_mode(&self, _meta: &fs::Metadata) {
        let _ = &self.warned_mode;
    }

    /// Writes `contents` to a private temporary file beside the cache: the
    /// reserved one when there is one (overwriting room already allocated),
    /// else a new one.
    fn write_temp(&self, contents: &[u8]) -> io::Result<PathBuf> {
        let (temp, mut file) = match self.take_reserved() {
            Some(reserved) => (reserved.path, reserved.file),
            None => self.create_temp()?,
        };
        let written = file
            .rewind()
            .and_then(|()| file.write_all(contents))
            .and_then(|()| file.set_len(contents.len() as u64))
            .and_then(|()| file.sync_all());
        match written {
            Ok(()) => Ok(temp),
            Err(e) => {
                let _ = fs::remove_file(&temp);
                Err(e)
            }
        }
    }

    /// Removes temporary files that crashed writers left behind.
    #[cfg(target_os = "linux")]
    fn sweep_temps(&self) {
        let (Some(name), Ok(entries)) = (
            self.path.file_name().and_then(|n| n.to_str()),
            fs::read_dir(self.dir()),
        ) else {
            return;
        };
        let prefix = format!("{name}.");
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(rest) = file_name
                .to_str()
                .and_then(|n| n.strip_prefix(&prefix))
                .and_then(|n| n.strip_suffix(".tmp"))
            else {
                continue;
            };
            let pid = rest.split('.').next().and_then(|p| p.parse::<u32>().ok());
            if let Some(pid) = pid
                && pid != std::process::id()
                && !super::lock::process_alive(pid)
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn sweep_temps(&self) {}
}

impl TokenStore for FileCache {
    fn load(&self) -> io::Result<Option<Vec<u8>>> {
        self.check_kind()?;
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let meta = file.metadata().ok();
        if let Some(meta) = &meta {
            self.check_mode(meta);
        }
        // Room for the whole file and the byte past it that ends the read:
        // grown from nothing, a 4 KiB file took eight reads and as many
        // copies. The size is only a hint: the file may change meanwhile.
        let size = meta.map_or(0, |m| m.len()).min(MAX_FILE);
        let mut contents = Vec::with_capacity(usize::try_from(size).unwrap_or(0).saturating_add(1));
        file.take(MAX_FILE + 1).read_to_end(&mut contents)?;
        if contents.len() as u64 > MAX_FILE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("it is larger than {} MiB", MAX_FILE >> 20),
            ));
        }
        Ok(Some(contents))
    }

    fn save(&self, contents: &[u8]) -> io::Result<()> {
        self.check_kind()?;
        self.create_dir()?;
        let temp = self.write_temp(contents)?;
        put_in_place(&temp, &self.path, true)?;
        self.sweep_temps();
        Ok(())
    }

    fn lock(&self) -> io::Result<StoreLock> {
        self.lock_waiting(HttpSettings::default().longest_exchange())
    }

    fn lock_waiting(&self, patience: Duration) -> io::Result<StoreLock> {
        self.create_dir()?;
        let timeout = self.lock_timeout.unwrap_or(patience);
        let lock = LockFile::acquire(self.lock_path(), timeout)?;
        Ok(StoreLock::new(lock))
    }

    fn prepare_save(&self, size: u64) -> io::Result<()> {
        self.check_kind()?;
        self.create_dir()?;
        let mut reserved = self.reserved.lock().unwrap_or_else(PoisonError::into_inner);
        if reserved
            .as_ref()
            .is_some_and(|r| r.size >= size && r.path.exists())
        {
            return Ok(());
        }
        if let Some(old) = reserved.take() {
            let _ = fs::remove_file(&old.path);
        }
        let (path, mut file) = self.create_temp()?;
        // Written, not just sized: a sparse file reserves nothing.
        let filled = fill(&mut file, size).and_then(|()| file.sync_all());
        if let Err(e) = filled {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        *reserved = Some(Reserved { path, file, size });
        Ok(())
    }

    #[cfg(unix)]
    fn revision(&self) -> io::Result<Option<u64>> {
        use std::os::unix::fs::MetadataExt;
        let meta = match fs::metadata(&self.path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Some(0)),
            Err(e) => return Err(e),
        };
        // Every save renames a new inode into place, so the identity of the
        // file changes with its contents even when the mtime is coarse.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for part in [
            meta.dev(),
            meta.ino(),
            meta.size(),
            meta.mtime() as u64,
            meta.mtime_nsec() as u64,
        ] {
            hash = (hash ^ part).wrapping_mul(0x0100_0000_01b3);
        }
        Ok(Some(hash | 1))
    }

    fn set_aside(&self) -> io::Result<Option<String>> {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for n in 0..100 {
            let suffix = match n {
                0 => format!(".corrupt-{now}"),
                n => format!(".corrupt-{now}-{n}"),
            };
            let aside = sibling(&self.path, &suffix);
            if aside.exists() {
                continue;
            }
            return match fs::rename(&self.path, &aside) {
                Ok(()) => Ok(Some(aside.display().to_string())),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            };
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "too many corrupt copies are kept beside the cache: remove old ones",
        ))
    }

    fn start_fresh_when_unreadable(&self) -> bool {
        self.start_fresh
    }

    fn describe(&self) -> String {
        format!("the token cache {}", self.path.display())
    }
}

impl Drop for FileCache {
    fn drop(&mut self) {
        if let Some(reserved) = self.take_reserved() {
            let _ = fs::remove_file(reserved.path);
        }
    }
}

/// Writes `size` zero bytes: room the file system has really allocated.
fn fill(file: &mut File, size: u64) -> io::Result<()> {
    const ZEROS: [u8; 8192] = [0; 8192];
    let mut left = size;
    while left > 0 {
        let n = left.min(ZEROS.len() as u64);
        let chunk = ZEROS.get(..n as usize).unwrap_or(&ZEROS);
        file.write_all(chunk)?;
        left = left.saturating_sub(n);
    }
    Ok(())
}

/// What a path that is not a regular file is, for messages.
fn kind_of(meta: &fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = meta.file_type();
        if kind.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_block_device() || kind.is_char_device() {
            return "a device";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "something else"
    }
}

/// Creates `dir` and its missing parents, owner-only (0700), unless it is
/// there.
fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Creates a private (0600) temporary file beside `path`, exclusively.
fn create_private_temp(path: &Path) -> io::Result<(PathBuf, File)> {
    static SEQUENCE: AtomicU64 = AtomicU64::new(0);
    let pid = std::process::id();
    for _ in 0..3 {
        let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let temp = sibling(path, &format!(".{pid}.{n}.tmp"));
        let mut options = OpenOptions::new();
        // create_new: O_EXCL, which never follows a symlink at `temp`.
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&temp) {
            Ok(file) => {
                if let Err(e) = private(&file) {
                    let _ = fs::remove_file(&temp);
                    return Err(e);
                }
                return Ok((temp, file));
            }
            // Left by a crashed process that had our pid: it is stale.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let _ = fs::remove_file(&temp);
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "could not create a temporary file beside {}",
            path.display()
        ),
    ))
}

/// Moves the synced file `temp` to `path`, durably (the directory is synced
/// too). Without `replace`, an existing `path` is left alone and the error is
/// `AlreadyExists`: a hard link, unlike a rename, never clobbers, so two
/// processes creating the same file at once keep the first one's.
fn put_in_place(temp: &Path, path: &Path, replace: bool) -> io::Result<()> {
    let placed = if replace {
        fs::rename(temp, path)
    } else {
        match fs::hard_link(temp, path) {
            Ok(()) => fs::remove_file(temp),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(e),
            // FAT (a board's boot partition) has no hard links: check, then
            // rename, which leaves a short race only there.
            Err(_) if fs::symlink_metadata(path).is_ok() => {
                Err(io::Error::from(io::ErrorKind::AlreadyExists))
            }
            Err(_) => fs::rename(temp, path),
        }
    };
    if let Err(e) = placed {
        let _ = fs::remove_file(temp);
        return Err(e);
    }
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    // The rename is durable only once the directory is.
    File::open(dir)?.sync_all()
}

/// Writes a new private file (0600) at `path` atomically, as the token cache
/// is written: a reader sees nothing or all of it, after a power cut too. An
/// existing file is replaced only when `replace` is set; otherwise the error
/// is `AlreadyExists`.
#[cfg_attr(not(feature = "dpop"), allow(dead_code))]
pub(crate) fn write_private_file(path: &Path, contents: &[u8], replace: bool) -> io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        create_private_dir(dir)?;
    }
    let (temp, mut file) = create_private_temp(path)?;
    let written = file.write_all(contents).and_then(|()| file.sync_all());
    drop(file);
    if let Err(e) = written {
        let _ = fs::remove_file(&temp);
        return Err(e);
    }
    put_in_place(&temp, path, replace)
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Owner-only, whatever the umask was when the file was made.
#[cfg(unix)]
fn private(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn private(_file: &File) -> io::Result<()> {
    Ok(())
}
