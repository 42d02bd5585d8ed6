-- The event log: every step of every authorization and every refusal (issue 12). `seq`
-- orders the log across instances and is the cursor of `tollgate events --follow` and the
-- console's live stream; `id` is what error responses link to. Times are milliseconds.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    time_ms      INTEGER NOT NULL,
    flow_id      TEXT,
    type         TEXT NOT NULL,
    endpoint     TEXT,
    client_id    TEXT,
    subject      TEXT,
    outcome      TEXT NOT NULL,              -- 'ok' or 'rejected'
    error        TEXT,                       -- the RFC error code
    description  TEXT,
    rule         TEXT,                       -- the checklist row id
    expected     TEXT,
    received     TEXT,
    hint         TEXT,
    details      TEXT NOT NULL               -- JSON object
);
CREATE INDEX events_flow ON events (flow_id, seq);
CREATE INDEX events_client ON events (client_id, seq);
CREATE INDEX events_time ON events (time_ms);

-- A flow id follows an authorization from its request through the code, the tokens and
-- every refresh.
ALTER TABLE authorization_requests ADD COLUMN flow_id TEXT;
ALTER TABLE grants ADD COLUMN flow_id TEXT;

-- To say which authorization request a PKCE verifier belongs to when it is sent with
-- another flow's code.
CREATE INDEX authorization_codes_challenge ON authorization_codes (code_challenge);
