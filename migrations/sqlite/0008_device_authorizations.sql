-- Device authorizations (RFC 8628): a device asked for a device code and a user code, and
-- polls the token endpoint while its user approves on the verification page. Codes are
-- stored as digests (the device code) or as the user types them, normalised (the user code,
-- unique, since the page looks it up). `status` is pending, approved, denied or redeemed;
-- `poll_interval` grows by 5 s with each slow_down (§3.5). The page's CSRF token and browser
-- binding are those of the consent page. Rows are swept once expired.
CREATE TABLE device_authorizations (
    device_code_digest  TEXT PRIMARY KEY,
    user_code           TEXT NOT NULL UNIQUE,
    client_id           TEXT NOT NULL REFERENCES clients (client_id) ON DELETE CASCADE,
    scope               TEXT NOT NULL,
    resources           TEXT NOT NULL,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    poll_interval       INTEGER NOT NULL,
    last_poll_at        INTEGER,
    status              TEXT NOT NULL,
    subject             TEXT,
    decided_at          INTEGER,
    csrf_digest         TEXT,
    browser_digest      TEXT,
    flow_id             TEXT
);
CREATE INDEX device_authorizations_expiry ON device_authorizations (expires_at);
