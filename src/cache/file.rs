//! The token file: the one place a cache file is read, written and set aside.

use super::lock::LockFile;
use super::{Cache, StoreLock, TokenStore};
use crate::error::Error;
use crate::token::Account;
use log::warn;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A file bigger than this is not a token cache (1000 accounts take ~5 MB);
/// refusing it bounds the memory a damaged or hostile file can take.
const MAX_FILE: u64 = 32 * 1024 * 1024;
const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(20);
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
///   and removed; waiting is bounded by [`lock_timeout`](Self::lock_timeout).
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
    lock_timeout: Duration,
    start_fresh: bool,
    warned_mode: AtomicBool,
}

impl FileCache {
    /// The cache in the file at `path`. Nothing is touched until it is used;
    /// a missing file is an empty cache, a missing directory is created.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileCache {
            path: path.into(),
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            start_fresh: false,
            warned_mode: AtomicBool::new(false),
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

    /// How long to wait for another process's lock (default 20 s, enough for
    /// it to finish a refresh on a slow link) before failing with
    /// [`ErrorKind::Cache`](crate::ErrorKind::Cache).
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
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

    /// Every account in the file, whatever application signed it in (for a
    /// tool that manages the file; a client lists its own with
    /// [`PublicClient::accounts`](crate::PublicClient::accounts)).
    pub fn accounts(&self) -> Result<Vec<Account>, Error> {
        Ok(self.view().read()?.all_accounts())
    }

    /// Deletes every token of `account` in the file, for every application,
    /// and its account entries. Returns whether anything was deleted.
    pub fn remove_account(&self, account: &Account) -> Result<bool, Error> {
        self.view().update(|doc| {
            let removed =
                doc.remove_account_everywhere(account.home_account_id(), account.environment());
            Ok((removed > 0, removed > 0))
        })
    }

    fn view(&self) -> Cache {
        Cache::new(Box::new(FileCache {
            path: self.path.clone(),
            lock_timeout: self.lock_timeout,
            start_fresh: self.start_fresh,
            warned_mode: AtomicBool::new(self.warned_mode.load(Ordering::Relaxed)),
        }))
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
        let dir = self.dir();
        if dir.is_dir() {
            return Ok(());
        }
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&dir)
    }

    #[cfg(unix)]
    fn check_mode(&self, file: &File) {
        use std::os::unix::fs::PermissionsExt;
        let Ok(meta) = file.metadata() else { return };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 && !self.warned_mode.swap(true, Ordering::Relaxed) {
            warn!(
                "{} is readable or writable by other users (mode {mode:o}): its refresh tokens let anyone who reads them act as the account; run `chmod 600` on it",
                self.path.display()
            );
        }
    }

    #[cfg(not(unix))]
    fn check_mode(&self, _file: &File) {
        let _ = &self.warned_mode;
    }

    /// Writes `contents` to a new private temporary file beside the cache.
    fn write_temp(&self, contents: &[u8]) -> io::Result<PathBuf> {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        for _ in 0..3 {
            let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
            let temp = sibling(&self.path, &format!(".{pid}.{n}.tmp"));
            let mut options = OpenOptions::new();
            // create_new: O_EXCL, which never follows a symlink at `temp`.
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = match options.open(&temp) {
                Ok(file) => file,
                // Left by a crashed process that had our pid: it is stale.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let _ = fs::remove_file(&temp);
                    continue;
                }
                Err(e) => return Err(e),
            };
            let written = private(&file)
                .and_then(|()| file.write_all(contents))
                .and_then(|()| file.sync_all());
            return match written {
                Ok(()) => Ok(temp),
                Err(e) => {
                    let _ = fs::remove_file(&temp);
                    Err(e)
                }
            };
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "could not create a temporary file beside the cache",
        ))
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
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        self.check_mode(&file);
        let mut contents = Vec::new();
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
        self.create_dir()?;
        let temp = self.write_temp(contents)?;
        if let Err(e) = fs::rename(&temp, &self.path) {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        // The rename is durable only once the directory is.
        File::open(self.dir())?.sync_all()?;
        self.sweep_temps();
        Ok(())
    }

    fn lock(&self) -> io::Result<StoreLock> {
        self.create_dir()?;
        let lock = LockFile::acquire(self.lock_path(), self.lock_timeout)?;
        Ok(StoreLock::new(lock))
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
