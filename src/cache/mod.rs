//! Where tokens are kept between runs: the [`TokenStore`] trait, the
//! [`FileCache`] and [`MemoryCache`] that implement it, and the one
//! read-modify-write path every change to the cache goes through.
//!
//! Whatever the store, its contents are one JSON document in MSAL's unified
//! token cache schema, so a file we write can be read by MSAL (Python, .NET,
//! Node, the Azure CLI) and theirs by us.

mod file;
mod lock;
pub(crate) mod schema;

pub use file::FileCache;

use crate::error::Error;
use log::warn;
use schema::CacheDoc;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// Keeps the bytes of a token cache: a file, a TPM-sealed blob, a secure
/// element, a key-value store.
///
/// The contents are opaque to the store. Implement [`lock`](Self::lock) when
/// several processes share the store, so that a refresh token rotated by one
/// is never overwritten by another holding an older copy.
///
/// ```
/// use devicecode::{StoreLock, TokenStore};
/// use std::io;
/// use std::sync::Mutex;
///
/// /// Tokens in a (pretend) secure element.
/// struct SecureElement(Mutex<Option<Vec<u8>>>);
///
/// impl TokenStore for SecureElement {
///     fn load(&self) -> io::Result<Option<Vec<u8>>> {
///         Ok(self.0.lock().unwrap().clone())
///     }
///     fn save(&self, contents: &[u8]) -> io::Result<()> {
///         *self.0.lock().unwrap() = Some(contents.to_vec());
///         Ok(())
///     }
/// }
///
/// let app = devicecode::PublicClient::builder("11111111-2222-3333-4444-555555555555")
///     .token_cache(SecureElement(Mutex::new(None)))
///     .build()?;
/// assert!(app.accounts()?.is_empty());
/// # Ok::<(), devicecode::Error>(())
/// ```
pub trait TokenStore: Send + Sync {
    /// The stored contents, or `None` when nothing was stored yet.
    fn load(&self) -> io::Result<Option<Vec<u8>>>;

    /// Replaces the stored contents, all or nothing: after a crash at any
    /// moment, [`load`](Self::load) returns either the old or the new bytes.
    fn save(&self, contents: &[u8]) -> io::Result<()>;

    /// Excludes every other user of the store (other processes too) until the
    /// returned guard is dropped. Reads, refreshes and writes that must not
    /// interleave happen under it. The default excludes nobody, which is
    /// right for a store only one process uses.
    fn lock(&self) -> io::Result<StoreLock> {
        Ok(StoreLock::default())
    }

    /// A number that changes whenever the contents change, if the store can
    /// tell cheaply (a file's identity and modification time). Lets the
    /// client reuse what it parsed last time. `None` (the default) means
    /// "unknown": the contents are loaded and parsed on every call.
    fn revision(&self) -> io::Result<Option<u64>> {
        Ok(None)
    }

    /// The contents are not a token cache (empty, truncated, not JSON): keep
    /// them somewhere they will not be overwritten and say where. Called with
    /// the lock held. The default keeps nothing and returns `None`.
    fn set_aside(&self) -> io::Result<Option<String>> {
        Ok(None)
    }

    /// Whether, once unreadable contents were set aside, the client goes on
    /// with an empty cache (with a warning) instead of failing with
    /// [`ErrorKind::Cache`](crate::ErrorKind::Cache). Default: fail, so a
    /// person decides.
    fn start_fresh_when_unreadable(&self) -> bool {
        false
    }

    /// Names the store in messages, e.g. `the token cache /var/lib/x/tokens.json`.
    fn describe(&self) -> String {
        "the token cache".to_string()
    }
}

/// Held while a [`TokenStore`] is locked; dropping it unlocks.
#[derive(Default)]
pub struct StoreLock {
    _guard: Option<Box<dyn Send>>,
}

impl StoreLock {
    /// A lock that is released when `guard` is dropped.
    pub fn new(guard: impl Send + 'static) -> Self {
        StoreLock {
            _guard: Some(Box::new(guard)),
        }
    }
}

impl std::fmt::Debug for StoreLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreLock")
    }
}

/// Tokens kept in memory for the life of the process: the default cache.
#[derive(Debug, Default)]
pub struct MemoryCache {
    contents: Mutex<Option<Vec<u8>>>,
    revision: AtomicU64,
}

impl MemoryCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }
}

impl TokenStore for MemoryCache {
    fn load(&self) -> io::Result<Option<Vec<u8>>> {
        Ok(self
            .contents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone())
    }
    fn save(&self, contents: &[u8]) -> io::Result<()> {
        *self.contents.lock().unwrap_or_else(PoisonError::into_inner) = Some(contents.to_vec());
        self.revision.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn revision(&self) -> io::Result<Option<u64>> {
        Ok(Some(self.revision.load(Ordering::SeqCst)))
    }
    fn describe(&self) -> String {
        "the in-memory token cache".to_string()
    }
}

/// The client's view of its store: cached parsing, and the single locked
/// read-modify-write path.
pub(crate) struct Cache {
    store: Box<dyn TokenStore>,
    // The document parsed at a revision, reused while the store is unchanged.
    parsed: Mutex<Option<(u64, Arc<CacheDoc>)>>,
    // Threads of this process take turns before taking the store's lock.
    turn: Mutex<()>,
}

impl Cache {
    pub fn new(store: Box<dyn TokenStore>) -> Self {
        Cache {
            store,
            parsed: Mutex::new(None),
            turn: Mutex::new(()),
        }
    }

    /// The current document, without the lock: stores replace their
    /// contents atomically, so a read sees a whole old or new document.
    pub fn read(&self) -> Result<Arc<CacheDoc>, Error> {
        let revision = self.store.revision().map_err(|e| self.io("read", e))?;
        if let Some(revision) = revision {
            let parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, doc)) = parsed.as_ref().filter(|(at, _)| *at == revision) {
                return Ok(Arc::clone(doc));
            }
        }
        let doc = match self.load()? {
            Loaded::Doc(doc) => doc,
            // Decide about unreadable contents only under the lock.
            Loaded::Unreadable(_) => {
                return self.update(|doc| Ok((doc.clone(), false))).map(Arc::new);
            }
        };
        let doc = Arc::new(doc);
        if let Some(revision) = revision {
            *self.parsed.lock().unwrap_or_else(PoisonError::into_inner) =
                Some((revision, Arc::clone(&doc)));
        }
        Ok(doc)
    }

    /// Runs `change` on the freshly re-read document with the store locked,
    /// and saves the document when `change` says it changed it. Everything
    /// that writes the cache comes through here.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut CacheDoc) -> Result<(T, bool), Error>,
    ) -> Result<T, Error> {
        let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        let _lock = self.store.lock().map_err(|e| self.io("lock", e))?;
        let mut doc = match self.load()? {
            Loaded::Doc(doc) => doc,
            Loaded::Unreadable(reason) => self.set_aside(&reason)?,
        };
        let (value, changed) = change(&mut doc)?;
        if changed {
            self.store
                .save(&doc.to_bytes())
                .map_err(|e| self.io("write", e))?;
            *self.parsed.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        Ok(value)
    }

    fn load(&self) -> Result<Loaded, Error> {
        Ok(match self.store.load().map_err(|e| self.io("read", e))? {
            None => Loaded::Doc(CacheDoc::default()),
            Some(bytes) => match CacheDoc::parse(&bytes) {
                Ok(doc) => Loaded::Doc(doc),
                Err(reason) => Loaded::Unreadable(reason),
            },
        })
    }

    /// Unreadable contents are never overwritten: the store keeps them
    /// aside, then the call fails, or goes on empty if the store says so.
    fn set_aside(&self, reason: &str) -> Result<CacheDoc, Error> {
        let what = self.store.describe();
        let kept = self
            .store
            .set_aside()
            .map_err(|e| self.io("keep aside", e))?;
        let kept = kept.map_or_else(String::new, |at| format!(" It was kept as {at}."));
        if self.store.start_fresh_when_unreadable() {
            warn!("{what} could not be read: {reason}.{kept} Starting with an empty cache.");
            return Ok(CacheDoc::default());
        }
        Err(Error::cache(format!(
            "{what} could not be read: {reason}.{kept} Sign in again to start a new cache (tokens it held are lost), or restore a backup."
        )))
    }

    pub fn describe(&self) -> String {
        self.store.describe()
    }

    fn io(&self, action: &str, e: io::Error) -> Error {
        let what = self.store.describe();
        let advice = match e.kind() {
            io::ErrorKind::PermissionDenied => {
                ": check the owner and permissions of the file and its directory"
            }
            io::ErrorKind::TimedOut => ": another process holds the lock; try again",
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => ": free some disk space",
            _ => "",
        };
        Error::cache(format!("could not {action} {what}{advice}")).with_source(e)
    }
}

enum Loaded {
    Doc(CacheDoc),
    Unreadable(String),
}
