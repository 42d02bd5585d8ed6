-- Refresh races (issue 15). A second use of a rotated refresh token names the request that
-- used it first and the time between the two; with refresh.reuse = "grace", a second use
-- within the grace period gets the same answer as the first.

-- Who used a refresh token, and when to the millisecond: the event id of that request.
-- NULL for tokens rotated before this migration (rotated_at still says when, in seconds).
ALTER TABLE refresh_tokens ADD COLUMN rotated_at_ms BIGINT;
ALTER TABLE refresh_tokens ADD COLUMN rotated_by TEXT;

-- The answer to a refresh, kept for the grace period only (then swept), and only in grace
-- mode. It holds the new access and refresh tokens, so it is sealed: AES-256-GCM under a
-- key derived from the refresh token that was spent, which the database does not hold
-- (refresh_tokens keeps only its SHA-256 digest, and the key is a different hash of it).
-- Only a client presenting that refresh token again can open it.
CREATE TABLE refresh_successors (
    token_digest  TEXT PRIMARY KEY REFERENCES refresh_tokens (token_digest) ON DELETE CASCADE,
    sealed        TEXT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX refresh_successors_expiry ON refresh_successors (expires_at);
