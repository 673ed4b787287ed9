package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/web/admin"
)

// DefaultAdminListen is where the admin page listens when it is on and
// [admin] listen is not set: loopback only.
const DefaultAdminListen = "127.0.0.1:18124"

// adminConfig is the [admin] section: the admin report page of serve.
type adminConfig struct {
	// CredentialFile holds the admin login, one line "name:bcrypt-hash"
	// as `htpasswd -nB name` prints it. The page is off without it.
	CredentialFile string `toml:"credential_file"`
	// SessionLifetime is how long a login lasts: default 8h, 5m to 7d.
	SessionLifetime mfa.Duration `toml:"session_lifetime"`
	// Listen is the page's address. Default 127.0.0.1:18124. Anything
	// but loopback needs tls_cert and tls_key: the session cookie is a
	// bearer credential.
	Listen  string `toml:"listen"`
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
}

func (a adminConfig) page(users mfa.UserNames) admin.Config {
	return admin.Config{CredentialFile: a.CredentialFile, SessionLifetime: a.SessionLifetime, Users: users}
}

func (a adminConfig) listen() string {
	if a.Listen == "" {
		return DefaultAdminListen
	}
	return a.Listen
}

func (a adminConfig) validate() error {
	var errs []error
	if a.CredentialFile != "" {
		if err := a.page(mfa.UserNames{}).Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	if (a.TLSCert == "") != (a.TLSKey == "") {
		errs = append(errs, errors.New("admin.tls_cert and admin.tls_key go together"))
	}
	host, _, err := net.SplitHostPort(a.listen())
	if err != nil {
		errs = append(errs, fmt.Errorf("admin.listen %q: want host:port", a.Listen))
	} else if a.TLSCert == "" && !isLoopback(host) {
		errs = append(errs, fmt.Errorf("admin.listen %q is not a loopback address: serve the admin page with admin.tls_cert and admin.tls_key, or on loopback behind a TLS reverse proxy", a.Listen))
	}
	return errors.Join(errs...)
}

// isLoopback says whether host (from host:port) is a loopback address or
// "localhost".
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startAdmin serves the admin report page on its own listener.
func (s *server) startAdmin(cfg *config) error {
	log := s.log.With().Str("listener", "admin").Logger()
	h, err := admin.New(s.store, cfg.Admin.page(cfg.Users), log)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv, err := s.startPage(webPage{name: "admin", listen: cfg.Admin.listen(), tlsCert: cfg.Admin.TLSCert, tlsKey: cfg.Admin.TLSKey,
		handler: h, writeTimeout: 2 * time.Minute, // CSV downloads of big ranges
		listening: "admin page listening"}, log)
	if err != nil {
		return err
	}
	s.extra = append(s.extra, srv)
	return nil
}

// maintenanceInterval is how often serve rolls up reports and prunes.
const maintenanceInterval = 24 * time.Hour

// maintain rolls up the report tables and applies [retention] now and then
// daily, until ctx ends. It runs at start-up too, so the first summary
// after an upgrade does not pay for the catch-up.
func (s *server) maintain(ctx context.Context, cfg *config) {
	t := time.NewTimer(5 * time.Second) // let start-up traffic settle
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.maintainOnce(ctx, cfg, time.Now())
		t.Reset(maintenanceInterval)
	}
}

func (s *server) maintainOnce(ctx context.Context, cfg *config, now time.Time) {
	start := time.Now()
	if err := s.store.RefreshReports(ctx); err != nil {
		if ctx.Err() == nil {
			s.log.Error().Err(err).Msg("report rollups failed")
		}
		return
	}
	s.log.Info().Dur("duration", time.Since(start)).Msg("report rollups up to date")
	cut, ok := cfg.Retention.Cutoff(now)
	if !ok {
		return
	}
	st, err := s.store.Prune(ctx, cut, nil)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error().Err(err).Msg("retention prune failed")
		}
		return
	}
	s.log.Info().Time("before", cut).Int("events", st.Events).Int("pushes", st.Pushes).Int("batches", st.Batches).
		Dur("longest_lock", st.Longest).Msg("retention: old events pruned")
}
