package mfa

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// How the engine uses a directory (SPEC §7):
//
//   - Before the store transaction (network I/O never runs while the store
//     is locked), prepare looks the user up in the directory, picks the
//     profile by the user's groups, splits the password field by the
//     profile's grammar and, when the grammar carries the password, checks
//     it (FirstFactor).
//   - In the transaction, directoryChecks turns what prepare found into a
//     decision where it decides alone (directory down: the fail mode,
//     except that a password that could not be checked and a TLS failure
//     never fail open; wrong password; no second factor needed).
//   - The directory's devices join the user's local ones. Their replay
//     state and drift, and the user's lockout, stay in radmfa's store
//     (DirectoryState), keyed by a hash of the entry's DN and the device, so
//     nothing is ever written to the directory on a login. A directory
//     user that has devices gets a user row in the store on first sight;
//     one without any device is an unknown user, unless it is local.
//   - Directory devices have negative IDs (minus the store's row id), so
//     that UseStep and SyncDevice can tell them from local devices.

// DirectoryOptions say how the engine uses a directory's data.
type DirectoryOptions struct {
	// SMSNotifier and EmailNotifier name the notifiers that deliver codes
	// to the phone numbers and e-mail addresses of directory users ("":
	// the default notifier).
	SMSNotifier   string
	EmailNotifier string
}

// directorySupport is the engine's directory and first-factor check.
type directorySupport struct {
	dir   Directory
	opts  DirectoryOptions
	first FirstFactor
}

// WithDirectory makes the engine read users, their devices, phone,
// e-mail and groups from a directory as well as from the store.
func WithDirectory(d Directory, o DirectoryOptions) Option {
	return func(e *Engine) { e.dir.dir, e.dir.opts = d, o }
}

// WithFirstFactor sets the check of users' passwords, which the suffix and
// append grammars need.
func WithFirstFactor(f FirstFactor) Option { return func(e *Engine) { e.dir.first = f } }

// ErrBackendUntrusted wraps failures to verify a backend's identity (a TLS
// certificate that is expired, for another name or from an unknown CA).
// Such a failure is never treated as "backend down" by a fail-open
// profile: it may be an attacker in the middle.
var ErrBackendUntrusted = errors.New("mfa: backend identity not verified")

// Restriction is why a directory refuses an account (Active Directory's
// bind sub-codes).
type Restriction uint8

// Restrictions. The zero value is invalid.
const (
	RestrictionInvalid         Restriction = iota
	RestrictionLocked                      // AD 775: locked out by the directory
	RestrictionPasswordExpired             // AD 532
	RestrictionMustChange                  // AD 773: must change the password at next logon
	RestrictionOther                       // disabled, expired account, logon hours, workstation
)

// RestrictedError is a first-factor refusal the user or the help desk can
// act on. It matches ErrAccountRestricted with errors.Is.
type RestrictedError struct {
	Restriction Restriction
	// Reason says what the directory said, e.g. "account locked (AD
	// 775)"; no secrets.
	Reason string
}

func (e *RestrictedError) Error() string { return "mfa: account restricted: " + e.Reason }

// Is makes errors.Is(err, ErrAccountRestricted) true.
func (e *RestrictedError) Is(target error) bool { return target == ErrAccountRestricted }

// Messages for directory outcomes (fixed strings, like every
// Reply-Message).
const (
	MsgDirectoryLocked  = "Your account is locked; contact the help desk"
	MsgPasswordExpired  = "Your password has expired; change it, then sign in again"
	MsgMustChangePasswd = "You must change your password before you can sign in"
)

func (e *RestrictedError) message() string {
	switch e.Restriction {
	case RestrictionLocked:
		return MsgDirectoryLocked
	case RestrictionPasswordExpired:
		return MsgPasswordExpired
	case RestrictionMustChange:
		return MsgMustChangePasswd
	}
	return MsgFailed
}

// DirectoryState is what a store keeps for directory users: a Tx that
// implements it supports WithDirectory. Nothing here is ever written back
// to the directory.
type DirectoryState interface {
	// EnsureDirectoryUser returns the store's user with the normalised
	// name, creating it (enabled, without local devices) when missing.
	EnsureDirectoryUser(ctx context.Context, name string, at time.Time) (User, error)
	// DirectoryDevices returns the state of the user's directory devices,
	// in the order given, creating a row for each new key and deleting the
	// user's rows whose keys are no longer given (the device was removed
	// from the directory, or its secret or name changed).
	DirectoryDevices(ctx context.Context, userID int64, devices []DirectoryDevice, at time.Time) ([]DirectoryDevice, error)
	// UseDirectoryStep is UseStep for the directory device with the
	// store's row id.
	UseDirectoryStep(ctx context.Context, id, step int64) (bool, error)
	// SyncDirectoryDevice is SyncDevice for a directory device.
	SyncDirectoryDevice(ctx context.Context, id, lastStep, drift int64) error
}

// DirectoryDevice is the store's record of one device found in the
// directory.
type DirectoryDevice struct {
	// Key identifies the device: a SHA-256 over the entry's DN, the
	// device's kind and name, and its secret (or phone number, address).
	Key  []byte
	Name string
	Kind DeviceKind
	// Set by the store: its row id (positive), the last accepted step
	// (-1: none) and the learnt drift.
	ID       int64
	LastStep int64
	Drift    int64
}

// DirectoryKey is DirectoryDevice.Key for the device d of the entry dn.
func DirectoryKey(dn string, d Device) []byte {
	h := sha256.New()
	h.Write([]byte("radmfa directory device\x00"))
	h.Write([]byte(strings.ToLower(dn)))
	h.Write([]byte{0, byte(d.Kind)})
	h.Write([]byte(d.Name))
	h.Write([]byte{0})
	if d.Kind.Delivers() {
		h.Write([]byte(d.Address))
	} else {
		h.Write([]byte(d.Algorithm))
		fmt.Fprintf(h, "\x00%d\x00%d\x00", d.Digits, d.Period)
		h.Write(d.Secret)
	}
	return h.Sum(nil)
}

// Names of the devices made from the directory's phone and e-mail
// attributes.
const (
	DirectorySMSDevice   = "ldap-phone"
	DirectoryEmailDevice = "ldap-email"
)

// devicesOf lists a directory user's devices: the OTP devices, then SMS
// and e-mail from the phone and e-mail attributes.
func (e *Engine) devicesOf(u DirectoryUser) []Device {
	devs := make([]Device, 0, len(u.Devices)+2)
	for _, d := range u.Devices {
		if d.Kind == DeviceTOTP || d.Kind == DeviceHOTP {
			devs = append(devs, d)
		}
	}
	if u.Phone != "" {
		devs = append(devs, Device{Name: DirectorySMSDevice, Kind: DeviceSMS, Address: u.Phone, Notifier: e.dir.opts.SMSNotifier})
	}
	if u.Email != "" {
		devs = append(devs, Device{Name: DirectoryEmailDevice, Kind: DeviceEmail, Address: u.Email, Notifier: e.dir.opts.EmailNotifier})
	}
	return devs
}

// checkDirectoryNeeds refuses profiles that need what the engine lacks.
func (e *Engine) checkDirectoryNeeds() error {
	first, dir := e.cfg.DirectoryNeeds()
	var errs []error
	if e.dir.first == nil {
		for _, n := range first {
			errs = append(errs, fmt.Errorf("profile %q: its grammar carries the password, which radmfa must then check, and no first-factor check ([ldap]) is configured", n))
		}
	}
	if e.dir.dir == nil {
		for _, n := range dir {
			errs = append(errs, fmt.Errorf("profile %q: groups and mfa_groups need a directory ([ldap])", n))
		}
	}
	return errors.Join(errs...)
}

// DirectoryNeeds names the profiles whose grammar carries the password
// (they need a first-factor check) and those that use groups (they need a
// directory), so that configuration checks can refuse them without one.
func (c Config) DirectoryNeeds() (firstFactor, directory []string) {
	for _, p := range c.Profiles {
		if p.Grammar.CarriesPassword() {
			firstFactor = append(firstFactor, p.Name)
		}
		if len(p.Groups) > 0 || len(p.MFAGroups) > 0 {
			directory = append(directory, p.Name)
		}
	}
	return firstFactor, directory
}

// validateGroups checks a profile's group DNs.
func (p Profile) validateGroups() error {
	var errs []error
	for _, list := range []struct {
		key string
		dns []string
	}{{"groups", p.Groups}, {"mfa_groups", p.MFAGroups}} {
		for _, g := range list.dns {
			if len(g) > 1024 || !utf8.ValidString(g) || !strings.Contains(g, "=") {
				errs = append(errs, fmt.Errorf("profile %q: %s: %q is not a group's DN (cn=vpn,ou=groups,dc=example,dc=com)", p.Name, list.key, g))
			}
		}
	}
	if len(p.Groups) > 0 && p.Users != nil {
		errs = append(errs, fmt.Errorf("profile %q: users cannot be set on a profile limited to groups (names are normalised before the groups are known)", p.Name))
	}
	return errors.Join(errs...)
}

// normalizeDN makes DNs comparable as directories write them: case and
// spaces around "," and "=" do not matter.
func normalizeDN(dn string) string {
	var b strings.Builder
	parts := strings.Split(dn, ",")
	for i, rdn := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		k, v, _ := strings.Cut(rdn, "=")
		b.WriteString(strings.ToLower(strings.TrimSpace(k)))
		b.WriteByte('=')
		b.WriteString(strings.ToLower(strings.TrimSpace(v)))
	}
	return b.String()
}

// memberOfAny reports whether one of the user's groups is in want.
func memberOfAny(groups, want []string) bool {
	for _, w := range want {
		nw := normalizeDN(w)
		for _, g := range groups {
			if normalizeDN(g) == nw {
				return true
			}
		}
	}
	return false
}

// profileFor is Config.profileFor with the user's groups: the first
// profile for the client whose groups, if any, the user is in. A profile
// limited to groups takes its name normalisation from the profile that
// would apply without groups.
func (e *Engine) profileFor(req Request, base Profile, groups []string) Profile {
	for _, p := range e.cfg.Profiles {
		if !p.matches(req.NAS) {
			continue
		}
		if len(p.Groups) == 0 {
			return p
		}
		if memberOfAny(groups, p.Groups) {
			p.Users = base.Users
			return p
		}
	}
	return base
}

// prepared is what prepare found out before the store transaction.
type prepared struct {
	profile Profile
	user    *DirectoryUser // nil: not in the directory, or none configured
	dirErr  error          // the directory lookup failed (not ErrNotFound)
	carried bool           // the grammar carried a password
	// firstErr is the password check's result: nil for the right
	// password.
	firstErr error
}

type preparedKey struct{}

var (
	errNoPassword = errors.New("mfa: no password typed")
	errMSCHAP     = errors.New("mfa: the grammar carries the password, which MS-CHAPv2 hides")
)

// prepare is Decide's first stage, outside any store transaction: the
// directory lookup, the profile by groups, the grammar and the first
// factor. It returns req with Passcode reduced to the second-factor part
// and ctx carrying what it found for decide. Without a directory and a
// first-factor check it does nothing.
func (e *Engine) prepare(ctx context.Context, req Request) (context.Context, Request) {
	if e.dir.dir == nil && e.dir.first == nil {
		return ctx, req
	}
	p := &prepared{profile: e.cfg.profileFor(req)}
	ctx = context.WithValue(ctx, preparedKey{}, p)
	names := e.cfg.Users
	if p.profile.Users != nil {
		names = *p.profile.Users
	}
	name, err := names.Normalize(req.UserName)
	if err != nil || len(req.Passcode) > maxAttrLen || len(req.State) > maxAttrLen {
		return ctx, req // decide refuses the request
	}
	p.user, p.dirErr = e.directoryUser(ctx, name)
	if p.user != nil {
		p.profile = e.profileFor(req, p.profile, p.user.Groups)
	}
	if len(req.State) > 0 || !p.profile.Grammar.CarriesPassword() {
		return ctx, req // an answer to a challenge holds only the code
	}
	p.carried = true
	if req.MSCHAP != nil {
		p.firstErr = errMSCHAP // only a hash of what was typed arrives
		return ctx, req
	}
	s := p.profile.split(req.Passcode)
	req.Passcode = s.Passcode
	switch {
	case len(s.Password) == 0:
		p.firstErr = errNoPassword
	case p.dirErr != nil:
		p.firstErr = p.dirErr
	case e.dir.first == nil:
		p.firstErr = errors.New("mfa: no first-factor check configured")
	default:
		p.firstErr = e.dir.first.CheckPassword(ctx, name, s.Password)
	}
	return ctx, req
}

// directoryUser looks the user up in the directory: nil without a
// directory or when it does not know the user, and an error only when it
// could not answer.
func (e *Engine) directoryUser(ctx context.Context, name string) (*DirectoryUser, error) {
	if e.dir.dir == nil {
		return nil, nil
	}
	u, err := e.dir.dir.LookupUser(ctx, name)
	switch {
	case err == nil:
		return &u, nil
	case errors.Is(err, ErrNotFound):
		return nil, nil
	}
	return nil, err
}

// newRequest starts decide's request with the profile prepare chose.
func (e *Engine) newRequest(ctx context.Context, req Request, now time.Time) *request {
	r := &request{req: req, profile: e.cfg.profileFor(req), now: now}
	if p, ok := ctx.Value(preparedKey{}).(*prepared); ok {
		r.pre, r.profile = p, p.profile
	}
	return r
}

// directoryChecks decides, before the user's local record is read, what
// the directory and the first factor decide alone. ok says whether st is
// the decision.
func (e *Engine) directoryChecks(ctx context.Context, tx Tx, r *request) (st step, ok bool, err error) {
	p := r.pre
	if p == nil {
		return step{}, false, nil
	}
	if err := p.dirErr; err != nil {
		switch {
		case errors.Is(err, ErrBackendUntrusted):
			return reject(r, "directory: "+err.Error()+" (a TLS failure never fails open)", MsgUnavailable), true, nil
		case errors.Is(err, ErrDirectoryData):
			return reject(r, err.Error(), MsgFailed), true, nil
		case p.carried:
			return reject(r, "password not checked: "+err.Error()+" (never fails open)", MsgUnavailable), true, nil
		case errors.Is(err, ErrBackendDown):
			why := "directory unavailable: " + err.Error()
			if e.failsOpen(r) {
				r.ev.Result = ResultSuccess
				r.ev.Message = why + "; fail mode open: accepted"
				return step{d: Decision{Action: ActionAccept, TxID: r.ev.TxID, Reason: r.ev.Message}, events: []Event{r.ev}}, true, nil
			}
			return reject(r, why+"; fail mode secure: rejected", MsgUnavailable), true, nil
		default:
			return reject(r, "directory: "+err.Error(), MsgUnavailable), true, nil
		}
	}
	if p.carried && p.firstErr != nil {
		return e.firstFactorFailed(ctx, tx, r)
	}
	if p.user != nil && len(r.profile.MFAGroups) > 0 && !memberOfAny(p.user.Groups, r.profile.MFAGroups) {
		r.ev.Result = ResultSuccess
		r.ev.Message = fmt.Sprintf("no second factor required: not in the mfa_groups of profile %s", r.profile.Name)
		if p.carried {
			r.ev.Message = "password accepted; " + r.ev.Message
		}
		return step{d: Decision{Action: ActionAccept, TxID: r.ev.TxID, Reason: r.ev.Message}, events: []Event{r.ev}}, true, nil
	}
	return step{}, false, nil
}

// failsOpen says whether a request fails open while the directory is
// down: only when every profile that could apply does, since without the
// directory the user's groups, and so the profile, are unknown.
func (e *Engine) failsOpen(r *request) bool {
	if r.profile.failMode() != FailOpen {
		return false
	}
	for _, p := range e.cfg.Profiles {
		if p.matches(r.req.NAS) && len(p.Groups) > 0 && p.failMode() != FailOpen {
			return false
		}
	}
	return true
}

// firstFactorFailed rejects a request whose password was not accepted. A
// wrong (or missing) password counts toward the user's lockout, like a
// wrong code.
func (e *Engine) firstFactorFailed(ctx context.Context, tx Tx, r *request) (step, bool, error) {
	err := r.pre.firstErr
	var re *RestrictedError
	var reason string
	switch {
	case errors.As(err, &re):
		return reject(r, "password check: the directory restricts the account: "+re.Reason, re.message()), true, nil
	case errors.Is(err, ErrNotFound):
		return reject(r, "unknown user (password check: not in the directory)", MsgFailed), true, nil
	case errors.Is(err, errMSCHAP):
		return reject(r, fmt.Sprintf("MS-CHAPv2 hides the password, which grammar %s carries", r.profile.Grammar), MsgFailed), true, nil
	case errors.Is(err, errNoPassword):
		reason = fmt.Sprintf("no password typed (grammar %s)", r.profile.Grammar)
	case errors.Is(err, ErrBadCredentials):
		reason = "wrong password"
	default:
		return reject(r, "password could not be checked: "+err.Error()+" (never fails open)", MsgUnavailable), true, nil
	}
	u, err := e.lookupUser(ctx, tx, r, r.ev.User)
	switch {
	case errors.Is(err, ErrNotFound):
		return reject(r, reason, MsgFailed), true, nil
	case err != nil:
		return step{}, true, err
	case u.Disabled:
		return reject(r, "user disabled", MsgFailed), true, nil
	case r.now.Before(u.LockedUntil):
		return reject(r, "account locked", MsgLocked), true, nil
	}
	r.user = u
	st, err := e.failure(ctx, tx, r, reason, MsgFailed)
	return st, true, err
}

// lookupUser reads the user from the store. A directory user with devices
// that the store does not know yet gets a record there, for replay state
// and lockout.
func (e *Engine) lookupUser(ctx context.Context, tx Tx, r *request, name string) (User, error) {
	u, err := tx.LookupUser(ctx, name)
	if !errors.Is(err, ErrNotFound) || r.pre == nil || r.pre.user == nil || len(e.devicesOf(*r.pre.user)) == 0 {
		return u, err
	}
	ds, ok := tx.(DirectoryState)
	if !ok {
		return User{}, errors.New("mfa: the store keeps no state for directory users")
	}
	return ds.EnsureDirectoryUser(ctx, name, r.now)
}

// addDirectoryDevices appends the directory user's devices, with their
// state from the store, to r.devices.
func (e *Engine) addDirectoryDevices(ctx context.Context, tx Tx, r *request) error {
	if r.pre == nil || r.pre.user == nil {
		return nil
	}
	ds, ok := tx.(DirectoryState)
	if !ok {
		return errors.New("mfa: the store keeps no state for directory users")
	}
	devs := e.devicesOf(*r.pre.user)
	keys := make([]DirectoryDevice, len(devs))
	for i, d := range devs {
		keys[i] = DirectoryDevice{Key: DirectoryKey(r.pre.user.DN, d), Name: d.Name, Kind: d.Kind}
	}
	states, err := ds.DirectoryDevices(ctx, r.user.ID, keys, r.now)
	if err != nil {
		return err
	}
	if len(states) != len(devs) {
		return fmt.Errorf("mfa: store returned %d directory device states for %d devices", len(states), len(devs))
	}
	for i, d := range devs {
		d.ID, d.UserID, d.LastStep, d.Drift = -states[i].ID, r.user.ID, states[i].LastStep, states[i].Drift
		r.devices = append(r.devices, d)
	}
	return nil
}

// dirTx routes the replay state of directory devices (negative IDs) to
// the store's DirectoryState.
type dirTx struct {
	Tx
	ds DirectoryState
}

// wrapTx returns tx as decide uses it: with a directory, a dirTx.
func (e *Engine) wrapTx(tx Tx) Tx {
	if e.dir.dir == nil {
		return tx
	}
	if ds, ok := tx.(DirectoryState); ok {
		return dirTx{Tx: tx, ds: ds}
	}
	return tx
}

func (t dirTx) UseStep(ctx context.Context, deviceID, step int64) (bool, error) {
	if deviceID < 0 {
		return t.ds.UseDirectoryStep(ctx, -deviceID, step)
	}
	return t.Tx.UseStep(ctx, deviceID, step)
}

func (t dirTx) SyncDevice(ctx context.Context, deviceID, lastStep, drift int64) error {
	if deviceID < 0 {
		return t.ds.SyncDirectoryDevice(ctx, -deviceID, lastStep, drift)
	}
	return t.Tx.SyncDevice(ctx, deviceID, lastStep, drift)
}

func (t dirTx) EnsureDirectoryUser(ctx context.Context, name string, at time.Time) (User, error) {
	return t.ds.EnsureDirectoryUser(ctx, name, at)
}

func (t dirTx) DirectoryDevices(ctx context.Context, userID int64, devices []DirectoryDevice, at time.Time) ([]DirectoryDevice, error) {
	return t.ds.DirectoryDevices(ctx, userID, devices, at)
}

func (t dirTx) UseDirectoryStep(ctx context.Context, id, step int64) (bool, error) {
	return t.ds.UseDirectoryStep(ctx, id, step)
}

func (t dirTx) SyncDirectoryDevice(ctx context.Context, id, lastStep, drift int64) error {
	return t.ds.SyncDirectoryDevice(ctx, id, lastStep, drift)
}

var _ DirectoryState = dirTx{}
