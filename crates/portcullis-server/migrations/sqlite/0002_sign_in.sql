-- People who sign in. The password only as an Argon2id PHC string.
CREATE TABLE users (
    user_id        TEXT PRIMARY KEY NOT NULL,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    email          TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0,
    name           TEXT,
    given_name     TEXT,
    family_name    TEXT,
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);

-- Browser sessions, keyed by the SHA-256 of the cookie value.
CREATE TABLE sessions (
    session_hash BLOB PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    auth_time    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
);

-- What a user has allowed a client, as a space-separated scope.
CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Authorization codes, keyed by SHA-256 of the code, with everything the token request must match.
CREATE TABLE authorization_codes (
    code_hash       BLOB PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    redirect_uri_sent INTEGER NOT NULL,
    code_challenge  TEXT,
    scope           TEXT NOT NULL,
    nonce           TEXT,
    auth_time       INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    grant_id        TEXT
);

-- One grant: what a code redemption starts. Refresh tokens and access tokens hang off it, so
-- revoking the grant revokes all of them.
CREATE TABLE grants (
    grant_id     TEXT PRIMARY KEY NOT NULL,
    client_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    scope        TEXT NOT NULL,
    auth_time    INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);

-- Refresh tokens by SHA-256; rotated_at is set once, when the token is exchanged.
CREATE TABLE refresh_tokens (
    token_hash      BLOB PRIMARY KEY NOT NULL,
    grant_id        TEXT NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    issued_at       INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    rotated_at      INTEGER
);
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);

-- Access tokens issued from a grant, so that revoking the grant reaches them.
CREATE TABLE grant_access_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    grant_id   TEXT NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    expires_at INTEGER NOT NULL
);
