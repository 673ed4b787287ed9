-- radmfa schema 5: SMS/e-mail codes, HOTP and resynchronisation, bypass.

-- Challenges carry what their answer is checked against.
ALTER TABLE challenges ADD COLUMN device_id INTEGER NOT NULL DEFAULT 0; -- resync: the device
ALTER TABLE challenges ADD COLUMN counter INTEGER NOT NULL DEFAULT 0;   -- resync: the step/counter of the first code
ALTER TABLE challenges ADD COLUMN code_hash BLOB;                        -- sent code: SHA-256 of it
ALTER TABLE challenges ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;  -- sent code: wrong answers so far
ALTER TABLE challenges ADD COLUMN target TEXT NOT NULL DEFAULT '';      -- sent code: the masked destination
ALTER TABLE challenges ADD COLUMN channel TEXT NOT NULL DEFAULT '';     -- sent code: sms or email

-- TOTP drift in steps, learnt at resynchronisation (HOTP keeps its
-- counter in last_step).
ALTER TABLE devices ADD COLUMN drift INTEGER NOT NULL DEFAULT 0;

-- Help-desk bypass: a time window, or a one-time code (stored hashed).
ALTER TABLE users ADD COLUMN bypass_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN bypass_code BLOB;
ALTER TABLE users ADD COLUMN bypass_code_expires INTEGER NOT NULL DEFAULT 0;

-- SMS/e-mail codes sent, for the per-user rate limit.
CREATE TABLE code_sends (
	id         INTEGER PRIMARY KEY,
	user_name  TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	channel    TEXT NOT NULL                -- sms, email
) STRICT;
CREATE INDEX code_sends_user_created ON code_sends (user_name, created_at);

-- The last failure's packet, so a retransmitted wrong code counts once.
ALTER TABLE users ADD COLUMN last_failure_key TEXT NOT NULL DEFAULT '';
