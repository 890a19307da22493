-- Indexes for the background clean-up, which deletes by expiry in small batches.
CREATE INDEX authorization_codes_by_expiry ON authorization_codes (expires_at);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);
CREATE INDEX refresh_tokens_by_idle_expiry ON refresh_tokens (idle_expires_at);
CREATE INDEX grants_by_expiry ON grants (expires_at);
CREATE INDEX grant_access_tokens_by_grant ON grant_access_tokens (grant_id);
CREATE INDEX grant_access_tokens_by_expiry ON grant_access_tokens (expires_at);
CREATE INDEX revoked_access_tokens_by_expiry ON revoked_access_tokens (expires_at);
