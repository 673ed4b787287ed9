-- radmfa schema 6: state of devices that live in a directory (LDAP, AD).
-- The secret stays in the directory; radmfa keeps only what it must
-- never write there on a login: replay state and drift, per device,
-- keyed by a SHA-256 over the entry's DN and the device (name, kind,
-- parameters and secret or address), so that a changed secret is a new
-- device. Lockout lives in users, like for local users (a directory user
-- gets a users row on first sight).

CREATE TABLE directory_devices (
	id           INTEGER PRIMARY KEY,
	user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	key          BLOB NOT NULL,
	name         TEXT NOT NULL,              -- as the directory names it, for user show
	kind         TEXT NOT NULL,              -- totp, hotp, sms, email
	last_step    INTEGER NOT NULL DEFAULT -1, -- replay protection: highest accepted step/counter
	drift        INTEGER NOT NULL DEFAULT 0,  -- TOTP drift in steps, learnt at resynchronisation
	last_used_at INTEGER,
	created_at   INTEGER NOT NULL,
	UNIQUE (user_id, key)
) STRICT;
