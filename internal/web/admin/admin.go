// Package admin is radmfa's read-only admin page: the reports of `radmfa
// report` (activity, push history, summaries with a chart of outcomes over
// time, transactions, the audit log) with their filters and CSV downloads,
// as an http.Handler that radmfa serve mounts on its admin listener.
//
// Authentication is a login form and a session cookie. The credential is
// one line in a file, "name:hash" with a bcrypt hash (what `htpasswd -nB
// name` prints); bcrypt compares in constant time, and the password itself
// is stored nowhere. Sessions live in memory (a restart logs everyone out)
// and expire after Config.SessionLifetime; the cookie is HttpOnly,
// SameSite=Strict, and Secure when the request came over TLS. The login
// and logout forms carry a CSRF token (double submit: a cookie and a form
// field, compared in constant time). Repeated failed logins from one
// address are slowed down.
//
// Everything shown is escaped by html/template: user names, messages and
// station IDs are chosen by whoever sends a RADIUS request. CSV cells that
// a spreadsheet would run as formulas are defused (see sqlite.EventRow.Record).
// The pages load nothing from elsewhere: no script at all, styles inline
// under a Content-Security-Policy nonce, the chart inline SVG.
package admin

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

// Config is the [admin] section: the admin page of radmfa serve. The page
// is off unless CredentialFile is set.
type Config struct {
	// CredentialFile holds the admin login: one line "name:hash" with a
	// bcrypt hash, as `htpasswd -nB name` prints it. Keep it readable only
	// by the user radmfa runs as.
	CredentialFile string `toml:"credential_file"`
	// SessionLifetime is how long a login lasts. Default 8h; 5m to 7d.
	SessionLifetime mfa.Duration `toml:"session_lifetime"`
	// Users says how the user filter is normalised, like everywhere else;
	// radmfa serve copies it from [users].
	Users mfa.UserNames `toml:"-"`
}

// DefaultSessionLifetime is used when session_lifetime is unset.
const DefaultSessionLifetime = 8 * time.Hour

// Enabled says whether the admin page is configured.
func (c Config) Enabled() bool { return c.CredentialFile != "" }

func (c Config) lifetime() time.Duration {
	if c.SessionLifetime == 0 {
		return DefaultSessionLifetime
	}
	return time.Duration(c.SessionLifetime)
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	if l := c.lifetime(); l < 5*time.Minute || l > 7*24*time.Hour {
		return fmt.Errorf("admin.session_lifetime = %s: must be between 5m and 7d", l)
	}
	return nil
}

// Reports is what the admin page reads: the store's report queries
// (*sqlite.Store implements it).
type Reports interface {
	Activity(ctx context.Context, q sqlite.ActivityQuery) ([]sqlite.EventRow, error)
	Pushes(ctx context.Context, q sqlite.PushQuery) ([]sqlite.PushRow, error)
	Summary(ctx context.Context, q sqlite.SummaryQuery) ([]sqlite.SummaryRow, error)
	Series(ctx context.Context, q sqlite.SeriesQuery) ([]sqlite.SeriesPoint, error)
	Transaction(ctx context.Context, id string) (sqlite.Transaction, error)
	AuditLog(ctx context.Context, q sqlite.AuditQuery) ([]sqlite.AuditEntry, error)
}

//go:embed page.html
var pageFS embed.FS

// handler serves the admin page.
type handler struct {
	reports Reports
	cfg     Config
	log     zerolog.Logger
	cred    credential
	tmpl    *template.Template
	now     func() time.Time
	mux     *http.ServeMux

	mu       sync.Mutex
	sessions map[string]session     // by SHA-256 of the cookie value
	failures map[string][]time.Time // failed logins by remote address
}

// New returns the admin page's handler. It reads the credential file now;
// an unreadable or malformed file is an error.
func New(reports Reports, cfg Config, log zerolog.Logger) (http.Handler, error) {
	return newHandler(reports, cfg, log, time.Now)
}

func newHandler(reports Reports, cfg Config, log zerolog.Logger, now func() time.Time) (*handler, error) {
	if !cfg.Enabled() {
		return nil, errors.New("admin: no credential_file configured")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	cred, err := readCredential(cfg.CredentialFile)
	if err != nil {
		return nil, err
	}
	// Parsed here, not at package init: radmfa exec links this package
	// and must start fast.
	tmpl, err := template.New("page.html").Funcs(funcs).ParseFS(pageFS, "page.html")
	if err != nil {
		return nil, fmt.Errorf("admin: templates: %w", err)
	}
	h := &handler{reports: reports, cfg: cfg, log: log.With().Str("component", "admin").Logger(), cred: cred, tmpl: tmpl,
		now: now, mux: http.NewServeMux(), sessions: map[string]session{}, failures: map[string][]time.Time{}}
	h.mux.HandleFunc("GET /login", h.loginPage)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.HandleFunc("POST /logout", h.authed(h.logout))
	h.mux.HandleFunc("GET /{$}", h.authed(func(w http.ResponseWriter, r *http.Request, _ session) {
		http.Redirect(w, r, "/summary", http.StatusSeeOther)
	}))
	h.mux.HandleFunc("GET /activity", h.authed(h.activity))
	h.mux.HandleFunc("GET /push", h.authed(h.push))
	h.mux.HandleFunc("GET /summary", h.authed(h.summary))
	h.mux.HandleFunc("GET /transaction", h.authed(h.transaction))
	h.mux.HandleFunc("GET /audit", h.authed(h.audit))
	return h, nil
}

// ServeHTTP sets the headers every answer carries and routes.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}
