//! Where signed-in users' tokens are kept between runs: a [`TokenStore`] trait, and a JSON file in
//! the user's config directory readable by the owner only.

use crate::error::ClientError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Tokens of one sign-in, as kept on disk. Make one with `StoredTokens::default()` and set its
/// fields: more may come.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoredTokens {
    /// The issuer.
    pub issuer: String,
    /// Its token endpoint.
    pub token_endpoint: String,
    /// The client.
    pub client_id: String,
    /// The access token.
    pub access_token: String,
    /// When it expires (Unix seconds), if known.
    pub expires_at: Option<i64>,
    /// The refresh token, if any.
    pub refresh_token: Option<String>,
    /// The ID token, if any.
    pub id_token: Option<String>,
    /// The granted scope.
    pub scope: Option<String>,
    /// For a confidential client: the name of the environment variable its secret was read from,
    /// to read it again for a refresh. The secret itself is never stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_env: Option<String>,
    /// The RFC 8707 resources the sign-in asked for, asked for again at every refresh.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    /// The `audience` the sign-in asked for, asked for again at every refresh.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
}

impl std::fmt::Debug for StoredTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredTokens")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A place to keep tokens by name.
pub trait TokenStore: Send + Sync {
    /// The tokens saved under `key`.
    fn load(&self, key: &str) -> Result<Option<StoredTokens>, ClientError>;
    /// Saves (replaces) the tokens under `key`.
    fn save(&self, key: &str, tokens: &StoredTokens) -> Result<(), ClientError>;
}

/// A JSON file, created with mode 0600.
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: PathBuf,
}

impl FileTokenStore {
    /// The store at `path`.
    pub fn new(path: PathBuf) -> Self {
        FileTokenStore { path }
    }

    /// `$XDG_CONFIG_HOME/portcullis/tokens.json`, else `~/.config/portcullis/tokens.json`.
    pub fn default_location() -> Result<Self, ClientError> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
            .ok_or_else(|| {
                ClientError::Config(vec!["neither XDG_CONFIG_HOME nor HOME is set".into()])
            })?;
        Ok(FileTokenStore::new(
            base.join("portcullis").join("tokens.json"),
        ))
    }

    /// Where the file is.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn read_all(&self) -> Result<BTreeMap<String, StoredTokens>, ClientError> {
        match std::fs::read_to_string(&self.path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| ClientError::Config(vec![format!("{}: {e}", self.path.display())])),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(ClientError::Config(vec![format!(
                "{}: {e}",
                self.path.display()
            )])),
        }
    }
}

impl TokenStore for FileTokenStore {
    fn load(&self, key: &str) -> Result<Option<StoredTokens>, ClientError> {
        Ok(self.read_all()?.remove(key))
    }

    fn save(&self, key: &str, tokens: &StoredTokens) -> Result<(), ClientError> {
        let fail =
            |e: std::io::Error| ClientError::Config(vec![format!("{}: {e}", self.path.display())]);
        let mut all = self.read_all()?;
        all.insert(key.to_owned(), tokens.clone());
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(fail)?;
        }
        let text = serde_json::to_string_pretty(&all)
            .map_err(|e| ClientError::Config(vec![e.to_string()]))?;
        // Write a private temporary file and rename it over the old one, so a crash never leaves a
        // half-written store and the tokens are never readable by others, not even for a moment.
        let tmp = self.path.with_extension("json.tmp");
        let mut open = std::fs::OpenOptions::new();
        open.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        let mut file = open.open(&tmp).map_err(fail)?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(fail)?;
        file.sync_all().map_err(fail)?;
        std::fs::rename(&tmp, &self.path).map_err(fail)?;
        Ok(())
    }
}
