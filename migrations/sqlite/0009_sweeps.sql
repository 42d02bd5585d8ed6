-- The sweeper (issue 20): every expiring row is deleted in bounded batches, each batch found
-- through an index so that a sweep never scans a table inside SQLite's write lock.

-- Pending consent requests, by expiry.
CREATE INDEX authorization_requests_expiry ON authorization_requests (expires_at);
-- Access tokens, by expiry (client credentials tokens have no grant and go one by one).
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);
-- A grant goes when nothing of its family can still be used; the sweep walks the grants in
-- (created_at, id) order, a page at a time, and asks each family's tables by grant.
CREATE INDEX grants_created ON grants (created_at, id);
-- Deleting a grant cascades to its codes: without this index each cascade scans the codes.
CREATE INDEX authorization_codes_grant ON authorization_codes (grant_id);
