-- Dynamic client registration (RFC 7591, RFC 7592). A client registered at /register carries the
-- SHA-256 of its registration access token, with which it reads, updates and deletes its own
-- registration; for a client an administrator made, the column stays NULL. That is also how
-- `client list`, `client show` and exports tell the two apart.
ALTER TABLE clients ADD COLUMN registration_token_hash BLOB;

-- Initial access tokens (RFC 7591 §3): made by `portcullis registration-token create`, stored
-- as SHA-256, each good until expires_at for max_uses registrations (NULL: any number).
CREATE TABLE initial_access_tokens (
    token_hash BLOB PRIMARY KEY,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_uses   INTEGER,
    uses       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX initial_access_tokens_by_expiry ON initial_access_tokens (expires_at);
