// Package enroll is radmfa's self-service enrollment page (like Citrix
// Gateway's /manageotp, seed 001): a user signs in with their directory
// password, sees the OTP devices kept in their directory entry, adds one
// (a name, a QR code, one current code to confirm it) or removes one.
// radmfa serve mounts it on a listener of its own, off by default
// ([self_service] listen).
//
// It is meant for the internal network only: its login is the directory
// password alone, so on the internet it would let anyone with a phished
// password see which devices a user has. Once a user has a device, every
// change (adding another, removing one) also needs a current code from
// one of their devices, checked by the engine with replay protection and
// lockout (mfa.Engine.VerifyCode), so a password alone never enrolls an
// attacker's phone; a user who has lost every device goes to the help
// desk.
//
// Changes are written back to the secret attribute in its configured
// format with one LDAP modify that deletes exactly the values read and
// adds the new ones (ldapdir.ReplaceSecrets): a change made meanwhile by
// someone else makes it fail instead of being overwritten. The number of
// devices is bounded by [ldap] max_devices. The user is told of every
// change through the notifier (an alert to their e-mail address, or the
// notifier's own destination), and each change is in the audit log.
//
// The page sets Cache-Control no-store (the QR code holds a secret),
// Referrer-Policy no-referrer and a Content-Security-Policy that allows
// only its own inline styles under a nonce: no script, nothing from
// elsewhere; the QR code is inline SVG. Every form is a POST with a CSRF
// token (a cookie and a form field before login, the session's token
// after). Everything shown is escaped by html/template. Failed logins and
// codes are throttled per address and per user name.
package enroll

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/ldapdir"
	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/otpauth"
)

// Config is the [self_service] section: the self-service enrollment page
// of radmfa serve. It is off while Listen is empty, and needs [ldap] with
// a secret_attribute that the service account may write.
type Config struct {
	// Listen is the page's address ("10.0.0.5:8444"). Keep it on the
	// internal network (see the package doc). Default: off.
	Listen string `toml:"listen"`
	// TLSCert and TLSKey serve it over HTTPS; without them it is plain
	// HTTP, which is only fit for a reverse proxy on the same host.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// Issuer is the name authenticator apps show next to the code.
	// Default "radmfa".
	Issuer string `toml:"issuer"`
	// SessionLifetime is how long a sign-in to the page lasts. Default
	// 10m; 1m to 1h.
	SessionLifetime mfa.Duration `toml:"session_lifetime"`
	// Users says how user names are normalised, like everywhere else;
	// radmfa serve copies it from [users].
	Users mfa.UserNames `toml:"-"`
}

// Defaults of Config.
const (
	DefaultIssuer          = "radmfa"
	DefaultSessionLifetime = 10 * time.Minute
)

// Enabled says whether the page is configured.
func (c Config) Enabled() bool { return c.Listen != "" }

func (c Config) lifetime() time.Duration {
	if c.SessionLifetime == 0 {
		return DefaultSessionLifetime
	}
	return time.Duration(c.SessionLifetime)
}

func (c Config) issuer() string {
	if c.Issuer == "" {
		return DefaultIssuer
	}
	return c.Issuer
}

// Validate reports configuration errors.
func (c Config) Validate() error {
	var errs []error
	if c.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			errs = append(errs, fmt.Errorf("self_service.listen %q: want host:port", c.Listen))
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("self_service.tls_cert and self_service.tls_key go together"))
	}
	if l := c.lifetime(); l < time.Minute || l > time.Hour {
		errs = append(errs, fmt.Errorf("self_service.session_lifetime = %s: must be between 1m and 1h", l))
	}
	if strings.ContainsAny(c.Issuer, ":\x00\r\n") || len(c.Issuer) > 64 {
		errs = append(errs, fmt.Errorf("self_service.issuer %q: at most 64 characters, no colon or control characters", c.Issuer))
	}
	return errors.Join(errs...)
}

// Directory is what the page needs from the directory
// (*ldapdir.Directory implements it).
type Directory interface {
	CheckPassword(ctx context.Context, name string, password mfa.Secret) error
	LookupUser(ctx context.Context, name string) (mfa.DirectoryUser, error)
	Secrets(ctx context.Context, name string) (ldapdir.UserSecrets, error)
	EncodeSecrets(devices []ldapdir.StoredDevice, old []string) ([]string, error)
	ReplaceSecrets(ctx context.Context, dn string, oldValues, newValues []string) error
	MaxDevices() int
}

var _ Directory = (*ldapdir.Directory)(nil)

// Verifier checks a current code from one of a user's devices (the
// engine).
type Verifier interface {
	VerifyCode(ctx context.Context, req mfa.Request) (mfa.Decision, error)
	// UserDevices counts the user's enrolled devices: those in radmfa's
	// database as well as the directory's secrets.
	UserDevices(ctx context.Context, name string) (mfa.DeviceCounts, error)
}

// Auditor records admin-log entries (*sqlite.Store implements it).
type Auditor interface {
	AddAudit(ctx context.Context, actor, action, target, details string) error
}

// Options are the page's collaborators.
type Options struct {
	Directory Directory // required
	Verifier  Verifier  // required
	Audit     Auditor   // nil: no audit entries
	// Notifier tells users of changes to their devices; nil: nobody is
	// told. EmailNotifier names the notifier for users with an e-mail
	// address in the directory.
	Notifier      mfa.Notifier
	EmailNotifier string
	Log           zerolog.Logger
	// Now and Rand are for tests (default time.Now, crypto/rand).
	Now  func() time.Time
	Rand io.Reader
}

//go:embed page.html
var pageFS embed.FS

// Handler serves the page.
type Handler struct {
	cfg  Config
	o    Options
	tmpl *template.Template
	mux  *http.ServeMux

	mu       sync.Mutex
	sessions map[string]*session    // by SHA-256 of the cookie value
	failures map[string][]time.Time // failed logins and codes by address and by user
}

// session is one sign-in to the page.
type session struct {
	user    string // normalised
	expires time.Time
	csrf    string
	// verified: the user proved a current code from one of their devices
	// (or had no enrolled device at all at sign-in).
	verified bool
	// noCode: the user's only devices are push, SMS or e-mail devices,
	// which this page cannot check: the help desk adds devices for them.
	noCode  bool
	pending *pending // the device being added
}

// pending is a device between its QR code and its confirmation.
type pending struct {
	name     string
	secret   mfa.Secret
	attempts int
}

// Limits.
const (
	sessionCookie = "radmfa_selfservice"
	csrfCookie    = "radmfa_selfservice_csrf"
	maxForm       = 4 << 10
	maxFailures   = 5               // per address or user name within failureWindow
	failureWindow = 5 * time.Minute // then further attempts are refused until it has passed
	maxConfirm    = 3               // wrong codes for a new device before it must be made again
	secretBytes   = 20              // 160-bit secrets, as RFC 4226 recommends
)

// New returns the page's handler.
func New(cfg Config, o Options) (*Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	if o.Directory == nil || o.Verifier == nil {
		return nil, errors.New("enroll: a directory and a code verifier are required")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	o.Log = o.Log.With().Str("component", "self-service").Logger()
	tmpl, err := template.New("page.html").Funcs(template.FuncMap{"qr": qrSVG, "groups": groupsOf4}).ParseFS(pageFS, "page.html")
	if err != nil {
		return nil, fmt.Errorf("enroll: templates: %w", err)
	}
	h := &Handler{cfg: cfg, o: o, tmpl: tmpl, mux: http.NewServeMux(), sessions: map[string]*session{}, failures: map[string][]time.Time{}}
	h.mux.HandleFunc("GET /{$}", h.home)
	h.mux.HandleFunc("POST /login", h.login)
	h.mux.HandleFunc("POST /logout", h.authed(h.logout))
	h.mux.HandleFunc("POST /verify", h.authed(h.verify))
	h.mux.HandleFunc("POST /add", h.authed(h.add))
	h.mux.HandleFunc("POST /confirm", h.authed(h.confirm))
	h.mux.HandleFunc("POST /remove", h.authed(h.remove))
	return h, nil
}

// ServeHTTP sets the headers every answer carries and routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) token() string {
	b := make([]byte, 32)
	if _, err := io.ReadFull(h.o.Rand, b); err != nil {
		panic("enroll: random: " + err.Error()) // crypto/rand does not fail
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionKey(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return string(sum[:])
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// session returns the request's session, if it has a live one.
func (h *Handler) session(r *http.Request) (*session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, false
	}
	key := sessionKey(c.Value)
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.sessions[key]
	if !ok {
		return nil, false
	}
	if !h.o.Now().Before(s.expires) {
		delete(h.sessions, key)
		return nil, false
	}
	return s, true
}

// authed wraps the POST handlers that need a sign-in: a live session and
// its CSRF token in the form.
func (h *Handler) authed(fn func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		s, ok := h.session(r)
		if !ok {
			h.renderLogin(w, r, http.StatusUnauthorized, "Your session has ended. Please sign in again.")
			return
		}
		h.mu.Lock()
		csrf := s.csrf
		h.mu.Unlock()
		if subtle.ConstantTimeCompare([]byte(csrf), []byte(r.PostFormValue("csrf"))) != 1 {
			h.o.Log.Warn().Str("remote", remoteHost(r)).Msg("self-service form without a valid CSRF token")
			http.Error(w, "The form could not be verified; reload the page.", http.StatusForbidden)
			return
		}
		fn(w, r, s)
	}
}

// throttled says whether the address or the user failed too often lately.
func (h *Handler) throttled(keys ...string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.o.Now()
	for _, k := range keys {
		recent := h.failures[k][:0]
		for _, t := range h.failures[k] {
			if now.Sub(t) < failureWindow {
				recent = append(recent, t)
			}
		}
		h.failures[k] = recent
		if len(recent) >= maxFailures {
			return true
		}
	}
	return false
}

func (h *Handler) fail(keys ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.failures) > 10000 { // bounded memory under a spray of addresses
		clear(h.failures)
	}
	for _, k := range keys {
		h.failures[k] = append(h.failures[k], h.o.Now())
	}
}

// pageData is what the templates render.
type pageData struct {
	Nonce    string
	CSRF     string
	User     string
	Error    string
	Notice   string
	Devices  []deviceView
	Max      int
	CanAdd   bool
	Verified bool
	NoCode   bool // no device here can show a code: see session.noCode
	// The device being added.
	NewName string
	URI     string // otpauth URI, drawn as a QR code
	Secret  string // base32, for typing in by hand
}

type deviceView struct {
	Name, Kind string
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, d pageData) {
	d.Nonce = h.token()
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+d.Nonce+"'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, d); err != nil {
		h.o.Log.Error().Err(err).Str("page", name).Msg("self-service template failed")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// renderLogin shows the sign-in form with a fresh CSRF token.
func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := h.token()
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: token, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	h.render(w, status, "login", pageData{CSRF: token, Error: msg})
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request) {
	s, ok := h.session(r)
	if !ok {
		h.renderLogin(w, r, http.StatusOK, "")
		return
	}
	h.devices(w, r, s, http.StatusOK, "", "")
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		h.o.Log.Warn().Str("remote", remoteHost(r)).Msg("self-service sign-in without a valid CSRF token")
		h.renderLogin(w, r, http.StatusForbidden, "The form expired. Please try again.")
		return
	}
	addr := remoteHost(r)
	name, err := h.cfg.Users.Normalize(r.PostFormValue("name"))
	if err != nil {
		h.fail("addr:" + addr)
		h.renderLogin(w, r, http.StatusUnauthorized, "Wrong user name or password.")
		return
	}
	if h.throttled("addr:"+addr, "user:"+name) {
		h.o.Log.Warn().Str("remote", addr).Str("user", name).Msg("self-service sign-in refused: too many failures")
		h.renderLogin(w, r, http.StatusTooManyRequests, "Too many failed attempts. Wait a few minutes and try again.")
		return
	}
	password := mfa.Secret(r.PostFormValue("password"))
	err = h.o.Directory.CheckPassword(r.Context(), name, password)
	var re *mfa.RestrictedError
	switch {
	case err == nil:
	case errors.As(err, &re):
		h.fail("addr:"+addr, "user:"+name)
		h.o.Log.Info().Str("remote", addr).Str("user", name).Str("reason", re.Reason).Msg("self-service sign-in refused by the directory")
		h.renderLogin(w, r, http.StatusUnauthorized, "Your account cannot sign in now ("+re.Reason+"). Contact the help desk.")
		return
	case errors.Is(err, mfa.ErrBadCredentials):
		h.fail("addr:"+addr, "user:"+name)
		h.o.Log.Info().Str("remote", addr).Str("user", name).Msg("self-service sign-in failed")
		h.renderLogin(w, r, http.StatusUnauthorized, "Wrong user name or password.")
		return
	default:
		h.o.Log.Error().Err(err).Str("user", name).Msg("self-service sign-in: directory failed")
		h.renderLogin(w, r, http.StatusServiceUnavailable, "The directory cannot be reached. Please try again later.")
		return
	}
	us, err := h.o.Directory.Secrets(r.Context(), name)
	if err != nil {
		h.o.Log.Error().Err(err).Str("user", name).Msg("self-service sign-in: reading the devices failed")
		h.renderLogin(w, r, http.StatusServiceUnavailable, "Your devices cannot be read. Contact the help desk.")
		return
	}
	// Only a user without any enrolled device may add one without proving
	// a code: devices kept in radmfa's database (TOTP, HOTP, push, SMS,
	// e-mail) count as well as the secrets in the directory, or a stolen
	// password would be enough to enrol an attacker's phone.
	has, err := h.o.Verifier.UserDevices(r.Context(), name)
	if err != nil {
		h.o.Log.Error().Err(err).Str("user", name).Msg("self-service sign-in: counting the devices failed")
		h.renderLogin(w, r, http.StatusServiceUnavailable, "Your devices cannot be read. Contact the help desk.")
		return
	}
	token := h.token()
	s := &session{user: name, expires: h.o.Now().Add(h.cfg.lifetime()), csrf: h.token(),
		verified: len(us.Devices) == 0 && has.OTP == 0 && has.Other == 0, noCode: has.OTP == 0 && has.Other > 0}
	h.mu.Lock()
	for k, old := range h.sessions {
		if !h.o.Now().Before(old.expires) {
			delete(h.sessions, k)
		}
	}
	h.sessions[sessionKey(token)] = s
	delete(h.failures, "user:"+name)
	h.mu.Unlock()
	h.o.Log.Info().Str("remote", addr).Str("user", name).Msg("self-service sign-in")
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(h.cfg.lifetime().Seconds())})
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, _ *session) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		h.mu.Lock()
		delete(h.sessions, sessionKey(c.Value))
		h.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// devices shows the user's devices with what they may do.
func (h *Handler) devices(w http.ResponseWriter, r *http.Request, s *session, status int, errMsg, notice string) {
	us, err := h.o.Directory.Secrets(r.Context(), s.user)
	if err != nil {
		h.o.Log.Error().Err(err).Str("user", s.user).Msg("self-service: reading the devices failed")
		status, errMsg = http.StatusServiceUnavailable, "Your devices cannot be read now. Please try again later."
	}
	h.mu.Lock()
	d := pageData{CSRF: s.csrf, User: s.user, Error: errMsg, Notice: notice, Max: h.o.Directory.MaxDevices(), Verified: s.verified, NoCode: s.noCode}
	h.mu.Unlock()
	for _, sd := range us.Devices {
		d.Devices = append(d.Devices, deviceView{Name: sd.Device.Name, Kind: fmt.Sprintf("%s, %d digits", strings.ToUpper(sd.Device.Kind.String()), sd.Device.Digits)})
	}
	d.CanAdd = err == nil && len(us.Devices) < d.Max
	h.render(w, status, "devices", d)
}

// verify checks a current code from one of the user's devices: the proof
// that unlocks changes.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request, s *session) {
	addr := remoteHost(r)
	if h.throttled("addr:"+addr, "user:"+s.user) {
		h.devices(w, r, s, http.StatusTooManyRequests, "Too many failed attempts. Wait a few minutes and try again.", "")
		return
	}
	ok, err := h.checkCode(r, s.user, r.PostFormValue("code"))
	switch {
	case err != nil:
		h.devices(w, r, s, http.StatusServiceUnavailable, "The code could not be checked now. Please try again later.", "")
	case !ok:
		h.fail("addr:"+addr, "user:"+s.user)
		h.devices(w, r, s, http.StatusUnauthorized, "That code was not accepted. Wait for the next one and try again.", "")
	default:
		h.mu.Lock()
		s.verified = true
		h.mu.Unlock()
		h.devices(w, r, s, http.StatusOK, "", "Code accepted: you can now add or remove devices.")
	}
}

// checkCode asks the engine whether code is a current code of one of the
// user's devices.
func (h *Handler) checkCode(r *http.Request, user, code string) (bool, error) {
	d, err := h.o.Verifier.VerifyCode(r.Context(), mfa.Request{FrontDoor: mfa.FrontDoorSelfService, UserName: user,
		Passcode: mfa.Secret(strings.TrimSpace(code)), NAS: mfa.NAS{ClientName: "self-service", CallingStationID: remoteHost(r)}})
	if err != nil {
		h.o.Log.Error().Err(err).Str("user", user).Msg("self-service: code check failed")
		return false, err
	}
	return d.Action == mfa.ActionAccept, nil
}

// add starts adding a device: a new secret and its QR code.
func (h *Handler) add(w http.ResponseWriter, r *http.Request, s *session) {
	h.mu.Lock()
	verified := s.verified
	h.mu.Unlock()
	if !verified {
		h.devices(w, r, s, http.StatusForbidden, "Enter a current code from one of your devices first.", "")
		return
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	if err := ldapdir.CheckDeviceName(name); err != nil {
		h.devices(w, r, s, http.StatusBadRequest, "Choose another device name: 1 to 64 characters, without = & , or #@.", "")
		return
	}
	us, err := h.o.Directory.Secrets(r.Context(), s.user)
	if err != nil {
		h.devices(w, r, s, http.StatusServiceUnavailable, "", "")
		return
	}
	if len(us.Devices) >= h.o.Directory.MaxDevices() {
		h.devices(w, r, s, http.StatusConflict, fmt.Sprintf("You have %d devices, the most allowed. Remove one first.", len(us.Devices)), "")
		return
	}
	for _, d := range us.Devices {
		if strings.EqualFold(d.Device.Name, name) {
			h.devices(w, r, s, http.StatusConflict, "You already have a device with that name.", "")
			return
		}
	}
	secret := make([]byte, secretBytes)
	if _, err := io.ReadFull(h.o.Rand, secret); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.mu.Lock()
	s.pending = &pending{name: name, secret: mfa.Secret(secret)}
	h.mu.Unlock()
	h.renderPending(w, s, http.StatusOK, "")
}

func (h *Handler) renderPending(w http.ResponseWriter, s *session, status int, errMsg string) {
	h.mu.Lock()
	p := *s.pending
	d := pageData{CSRF: s.csrf, User: s.user, Error: errMsg, NewName: p.name}
	h.mu.Unlock()
	key := otpauth.Key{Kind: mfa.DeviceTOTP, Issuer: h.cfg.issuer(), Account: s.user + " (" + p.name + ")", Secret: p.secret,
		Algorithm: "SHA1", Digits: 6, Period: 30}
	d.URI, d.Secret = key.URI(), otpauth.EncodeSecret(p.secret)
	h.render(w, status, "add", d)
}

// newDevice is the pending device as the directory will hold it.
func newDevice(p pending) mfa.Device {
	return mfa.Device{Name: p.name, Kind: mfa.DeviceTOTP, Algorithm: "SHA1", Digits: 6, Period: 30, Secret: p.secret}
}

// confirm checks the new device's code and writes it to the directory.
func (h *Handler) confirm(w http.ResponseWriter, r *http.Request, s *session) {
	h.mu.Lock()
	p := s.pending
	verified := s.verified
	h.mu.Unlock()
	if p == nil || !verified {
		h.devices(w, r, s, http.StatusConflict, "Start again: choose Add a device.", "")
		return
	}
	dev := newDevice(*p)
	if !codeMatches(dev, strings.TrimSpace(r.PostFormValue("code")), h.o.Now()) {
		h.mu.Lock()
		p.attempts++
		tooMany := p.attempts >= maxConfirm
		if tooMany {
			s.pending = nil
		}
		h.mu.Unlock()
		if tooMany {
			h.devices(w, r, s, http.StatusUnauthorized, "That code did not match. Add the device again, scanning the new QR code.", "")
			return
		}
		h.renderPending(w, s, http.StatusUnauthorized, "That code did not match. Check the app shows this account, then enter its current code.")
		return
	}
	err := h.change(r, s.user, func(devs []ldapdir.StoredDevice) ([]ldapdir.StoredDevice, error) {
		if len(devs) >= h.o.Directory.MaxDevices() {
			return nil, errFull
		}
		for _, d := range devs {
			if strings.EqualFold(d.Device.Name, p.name) {
				return nil, errDuplicate
			}
		}
		return append(devs, ldapdir.StoredDevice{Device: dev}), nil
	})
	h.mu.Lock()
	s.pending = nil
	h.mu.Unlock()
	if err != nil {
		h.changeFailed(w, r, s, err)
		return
	}
	h.changed(r, s.user, "add", p.name)
	h.devices(w, r, s, http.StatusOK, "", fmt.Sprintf("Device %q added. Use its codes from now on.", p.name))
}

// remove removes a device from the directory.
func (h *Handler) remove(w http.ResponseWriter, r *http.Request, s *session) {
	h.mu.Lock()
	verified := s.verified
	h.mu.Unlock()
	if !verified {
		h.devices(w, r, s, http.StatusForbidden, "Enter a current code from one of your devices first.", "")
		return
	}
	name := r.PostFormValue("name")
	err := h.change(r, s.user, func(devs []ldapdir.StoredDevice) ([]ldapdir.StoredDevice, error) {
		var out []ldapdir.StoredDevice
		for _, d := range devs {
			if d.Device.Name != name {
				out = append(out, d)
			}
		}
		if len(out) == len(devs) {
			return nil, errNoSuchDevice
		}
		return out, nil
	})
	if err != nil {
		h.changeFailed(w, r, s, err)
		return
	}
	h.changed(r, s.user, "remove", name)
	h.devices(w, r, s, http.StatusOK, "", fmt.Sprintf("Device %q removed.", name))
}

var (
	errFull         = errors.New("enroll: the most devices allowed")
	errDuplicate    = errors.New("enroll: a device with that name exists")
	errNoSuchDevice = errors.New("enroll: no such device")
)

// change reads the user's devices, applies edit and writes the result
// back with one modify that fails if the attribute changed meanwhile.
func (h *Handler) change(r *http.Request, user string, edit func([]ldapdir.StoredDevice) ([]ldapdir.StoredDevice, error)) error {
	us, err := h.o.Directory.Secrets(r.Context(), user)
	if err != nil {
		return err
	}
	devs, err := edit(append([]ldapdir.StoredDevice(nil), us.Devices...))
	if err != nil {
		return err
	}
	vals, err := h.o.Directory.EncodeSecrets(devs, us.Values)
	if err != nil {
		return err
	}
	return h.o.Directory.ReplaceSecrets(r.Context(), us.DN, us.Values, vals)
}

func (h *Handler) changeFailed(w http.ResponseWriter, r *http.Request, s *session, err error) {
	switch {
	case errors.Is(err, errFull):
		h.devices(w, r, s, http.StatusConflict, "You have the most devices allowed. Remove one first.", "")
	case errors.Is(err, errDuplicate):
		h.devices(w, r, s, http.StatusConflict, "You already have a device with that name.", "")
	case errors.Is(err, errNoSuchDevice):
		h.devices(w, r, s, http.StatusNotFound, "There is no such device.", "")
	case errors.Is(err, ldapdir.ErrChanged):
		h.o.Log.Warn().Str("user", s.user).Msg("self-service: the devices changed meanwhile")
		h.devices(w, r, s, http.StatusConflict, "Your devices changed meanwhile (in another window, or by the help desk). Check them and try again.", "")
	default:
		h.o.Log.Error().Err(err).Str("user", s.user).Msg("self-service: writing the devices failed")
		h.devices(w, r, s, http.StatusServiceUnavailable, "Your devices could not be changed now. Please try again later.", "")
	}
}

// changed records and announces a change of the user's devices.
func (h *Handler) changed(r *http.Request, user, what, device string) {
	addr := remoteHost(r)
	h.o.Log.Info().Str("user", user).Str("device", device).Str("remote", addr).Msg("self-service: device " + what)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 10*time.Second)
	defer cancel()
	if h.o.Audit != nil {
		details := fmt.Sprintf("self-service page, from %s", addr)
		if err := h.o.Audit.AddAudit(ctx, "self-service:"+user, "ldap.device."+what, user+"/"+device, details); err != nil {
			h.o.Log.Error().Err(err).Msg("self-service: audit entry not written")
		}
	}
	if h.o.Notifier == nil {
		return
	}
	n := mfa.Notification{Kind: mfa.NotifyAlert, User: user, Subject: "Your sign-in devices changed"}
	verb := map[string]string{"add": "added to", "remove": "removed from"}[what]
	n.Text = fmt.Sprintf("The device %q was %s your sign-in account %s on the self-service page at %s, from %s. If this was not you, call your help desk now.",
		device, verb, user, h.o.Now().UTC().Format("2006-01-02 15:04 UTC"), addr)
	if u, err := h.o.Directory.LookupUser(ctx, user); err == nil && u.Email != "" {
		n.To, n.Notifier = u.Email, h.o.EmailNotifier
	}
	if _, err := h.o.Notifier.Notify(ctx, n); err != nil {
		h.o.Log.Error().Err(err).Str("user", user).Msg("self-service: the user could not be told of the change")
	}
}

// codeMatches checks a code of the new device at now, ±1 step.
func codeMatches(d mfa.Device, code string, now time.Time) bool {
	if len(code) != d.Digits {
		return false
	}
	s := mfa.Step(d, now)
	ok := 0
	for c := s - 1; c <= s+1; c++ {
		want, err := mfa.Code(d, c)
		if err == nil {
			ok |= subtle.ConstantTimeCompare([]byte(want), []byte(code))
		}
	}
	return ok == 1
}

// groupsOf4 spaces a base32 secret for typing by hand.
func groupsOf4(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}
