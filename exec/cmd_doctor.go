package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/radmfa/radmfa/exec/frconf"
)

// finding is one line of radmfa doctor's report.
type finding struct {
	level string // ok, warn, fail
	msg   string
}

// doctor gathers findings.
type doctor struct{ findings []finding }

func (d *doctor) ok(format string, a ...any)   { d.add("ok", format, a...) }
func (d *doctor) warn(format string, a ...any) { d.add("warn", format, a...) }
func (d *doctor) fail(format string, a ...any) { d.add("FAIL", format, a...) }
func (d *doctor) add(level, format string, a ...any) {
	d.findings = append(d.findings, finding{level, fmt.Sprintf(format, a...)})
}

func (c *cli) doctorCommand() *cobra.Command {
	var frDir, frUser string
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "Check FreeRADIUS and radmfa together: timeouts, file ownership, clock",
		Long: `doctor reads a FreeRADIUS configuration directory and radmfa's config and
warns about what makes a working setup fail in production:

  - timeouts: rlm_exec's or rlm_rest's timeout not above radmfa's own, or above
    FreeRADIUS's max_request_time (FreeRADIUS then gives up first, the user
    gets no answer and radmfa's event says nothing useful);
  - push approvals: the longest push timeout against rlm_rest's (and
    rlm_exec's) timeout and max_request_time, what the waits cost in
    FreeRADIUS threads, and each profile's nas_timeout × (1 + nas_retries);
  - the radmfa modules: program path, --config, the daemon address;
  - files: the data directory, database and key file must belong to the user
    FreeRADIUS runs as (freerad), the key file must be private (0600);
  - the directory ([ldap]): plain LDAP or no certificate check, a secret
    attribute others can read, a phone attribute users can change;
  - the clock: TOTP codes depend on it, so it must be synchronised (NTP).

It exits 1 when something is sure to fail, 0 otherwise (warnings included).`,
		Example: `  radmfa --config /etc/radmfa/radmfa.toml doctor
  radmfa doctor --freeradius-dir /etc/raddb --freeradius-user radiusd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := c.config()
			if err != nil {
				return err
			}
			d := &doctor{}
			d.ok("radmfa config %s is valid", cfg.name())
			d.checkFreeRADIUS(frDir, cfg, frUser)
			d.addAll(nasFindings(cfg))
			for _, w := range directoryWarnings(cfg) {
				d.warn("%s", w)
			}
			d.checkClock(cmd.Context())
			problems := d.print(c.stdout)
			if problems > 0 {
				return fmt.Errorf("doctor found %d problem(s)", problems)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&frDir, "freeradius-dir", "/etc/freeradius/3.0", "FreeRADIUS configuration directory")
	cmd.Flags().StringVar(&frUser, "freeradius-user", "", "user FreeRADIUS runs as (default: radiusd.conf's security { user }, else freerad)")
	return cmd
}

// print writes the report and returns the number of failures.
func (d *doctor) print(w io.Writer) int {
	warns, fails := 0, 0
	for _, f := range d.findings {
		fmt.Fprintf(w, "%-5s %s\n", f.level, f.msg)
		switch f.level {
		case "warn":
			warns++
		case "FAIL":
			fails++
		}
	}
	fmt.Fprintf(w, "%d warning(s), %d problem(s)\n", warns, fails)
	return fails
}

// frFiles parses radiusd.conf and the enabled modules, sites and policies.
// Files it cannot parse are reported through skip and left out.
func frFiles(dir string, skip func(path string, err error)) (map[string]*frconf.Section, error) {
	files := map[string]*frconf.Section{}
	var paths []string
	if _, err := os.Stat(filepath.Join(dir, "radiusd.conf")); err != nil {
		return nil, err
	}
	paths = append(paths, filepath.Join(dir, "radiusd.conf"))
	for _, sub := range []string{"mods-enabled", "sites-enabled", "policy.d"} {
		entries, _ := os.ReadDir(filepath.Join(dir, sub))
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".") {
				paths = append(paths, filepath.Join(dir, sub, e.Name()))
			}
		}
	}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		root, err := frconf.Parse(f)
		f.Close()
		if err != nil {
			skip(p, err)
			continue
		}
		files[p] = root
	}
	return files, nil
}

func frSeconds(v string, def float64) float64 {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	return def
}

func (d *doctor) checkFreeRADIUS(dir string, cfg *config, frUser string) {
	files, err := frFiles(dir, func(p string, err error) {
		d.warn("could not read %s, checks skip it: %v", p, err)
	})
	if err != nil {
		d.warn("cannot read the FreeRADIUS configuration in %s (--freeradius-dir): %v", dir, err)
		d.checkFiles(cfg, frUser)
		return
	}
	radiusd := files[filepath.Join(dir, "radiusd.conf")]
	if radiusd == nil {
		radiusd = &frconf.Section{}
	}
	maxReq := 30.0
	if v, ok := radiusd.Get("max_request_time"); ok {
		maxReq = frSeconds(v, 30)
	}
	if frUser == "" {
		frUser = "freerad"
		if sec := radiusd.Sub("security"); sec != nil {
			if u, ok := sec.Get("user"); ok {
				frUser = u
			}
		}
	}
	found := false
	for path, root := range files {
		rel, _ := filepath.Rel(dir, path)
		for _, s := range root.Find(func(n string) bool { return strings.HasPrefix(n, "exec ") }) {
			prog, _ := s.Get("program")
			if !strings.Contains(prog, "radmfa") || !strings.Contains(prog, " exec") {
				continue
			}
			found = true
			d.checkExecModule(rel, s, prog, cfg, maxReq)
		}
		for _, s := range root.Find(func(n string) bool { return strings.HasPrefix(n, "rest ") }) {
			auth := s.Sub("authorize")
			if auth == nil {
				continue
			}
			if uri, _ := auth.Get("uri"); !strings.Contains(uri, "radius/authorize") {
				continue
			}
			found = true
			d.checkRESTModule(rel, s, auth, cfg, maxReq)
		}
	}
	if !found {
		d.warn("FreeRADIUS in %s has no enabled radmfa module (mods-enabled/radmfa or radmfa_rest)", dir)
	}
	d.addAll(pushFRFindings(cfg, frLimitsOf(dir, files)))
	d.checkFiles(cfg, frUser)
}

// addAll adds findings made elsewhere (pushcheck.go).
func (d *doctor) addAll(fs []finding) {
	for _, f := range fs {
		d.add(f.level, "%s", f.msg)
	}
}

func (d *doctor) checkExecModule(rel string, s *frconf.Section, prog string, cfg *config, maxReq float64) {
	name := strings.TrimPrefix(s.Name, "exec ")
	if w, _ := s.Get("wait"); w != "yes" {
		d.fail("%s: exec %s needs wait = yes (radmfa answers through stdout and its exit code)", rel, name)
	}
	fields := strings.Fields(prog)
	if st, err := os.Stat(fields[0]); err != nil || st.Mode()&0o111 == 0 {
		d.fail("%s: exec %s runs %s, which is missing or not executable", rel, name, fields[0])
	}
	if !strings.Contains(prog, "--config") && !strings.Contains(prog, "--db") {
		d.warn("%s: exec %s passes no --config: rlm_exec gives radmfa no environment, so it would use ./radmfa-data relative to FreeRADIUS's working directory", rel, name)
	} else if cfg.file != "" && !strings.Contains(prog, cfg.file) {
		d.warn("%s: exec %s uses a different config than %s", rel, name, cfg.file)
	}
	frTimeout := 10.0
	if v, ok := s.Get("timeout"); ok {
		frTimeout = frSeconds(v, 10)
	}
	radmfaTimeout := cfg.Exec.timeout().Seconds()
	switch {
	case frTimeout <= radmfaTimeout:
		d.warn("%s: exec %s timeout = %g s is not above radmfa's [exec] timeout (%g s): FreeRADIUS kills radmfa before radmfa can answer and record why", rel, name, frTimeout, radmfaTimeout)
	case frTimeout > maxReq:
		d.warn("%s: exec %s timeout = %g s is above max_request_time (%g s)", rel, name, frTimeout, maxReq)
	default:
		d.ok("%s: exec %s timeout %g s > radmfa's %g s, <= max_request_time %g s", rel, name, frTimeout, radmfaTimeout, maxReq)
	}
}

func (d *doctor) checkRESTModule(rel string, s, auth *frconf.Section, cfg *config, maxReq float64) {
	name := strings.TrimPrefix(s.Name, "rest ")
	frTimeout := 4.0 // rlm_rest's default
	if v, ok := auth.Get("timeout"); ok {
		frTimeout = frSeconds(v, 4)
	}
	decision := cfg.Serve.decisionTimeout().Seconds()
	switch {
	case frTimeout <= decision:
		d.warn("%s: rest %s authorize timeout = %g s is not above radmfa's [serve] decision_timeout (%g s): FreeRADIUS gives up on slow decisions first", rel, name, frTimeout, decision)
	case frTimeout > maxReq:
		d.warn("%s: rest %s authorize timeout = %g s is above max_request_time (%g s)", rel, name, frTimeout, maxReq)
	default:
		d.ok("%s: rest %s timeout %g s > radmfa's %g s, <= max_request_time %g s", rel, name, frTimeout, decision, maxReq)
	}
	uri, _ := s.Get("connect_uri")
	listens := cfg.Serve.listen(cfg.DataDir)
	matched := false
	for _, l := range listens {
		if !strings.HasPrefix(l, "unix:") && strings.Contains(uri, l) {
			matched = true
		}
	}
	if !matched {
		d.warn("%s: rest %s connect_uri %q is not one of radmfa serve's listeners %v", rel, name, uri, listens)
	}
}

// checkFiles checks that FreeRADIUS's user owns radmfa's files.
func (d *doctor) checkFiles(cfg *config, frUser string) {
	u, err := user.Lookup(frUser)
	if err != nil {
		d.warn("user %q (FreeRADIUS's) does not exist here: file ownership not checked", frUser)
		return
	}
	uid, _ := strconv.Atoi(u.Uid)
	dir := filepath.Dir(cfg.Store.Path)
	check := func(path, what string, private bool) {
		st, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			d.warn("%s %s does not exist yet (created on first use, owned by whoever runs radmfa first)", what, path)
			return
		}
		if err != nil {
			d.fail("%s %s: %v", what, path, err)
			return
		}
		sys, _ := st.Sys().(*syscall.Stat_t)
		if sys != nil && int(sys.Uid) != uid {
			owner := strconv.Itoa(int(sys.Uid))
			if ou, err := user.LookupId(owner); err == nil {
				owner = ou.Username
			}
			d.fail("%s %s belongs to %s, not %s: radmfa exec (run by FreeRADIUS) cannot write it; chown %s %s", what, path, owner, frUser, frUser, path)
			return
		}
		if private && st.Mode().Perm()&0o077 != 0 {
			d.warn("%s %s has mode %04o; make it 0600", what, path, st.Mode().Perm())
			return
		}
		d.ok("%s %s belongs to %s", what, path, frUser)
	}
	check(dir, "data directory", false)
	check(cfg.Store.Path, "database", false)
	check(cfg.Store.KeyPath(), "key file", true)
}

// checkClock asks systemd (timedatectl) whether the clock is synchronised.
func (d *doctor) checkClock(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "timedatectl", "show", "-p", "NTPSynchronized", "--value").Output()
	switch v := strings.TrimSpace(string(out)); {
	case err != nil:
		d.warn("clock synchronisation unknown (timedatectl unavailable): make sure NTP runs; TOTP codes depend on the clock")
	case v == "yes":
		d.ok("clock is synchronised (NTP)")
	default:
		d.warn("clock is not synchronised (timedatectl NTPSynchronized=%s): TOTP codes will drift; enable NTP (systemd-timesyncd or chrony)", v)
	}
}
