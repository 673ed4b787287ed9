// Package sqlite is radmfa's embedded store: users, OTP devices (secrets
// encrypted with AES-256-GCM under a key file), replay state, challenge
// state, the event log and the admin audit log, in one SQLite file.
//
// The database runs in WAL mode with synchronous=NORMAL: a committed event
// survives a crash of radmfa (and of FreeRADIUS); only a power loss or OS
// crash can lose the last transactions. Every write is an immediate
// transaction, so many `radmfa exec` processes can write at once: they queue
// on SQLite's lock for up to the busy timeout instead of failing.
//
// Schema changes are embedded, numbered migrations (migrations/NNNN_*.sql)
// applied in order inside one write transaction; PRAGMA user_version records
// the last one applied.
package sqlite
