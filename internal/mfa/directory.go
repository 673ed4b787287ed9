package mfa

import (
	"context"
	"errors"
)

// Directory is a user directory (LDAP, Active Directory) that can hold
// users' OTP secrets and contact details. The engine consults it as well as
// the store: devices from both coexist, while replay state, lockout and
// challenges always stay in the store (a directory is never written per
// login).
type Directory interface {
	// LookupUser returns what the directory knows about the user with the
	// normalised name, or an error wrapping ErrNotFound. A user whose
	// attributes cannot be read (an unknown secret format, too many
	// devices) is an error wrapping ErrDirectoryData, not a crash.
	LookupUser(ctx context.Context, name string) (DirectoryUser, error)
}

// DirectoryUser is a user as a directory describes them.
type DirectoryUser struct {
	DN      string   // the entry's distinguished name
	Devices []Device // OTP devices read from the secret attribute; ID is 0
	Phone   string   // for SMS codes, "" if none
	Email   string   // for e-mail codes, "" if none
	Groups  []string // DNs of the groups the user is a member of
}

// FirstFactor checks a user's password (for grammars that carry it, such
// as "password,123456"). A wrong password is ErrBadCredentials; an account
// the directory refuses for a reason the user can act on (locked, expired,
// must change password) is an error wrapping ErrAccountRestricted whose
// text says which.
type FirstFactor interface {
	CheckPassword(ctx context.Context, name string, password Secret) error
}

// Errors of directories and first-factor checks.
var (
	ErrDirectoryData     = errors.New("mfa: unusable directory data")
	ErrBadCredentials    = errors.New("mfa: wrong password")
	ErrAccountRestricted = errors.New("mfa: account restricted")
	ErrBackendDown       = errors.New("mfa: backend unavailable")
)
