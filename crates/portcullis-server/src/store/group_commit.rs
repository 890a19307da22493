//! SQLite's group commit of refresh-token rotations: the refresh grant's writes, from many
//! requests at once, in one transaction and one hand-off to the connection's thread.
//!
//! Why: SQLite has one writer. A rotation written the ordinary way is seven hand-offs between the
//! request's task and the connection's thread (begin, read, update, two inserts, commit), each a
//! pair of thread switches, all while holding the only write lock; and each commit writes the
//! touched pages to the WAL again. Measured with `perf` under bench/refresh.sh, that left SQLite
//! itself a few per cent of the time and capped the grant near 1,200 per second. Here a thread of
//! its own takes every rotation waiting in its queue and writes them with one multi-statement
//! query, `BEGIN IMMEDIATE` to `COMMIT`, so both costs are paid once per group.
//!
//! The group is four statements over a `VALUES` list of its rotations, whatever its size: insert
//! the successor refresh tokens, insert the access-token records, mark the presented tokens
//! rotated (each only for presented tokens not rotated yet whose grant is not revoked), and read
//! back, as one row, the `jti`s that were written. A rotation won exactly when its `jti` comes
//! back. (One row rather than one per rotation: every row is a hand-off between threads.)
//!
//! The same token twice in one group is settled before: the first may win, the others lose, as
//! if they had come in turn. If the group fails on a constraint (something about one rotation),
//! each rotation is tried again alone, so that one bad rotation cannot fail the others; any other
//! failure fails the whole group. A rotation is written even if its request is cancelled while it
//! waits: the client then never sees the new token, and its retry is a replay (as with any
//! answer lost on the way back; a grace period, `tokens.refresh_token_reuse_grace`, covers it).

use super::StoreError;
use super::sign_in::{IssuedAccessToken, RefreshRow};
use sqlx::{AssertSqlSafe, Row, SqlitePool};
use std::collections::HashSet;
use std::sync::OnceLock;
use tokio::sync::{mpsc, oneshot};

/// The most rotations in one transaction (six parameters each, far below SQLite's limit).
const MOST: usize = 64;

/// A refresh token presented for exchange, and what replaces it.
#[derive(Debug)]
pub(crate) struct Rotation {
    /// The hash of the presented token.
    pub presented: Vec<u8>,
    /// When.
    pub now: i64,
    /// The successor refresh token.
    pub refresh: RefreshRow,
    /// The access token issued with it.
    pub access: IssuedAccessToken,
}

struct Waiting {
    rotation: Rotation,
    done: oneshot::Sender<Result<bool, StoreError>>,
}

/// The queue to the group-commit thread.
#[derive(Debug, Clone)]
pub(crate) struct GroupCommit {
    queue: mpsc::UnboundedSender<Waiting>,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiting").finish_non_exhaustive()
    }
}

impl GroupCommit {
    /// Starts the thread, which writes through `writer` (the store's one-connection pool) and
    /// stops when the last handle to the queue is dropped.
    pub(crate) fn start(
        writer: SqlitePool,
        checkpointer: Option<SqlitePool>,
    ) -> Result<Self, StoreError> {
        let (queue, mut waiting) = mpsc::unbounded_channel::<Waiting>();
        let cannot = |e: std::io::Error| {
            StoreError::Unreachable(format!("cannot start the SQLite writer thread: {e}"))
        };
        // A runtime of its own: on the server's, every hand-off would wait for a worker busy
        // with other requests while the write lock is held.
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(cannot)?;
        std::thread::Builder::new()
            .name("sqlite-rotations".into())
            .spawn(move || {
                runtime.block_on(async move {
                    if let Some(checkpointer) = checkpointer {
                        tokio::spawn(checkpoints(checkpointer));
                    }
                    while let Some(first) = waiting.recv().await {
                        let mut group = vec![first];
                        while group.len() < MOST {
                            match waiting.try_recv() {
                                Ok(next) => group.push(next),
                                Err(_) => break,
                            }
                        }
                        // Spawned, so that a panic ends this group only; its callers see their
                        // answer go missing and fail their requests.
                        let _ = tokio::spawn(commit(writer.clone(), group)).await;
                    }
                });
            })
            .map_err(cannot)?;
        Ok(GroupCommit { queue })
    }

    /// Writes one rotation with whatever others are waiting; true if it won the presented token.
    /// The write happens even if the caller stops waiting, so a cancelled request never leaves
    /// a rotation half done.
    pub(crate) async fn rotate(&self, rotation: Rotation) -> Result<bool, StoreError> {
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::Unreachable("the SQLite writer thread has stopped".into());
        self.queue
            .send(Waiting { rotation, done })
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// Copies the WAL back into the database file every quarter second, on a connection of its own.
/// A checkpoint left to SQLite runs inside whichever commit crosses the threshold, on the one
/// writer connection, and stalls every write behind it; a passive checkpoint here runs beside
/// the writer. The writer keeps a high threshold of its own (10,000 pages) in case this falls
/// behind. Ends with the thread's runtime.
async fn checkpoints(checkpointer: SqlitePool) {
    let mut every = tokio::time::interval(std::time::Duration::from_millis(250));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&checkpointer)
            .await
        {
            tracing::debug!(error = %e, "WAL checkpoint failed; the next one will try again");
        }
    }
}

async fn commit(writer: SqlitePool, waiting: Vec<Waiting>) {
    // The same token twice in one group: the first exchange is the one that may win, as if they
    // had come one after the other; the others lose (and their callers treat them as replays).
    let mut presented = HashSet::new();
    let mut group = Vec::with_capacity(waiting.len());
    for w in waiting {
        if presented.insert(w.rotation.presented.clone()) {
            group.push(w);
        } else {
            let _ = w.done.send(Ok(false));
        }
    }
    let rotations: Vec<&Rotation> = group.iter().map(|w| &w.rotation).collect();
    let failed = match write(&writer, &rotations).await {
        Ok(won) => {
            for w in group {
                let _ = w.done.send(Ok(won.contains(&w.rotation.access.jti)));
            }
            return;
        }
        // Something about one rotation (a key already taken): each alone, so that the others
        // go through. Not for other failures (a busy database, a timeout): retried one by one,
        // a group would hold the writer for as many timeouts as it has rotations.
        Err(Failed::RolledBack(e)) if group.len() > 1 && one_rotations_fault(&e) => {
            for w in group {
                let alone = write(&writer, &[&w.rotation]).await;
                let won = alone.map(|won| won.contains(&w.rotation.access.jti));
                let _ = w.done.send(won.map_err(Failed::into_store));
            }
            return;
        }
        Err(failed) => failed,
    };
    let message = failed.into_store().to_string();
    for w in group {
        let error = StoreError::Database(sqlx::Error::Protocol(message.clone()));
        let _ = w.done.send(Err(error));
    }
}

/// How a group's write failed.
enum Failed {
    /// Nothing was written.
    RolledBack(sqlx::Error),
    /// Committed, but the answer could not be read: retrying would find every token rotated and
    /// call each a replay, so this is an error for every rotation of the group instead.
    Unread(sqlx::Error),
}

impl Failed {
    fn into_store(self) -> StoreError {
        match self {
            Failed::RolledBack(e) | Failed::Unread(e) => e.into(),
        }
    }
}

fn one_rotations_fault(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e)
        if e.is_unique_violation() || e.is_foreign_key_violation() || e.is_check_violation())
}

/// Runs one group's transaction; returns the `jti`s of the rotations that won.
async fn write(writer: &SqlitePool, group: &[&Rotation]) -> Result<HashSet<String>, Failed> {
    let mut conn = writer.acquire().await.map_err(Failed::RolledBack)?;
    let mut query = sqlx::query(AssertSqlSafe(text(group.len())));
    for r in group {
        query = query
            .bind(&r.presented)
            .bind(r.now)
            .bind(&r.refresh.token_hash)
            .bind(r.refresh.idle_expires_at)
            .bind(&r.access.jti)
            .bind(r.access.expires_at);
    }
    // `fetch_all`, never `fetch_one` or `fetch_optional`: with a row limit, sqlx stops running the
    // text after the first row, before its COMMIT, and leaves the transaction open.
    match query.fetch_all(&mut *conn).await {
        Ok(rows) => {
            let mut won = HashSet::new();
            for row in &rows {
                let jtis: Option<String> = row.try_get(0).map_err(Failed::Unread)?;
                won.extend(jtis.iter().flat_map(|j| j.split(' ')).map(str::to_owned));
            }
            Ok(won)
        }
        Err(e) => {
            // The text holds its own BEGIN and COMMIT, which sqlx does not track: a failure in
            // between must not leave the one writer connection inside a transaction, where later
            // writes would join it and never be committed. Roll back (harmless if none is open),
            // then close the connection anyway, which ends any transaction a failed ROLLBACK left;
            // the pool opens a new one.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            let _ = conn.close().await;
            Err(Failed::RolledBack(e))
        }
    }
}

/// The transaction for `n` rotations; parameters `$6k+1 ..= $6k+6` belong to the k-th. Four
/// statements whatever `n`: both inserts, then the update, each over the group's rows and for the
/// presented tokens that are not rotated yet and whose grant is live, then the read-back. The
/// inserts come first so that they still see those tokens unrotated.
fn text(n: usize) -> String {
    static TEXTS: OnceLock<Vec<String>> = OnceLock::new();
    let texts = TEXTS.get_or_init(|| (0..=MOST).map(build).collect());
    texts[n.min(MOST)].clone()
}

fn build(n: usize) -> String {
    let rows: Vec<String> = (0..n)
        .map(|k| {
            let p: Vec<String> = (1..=6).map(|i| format!("${}", 6 * k + i)).collect();
            format!("({})", p.join(", "))
        })
        .collect();
    let group = format!(
        "WITH v (presented, now, hash, idle, jti, expires) AS (VALUES {})",
        rows.join(", ")
    );
    let unrotated = "r.token_hash = v.presented AND r.rotated_at IS NULL AND EXISTS
        (SELECT 1 FROM grants g WHERE g.grant_id = r.grant_id AND g.revoked_at IS NULL)";
    format!(
        "BEGIN IMMEDIATE;
         {group} INSERT INTO refresh_tokens (token_hash, grant_id, issued_at, idle_expires_at)
           SELECT v.hash, r.grant_id, v.now, v.idle FROM v JOIN refresh_tokens r ON {unrotated};
         {group} INSERT INTO grant_access_tokens (jti, grant_id, expires_at)
           SELECT v.jti, r.grant_id, v.expires FROM v JOIN refresh_tokens r ON {unrotated};
         {group} UPDATE refresh_tokens AS r SET rotated_at = v.now FROM v WHERE {unrotated};
         {group} SELECT group_concat(a.jti, ' ') FROM v JOIN grant_access_tokens a ON a.jti = v.jti;
         COMMIT"
    )
}

#[cfg(test)]
mod tests {
    use super::build;

    #[test]
    fn each_rotation_has_its_own_parameters() {
        let two = build(2);
        assert!(two.starts_with("BEGIN IMMEDIATE;") && two.ends_with("COMMIT"));
        assert_eq!(two.matches("group_concat").count(), 1);
        assert!(two.contains("($7, $8, $9, $10, $11, $12)") && !two.contains("$13"));
    }
}
