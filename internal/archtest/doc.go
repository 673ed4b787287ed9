// Package archtest holds tests that enforce radmfa's architecture: the core
// (the engine and its pure helpers under internal/) does no I/O of its own
// and imports no adapter (SQLite, LDAP, plugins, HTTP), and every package
// says what it is for in a doc comment.
package archtest
