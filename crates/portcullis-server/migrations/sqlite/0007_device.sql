-- The Device Authorization Grant (RFC 8628): one row per device authorization request, under the
-- SHA-256 of its device code, with the SHA-256 of its user code (unique among the rows kept).
-- The person at /device approves (user_id, auth_time, approved_at) or denies (denied_at) it; the
-- device's polls record last_polled_at, and poll_interval grows by 5 seconds for each poll that
-- came too soon, which 'slowed' marks for the answer of that poll (RFC 8628 §3.5). A redeemed
-- row (used_at) names the grant it started.
CREATE TABLE device_codes (
    device_code_hash BLOB PRIMARY KEY,
    user_code_hash   BLOB NOT NULL UNIQUE,
    client_id        TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope            TEXT NOT NULL,
    expires_at       INTEGER NOT NULL,
    poll_interval    INTEGER NOT NULL,
    last_polled_at   INTEGER,
    slowed           INTEGER NOT NULL DEFAULT 0,
    user_id          TEXT REFERENCES users (user_id) ON DELETE CASCADE,
    auth_time        INTEGER,
    approved_at      INTEGER,
    denied_at        INTEGER,
    used_at          INTEGER,
    grant_id         TEXT
);
CREATE INDEX device_codes_by_expiry ON device_codes (expires_at);
