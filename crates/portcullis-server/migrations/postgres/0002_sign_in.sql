-- People who sign in. The password only as an Argon2id PHC string.
CREATE TABLE users (
    user_id        TEXT PRIMARY KEY NOT NULL,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    email          TEXT,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    name           TEXT,
    given_name     TEXT,
    family_name    TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);

-- Browser sessions, keyed by the SHA-256 of the cookie value.
CREATE TABLE sessions (
    session_hash BYTEA PRIMARY KEY NOT NULL,
    user_id      TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    auth_time    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);

-- What a user has allowed a client, as a space-separated scope.
CREATE TABLE consents (
    user_id    TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

-- Authorization codes, keyed by SHA-256 of the code, with everything the token request must match.
CREATE TABLE authorization_codes (
    code_hash       BYTEA PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL,
    user_id         TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    redirect_uri_sent BOOLEAN NOT NULL,
    code_challenge  TEXT,
    scope           TEXT NOT NULL,
    nonce           TEXT,
    auth_time       BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    grant_id        TEXT
);

-- One grant: what a code redemption starts. Refresh tokens and access tokens hang off it, so
-- revoking the grant revokes all of them.
CREATE TABLE grants (
    grant_id     TEXT PRIMARY KEY NOT NULL,
    client_id    TEXT NOT NULL,
    user_id      TEXT NOT NULL,
    scope        TEXT NOT NULL,
    auth_time    BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);

-- Refresh tokens by SHA-256; rotated_at is set once, when the token is exchanged.
CREATE TABLE refresh_tokens (
    token_hash      BYTEA PRIMARY KEY NOT NULL,
    grant_id        TEXT NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    issued_at       BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    rotated_at      BIGINT
);
CREATE INDEX refresh_tokens_by_grant ON refresh_tokens (grant_id);

-- Access tokens issued from a grant, so that revoking the grant reaches them.
CREATE TABLE grant_access_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    grant_id   TEXT NOT NULL REFERENCES grants (grant_id) ON DELETE CASCADE,
    expires_at BIGINT NOT NULL
);
