//! `portcullis migrate [status]`, `portcullis export` and `portcullis import`: the database
//! operations an operator runs by hand.

use clap::Subcommand;
use portcullis_server::Config;
use portcullis_server::store::{self, DumpRecord, MigrationStatus};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

/// `portcullis migrate` subcommands; none means apply.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Show which migrations are applied and which are pending, changing nothing.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Applies pending migrations (creating the database if needed), or shows the status (of an
/// existing database only).
pub async fn run(config: Config, command: Option<MigrateCommand>) -> anyhow::Result<()> {
    let store = super::open_store(&config, command.is_none(), false).await?;
    let url = portcullis_server::config::redact_url(&config.database);
    if command.is_none() {
        let pending = store.migration_status().await?.pending();
        store
            .migrate()
            .await
            .map_err(|e| anyhow::anyhow!("database {url}: {e}"))?;
        eprintln!("applied {pending} migration(s) to {url}");
    }
    let status = store.migration_status().await?;
    if let Some(MigrateCommand::Status { json: true }) = command {
        let migrations: Vec<_> = status
            .migrations
            .iter()
            .map(|m| {
                serde_json::json!({
                    "version": m.version,
                    "name": m.name,
                    "applied_at": m.applied_at.map(|t| portcullis_core::UnixTime(t).rfc3339()),
                })
            })
            .collect();
        outln!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "database": url,
                "migrations": migrations,
                "current": status.current,
                "known": status.known,
                "pending": status.pending(),
            }))?
        );
        return Ok(());
    }
    print_status(&url, &status)
}

fn print_status(url: &str, status: &MigrationStatus) -> anyhow::Result<()> {
    outln!("database: {url}");
    let rows = status
        .migrations
        .iter()
        .map(|m| {
            vec![
                m.version.to_string(),
                m.name.clone(),
                m.applied_at.map_or("pending".to_owned(), |t| {
                    portcullis_core::UnixTime(t).rfc3339()
                }),
            ]
        })
        .collect();
    out!("{}", super::table(&["version", "name", "applied_at"], rows));
    if status.current > status.known {
        outln!(
            "the schema (version {}) is newer than this portcullis (version {}): upgrade portcullis",
            status.current,
            status.known
        );
    } else {
        outln!(
            "schema version {} of {}; {} pending",
            status.current,
            status.known,
            status.pending()
        );
    }
    Ok(())
}

/// Writes clients, users, keys, consents and server secrets as JSON lines.
pub async fn export(config: Config, output: Option<PathBuf>) -> anyhow::Result<()> {
    let store = super::open_store(&config, false, true).await?;
    let records = store::dump::export(store.as_ref()).await?;
    let mut text = String::new();
    for record in &records {
        text.push_str(&record.to_line()?);
        text.push('\n');
    }
    match output {
        Some(path) => {
            write_private(&path, text.as_bytes())?;
            eprintln!("exported {} records to {}", records.len(), path.display());
        }
        None => {
            // A closed pipe stays an io::Error for main to end on quietly; anything else says
            // what was being written.
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Err(e.into());
                }
                anyhow::bail!("cannot write the export to standard output: {e}");
            }
            eprintln!("exported {} records", records.len());
        }
    }
    eprintln!("the export holds private signing keys and secret hashes: keep it like the database");
    Ok(())
}

/// The export holds private keys: create it readable by its owner only, and never overwrite.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    let mut file = open
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    Ok(())
}

/// Reads an export (a file, or `-` for standard input) into an empty database in one transaction.
pub async fn import(config: Config, input: PathBuf) -> anyhow::Result<()> {
    let reader: Box<dyn BufRead> = if input.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(&input)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", input.display()))?;
        Box::new(std::io::BufReader::new(file))
    };
    let mut records = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let record = DumpRecord::from_line(&line).map_err(|e| {
            anyhow::anyhow!("{}:{}: not an export record: {e}", input.display(), n + 1)
        })?;
        records.push(record);
    }
    let store = super::open_store(&config, false, true).await?;
    let url = portcullis_server::config::redact_url(&config.database);
    store
        .import(&records)
        .await
        .map_err(|e| anyhow::anyhow!("database {url}: {e}"))?;
    let count = |kind: &str| records.iter().filter(|r| r.kind() == kind).count();
    eprintln!(
        "imported {} clients, {} users, {} keys, {} consents and {} server secrets into {url}",
        count("client"),
        count("user"),
        count("key"),
        count("consent"),
        count("server_secret"),
    );
    Ok(())
}
