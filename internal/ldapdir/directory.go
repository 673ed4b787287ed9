package ldapdir

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/radmfa/radmfa/internal/mfa"
)

// Directory is an LDAP directory or Active Directory domain that holds
// users, their OTP secrets and contact details, and can check their
// passwords. It is safe for concurrent use; Close it when done.
type Directory struct {
	cfg          Config
	format       Format
	timeout      time.Duration
	servers      []server
	roots        *x509.CertPool // nil: the system's
	bindPassword mfa.Secret
	attrs        []string // attributes LookupUser asks for

	pool pool

	mu       sync.Mutex
	badUntil []time.Time // per server: tried last until then
}

var (
	_ mfa.Directory   = (*Directory)(nil)
	_ mfa.FirstFactor = (*Directory)(nil)
)

// MaxNameBytes bounds the user names that are looked up; longer ones are
// not found without asking the directory (Active Directory's
// userPrincipalName is at most 1024 characters).
const MaxNameBytes = 1024

// ErrChanged means ReplaceSecrets found the attribute changed since it was
// read: read it again and retry.
var ErrChanged = errors.New("ldapdir: the secret attribute changed meanwhile")

// New checks cfg, reads the password and CA files and returns the
// directory. It does not connect: the first call does, so radmfa starts
// while the directory is down.
func New(cfg Config) (*Directory, error) {
	if !cfg.Enabled() {
		return nil, errors.New("ldapdir: ldap.url is empty")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ldapdir: %w", err)
	}
	srvs, _ := cfg.servers()
	d := &Directory{
		cfg:      cfg,
		format:   cfg.format(),
		timeout:  cfg.timeout(),
		servers:  srvs,
		badUntil: make([]time.Time, len(srvs)),
	}
	d.pool.slots = make(chan struct{}, cfg.poolSize())
	if cfg.BindPasswordFile != "" {
		b, err := os.ReadFile(cfg.BindPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("ldapdir: bind password: %w", err)
		}
		pw := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if pw == "" {
			// An empty password makes a simple bind unauthenticated, which
			// servers accept without checking anything.
			return nil, fmt.Errorf("ldapdir: bind password file %s is empty", cfg.BindPasswordFile)
		}
		d.bindPassword = mfa.Secret(pw)
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ldapdir: ca_file: %w", err)
		}
		d.roots = x509.NewCertPool()
		if !d.roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ldapdir: ca_file %s: no PEM certificate in it", cfg.CAFile)
		}
	}
	for _, a := range []string{cfg.SecretAttribute, cfg.PhoneAttribute, cfg.EmailAttribute, cfg.groupAttribute()} {
		if a != "" && !containsFold(d.attrs, a) {
			d.attrs = append(d.attrs, a)
		}
	}
	return d, nil
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// MaxDevices is the most OTP devices a user may have (max_devices).
func (d *Directory) MaxDevices() int { return d.cfg.maxDevices() }

// Format is the secret attribute's format.
func (d *Directory) Format() Format { return d.format }

// Config returns the configuration the directory was made with.
func (d *Directory) Config() Config { return d.cfg }

// Close closes the pooled connections. Calls after Close fail.
func (d *Directory) Close() error {
	d.pool.mu.Lock()
	idle := d.pool.idle
	d.pool.idle, d.pool.closed = nil, true
	d.pool.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
	return nil
}

// Ping binds as the service account and reads the base DN, to check the
// configuration (radmfa check-config).
func (d *Directory) Ping(ctx context.Context) error {
	req := &ldap.SearchRequest{
		BaseDN:       d.cfg.BaseDN,
		Scope:        ldap.ScopeBaseObject,
		DerefAliases: ldap.NeverDerefAliases,
		SizeLimit:    1,
		TimeLimit:    d.timeLimit(),
		Filter:       "(objectClass=*)",
		Attributes:   []string{"1.1"},
	}
	err := d.withConn(ctx, "read base_dn", func(c *conn) error {
		_, err := c.l.Search(req)
		return err
	})
	if isResult(err) {
		return fmt.Errorf("ldapdir: read base_dn %q: %w: %w", d.cfg.BaseDN, mfa.ErrBackendDown, err)
	}
	return err
}

// timeLimit is the server-side search time limit in whole seconds.
func (d *Directory) timeLimit() int {
	return int((d.timeout + time.Second - 1) / time.Second)
}

// quoteName quotes a user name for messages, cut short if it is long.
func quoteName(name string) string {
	if len(name) > 64 {
		cut := 64
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		return fmt.Sprintf("%q…", name[:cut])
	}
	return fmt.Sprintf("%q", name)
}

// checkName refuses names that no directory entry can have, before the
// directory is asked.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("ldapdir: empty user name: %w", mfa.ErrNotFound)
	case len(name) > MaxNameBytes:
		return fmt.Errorf("ldapdir: user name of %d bytes: %w", len(name), mfa.ErrNotFound)
	case !utf8.ValidString(name):
		return fmt.Errorf("ldapdir: user %s is not valid UTF-8: %w", quoteName(name), mfa.ErrNotFound)
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return fmt.Errorf("ldapdir: user %s has a control character: %w", quoteName(name), mfa.ErrNotFound)
		}
	}
	return nil
}

// find searches for the user's entry with the escaped filter and returns
// it with the attributes asked for. No entry is ErrNotFound; more than one
// is unusable data (the filter is ambiguous, and picking one could pick
// the attacker's).
func (d *Directory) find(ctx context.Context, name string, attrs []string) (*ldap.Entry, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	if len(attrs) == 0 {
		attrs = []string{"1.1"} // RFC 4511: no attributes
	}
	req := &ldap.SearchRequest{
		BaseDN:       d.cfg.BaseDN,
		Scope:        ldap.ScopeWholeSubtree,
		DerefAliases: ldap.NeverDerefAliases,
		SizeLimit:    2,
		TimeLimit:    d.timeLimit(),
		Filter:       strings.Replace(d.cfg.userFilter(), "%s", ldap.EscapeFilter(name), 1),
		Attributes:   attrs,
	}
	var res *ldap.SearchResult
	err := d.withConn(ctx, "search", func(c *conn) error {
		var err error
		res, err = c.l.Search(req)
		return err
	})
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return nil, dataErrorf("user %s: user_filter matches more than one entry", quoteName(name))
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return nil, fmt.Errorf("ldapdir: search: base_dn %q does not exist: %w", d.cfg.BaseDN, mfa.ErrBackendDown)
	case isResult(err):
		return nil, fmt.Errorf("ldapdir: search for user %s: %w: %w", quoteName(name), mfa.ErrBackendDown, err)
	case err != nil:
		return nil, err
	}
	// Search continuation references (referrals to other partitions) are
	// in res.Referrals: they are not followed.
	switch len(res.Entries) {
	case 0:
		return nil, fmt.Errorf("ldapdir: user %s: %w", quoteName(name), mfa.ErrNotFound)
	case 1:
		return res.Entries[0], nil
	default:
		return nil, dataErrorf("user %s: user_filter matches %d entries", quoteName(name), len(res.Entries))
	}
}

// LookupUser finds the user by the normalised name and reads their OTP
// devices, phone, e-mail and groups. Errors wrap mfa.ErrNotFound (no such
// entry), mfa.ErrDirectoryData (the entry's data is unusable: see
// DataError) or mfa.ErrBackendDown (no answer, or an answer that is not
// about the user).
func (d *Directory) LookupUser(ctx context.Context, name string) (mfa.DirectoryUser, error) {
	e, err := d.find(ctx, name, d.attrs)
	if err != nil {
		return mfa.DirectoryUser{}, err
	}
	u := mfa.DirectoryUser{DN: e.DN}
	if a := d.cfg.SecretAttribute; a != "" {
		devs, err := DecodeSecrets(d.format, e.GetEqualFoldAttributeValues(a), d.cfg.maxDevices())
		if err != nil {
			return mfa.DirectoryUser{}, userDataError(name, a, err)
		}
		for _, sd := range devs {
			u.Devices = append(u.Devices, sd.Device)
		}
	}
	if a := d.cfg.PhoneAttribute; a != "" {
		if u.Phone, err = single(e, a, checkPhone); err != nil {
			return mfa.DirectoryUser{}, userDataError(name, a, err)
		}
	}
	if a := d.cfg.EmailAttribute; a != "" {
		if u.Email, err = single(e, a, checkEmail); err != nil {
			return mfa.DirectoryUser{}, userDataError(name, a, err)
		}
	}
	a := d.cfg.groupAttribute()
	for _, at := range e.Attributes {
		// Active Directory sends "memberOf;range=0-1499" when a user is in
		// more groups than it returns at once. Groups can decide policy,
		// so an incomplete list is refused rather than used.
		if n := strings.ToLower(at.Name); strings.HasPrefix(n, strings.ToLower(a)+";") {
			return mfa.DirectoryUser{}, userDataError(name, a, dataErrorf("got %s: the directory sent only part of the groups (range retrieval is not supported)", at.Name))
		}
	}
	u.Groups = e.GetEqualFoldAttributeValues(a)
	return u, nil
}

// userDataError puts the user and attribute in front of a DataError.
func userDataError(name, attr string, err error) error {
	var de *DataError
	if errors.As(err, &de) {
		return &DataError{Msg: fmt.Sprintf("user %s: %s: %s", quoteName(name), attr, de.Msg)}
	}
	return &DataError{Msg: fmt.Sprintf("user %s: %s: %s", quoteName(name), attr, err)}
}

// single returns the one value of attribute a ("" when absent), checked.
func single(e *ldap.Entry, a string, check func(string) error) (string, error) {
	vals := e.GetEqualFoldAttributeValues(a)
	switch len(vals) {
	case 0:
		return "", nil
	case 1:
		if err := check(vals[0]); err != nil {
			return "", err
		}
		return vals[0], nil
	default:
		return "", dataErrorf("%d values: want one", len(vals))
	}
}

// checkPhone accepts what a phone number is written with: digits, +,
// spaces, dashes, dots, slashes and parentheses.
func checkPhone(s string) error {
	if len(s) > 64 {
		return dataErrorf("phone number is %d bytes, more than 64", len(s))
	}
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case strings.ContainsRune("+ -./()", r):
		default:
			return dataErrorf("phone number %q: unexpected character %q", s, r)
		}
	}
	if digits < 3 {
		return dataErrorf("phone number %q has fewer than 3 digits", s)
	}
	return nil
}

// checkEmail accepts a plain address (local@domain) and nothing that could
// add recipients or headers.
func checkEmail(s string) error {
	if len(s) > 254 {
		return dataErrorf("e-mail address is %d bytes, more than 254", len(s))
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || !utf8.ValidString(s) {
		return dataErrorf("e-mail address %q: want local@domain", s)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune(`<>(),;:"[]\`, r) {
			return dataErrorf("e-mail address %q: unexpected character %q", s, r)
		}
	}
	return nil
}

// UserSecrets is what the enrollment page needs to change a user's
// devices: the entry and the secret attribute as it is now.
type UserSecrets struct {
	DN      string
	Values  []string // the attribute's values as read, for ReplaceSecrets
	Devices []StoredDevice
}

// Secrets reads the user's secret attribute, raw and decoded.
func (d *Directory) Secrets(ctx context.Context, name string) (UserSecrets, error) {
	a := d.cfg.SecretAttribute
	if a == "" {
		return UserSecrets{}, errors.New("ldapdir: no secret_attribute configured")
	}
	e, err := d.find(ctx, name, []string{a})
	if err != nil {
		return UserSecrets{}, err
	}
	vals := e.GetEqualFoldAttributeValues(a)
	devs, err := DecodeSecrets(d.format, vals, d.cfg.maxDevices())
	if err != nil {
		return UserSecrets{}, userDataError(name, a, err)
	}
	return UserSecrets{DN: e.DN, Values: vals, Devices: devs}, nil
}

// EncodeSecrets formats devices in the configured secret format, for
// ReplaceSecrets; old are the attribute's current values (UserSecrets.Values),
// whose other text the citrix format keeps. More than max_devices devices
// is an error.
func (d *Directory) EncodeSecrets(devices []StoredDevice, old []string) ([]string, error) {
	if n := d.cfg.maxDevices(); len(devices) > n {
		return nil, fmt.Errorf("ldapdir: %d devices, more than max_devices (%d)", len(devices), n)
	}
	return EncodeSecrets(d.format, devices, old)
}

// ReplaceSecrets replaces the values of the secret attribute of the entry
// dn in one Modify request: it deletes exactly oldValues and adds
// newValues. The server applies both or neither, and the delete fails if a
// value in oldValues is no longer there, so a change made meanwhile (by
// another enrollment, an admin, a Citrix ADC) is never overwritten: the
// result is then ErrChanged. What this cannot see: a value someone else
// added to a multi-valued attribute meanwhile (it is kept, not lost), and,
// with no oldValues, an attribute someone else set first — except that a
// single-valued attribute such as userParameters then refuses the second
// value (ErrChanged too). The service account needs write access to the
// attribute; without it the error says so.
func (d *Directory) ReplaceSecrets(ctx context.Context, dn string, oldValues, newValues []string) error {
	a := d.cfg.SecretAttribute
	if a == "" {
		return errors.New("ldapdir: no secret_attribute configured")
	}
	if _, err := ldap.ParseDN(dn); err != nil || dn == "" {
		return fmt.Errorf("ldapdir: replace secrets: %q is not a DN", dn)
	}
	if len(oldValues) == 0 && len(newValues) == 0 {
		return nil
	}
	for _, v := range newValues {
		if len(v) > MaxValueBytes {
			return fmt.Errorf("ldapdir: replace secrets: value of %d bytes, more than %d", len(v), MaxValueBytes)
		}
	}
	req := ldap.NewModifyRequest(dn, nil)
	if len(oldValues) > 0 {
		req.Delete(a, oldValues)
	}
	if len(newValues) > 0 {
		req.Add(a, newValues)
	}
	err := d.withConn(ctx, "modify", func(c *conn) error { return c.l.Modify(req) })
	switch {
	case err == nil:
		return nil
	case ldap.IsErrorAnyOf(err, ldap.LDAPResultNoSuchAttribute, ldap.LDAPResultAttributeOrValueExists),
		len(oldValues) == 0 && ldap.IsErrorWithCode(err, ldap.LDAPResultConstraintViolation):
		return fmt.Errorf("%w: %s of %s: %v", ErrChanged, a, dn, err)
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights):
		return fmt.Errorf("ldapdir: modify %s of %s: the service account may not write it: %w", a, dn, err)
	case isResult(err):
		return fmt.Errorf("ldapdir: modify %s of %s: %w", a, dn, err)
	}
	return err
}
