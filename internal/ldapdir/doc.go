// Package ldapdir is radmfa's LDAP and Active Directory adapter: it finds
// users in a directory, reads their OTP secrets, phone, e-mail and groups
// (mfa.Directory), checks their passwords by binding as them
// (mfa.FirstFactor), and writes secrets back for self-service enrollment.
//
// Secrets are read from one configurable attribute in one of three
// formats (see Format): plain base32, otpauth:// URIs, or Citrix ADC's
// native OTP format "#@Device1=SECRET&,Device2=SECRET&," as the Citrix
// Gateway /manageotp page writes it to userParameters. The format parsers
// are pure functions, strict, and fuzzed.
//
// Safety rules the package keeps:
//   - user names reach filters only through ldap.EscapeFilter, and a filter
//     that matches more than one entry is an error, never a pick;
//   - every step (connect, TLS, bind, search, modify) has a timeout, and
//     ctx ends any of them at once; no goroutine outlives its call except
//     those of pooled connections, which Close ends;
//   - passwords (the service account's and the users') and secrets are
//     never part of an error;
//   - a small pool keeps service-account connections; broken ones are
//     dropped and re-dialled; user binds use connections of their own;
//   - referrals are never followed.
//
// Errors wrap mfa.ErrNotFound, mfa.ErrDirectoryData (unusable data of one
// user, see DataError), mfa.ErrBadCredentials, mfa.ErrAccountRestricted
// (an *mfa.RestrictedError for Active Directory's sub-codes) or
// mfa.ErrBackendDown (no answer in time, or a failure that is not about
// the user), so the engine can apply its fail mode. A TLS failure (a bad
// certificate, a refused StartTLS) wraps mfa.ErrBackendUntrusted as well:
// the engine never fails open on it.
//
// The tests run against real slapd servers started by package ldaptest,
// which other packages' tests (the self-service page, end-to-end tests)
// use too.
//
// The package does not log: errors carry the context, and the caller logs.
package ldapdir
