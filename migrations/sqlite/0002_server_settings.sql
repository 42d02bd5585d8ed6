-- What a serving instance records about itself, for the command line, which often runs
-- without the server's configuration (`tollgate token --database-url ...` in CI). Kept in
-- step with migrations/postgres/0002_server_settings.sql.
--
--   issuer            the issuer it serves as, so that `tollgate token` signs tokens with
--                     the `iss` this server's resource servers expect
--   key_grace_period  seconds a retired signing key stays in its JWKS, so that a minted
--                     token cannot outlive the key that verifies it
--
-- Written at every start (only when the value changed); with several instances on one
-- database, which must share one issuer, the last one to start wins.
CREATE TABLE server_settings (
    name        TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);
