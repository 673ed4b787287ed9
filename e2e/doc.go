// Package e2e holds radmfa's end-to-end tests: the real radmfa binary
// driven by real FreeRADIUS (radclient as the NAS) on loopback, with the
// FreeRADIUS snippets from testdata/freeradius used as shipped.
//
// Missing tools (freeradius, radclient) skip these tests on a developer
// machine and fail them under CI=true; scripts/deps.sh installs them.
package e2e
