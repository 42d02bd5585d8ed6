-- JWTs that may be used once: client assertions (RFC 7523 §3, private_key_jwt) and identity
-- assertions (ID-JAG). The primary key makes the first use win across every instance that
-- shares this database; rows are kept until the JWT expires, then swept.
CREATE TABLE used_jtis (
    issuer      TEXT NOT NULL,
    jti         TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX used_jtis_expiry ON used_jtis (expires_at);
