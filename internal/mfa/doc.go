// Package mfa is radmfa's decision engine: it interprets what a user typed in
// the password field (the trigger grammar), verifies one-time passwords,
// issues and checks Access-Challenge state, and records every step as an
// event.
//
// The engine does no I/O of its own. It reads and writes through the Store
// interface, takes the time from an injected clock and randomness from an
// injected reader, and returns a Decision. A Reject is a Decision, not an
// error: Decide returns an error only when it could not decide (the store
// failed, the context ended).
//
// Front doors (rlm_exec, rlm_rest, ntlm_auth) translate their wire format
// into a Request and the Decision back into theirs; the same Request gives
// the same Decision whichever door it came through.
package mfa
