-- radmfa schema 2: push approvals. One row per push notification; its own
-- outcome lives here, separate from the event rows (seed 003: an ignored
-- push leaves no event after its Challenge, yet reports show "no response").
-- Times are Unix milliseconds (UTC).

CREATE TABLE pushes (
	id              INTEGER PRIMARY KEY,
	tx_id           TEXT NOT NULL,             -- the authentication it belongs to (events.tx_id)
	user_name       TEXT NOT NULL,
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	decided_at      INTEGER,                   -- NULL while pending, and for expired/superseded
	outcome         TEXT NOT NULL,             -- pending, approved, denied_fraud, denied_mistake, expired, superseded
	variant         TEXT NOT NULL,             -- plain, ack, choose, enter
	flow            TEXT NOT NULL,             -- inline, challenge
	number_shown    TEXT NOT NULL DEFAULT '',  -- number or request code shown at login, '' for plain
	resource        TEXT NOT NULL DEFAULT '',  -- what the user logged in to
	client          TEXT NOT NULL DEFAULT '',  -- RADIUS client FreeRADIUS authenticated
	calling_station TEXT NOT NULL DEFAULT '',  -- usually the user's IP address
	nas_identifier  TEXT NOT NULL DEFAULT '',
	token_hash      BLOB NOT NULL UNIQUE,      -- SHA-256 of the approval URL's token
	dedup_key       TEXT NOT NULL DEFAULT '',  -- retransmits and duplicates join a pending push by this key
	node            TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX pushes_created ON pushes (created_at);
CREATE INDEX pushes_user_created ON pushes (user_name, created_at);
CREATE INDEX pushes_pending ON pushes (expires_at) WHERE outcome = 'pending';
