package ldapdir

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/radmfa/radmfa/internal/mfa"
)

// adBindError is a failed bind as Active Directory reports it.
func adBindError(data string) error {
	return &ldap.Error{
		ResultCode: ldap.LDAPResultInvalidCredentials,
		Err:        errors.New("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data " + data + ", v4563\x00"),
	}
}

func TestBindError(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		sentinel error
		text     string
	}{
		{"52e wrong password", adBindError("52e"), mfa.ErrBadCredentials, "invalid credentials (AD 52e)"},
		{"525 no such user", adBindError("525"), mfa.ErrBadCredentials, "AD 525"},
		{"775 locked", adBindError("775"), mfa.ErrAccountRestricted, "account locked"},
		{"532 expired password", adBindError("532"), mfa.ErrAccountRestricted, "password expired"},
		{"773 must change", adBindError("773"), mfa.ErrAccountRestricted, "must change password"},
		{"533 disabled", adBindError("533"), mfa.ErrAccountRestricted, "account disabled"},
		{"701 account expired", adBindError("701"), mfa.ErrAccountRestricted, "account expired"},
		{"530 logon hours", adBindError("530"), mfa.ErrAccountRestricted, "at this time"},
		{"531 workstation", adBindError("531"), mfa.ErrAccountRestricted, "from this computer"},
		{"upper-case hex", adBindError("52E"), mfa.ErrBadCredentials, "AD 52e"},
		{"unknown sub-code", adBindError("999"), mfa.ErrBadCredentials, "AD 999"},
		{"slapd invalid credentials", &ldap.Error{ResultCode: 49, Err: errors.New("")}, mfa.ErrBadCredentials, "invalid credentials"},
		{"nil inner error", &ldap.Error{ResultCode: 49}, mfa.ErrBadCredentials, "invalid credentials"},
		{"unwilling (unauthenticated bind)", &ldap.Error{ResultCode: ldap.LDAPResultUnwillingToPerform, Err: errors.New("unauthenticated bind (DN with no password) disallowed")}, mfa.ErrBadCredentials, "Unwilling To Perform"},
		{"unexpected code refuses", &ldap.Error{ResultCode: ldap.LDAPResultOperationsError, Err: errors.New("x")}, mfa.ErrBadCredentials, "refused (LDAP result 1 Operations Error)"},
		{"unknown code refuses", &ldap.Error{ResultCode: 77, Err: errors.New("x")}, mfa.ErrBadCredentials, "LDAP result 77"},
		{"busy", &ldap.Error{ResultCode: ldap.LDAPResultBusy, Err: errors.New("x")}, mfa.ErrBackendDown, "backend"},
		{"unavailable", &ldap.Error{ResultCode: ldap.LDAPResultUnavailable, Err: errors.New("x")}, mfa.ErrBackendDown, "backend"},
		{"network", &ldap.Error{ResultCode: ldap.ErrorNetwork, Err: errors.New("connection reset")}, mfa.ErrBackendDown, "connection reset"},
		{"not an ldap error", errors.New("broken pipe"), mfa.ErrBackendDown, "broken pipe"},
		{"data in other words", &ldap.Error{ResultCode: 49, Err: errors.New("metadata 775x")}, mfa.ErrBadCredentials, "invalid credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := bindError(tt.err)
			if !errors.Is(err, tt.sentinel) {
				t.Errorf("got %q, want it to wrap %q", err, tt.sentinel)
			}
			if !strings.Contains(err.Error(), tt.text) {
				t.Errorf("got %q, want it to say %q", err, tt.text)
			}
		})
	}
}

// TestBindRestriction: the restrictions the engine shows the user a
// message for are typed.
func TestBindRestriction(t *testing.T) {
	tests := []struct {
		data string
		want mfa.Restriction
	}{
		{"775", mfa.RestrictionLocked},
		{"532", mfa.RestrictionPasswordExpired},
		{"773", mfa.RestrictionMustChange},
		{"533", mfa.RestrictionOther},
		{"701", mfa.RestrictionOther},
	}
	for _, tt := range tests {
		t.Run(tt.data, func(t *testing.T) {
			err := fmt.Errorf("ldapdir: user \"bob\": %w", bindError(adBindError(tt.data)))
			var re *mfa.RestrictedError
			if !errors.As(err, &re) || re.Restriction != tt.want || !strings.Contains(re.Reason, "AD "+tt.data) {
				t.Fatalf("got %v (%+v), want restriction %d", err, re, tt.want)
			}
		})
	}
}

// FuzzBindError: whatever a server says, a failed bind maps to exactly one
// of the three outcomes, never to success.
func FuzzBindError(f *testing.F) {
	f.Add(uint16(49), "80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data 775, v4563")
	f.Add(uint16(49), "data 52e")
	f.Add(uint16(53), "")
	f.Add(uint16(200), "timeout")
	f.Fuzz(func(t *testing.T, code uint16, msg string) {
		err := bindError(&ldap.Error{ResultCode: code, Err: errors.New(msg)})
		n := 0
		for _, s := range []error{mfa.ErrBadCredentials, mfa.ErrAccountRestricted, mfa.ErrBackendDown} {
			if errors.Is(err, s) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("bindError(%d, %q) = %v: want exactly one outcome", code, msg, err)
		}
	})
}
