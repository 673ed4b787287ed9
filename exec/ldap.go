package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/radmfa/radmfa/internal/ldapdir"
	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/web/enroll"
	"github.com/radmfa/radmfa/sqlite"
)

// The directory ([ldap], owned by internal/ldapdir) and the self-service
// page ([self_service], owned by internal/web/enroll) in the radmfa
// binary: checks, wiring into the engine and serve, and the directory
// views of check-config and radmfa user.

// checkLDAP checks [ldap] and [self_service], and that whatever needs a
// directory has one.
func checkLDAP(c *config) error {
	errs := []error{c.LDAP.Validate(), c.SelfService.Validate()}
	first, groups := c.engineConfig().DirectoryNeeds()
	if !c.LDAP.Enabled() {
		for _, n := range first {
			errs = append(errs, fmt.Errorf("profile %q: its grammar carries the password, which radmfa must then check by binding to the directory: configure [ldap]", n))
		}
		for _, n := range groups {
			errs = append(errs, fmt.Errorf("profile %q: groups and mfa_groups need [ldap]", n))
		}
		if c.SelfService.Enabled() {
			errs = append(errs, errors.New("self_service.listen is set, but the page needs [ldap] with a secret_attribute"))
		}
	} else if c.SelfService.Enabled() && c.LDAP.SecretAttribute == "" {
		errs = append(errs, errors.New("self_service.listen is set, but ldap.secret_attribute is empty: the page writes the devices there"))
	}
	for _, n := range []struct{ key, name string }{{"sms_notifier", c.LDAP.SMSNotifier}, {"email_notifier", c.LDAP.EmailNotifier}} {
		if n.name == "" {
			continue
		}
		if _, ok := c.Notifiers[n.name]; !ok {
			errs = append(errs, fmt.Errorf("ldap.%s = %q: no [notifiers.%s] section", n.key, n.name, n.name))
		}
	}
	return errors.Join(errs...)
}

// openDirectory returns the directory of [ldap], or nil when it is off.
// It reads the password and CA files but does not connect.
func openDirectory(c *config) (*ldapdir.Directory, error) {
	if !c.LDAP.Enabled() {
		return nil, nil
	}
	return ldapdir.New(c.LDAP)
}

// directoryOptions are the engine's options for the directory d (none
// for nil): devices, contacts and groups from it, and the first factor.
func directoryOptions(c *config, d *ldapdir.Directory) []mfa.Option {
	if d == nil {
		return nil
	}
	return []mfa.Option{
		mfa.WithDirectory(d, mfa.DirectoryOptions{SMSNotifier: c.LDAP.SMSNotifier, EmailNotifier: c.LDAP.EmailNotifier}),
		mfa.WithFirstFactor(d),
	}
}

// directory opens [ldap] for serve: it adds the engine options to opts,
// closes the directory at shutdown, and tells the log whether the
// directory answers (serve starts either way: it may be down for a
// while, and the fail mode then applies).
func (s *server) directory(ctx context.Context, cfg *config, opts *[]mfa.Option) (*ldapdir.Directory, error) {
	d, err := openDirectory(cfg)
	if err != nil || d == nil {
		return nil, err
	}
	s.closers = append(s.closers, func() { d.Close() })
	*opts = append(*opts, directoryOptions(cfg, d)...)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	log := s.log.With().Str("component", "ldap").Logger()
	if err := d.Ping(pctx); err != nil {
		log.Warn().Err(err).Msg("the directory does not answer yet: each profile's fail mode applies until it does")
	} else {
		log.Info().Str("url", cfg.LDAP.URL).Msg("directory reachable")
	}
	return d, nil
}

// startSelfService serves the self-service enrollment page on its own
// listener ([self_service]).
func (s *server) startSelfService(cfg *config, d *ldapdir.Directory, notifier mfa.Notifier) error {
	if !cfg.SelfService.Enabled() {
		return nil
	}
	if d == nil {
		return errors.New("serve: the self-service page needs [ldap]")
	}
	log := s.log.With().Str("listener", "self-service").Logger()
	pc := cfg.SelfService
	pc.Users = cfg.Users
	h, err := enroll.New(pc, enroll.Options{Directory: d, Verifier: s.engine, Audit: s.store, Notifier: notifier,
		EmailNotifier: cfg.LDAP.EmailNotifier, Log: log})
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv, err := s.startPage(webPage{name: "self-service", listen: pc.Listen, tlsCert: pc.TLSCert, tlsKey: pc.TLSKey,
		handler: h, writeTimeout: 60 * time.Second, listening: "self-service enrollment page listening (keep it internal)"}, log)
	if err != nil {
		return err
	}
	s.extra = append(s.extra, srv)
	return nil
}

// checkDirectory is check-config's part for [ldap]: it binds and reads
// base_dn, and with user looks that user up. An unusable directory is an
// error (exit 1).
func (c *cli) checkDirectory(ctx context.Context, w io.Writer, cfg *config, user string) error {
	if !cfg.LDAP.Enabled() {
		if user != "" {
			return usagef("--ldap-user needs [ldap] in the config")
		}
		return nil
	}
	l := cfg.LDAP
	secrets := "no secret_attribute (devices only from the database)"
	if l.SecretAttribute != "" {
		f := l.SecretFormat
		if f == "" {
			f = "base32"
		}
		secrets = fmt.Sprintf("secrets in %s (%s)", l.SecretAttribute, f)
	}
	fmt.Fprintf(w, "Directory:         %s, base %s, %s\n", l.URL, l.BaseDN, secrets)
	self := "off (no self_service.listen)"
	if cfg.SelfService.Enabled() {
		self = "on, " + cfg.SelfService.Listen
		if cfg.SelfService.TLSCert != "" {
			self += " (TLS)"
		}
	}
	fmt.Fprintf(w, "Self-service page: %s\n", self)
	for _, warn := range directoryWarnings(cfg) {
		fmt.Fprintf(w, "Warning:           %s\n", warn)
	}
	d, err := openDirectory(cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := d.Ping(ctx); err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	as := "anonymously"
	if l.BindDN != "" {
		as = "as " + l.BindDN
	}
	fmt.Fprintf(w, "Directory status:  ok (bound %s, read base_dn)\n", as)
	if user == "" {
		return nil
	}
	name, err := normalize(cfg, user)
	if err != nil {
		return err
	}
	u, err := d.LookupUser(ctx, name)
	if err != nil {
		return fmt.Errorf("directory user %s: %w", name, err)
	}
	fmt.Fprintf(w, "Directory user:    %s is %s: %s\n", name, u.DN, describeDirectoryUser(u))
	return nil
}

// selfWritable are Active Directory attributes that users may change on
// their own entry by default (the "Personal Information" property set's
// SELF write), among those that could hold a phone number or address.
var selfWritable = map[string]bool{"mobile": true, "othermobile": true, "telephonenumber": true, "othertelephone": true,
	"homephone": true, "otherhomephone": true, "pager": true, "otherpager": true, "ipphone": true, "otheripphone": true, "info": true}

// readableByAll are attributes every domain user can read by default.
var readableByAll = map[string]bool{"userparameters": true, "description": true, "info": true, "comment": true,
	"extensionattribute1": true, "extensionattribute2": true}

// directoryWarnings are the risks of [ldap] as configured (SPEC §7:
// directory data is attacker-reachable).
func directoryWarnings(c *config) []string {
	l := c.LDAP
	var out []string
	if a := strings.ToLower(l.PhoneAttribute); selfWritable[a] {
		out = append(out, fmt.Sprintf("ldap.phone_attribute = %s: in Active Directory users can change their own %s, so a phished password can redirect SMS codes; prefer an attribute only administrators write", l.PhoneAttribute, l.PhoneAttribute))
	}
	if a := strings.ToLower(l.EmailAttribute); selfWritable[a] {
		out = append(out, fmt.Sprintf("ldap.email_attribute = %s: users can change their own %s in Active Directory", l.EmailAttribute, l.EmailAttribute))
	}
	if a := strings.ToLower(l.SecretAttribute); selfWritable[a] {
		out = append(out, fmt.Sprintf("ldap.secret_attribute = %s: users can write it, and so enrol any device they like", l.SecretAttribute))
	} else if readableByAll[a] {
		out = append(out, fmt.Sprintf("ldap.secret_attribute = %s: every domain user can read it by default, and with it everyone's OTP secrets; restrict its read access or use a confidential attribute", l.SecretAttribute))
	}
	if l.InsecureSkipVerify {
		out = append(out, "ldap.insecure_skip_verify = true: anyone on the path can read the service password, users' passwords and OTP secrets")
	}
	if l.URL != "" && !l.StartTLS && !strings.Contains(strings.ToLower(l.URL), "ldaps://") {
		out = append(out, "ldap.url is plain ldap:// without start_tls: passwords and secrets cross the loopback in clear")
	}
	return out
}

// describeDirectoryUser sums up what the directory holds for a user.
func describeDirectoryUser(u mfa.DirectoryUser) string {
	var parts []string
	var devs []string
	for _, d := range u.Devices {
		devs = append(devs, fmt.Sprintf("%s (%s %s, %d digits, %ds)", d.Name, d.Kind, d.Algorithm, d.Digits, d.Period))
	}
	switch len(devs) {
	case 0:
		parts = append(parts, "no OTP device")
	default:
		parts = append(parts, fmt.Sprintf("%d OTP device(s) %s", len(devs), strings.Join(devs, ", ")))
	}
	if u.Phone != "" {
		parts = append(parts, "phone "+u.Phone)
	}
	if u.Email != "" {
		parts = append(parts, "e-mail "+u.Email)
	}
	parts = append(parts, fmt.Sprintf("%d group(s)", len(u.Groups)))
	return strings.Join(parts, "; ")
}

// directoryUserJSON is radmfa user show --from-ldap --json.
type directoryUserJSON struct {
	Name    string              `json:"name"`
	DN      string              `json:"dn"`
	Phone   string              `json:"phone,omitempty"`
	Email   string              `json:"email,omitempty"`
	Groups  []string            `json:"groups"`
	Devices []directoryDevJSON  `json:"devices"`
	Local   *directoryLocalJSON `json:"local,omitempty"`
}

type directoryDevJSON struct {
	Name      string     `json:"name"`
	Source    string     `json:"source"` // directory or local
	Type      string     `json:"type"`
	Algorithm string     `json:"algorithm,omitempty"`
	Digits    int        `json:"digits,omitempty"`
	Period    int        `json:"period,omitempty"`
	Address   string     `json:"address,omitempty"`
	Enabled   bool       `json:"enabled"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
	Drift     int64      `json:"drift_steps,omitempty"`
}

type directoryLocalJSON struct {
	Enabled     bool       `json:"enabled"`
	Failures    int        `json:"failures"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
}

// userShowDirectory is radmfa user show NAME --from-ldap: the user as the
// directory and the database see them together, as a login does.
func (c *cli) userShowDirectory(cmd *cobra.Command, raw string, asJSON bool) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	if !cfg.LDAP.Enabled() {
		return usagef("--from-ldap needs [ldap] in the config")
	}
	name, err := normalize(cfg, raw)
	if err != nil {
		return err
	}
	d, err := openDirectory(cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx := cmd.Context()
	u, err := d.LookupUser(ctx, name)
	if errors.Is(err, mfa.ErrNotFound) {
		return fmt.Errorf("user %s: not in the directory (user_filter %s under %s)", name, cfg.LDAP.UserFilter, cfg.LDAP.BaseDN)
	}
	if err != nil {
		return err
	}
	out := directoryUserJSON{Name: name, DN: u.DN, Phone: u.Phone, Email: u.Email, Groups: u.Groups, Devices: []directoryDevJSON{}}
	if out.Groups == nil {
		out.Groups = []string{}
	}
	var local *sqlite.UserInfo
	var state []sqlite.DirectoryDeviceInfo
	store, err := c.openStore(ctx, cfg, false)
	switch {
	case errors.Is(err, sqlite.ErrNoDatabase):
	case err != nil:
		return err
	default:
		defer store.Close()
		if li, err := store.User(ctx, name); err == nil {
			local = &li
		} else if !errors.Is(err, mfa.ErrNotFound) {
			return err
		}
		if state, err = store.DirectoryDeviceState(ctx, name); err != nil {
			return err
		}
	}
	devs := append([]mfa.Device(nil), u.Devices...)
	if u.Phone != "" {
		devs = append(devs, mfa.Device{Name: mfa.DirectorySMSDevice, Kind: mfa.DeviceSMS, Address: u.Phone, Notifier: cfg.LDAP.SMSNotifier})
	}
	if u.Email != "" {
		devs = append(devs, mfa.Device{Name: mfa.DirectoryEmailDevice, Kind: mfa.DeviceEmail, Address: u.Email, Notifier: cfg.LDAP.EmailNotifier})
	}
	for _, dev := range devs {
		dj := directoryDevJSON{Name: dev.Name, Source: "directory", Type: dev.Kind.String(), Algorithm: dev.Algorithm, Digits: dev.Digits,
			Period: dev.Period, Address: dev.Address, Enabled: true}
		key := string(mfa.DirectoryKey(u.DN, dev))
		for _, st := range state {
			if string(st.Key) == key {
				dj.Drift = st.Drift
				if !st.LastUsed.IsZero() {
					t := st.LastUsed
					dj.LastUsed = &t
				}
			}
		}
		out.Devices = append(out.Devices, dj)
	}
	if local != nil {
		out.Local = &directoryLocalJSON{Enabled: !local.Disabled, Failures: local.Failures}
		if time.Now().Before(local.LockedUntil) {
			t := local.LockedUntil
			out.Local.LockedUntil = &t
		}
		for _, ld := range local.Devices {
			dj := directoryDevJSON{Name: ld.Name, Source: "local", Type: ld.Kind.String(), Algorithm: ld.Algorithm, Digits: ld.Digits,
				Period: ld.Period, Address: ld.Address, Enabled: !ld.Disabled, Drift: ld.Drift}
			if !ld.LastUsed.IsZero() {
				t := ld.LastUsed
				dj.LastUsed = &t
			}
			out.Devices = append(out.Devices, dj)
		}
	}
	if asJSON {
		return writeJSON(c.stdout, out)
	}
	w := c.stdout
	fmt.Fprintf(w, "User:      %s\nDirectory: %s\n", name, u.DN)
	if u.Phone != "" {
		fmt.Fprintf(w, "Phone:     %s (SMS codes)\n", u.Phone)
	}
	if u.Email != "" {
		fmt.Fprintf(w, "E-mail:    %s (e-mail codes)\n", u.Email)
	}
	fmt.Fprintf(w, "Groups:    %d\n", len(u.Groups))
	for _, g := range u.Groups {
		fmt.Fprintf(w, "  %s\n", g)
	}
	switch {
	case local == nil:
		fmt.Fprintf(w, "Database:  no record yet (made at the first login with a directory device)\n")
	default:
		st := status(local.Disabled)
		if out.Local.LockedUntil != nil {
			st += ", locked until " + timeText(local.LockedUntil) + " (radmfa user unlock " + name + ")"
		} else if local.Failures > 0 {
			st += fmt.Sprintf(", %d recent failure(s)", local.Failures)
		}
		fmt.Fprintf(w, "Database:  %s\n", st)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tSOURCE\tTYPE\tDETAILS\tSTATUS\tLAST USED")
	for _, dj := range out.Devices {
		details := fmt.Sprintf("%s, %d digits, %ds", dj.Algorithm, dj.Digits, dj.Period)
		if dj.Address != "" {
			details = "to " + dj.Address
		}
		if dj.Drift != 0 {
			details += fmt.Sprintf(", drift %+d steps", dj.Drift)
		}
		last := "never"
		if dj.LastUsed != nil {
			last = timeText(*dj.LastUsed)
		}
		if dj.Address != "" {
			last = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", dj.Name, dj.Source, dj.Type, details, status(!dj.Enabled), last)
	}
	return tw.Flush()
}

// directoryListJSON is one row of radmfa user list --from-ldap --json.
type directoryListJSON struct {
	Name         string `json:"name"`
	DN           string `json:"dn"`
	Devices      int    `json:"directory_devices"`
	Error        string `json:"error,omitempty"`
	InDatabase   bool   `json:"in_database"`
	LocalDevices int    `json:"local_devices"`
}

// userListDirectory is radmfa user list --from-ldap: the directory's
// users (those the user filter matches), with their devices there and
// whether the database knows them.
func (c *cli) userListDirectory(cmd *cobra.Command, limit int, asJSON bool) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	if !cfg.LDAP.Enabled() {
		return usagef("--from-ldap needs [ldap] in the config")
	}
	d, err := openDirectory(cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	ctx := cmd.Context()
	users, err := d.ListUsers(ctx, limit)
	if err != nil {
		return err
	}
	local := map[string]sqlite.UserInfo{}
	store, err := c.openStore(ctx, cfg, false)
	switch {
	case errors.Is(err, sqlite.ErrNoDatabase):
	case err != nil:
		return err
	default:
		defer store.Close()
		all, err := store.Users(ctx)
		if err != nil {
			return err
		}
		for _, u := range all {
			local[u.Name] = u
		}
	}
	rows := []directoryListJSON{}
	for _, u := range users {
		name, err := cfg.Users.Normalize(u.Name)
		if err != nil {
			name = mfa.Printable(u.Name)
		}
		li, ok := local[name]
		rows = append(rows, directoryListJSON{Name: name, DN: u.DN, Devices: len(u.Devices), Error: u.Err, InDatabase: ok, LocalDevices: len(li.Devices)})
	}
	if asJSON {
		return writeJSON(c.stdout, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintln(c.stdout, "The directory has no users that user_filter matches.")
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tDIRECTORY DEVICES\tDATABASE\tDN")
	for _, r := range rows {
		devs := fmt.Sprint(r.Devices)
		if r.Error != "" {
			devs = "unusable: " + r.Error
		}
		db := "-"
		if r.InDatabase {
			db = fmt.Sprintf("yes, %d local device(s)", r.LocalDevices)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Name, devs, db, r.DN)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%d directory user(s)\n", len(rows))
	return nil
}
