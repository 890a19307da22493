-- A refresh token replaced by a grace-period re-exchange is kept and marked, so presenting it later
-- revokes its grant; each rotated token may use the grace period once.
ALTER TABLE refresh_tokens ADD COLUMN superseded_at INTEGER;
ALTER TABLE refresh_tokens ADD COLUMN grace_used_at INTEGER;

-- Users an administrator disabled cannot sign in.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;

-- Ending what a user started (password change, disable, delete) finds their sessions, codes and
-- grants.
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX authorization_codes_by_user ON authorization_codes (user_id);
CREATE INDEX grants_by_user ON grants (user_id);

-- Failed-attempt counters shared by every instance: one row per hashed key and time bucket.
CREATE TABLE throttle_counts (
    key        TEXT NOT NULL,
    bucket     INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (key, bucket)
);
CREATE INDEX throttle_counts_by_expiry ON throttle_counts (expires_at);

-- Locks, appended as they are decided and read by every instance in sequence order.
CREATE TABLE throttle_locks (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    key   TEXT NOT NULL,
    until INTEGER NOT NULL
);
CREATE INDEX throttle_locks_by_until ON throttle_locks (until);
