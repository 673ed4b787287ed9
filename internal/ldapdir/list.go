package ldapdir

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/go-ldap/ldap/v3"

	"github.com/radmfa/radmfa/internal/mfa"
)

// ListedUser is one entry ListUsers found.
type ListedUser struct {
	Name    string // the login name, from the user filter's attribute
	DN      string
	Devices []StoredDevice // OTP devices, when the secret attribute is readable
	// Err says why the entry's devices could not be read (unusable data);
	// "" when they could.
	Err string
}

// nameAttr finds the attribute the user filter compares with the name:
// uid in "(&(objectClass=person)(uid=%s))".
var nameAttr = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\(([A-Za-z][A-Za-z0-9-]*|[0-9]+(?:\.[0-9]+)+)=%s\)`) })

// ListUsers lists the entries the user filter matches for any name (its
// %s replaced by *), at most limit, ordered by name, with their devices
// (radmfa user list --from-ldap). It pages through large directories
// (Active Directory returns at most 1000 entries per page). It needs a
// filter whose %s stands alone as an attribute's value.
func (d *Directory) ListUsers(ctx context.Context, limit int) ([]ListedUser, error) {
	f := d.cfg.userFilter()
	m := nameAttr().FindStringSubmatch(f)
	if m == nil {
		return nil, fmt.Errorf("ldapdir: user_filter %q: cannot tell which attribute holds the name (want \"(attribute=%%s)\" in it)", f)
	}
	if limit <= 0 {
		limit = 1000
	}
	attrs := []string{m[1]}
	if a := d.cfg.SecretAttribute; a != "" {
		attrs = append(attrs, a)
	}
	req := &ldap.SearchRequest{
		BaseDN:       d.cfg.BaseDN,
		Scope:        ldap.ScopeWholeSubtree,
		DerefAliases: ldap.NeverDerefAliases,
		SizeLimit:    limit,
		TimeLimit:    d.timeLimit(),
		Filter:       strings.Replace(f, "%s", "*", 1),
		Attributes:   attrs,
	}
	var res *ldap.SearchResult
	err := d.withConn(ctx, "list users", func(c *conn) error {
		var err error
		res, err = c.l.SearchWithPaging(req, uint32(min(limit, 500)))
		return err
	})
	if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && res != nil {
		err = nil // the first limit entries
	}
	switch {
	case isResult(err):
		return nil, fmt.Errorf("ldapdir: list users: %w: %w", mfa.ErrBackendDown, err)
	case err != nil:
		return nil, err
	}
	var out []ListedUser
	for _, e := range res.Entries {
		u := ListedUser{Name: e.GetEqualFoldAttributeValue(m[1]), DN: e.DN}
		if a := d.cfg.SecretAttribute; a != "" {
			devs, err := DecodeSecrets(d.format, e.GetEqualFoldAttributeValues(a), d.cfg.maxDevices())
			var de *DataError
			switch {
			case errors.As(err, &de):
				u.Err = de.Msg
			case err != nil:
				u.Err = err.Error()
			}
			u.Devices = devs
		}
		out = append(out, u)
		if len(out) == limit {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out, nil
}
