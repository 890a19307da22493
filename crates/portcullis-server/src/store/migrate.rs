//! A small forward-only migrator: each migration runs once, in its own transaction, and a database
//! whose schema is newer than this binary is refused rather than touched. Each backend has its own
//! SQL files with the same version numbers, so `migrate status` reads the same on both.

use super::StoreError;

/// One schema step.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

// One list for both backends: each has its own SQL file per step, with the same versions.
macro_rules! migrations {
    ($($version:literal $name:literal $file:literal;)*) => {
        pub const SQLITE: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/sqlite/", $file)),
        }),*];
        pub const POSTGRES: &[Migration] = &[$(Migration {
            version: $version,
            name: $name,
            sql: include_str!(concat!("../../migrations/postgres/", $file)),
        }),*];
    };
}

migrations! {
    1 "init" "0001_init.sql";
    2 "sign_in" "0002_sign_in.sql";
    3 "revocation" "0003_revocation.sql";
    4 "cleanup" "0004_cleanup.sql";
    5 "security" "0005_security.sql";
    6 "client_proofs" "0006_client_proofs.sql";
    7 "device" "0007_device.sql";
    8 "registration" "0008_registration.sql";
    9 "client_indexes" "0009_client_indexes.sql";
}

/// One migration and whether it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// Its version number.
    pub version: i64,
    /// Its name.
    pub name: String,
    /// When it was applied (Unix seconds), or `None` while pending.
    pub applied_at: Option<i64>,
}

/// What `portcullis migrate status` shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Every migration this binary knows, and any newer ones the database records.
    pub migrations: Vec<MigrationState>,
    /// The newest version this binary ships.
    pub known: i64,
    /// The newest version applied to the database.
    pub current: i64,
}

impl MigrationStatus {
    /// Builds the status from the rows of `portcullis_migrations`.
    pub(super) fn from_applied(known: &[Migration], applied: Vec<(i64, String, i64)>) -> Self {
        let mut migrations: Vec<MigrationState> = known
            .iter()
            .map(|m| MigrationState {
                version: m.version,
                name: m.name.to_owned(),
                applied_at: applied
                    .iter()
                    .find(|(v, _, _)| *v == m.version)
                    .map(|(_, _, at)| *at),
            })
            .collect();
        for (version, name, at) in &applied {
            if !known.iter().any(|m| m.version == *version) {
                migrations.push(MigrationState {
                    version: *version,
                    name: name.clone(),
                    applied_at: Some(*at),
                });
            }
        }
        MigrationStatus {
            migrations,
            known: newest(known),
            current: applied.iter().map(|(v, _, _)| *v).max().unwrap_or(0),
        }
    }

    /// How many known migrations are still to apply.
    pub fn pending(&self) -> usize {
        self.migrations
            .iter()
            .filter(|m| m.applied_at.is_none())
            .count()
    }
}

pub fn newest(list: &[Migration]) -> i64 {
    list.last().map_or(0, |m| m.version)
}

pub fn check_not_newer(current: i64, list: &[Migration]) -> Result<(), StoreError> {
    let known = newest(list);
    if current > known {
        return Err(StoreError::NewerSchema {
            found: current,
            known,
        });
    }
    Ok(())
}

pub fn log_applied(migration: &Migration) {
    tracing::info!(
        version = migration.version,
        name = migration.name,
        "applied migration"
    );
}
