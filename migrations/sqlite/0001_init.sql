-- Tollgate's schema. Kept in step with migrations/postgres/0001_init.sql: the two differ
-- only in type names (INTEGER/BIGINT, INTEGER/BOOLEAN), so every query in src/store runs
-- unchanged on both. Timestamps are unix seconds; credentials are stored only as the
-- base64url SHA-256 digest of the value the client holds.

-- Registered clients. `metadata` is the RFC 7591 metadata as JSON, returned as registered.
CREATE TABLE clients (
    client_id      TEXT PRIMARY KEY,
    secret_digest  TEXT,             -- NULL for public clients
    registration_token_digest TEXT,  -- RFC 7592 registration access token; NULL if none
    metadata       TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    -- Who made it: 'dynamic' (RFC 7591), 'seed' (the configuration file, which owns it),
    -- 'cli' (tollgate clients add) or 'document' (a Client ID Metadata Document).
    source         TEXT NOT NULL,
    -- Tollgate's own policy for it as JSON (allowed scopes, consent mode); NULL: defaults.
    policy         TEXT
);

-- RSA signing keys. At most one is active (the partial unique index makes a second active
-- key impossible, so instances starting at once on one database agree on one key).
CREATE TABLE signing_keys (
    kid              TEXT PRIMARY KEY,  -- RFC 7638 thumbprint
    private_key_pem  TEXT NOT NULL,     -- PKCS#8
    active           INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    retired_at       INTEGER            -- set when another key became active
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (active) WHERE active;

-- Authorization requests waiting for the user's decision on the consent page. The form
-- carries `id` and a CSRF token; the browser carries a cookie; both are checked.
CREATE TABLE authorization_requests (
    id              TEXT PRIMARY KEY,
    csrf_digest     TEXT NOT NULL,
    browser_digest  TEXT NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    redirect_uri    TEXT NOT NULL,
    state           TEXT,
    code_challenge  TEXT NOT NULL,
    scope           TEXT NOT NULL,     -- space-delimited, possibly empty
    resources       TEXT NOT NULL,     -- JSON array of resource indicators (token audience)
    expires_at      INTEGER NOT NULL
);

-- A grant is one approval by one user for one client: the family of every code, refresh
-- token and access token that follows from it. Revoking the grant revokes them all.
CREATE TABLE grants (
    id          TEXT PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    subject     TEXT NOT NULL,
    scope       TEXT NOT NULL,
    resources   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

-- Authorization codes (60 s). Redeemed codes are kept until they expire so that a replay
-- is recognised as one and revokes the grant (OAuth 2.1 §4.1.3).
CREATE TABLE authorization_codes (
    code_digest     TEXT PRIMARY KEY,
    grant_id        TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    redeemed_at     INTEGER
);

-- Refresh tokens. Rotated tokens are kept (with rotated_at) so that reuse is detected.
CREATE TABLE refresh_tokens (
    token_digest  TEXT PRIMARY KEY,
    grant_id      TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    rotated_at    INTEGER
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);

-- Issued access tokens, by `jti`, so that revocation and introspection can see them.
CREATE TABLE access_tokens (
    jti         TEXT PRIMARY KEY,
    grant_id    TEXT REFERENCES grants (id) ON DELETE CASCADE,  -- NULL without a grant
    client_id   TEXT NOT NULL,
    issued_at   INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);
