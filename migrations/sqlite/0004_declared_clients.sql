-- Clients declared in the configuration file were recorded with source 'seed'; the name
-- now says what they are. Readers still accept 'seed' from instances that predate this.
UPDATE clients SET source = 'declared' WHERE source = 'seed';
