//! Where a session keeps its newest pair: in memory, in a file, or anywhere a
//! [`TokenStore`] reaches.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{Error, StoredTokenPair};

/// Persists a session's newest pair, so that a rotated refresh token survives a restart.
///
/// The session saves every pair it obtains before handing out its access token, and
/// reads the store once when it is rebuilt with
/// [`SubscriberSession::restore`](crate::SubscriberSession::restore). A failing save is
/// retried; the pair stays in memory meanwhile.
///
/// ```
/// use signalwire_fabric::{Error, StoredTokenPair, TokenStore};
///
/// /// Keeps the pair in a key-value service of your own.
/// struct VaultStore;
///
/// #[async_trait::async_trait]
/// impl TokenStore for VaultStore {
///     async fn load(&self) -> Result<Option<StoredTokenPair>, Error> {
///         Ok(None) // read and deserialize it
///     }
///     async fn save(&self, pair: &StoredTokenPair) -> Result<(), Error> {
///         let _json = serde_json::to_vec(pair); // write it
///         Ok(())
///     }
/// }
/// ```
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// The pair last saved, if any.
    async fn load(&self) -> Result<Option<StoredTokenPair>, Error>;

    /// Replaces the stored pair.
    async fn save(&self, pair: &StoredTokenPair) -> Result<(), Error>;
}

/// Keeps the pair in memory only: the default. A restart loses it.
///
/// Clones share one pair, so a test (or the app) can keep a clone and read what a session
/// stored:
///
/// ```
/// use signalwire_fabric::MemoryStore;
///
/// let store = MemoryStore::new();
/// let for_the_session = store.clone(); // hand this one to SessionBuilder::store
/// # drop(for_the_session);
/// assert!(store.pair().is_none()); // nothing saved yet
/// ```
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    pair: Arc<Mutex<Option<StoredTokenPair>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The pair last saved, if any (a copy: as secret as the tokens in it).
    pub fn pair(&self) -> Option<StoredTokenPair> {
        self.pair
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryStore {
    async fn load(&self) -> Result<Option<StoredTokenPair>, Error> {
        Ok(self.pair())
    }

    async fn save(&self, pair: &StoredTokenPair) -> Result<(), Error> {
        *self
            .pair
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(pair.clone());
        Ok(())
    }
}

/// How many random letters and digits a `FileStore` temporary file name has.
const TEMP_RANDOM_CHARS: usize = 6;

/// How old a save's temporary file must be before a [`FileStore`] takes it for the
/// leftover of a process that died mid-save and removes it. A save takes milliseconds;
/// the margin spares a slow save by another process sharing the file.
pub const FILE_STORE_LEFTOVER_AGE: Duration = Duration::from_secs(30);

/// Keeps the pair in a JSON file, replaced atomically on every save: written to a new
/// file in the same directory (readable by its owner only, mode `0600` on Unix),
/// flushed to disk, then renamed over the old one. A crash leaves the old pair or the new
/// one, never a torn file.
///
/// The temporary file of a save is named after the store's file (`.tokens.json.XXXXXX.tmp`
/// next to `tokens.json`). A process killed mid-save leaves one behind, holding a whole
/// pair; every load and save removes such leftovers once they are older than
/// [`FILE_STORE_LEFTOVER_AGE`], and leaves other stores' files alone (the temporary files
/// of `tokens.json.bak` are not this store's).
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    /// A store at `path`. Nothing is touched until the first load or save.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// Where the pair is kept.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn dir(path: &Path) -> PathBuf {
        match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// The start and end of this store's temporary file names (between them,
    /// [`TEMP_RANDOM_CHARS`] random letters and digits).
    fn temp_affixes(path: &Path) -> (String, &'static str) {
        let name = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        (format!(".{name}."), ".tmp")
    }

    /// Removes temporary files that saves of this store left behind (see the type's
    /// docs). Best effort: a leftover that cannot be removed is tried again next time.
    fn remove_leftovers(path: &Path) {
        let (prefix, suffix) = Self::temp_affixes(path);
        let Ok(entries) = std::fs::read_dir(Self::dir(path)) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            // Exactly `.<name>.` + the random part + `.tmp`: `.tokens.json.bak.XXXXXX.tmp`
            // belongs to the store of `tokens.json.bak`, not to this one.
            let ours = name
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_suffix(suffix))
                .is_some_and(|random| {
                    random.len() == TEMP_RANDOM_CHARS
                        && random.bytes().all(|byte| byte.is_ascii_alphanumeric())
                });
            let old = entry
                .metadata()
                .and_then(|metadata| metadata.modified())
                .ok()
                .and_then(|modified| modified.elapsed().ok())
                .is_some_and(|age| age >= FILE_STORE_LEFTOVER_AGE);
            if ours && old && entry.file_type().is_ok_and(|kind| kind.is_file()) {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => tracing::info!("removed the leftover of an interrupted save"),
                    Err(error) => {
                        tracing::warn!(%error, "cannot remove the leftover of an interrupted save")
                    }
                }
            }
        }
    }

    fn save_blocking(path: &Path, json: &[u8]) -> Result<(), Error> {
        let shown = path.display().to_string();
        let dir = Self::dir(path);
        Self::remove_leftovers(path);
        let (prefix, suffix) = Self::temp_affixes(path);
        // tempfile creates the file with mode 0600 on Unix.
        let mut file = tempfile::Builder::new()
            .prefix(&prefix)
            .rand_bytes(TEMP_RANDOM_CHARS)
            .suffix(suffix)
            .tempfile_in(&dir)
            .map_err(|error| {
                Error::store(format!("cannot create a file in {}", dir.display())).caused_by(error)
            })?;
        file.write_all(json)
            .and_then(|()| file.as_file().sync_all())
            .map_err(|error| Error::store(format!("cannot write {shown}")).caused_by(error))?;
        file.persist(path).map_err(|error| {
            Error::store(format!("cannot replace {shown}")).caused_by(error.error)
        })?;
        // Make the rename itself durable.
        #[cfg(unix)]
        std::fs::File::open(&dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|error| {
                Error::store(format!("cannot flush {}", dir.display())).caused_by(error)
            })?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl TokenStore for FileStore {
    async fn load(&self) -> Result<Option<StoredTokenPair>, Error> {
        let path = self.path.clone();
        let read = tokio::task::spawn_blocking(move || {
            Self::remove_leftovers(&path);
            std::fs::read(&path)
        })
        .await
        .map_err(|error| Error::store("the load task failed").caused_by(error))?;
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(
                    Error::store(format!("cannot read {}", self.path.display())).caused_by(error)
                );
            }
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|error| {
            // serde's message quotes the offending value, which may be a token: keep only
            // what kind of fault it was and where.
            let fault = std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} at line {}, column {}",
                    match error.classify() {
                        serde_json::error::Category::Io => "unreadable",
                        serde_json::error::Category::Syntax => "not JSON",
                        serde_json::error::Category::Data =>
                            "a field is missing or of the wrong kind",
                        serde_json::error::Category::Eof => "cut short",
                    },
                    error.line(),
                    error.column()
                ),
            );
            Error::store(format!(
                "{} does not hold a stored pair",
                self.path.display()
            ))
            .caused_by(fault)
        })
    }

    async fn save(&self, pair: &StoredTokenPair) -> Result<(), Error> {
        let json = serde_json::to_vec_pretty(pair)
            .map_err(|error| Error::store("cannot serialize the pair").caused_by(error))?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || Self::save_blocking(&path, &json))
            .await
            .map_err(|error| Error::store("the save task failed").caused_by(error))?
    }
}
