-- Values that may be accepted once: the jti of a client assertion (RFC 7523 §3) and of a DPoP
-- proof (RFC 9449 §11.1). The key is a digest of what the value is and whose it is; the row lasts
-- until the value would be refused anyway, so every instance sees a replay.
CREATE TABLE used_once (
    key        TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX used_once_by_expiry ON used_once (expires_at);

-- Pushed authorization requests (RFC 9126): the request, checked and stored under the SHA-256 of
-- its request_uri, until it is used once or expires. The first visit gives the sign-in it starts
-- time of its own (visited_at, and a later expires_at).
CREATE TABLE pushed_requests (
    request_hash BLOB PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    params       TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER,
    visited_at   INTEGER
);
CREATE INDEX pushed_requests_by_expiry ON pushed_requests (expires_at);

-- DPoP (RFC 9449): the key a code is bound to (dpop_jkt at /authorize or /par), and the key a
-- public client's refresh tokens are bound to.
ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
ALTER TABLE grants ADD COLUMN dpop_jkt TEXT;
