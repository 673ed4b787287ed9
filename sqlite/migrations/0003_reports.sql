-- radmfa schema 3: indexes and rollups for reports (radmfa report, the
-- admin page), designed for tens of millions of events.
-- Times are Unix milliseconds (UTC).

-- "--nas X" matches the RADIUS client or the NAS-Identifier: one index for
-- each, so newest-first pages stay index walks (report.go unions them).
CREATE INDEX events_client_time ON events (client, time);
CREATE INDEX events_nas_time ON events (nas_identifier, time);

CREATE INDEX pushes_tx ON pushes (tx_id);
CREATE INDEX pushes_client_created ON pushes (client, created_at);
CREATE INDEX pushes_nas_created ON pushes (nas_identifier, created_at);
-- Push approval latency percentiles read only this (covering) index.
CREATE INDEX pushes_approved ON pushes (created_at, client, nas_identifier, user_name, decided_at)
	WHERE outcome = 'approved';

-- Rollups: the event log summed per complete UTC day (and hour), written
-- by report.go once a day is over, so that summaries over months read
-- thousands of rows instead of millions. They cover days before
-- report_state.days_done; reports read raw events for the rest of a
-- range. Nothing on the authentication path writes them.
--
-- reasons: failure messages with their counts, a JSON object ('' if none).
-- client_ips: the distinct calling stations, as sorted 64-bit FNV-1a
-- hashes (8 bytes each, little-endian): distinct counts over any number of
-- days are exact (up to hash collisions, about one in 10^12 for a million
-- addresses) without storing one row per address and day.
-- push_latencies: the approval latencies (ms) of the pushes approved that
-- day, sorted, as unsigned varints of the differences: exact percentiles
-- over any range from a few hundred bytes per row (only method 'push' rows
-- have them).

-- Per day, NAS and method.
CREATE TABLE report_nas_days (
	day             INTEGER NOT NULL,        -- start of the UTC day
	client          TEXT NOT NULL,
	nas_identifier  TEXT NOT NULL,
	method          TEXT NOT NULL,
	challenges      INTEGER NOT NULL,
	successes       INTEGER NOT NULL,
	failures        INTEGER NOT NULL,
	outer_window    INTEGER NOT NULL,
	lockouts        INTEGER NOT NULL,        -- Failure events "account locked"
	reasons         TEXT NOT NULL,
	client_ips      BLOB NOT NULL,
	push_latencies  BLOB NOT NULL
) STRICT;
CREATE INDEX report_nas_days_day ON report_nas_days (day);

-- Per day, user and method.
CREATE TABLE report_user_days (
	day             INTEGER NOT NULL,
	user_name       TEXT NOT NULL,
	method          TEXT NOT NULL,
	challenges      INTEGER NOT NULL,
	successes       INTEGER NOT NULL,
	failures        INTEGER NOT NULL,
	outer_window    INTEGER NOT NULL,
	lockouts        INTEGER NOT NULL,
	reasons         TEXT NOT NULL,
	client_ips      BLOB NOT NULL,
	push_latencies  BLOB NOT NULL
) STRICT;
CREATE INDEX report_user_days_day ON report_user_days (day);

-- Per hour, NAS and method: counts for time series and the admin chart.
CREATE TABLE report_hours (
	hour            INTEGER NOT NULL,        -- start of the UTC hour
	client          TEXT NOT NULL,
	nas_identifier  TEXT NOT NULL,
	method          TEXT NOT NULL,
	challenges      INTEGER NOT NULL,
	successes       INTEGER NOT NULL,
	failures        INTEGER NOT NULL,
	outer_window    INTEGER NOT NULL,
	lockouts        INTEGER NOT NULL
) STRICT;
CREATE INDEX report_hours_hour ON report_hours (hour);

-- How far the rollups reach, and who is extending them (a lease, so two
-- processes never build the same day).
CREATE TABLE report_state (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	days_done   INTEGER NOT NULL,            -- rollups are complete for days before this (ms; 0: none yet)
	lease_owner TEXT NOT NULL,
	lease_until INTEGER NOT NULL
) STRICT;
INSERT INTO report_state (id, days_done, lease_owner, lease_until) VALUES (1, 0, '', 0);
