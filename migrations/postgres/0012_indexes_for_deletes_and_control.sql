-- Deleting a client (RFC 7592 §2.3) cascades to its grants, pending authorizations and
-- device authorizations, and deletes its client-credentials tokens (0009 already indexes
-- codes by grant, for the cascade from a grant). The control API revokes and expires by client, user and flow.
-- Without these indexes each of those reads a whole table, whose size grows with use
-- (tests/query_plans.rs).
CREATE INDEX grants_client ON grants (client_id);
CREATE INDEX grants_subject ON grants (subject);
CREATE INDEX grants_flow ON grants (flow_id);
CREATE INDEX access_tokens_client ON access_tokens (client_id);
CREATE INDEX authorization_requests_client ON authorization_requests (client_id);
CREATE INDEX device_authorizations_client ON device_authorizations (client_id);
