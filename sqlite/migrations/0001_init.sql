-- radmfa schema 1: users, devices, replay state, challenges, events, audit.
-- Times are Unix milliseconds (UTC).

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT;

CREATE TABLE users (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,         -- normalised (see [users] in the config)
	disabled   INTEGER NOT NULL DEFAULT 0,
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE devices (
	id           INTEGER PRIMARY KEY,
	user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	kind         TEXT NOT NULL,              -- totp, hotp
	algorithm    TEXT NOT NULL,              -- SHA1, SHA256, SHA512
	digits       INTEGER NOT NULL,
	period       INTEGER NOT NULL,
	secret       BLOB NOT NULL,              -- AES-256-GCM: nonce || ciphertext
	disabled     INTEGER NOT NULL DEFAULT 0,
	last_step    INTEGER,                    -- replay protection: highest accepted step/counter
	last_used_at INTEGER,
	created_at   INTEGER NOT NULL,
	UNIQUE (user_id, name)
) STRICT;

CREATE TABLE challenges (
	state_hash BLOB PRIMARY KEY,             -- SHA-256 of the State value sent to the NAS
	user_name  TEXT NOT NULL,
	tx_id      TEXT NOT NULL,
	kind       TEXT NOT NULL,
	client     TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX challenges_expires ON challenges (expires_at);

CREATE TABLE events (
	id               INTEGER PRIMARY KEY,
	time             INTEGER NOT NULL,
	tx_id            TEXT NOT NULL,
	user_name        TEXT NOT NULL,
	result           TEXT NOT NULL,          -- Challenge, Success, Failure, Outer Window Authentication
	method           TEXT NOT NULL,          -- totp, hotp, push, sms, email or ''
	trigger          TEXT NOT NULL,          -- empty, 1-char, s, e, g, code, other; never the code
	message          TEXT NOT NULL,
	device           TEXT NOT NULL,
	front_door       TEXT NOT NULL,          -- exec, rest, ntlm-auth, cli
	node             TEXT NOT NULL,
	client           TEXT NOT NULL,          -- RADIUS client FreeRADIUS authenticated
	nas_ip           TEXT NOT NULL,
	nas_identifier   TEXT NOT NULL,
	called_station   TEXT NOT NULL,
	calling_station  TEXT NOT NULL,
	resource         TEXT NOT NULL
) STRICT;
CREATE INDEX events_time ON events (time);
CREATE INDEX events_tx ON events (tx_id);
CREATE INDEX events_user_time ON events (user_name, time);

CREATE TABLE audit (
	id      INTEGER PRIMARY KEY,
	time    INTEGER NOT NULL,
	actor   TEXT NOT NULL,                   -- OS user (and sudo user) or admin login
	action  TEXT NOT NULL,                   -- user.add, device.disable, …
	target  TEXT NOT NULL,                   -- user name, or user/device
	details TEXT NOT NULL
) STRICT;
CREATE INDEX audit_time ON audit (time);
