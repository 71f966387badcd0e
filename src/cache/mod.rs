//! Where tokens are kept between runs: the [`TokenStore`] trait, the
//! [`FileCache`] and [`MemoryCache`] that implement it, and the one
//! read-modify-write path every change to the cache goes through.
//!
//! Whatever the store, its contents are one JSON document in MSAL's unified
//! token cache schema, so a file we write can be read by MSAL (Python, .NET,
//! Node, the Azure CLI) and theirs by us.

mod edit;
mod file;
mod index;
mod lock;
mod scan;
pub(crate) mod schema;

pub use file::FileCache;
#[cfg(feature = "dpop")]
pub(crate) use file::write_private_file;

use crate::error::Error;
use crate::http::HttpSettings;
use crate::token::{Account, Token};
use log::warn;
use schema::{AppScope, CacheDoc};
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// Room reserved beyond the current contents before a grant is spent: one
/// sign-in or refresh adds an access, a refresh and an id token and an
/// account entry (a few KiB from Entra), with a wide margin.
const SAVE_MARGIN: u64 = 64 * 1024;
/// Besides its one request, a lock holder reads, writes and syncs the file:
/// seconds at worst on a slow SD card.
const FILE_WORK: Duration = Duration::from_secs(15);

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

    /// As [`lock`](Self::lock), waiting for a busy holder at least
    /// `patience`: the longest the client itself may hold the lock (one
    /// refresh within its HTTP time limits), so that a caller never gives up
    /// on a holder that is still within its rights. The default calls
    /// [`lock`](Self::lock).
    fn lock_waiting(&self, patience: Duration) -> io::Result<StoreLock> {
        let _ = patience;
        self.lock()
    }

    /// Makes sure that the next [`save`](Self::save) of up to `size` bytes
    /// will succeed, as far as that can be known: the place is writable and
    /// the room is reserved. The client calls it before it spends a refresh
    /// token or a device code (with the lock held for a refresh), so that
    /// tokens a server issues are never lost for want of a place to keep
    /// them. The default checks nothing.
    fn prepare_save(&self, size: u64) -> io::Result<()> {
        let _ = size;
        Ok(())
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

/// A shared store is a store: one store behind several clients, or a test
/// that keeps a handle on the store it gives a client.
impl<T: TokenStore + ?Sized> TokenStore for Arc<T> {
    fn load(&self) -> io::Result<Option<Vec<u8>>> {
        (**self).load()
    }
    fn save(&self, contents: &[u8]) -> io::Result<()> {
        (**self).save(contents)
    }
    fn lock(&self) -> io::Result<StoreLock> {
        (**self).lock()
    }
    fn lock_waiting(&self, patience: Duration) -> io::Result<StoreLock> {
        (**self).lock_waiting(patience)
    }
    fn prepare_save(&self, size: u64) -> io::Result<()> {
        (**self).prepare_save(size)
    }
    fn revision(&self) -> io::Result<Option<u64>> {
        (**self).revision()
    }
    fn set_aside(&self) -> io::Result<Option<String>> {
        (**self).set_aside()
    }
    fn start_fresh_when_unreadable(&self) -> bool {
        (**self).start_fresh_when_unreadable()
    }
    fn describe(&self) -> String {
        (**self).describe()
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

/// Who a token belongs to in the cache: an application at an authority.
#[derive(Debug, Clone)]
pub(crate) struct AppId {
    pub client_id: String,
    pub environment: String,
    pub tenant: Option<String>,
    pub entra: bool,
}

impl AppId {
    pub fn scope(&self) -> AppScope<'_> {
        AppScope {
            client_id: &self.client_id,
            environment: &self.environment,
            tenant: self.tenant.as_deref(),
            entra: self.entra,
        }
    }
}

/// What a token request under the lock found.
pub(crate) enum Fetched {
    /// A usable token was already in the cache (another process may have
    /// refreshed while we waited for the lock): nothing to save.
    Cached(Token),
    /// The server issued this token for a grant: save it, replacing the
    /// refresh token entry `replaces` (the one just redeemed), if any.
    Issued {
        token: Token,
        replaces: Option<String>,
        grant: &'static str,
    },
}

/// A token the server issued that is not in the store yet: it is applied to
/// the document at every change until a save succeeds.
struct Unsaved {
    app: AppId,
    token: Token,
    replaces: Option<String>,
    grant: &'static str,
    at: SystemTime,
}

impl Unsaved {
    fn apply(&self, doc: &mut CacheDoc) {
        doc.save(
            &self.app.scope(),
            &self.token,
            self.replaces.as_deref(),
            self.grant,
            self.at,
        );
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
    // How long the lock may legitimately be held by one of us (a refresh).
    patience: Duration,
    // Tokens issued but not yet saved (the store failed after the answer).
    unsaved: Mutex<Vec<Unsaved>>,
}

impl Cache {
    /// A cache on `store`, for a client whose longest HTTP exchange (the one
    /// request it makes under the lock) takes at most `exchange`.
    pub fn new(store: Box<dyn TokenStore>, exchange: Duration) -> Self {
        Cache {
            store,
            parsed: Mutex::new(None),
            turn: Mutex::new(()),
            patience: exchange.saturating_add(FILE_WORK),
            unsaved: Mutex::new(Vec::new()),
        }
    }

    /// The current document, without the lock: stores replace their
    /// contents atomically, so a read sees a whole old or new document.
    /// Tokens this process could not save yet are part of it (and another
    /// try to save them is made first).
    pub fn read(&self) -> Result<Arc<CacheDoc>, Error> {
        if self.has_unsaved() {
            // Only if the lock is free at once: a read must not wait for
            // another process's refresh to save what can wait.
            match self.update_waiting(Duration::ZERO, |_| Ok(((), true))) {
                Ok(()) => log::info!(
                    "{}: the tokens kept in memory are saved now",
                    self.describe()
                ),
                Err(e) => {
                    warn!("{e}; the newest tokens are still kept in memory only");
                    let mut doc = (*self.read_stored()?).clone();
                    self.apply_unsaved(&mut doc);
                    return Ok(Arc::new(doc));
                }
            }
        }
        self.read_stored()
    }

    fn read_stored(&self) -> Result<Arc<CacheDoc>, Error> {
        let revision = self.store.revision().map_err(|e| self.io("read", e))?;
        if let Some(revision) = revision {
            let parsed = self.parsed.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, doc)) = parsed.as_ref().filter(|(at, _)| *at == revision) {
                return Ok(Arc::clone(doc));
            }
        }
        let doc = match self.load(false)?.0 {
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
    /// and saves the document when `change` says it changed it (or tokens
    /// wait to be saved). Every change to the cache but a new token comes
    /// through here.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut CacheDoc) -> Result<(T, bool), Error>,
    ) -> Result<T, Error> {
        self.update_waiting(self.patience, change)
    }

    fn update_waiting<T>(
        &self,
        patience: Duration,
        change: impl FnOnce(&mut CacheDoc) -> Result<(T, bool), Error>,
    ) -> Result<T, Error> {
        let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        let _lock = self.lock(patience)?;
        let (mut doc, _) = self.load_locked()?;
        let pending = self.apply_unsaved(&mut doc);
        let (value, changed) = change(&mut doc)?;
        if changed || pending {
            self.save(&doc)?;
        }
        Ok(value)
    }

    /// Gets a token and saves it, under the lock: `fetch` sees the fresh
    /// document and finds a usable token in it, or spends a grant on a new
    /// one. Before a grant is spent, the store is made ready for the save
    /// (writable, room reserved); when that fails, nothing is spent. When the
    /// save still fails after the server answered, the new token is returned
    /// anyway, carrying the failure ([`Token::cache_error`]), and kept in
    /// memory to be saved by the next call that can: a valid token, and
    /// above all a rotated refresh token, is never thrown away.
    ///
    /// `already_spent` says the grant was redeemed before (a device code):
    /// then a failed preparation is only a warning.
    pub fn store_token(
        &self,
        app: &AppId,
        now: SystemTime,
        already_spent: bool,
        fetch: impl FnOnce(&CacheDoc) -> Result<Fetched, Error>,
    ) -> Result<Token, Error> {
        let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
        let _lock = match self.lock(self.patience) {
            Ok(lock) => lock,
            // Writing without the lock could overwrite what a holder saves;
            // the spent grant's tokens wait in memory instead.
            Err(e) if already_spent => return self.keep_unsaved(app, now, fetch, e),
            Err(e) => return Err(e),
        };
        let (mut doc, size) = match self.load_locked() {
            Ok(loaded) => loaded,
            Err(e) if already_spent => return self.keep_unsaved(app, now, fetch, e),
            Err(e) => return Err(e),
        };
        let pending = self.apply_unsaved(&mut doc);
        let room = size.saturating_add(SAVE_MARGIN);
        if let Err(e) = self.store.prepare_save(room) {
            let e = self.io("prepare to write", e);
            if !already_spent {
                return Err(e);
            }
            warn!("{e}; trying to save anyway");
        }
        let (mut token, save) = match fetch(&doc)? {
            Fetched::Cached(token) => (token, None),
            Fetched::Issued {
                token,
                replaces,
                grant,
            } => {
                let save = Unsaved {
                    app: app.clone(),
                    token: token.clone(),
                    replaces,
                    grant,
                    at: now,
                };
                save.apply(&mut doc);
                (token, Some(save))
            }
        };
        if save.is_none() && !pending {
            return Ok(token);
        }
        if let Err(e) = self.save(&doc) {
            if let Some(save) = save {
                self.remember(save);
            }
            warn!("{e}; the new tokens are kept in memory and saved at the next call that can");
            token.set_cache_error(e);
        }
        Ok(token)
    }

    /// The store could not even be read or locked after a grant was spent:
    /// the issued token is returned with the failure and kept in memory.
    fn keep_unsaved(
        &self,
        app: &AppId,
        now: SystemTime,
        fetch: impl FnOnce(&CacheDoc) -> Result<Fetched, Error>,
        error: Error,
    ) -> Result<Token, Error> {
        // A spent grant's token needs no document to be found in.
        let mut token = match fetch(&CacheDoc::default())? {
            Fetched::Cached(token) => token,
            Fetched::Issued {
                token,
                replaces,
                grant,
            } => {
                self.remember(Unsaved {
                    app: app.clone(),
                    token: token.clone(),
                    replaces,
                    grant,
                    at: now,
                });
                token
            }
        };
        warn!("{error}; the new tokens are kept in memory and saved at the next call that can");
        token.set_cache_error(error);
        Ok(token)
    }

    fn remember(&self, save: Unsaved) {
        self.unsaved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(save);
        // Readers must see the tokens in memory, not the stale store.
        *self.parsed.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Checks, before a device code is requested, that the store can keep
    /// what the sign-in will bring, and reserves the room for it.
    pub fn prepare(&self) -> Result<(), Error> {
        let size = match self.store.load() {
            Ok(bytes) => bytes.map_or(0, |b| b.len() as u64),
            Err(e) => return Err(self.io("read", e)),
        };
        self.store
            .prepare_save(size.saturating_add(SAVE_MARGIN))
            .map_err(|e| self.io("prepare to write", e))
    }

    fn lock(&self, patience: Duration) -> Result<StoreLock, Error> {
        self.store
            .lock_waiting(patience)
            .map_err(|e| self.io("lock", e))
    }

    /// Saves `doc`; on success nothing is left unsaved.
    fn save(&self, doc: &CacheDoc) -> Result<(), Error> {
        if doc.change_failed() {
            // What was to be saved stays in memory (unsaved) for a later try.
            return Err(self.io(
                "change",
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    "its text could not be read as a whole to be changed",
                ),
            ));
        }
        let result = self.store.save(&doc.to_bytes());
        *self.parsed.lock().unwrap_or_else(PoisonError::into_inner) = None;
        result.map_err(|e| self.io("write", e))?;
        self.unsaved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        Ok(())
    }

    fn has_unsaved(&self) -> bool {
        !self
            .unsaved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_empty()
    }

    /// Applies the tokens not saved yet; returns whether there were any.
    fn apply_unsaved(&self, doc: &mut CacheDoc) -> bool {
        let unsaved = self.unsaved.lock().unwrap_or_else(PoisonError::into_inner);
        for save in unsaved.iter() {
            save.apply(doc);
        }
        !unsaved.is_empty()
    }

    /// The document under the lock (unreadable contents set aside), and the
    /// size of what the store held.
    fn load_locked(&self) -> Result<(CacheDoc, u64), Error> {
        let (loaded, size) = self.load(true)?;
        let doc = match loaded {
            Loaded::Doc(doc) => doc,
            Loaded::Unreadable(reason) => self.set_aside(&reason)?,
        };
        Ok((doc, size))
    }

    /// The stored document; `to_change` when the caller holds the lock and
    /// is about to change it (see [`CacheDoc::from_bytes_to_change`]).
    fn load(&self, to_change: bool) -> Result<(Loaded, u64), Error> {
        Ok(match self.store.load().map_err(|e| self.io("read", e))? {
            None => (Loaded::Doc(CacheDoc::default()), 0),
            Some(bytes) => {
                let size = bytes.len() as u64;
                let read = if to_change {
                    CacheDoc::from_bytes_to_change(bytes)
                } else {
                    CacheDoc::from_bytes(bytes)
                };
                match read {
                    Ok(doc) => (Loaded::Doc(doc), size),
                    Err(reason) => (Loaded::Unreadable(reason), size),
                }
            }
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

    /// A store failure; the message says what could not be done and what to
    /// do, the cause is the error's source.
    fn io(&self, action: &str, e: io::Error) -> Error {
        let what = self.store.describe();
        let advice = match e.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                ": check the owner and permissions of the file and its directory"
            }
            io::ErrorKind::TimedOut => ": another process holds the lock; try again",
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => ": free some disk space",
            io::ErrorKind::InvalidInput
            | io::ErrorKind::IsADirectory
            | io::ErrorKind::NotADirectory => {
                ": the path must name a regular file (or nothing yet) in a directory"
            }
            _ => "",
        };
        Error::cache(format!("could not {action} {what}{advice}")).with_source(e)
    }
}

enum Loaded {
    Doc(CacheDoc),
    Unreadable(String),
}

/// Tools for a token file as a whole, whatever applications use it.
impl FileCache {
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
        Cache::new(
            Box::new(self.same_file()),
            HttpSettings::default().longest_exchange(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_whose_change_failed_is_not_written() {
        let store = Arc::new(MemoryCache::new());
        let cache = Cache::new(Box::new(Arc::clone(&store)), Duration::from_secs(1));
        cache.save(&CacheDoc::default()).unwrap();
        let written = store.load().unwrap();
        let error = cache.save(&CacheDoc::with_failed_change()).unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::Cache, "{error}");
        assert!(error.to_string().contains("change"), "{error}");
        assert_eq!(store.load().unwrap(), written, "nothing was written");
    }

    #[test]
    fn the_lock_wait_is_one_exchange_plus_the_file_work() {
        // 10 s to connect, 30 s for each of the four other phases, 15 s for
        // the file: what README and FileCache::lock_timeout promise.
        let exchange = HttpSettings::default().longest_exchange();
        assert_eq!(exchange, Duration::from_secs(130));
        let cache = Cache::new(Box::new(MemoryCache::new()), exchange);
        assert_eq!(cache.patience, Duration::from_secs(145));
        let huge = Cache::new(Box::new(MemoryCache::new()), Duration::MAX);
        assert_eq!(huge.patience, Duration::MAX);
    }
}
