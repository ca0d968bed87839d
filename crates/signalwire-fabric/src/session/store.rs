//! Where a session keeps its newest pair: in memory, in a file, or anywhere a
//! [`TokenStore`] reaches.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

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
#[derive(Debug, Default)]
pub struct MemoryStore {
    pair: Mutex<Option<StoredTokenPair>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl TokenStore for MemoryStore {
    async fn load(&self) -> Result<Option<StoredTokenPair>, Error> {
        Ok(self
            .pair
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone())
    }

    async fn save(&self, pair: &StoredTokenPair) -> Result<(), Error> {
        *self
            .pair
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(pair.clone());
        Ok(())
    }
}

/// Keeps the pair in a JSON file, replaced atomically on every save: written to a new
/// file in the same directory (readable by its owner only, mode `0600` on Unix),
/// flushed to disk, then renamed over the old one. A crash leaves the old pair or the new
/// one, never a torn file.
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

    fn save_blocking(path: &Path, json: &[u8]) -> Result<(), Error> {
        let shown = path.display().to_string();
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // tempfile creates the file with mode 0600 on Unix.
        let mut file = tempfile::NamedTempFile::new_in(&dir).map_err(|error| {
            Error::store(format!("cannot create a file in {}", dir.display()), error)
        })?;
        file.write_all(json)
            .and_then(|()| file.as_file().sync_all())
            .map_err(|error| Error::store(format!("cannot write {shown}"), error))?;
        file.persist(path)
            .map_err(|error| Error::store(format!("cannot replace {shown}"), error.error))?;
        // Make the rename itself durable.
        #[cfg(unix)]
        std::fs::File::open(&dir)
            .and_then(|dir| dir.sync_all())
            .map_err(|error| Error::store(format!("cannot flush {}", dir.display()), error))?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl TokenStore for FileStore {
    async fn load(&self) -> Result<Option<StoredTokenPair>, Error> {
        let path = self.path.clone();
        let read = tokio::task::spawn_blocking(move || std::fs::read(&path))
            .await
            .map_err(|error| Error::store("the load task failed", error))?;
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(Error::store(
                    format!("cannot read {}", self.path.display()),
                    error,
                ));
            }
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|error| {
            Error::store(
                format!("{} does not hold a stored pair", self.path.display()),
                error,
            )
        })
    }

    async fn save(&self, pair: &StoredTokenPair) -> Result<(), Error> {
        let json = serde_json::to_vec_pretty(pair)
            .map_err(|error| Error::store("cannot serialize the pair", error))?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || Self::save_blocking(&path, &json))
            .await
            .map_err(|error| Error::store("the save task failed", error))?
    }
}
