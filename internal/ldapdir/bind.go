package ldapdir

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/go-ldap/ldap/v3"

	"github.com/radmfa/radmfa/internal/mfa"
)

// MaxPasswordBytes bounds the passwords CheckPassword sends to the
// directory; longer ones are wrong without asking.
const MaxPasswordBytes = 1024

// CheckPassword checks the user's password by binding as the user: it
// finds the user's DN with the service account, then binds on a separate
// connection of its own (the pooled service connections never change
// identity) and closes it. An empty password is refused before anything
// is sent, since a simple bind with a DN and no password is an
// "unauthenticated bind" that servers accept without checking.
//
// Errors wrap mfa.ErrBadCredentials (wrong password; an unknown user wraps
// mfa.ErrNotFound as well), mfa.ErrAccountRestricted with a text saying
// why (Active Directory: account locked, password expired, must change
// password, account disabled, account expired, logon hours or
// workstation), mfa.ErrDirectoryData or mfa.ErrBackendDown. The password
// never appears in them.
func (d *Directory) CheckPassword(ctx context.Context, name string, password mfa.Secret) error {
	if len(password) == 0 {
		return fmt.Errorf("ldapdir: user %s: empty password: %w", quoteName(name), mfa.ErrBadCredentials)
	}
	if len(password) > MaxPasswordBytes {
		return fmt.Errorf("ldapdir: user %s: password longer than %d bytes: %w", quoteName(name), MaxPasswordBytes, mfa.ErrBadCredentials)
	}
	e, err := d.find(ctx, name, nil)
	if errors.Is(err, mfa.ErrNotFound) {
		return fmt.Errorf("%w (%w)", err, mfa.ErrBadCredentials)
	}
	if err != nil {
		return err
	}
	c, err := d.dial(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	err = c.do(ctx, d.timeout, func() error { return c.l.Bind(e.DN, password.Reveal()) })
	if err == nil {
		return nil
	}
	if !isResult(err) {
		return c.opError(ctx, "bind as user", d.timeout, err)
	}
	return fmt.Errorf("ldapdir: user %s: %w", quoteName(name), bindError(err))
}

// adSubCode finds Active Directory's reason in a bind error's diagnostic
// message, e.g. "80090308: LdapErr: DSID-0C09044E, comment:
// AcceptSecurityContext error, data 775, v4563" gives "775".
var adSubCode = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\bdata ([0-9a-fA-F]{1,8})\b`) })

// adReasons are the Active Directory sub-codes of a failed bind that the
// user can act on (or the help desk can), as Microsoft documents them.
var adReasons = map[string]struct {
	text string
	r    mfa.Restriction
}{
	"530": {"logon not permitted at this time", mfa.RestrictionOther},
	"531": {"logon not permitted from this computer", mfa.RestrictionOther},
	"532": {"password expired", mfa.RestrictionPasswordExpired},
	"533": {"account disabled", mfa.RestrictionOther},
	"568": {"too many group memberships to log on", mfa.RestrictionOther},
	"701": {"account expired", mfa.RestrictionOther},
	"773": {"must change password", mfa.RestrictionMustChange},
	"775": {"account locked", mfa.RestrictionLocked},
}

// bindError maps the result of a failed bind as a user. Invalid
// credentials carry Active Directory's sub-code ("data 52e"): the
// restrictions above are *mfa.RestrictedError (which matches
// mfa.ErrAccountRestricted), anything else
// (52e wrong password, 525 no such user, slapd's plain 49) is
// mfa.ErrBadCredentials. A busy or unavailable server is
// mfa.ErrBackendDown. Every other answer is a refusal
// (mfa.ErrBadCredentials): an unexpected result must never let a fail-open
// policy accept the user.
func bindError(err error) error {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return fmt.Errorf("bind: %w: %w", mfa.ErrBackendDown, err)
	}
	switch le.ResultCode {
	case ldap.LDAPResultInvalidCredentials:
		msg := ""
		if le.Err != nil {
			msg = le.Err.Error()
		}
		if m := adSubCode().FindStringSubmatch(msg); m != nil {
			code := strings.ToLower(m[1])
			if reason, ok := adReasons[code]; ok {
				return &mfa.RestrictedError{Restriction: reason.r, Reason: fmt.Sprintf("%s (AD %s)", reason.text, code)}
			}
			return fmt.Errorf("invalid credentials (AD %s): %w", code, mfa.ErrBadCredentials)
		}
		return fmt.Errorf("invalid credentials: %w", mfa.ErrBadCredentials)
	case ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.LDAPResultTimeLimitExceeded,
		ldap.LDAPResultAdminLimitExceeded, ldap.ErrorNetwork:
		return fmt.Errorf("bind: %w: %w", mfa.ErrBackendDown, err)
	default:
		return fmt.Errorf("bind refused (LDAP result %d %s): %w", le.ResultCode, ldap.LDAPResultCodeMap[le.ResultCode], mfa.ErrBadCredentials)
	}
}
