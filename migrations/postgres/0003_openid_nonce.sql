-- OpenID Connect: the `nonce` of an authorization request travels with the pending request
-- and the code into the ID token (OIDC Core §3.1.2.1, §3.1.3.6). NULL when not sent.
ALTER TABLE authorization_requests ADD COLUMN nonce TEXT;
ALTER TABLE authorization_codes ADD COLUMN nonce TEXT;
