//! `portcullis backup FILE` and `portcullis restore FILE` (SQLite; see
//! `portcullis_server::store::backup`).

use portcullis_core::{Clock, SystemClock};
use portcullis_server::Config;
use portcullis_server::store::backup;
use std::path::PathBuf;

/// Takes an online backup of the configured SQLite database.
pub async fn backup(config: Config, file: PathBuf) -> anyhow::Result<()> {
    let size = backup::backup(&config.database, &file).await?;
    outln!(
        "backed up {} to {} ({size} bytes)",
        portcullis_server::config::redact_url(&config.database),
        file.display()
    );
    Ok(())
}

/// Restores a backup over the configured SQLite database.
pub async fn restore(config: Config, file: PathBuf) -> anyhow::Result<()> {
    let suffix = SystemClock.now().0.to_string();
    let restored = backup::restore(&config.database, &file, &suffix, false).await?;
    outln!(
        "restored {} from {}",
        restored.database.display(),
        file.display()
    );
    if let Some(previous) = restored.previous {
        outln!("the database it replaced is kept as {}", previous.display());
    }
    Ok(())
}
