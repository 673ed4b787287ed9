package admin

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// credential is the admin login: a name and a bcrypt hash.
type credential struct {
	name string
	hash []byte
}

// readCredential reads "name:hash" from the first non-comment line of
// path.
func readCredential(path string) (credential, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return credential{}, fmt.Errorf("admin: credential file: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, hash, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return credential{}, fmt.Errorf("admin: credential file %s: want one line \"name:bcrypt-hash\" (htpasswd -nB name)", path)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return credential{}, fmt.Errorf("admin: credential file %s: the password must be a bcrypt hash (htpasswd -nB %s): %v", path, name, err)
		}
		return credential{name: name, hash: []byte(hash)}, nil
	}
	return credential{}, fmt.Errorf("admin: credential file %s is empty", path)
}

// check compares a login with the credential. bcrypt's comparison is
// constant-time; the name is compared in constant time too, and a wrong
// name still costs a bcrypt comparison.
func (c credential) check(name, password string) bool {
	nameOK := subtle.ConstantTimeCompare([]byte(name), []byte(c.name)) == 1
	passOK := bcrypt.CompareHashAndPassword(c.hash, []byte(password)) == nil
	return nameOK && passOK
}

// session is one login.
type session struct {
	name    string
	expires time.Time
	csrf    string // for the logout form
}

const (
	sessionCookie = "radmfa_admin"
	csrfCookie    = "radmfa_admin_csrf"
	maxLoginForm  = 4 << 10
)

// Failed logins: after maxFailures within failureWindow from one address,
// further attempts from it are refused until the window has passed.
const (
	maxFailures   = 5
	failureWindow = time.Minute
)

func randomToken() string {
	var b [32]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sessionKey is how the session table stores a cookie value: a hash, so
// that a dump of the process's memory maps no live cookie directly.
func sessionKey(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return string(sum[:])
}

// authed wraps a handler that needs a login: without a valid session,
// pages redirect to the login form and downloads answer 401.
func (h *handler) authed(fn func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s, ok := h.session(r); ok {
			fn(w, r, s)
			return
		}
		if r.Method != http.MethodGet || r.URL.Query().Get("format") == "csv" {
			http.Error(w, "login required", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
	}
}

func (h *handler) session(r *http.Request) (session, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return session{}, false
	}
	key := sessionKey(c.Value)
	h.mu.Lock()
	defer h.mu.Unlock()
	s, ok := h.sessions[key]
	if !ok {
		return session{}, false
	}
	if !h.now().Before(s.expires) {
		delete(h.sessions, key)
		return session{}, false
	}
	return s, true
}

func secure(r *http.Request) bool { return r.TLS != nil }

// safeNext keeps redirects after login on this site: a path, not "//host"
// or a URL. Browsers drop tabs and newlines from a Location and read "\" as
// "/", so "/\t/evil.example" would be "//evil.example": a next with a
// backslash, a control character or a space is refused too.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/login") ||
		strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || r <= ' ' || r == 0x7f }) {
		return "/summary"
	}
	return next
}

type loginData struct {
	Page  string // "login", for the page title
	CSRF  string
	Next  string
	Error string
}

func (h *handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.renderLogin(w, r, http.StatusOK, "")
}

// renderLogin shows the login form with a fresh CSRF token in a cookie
// and in the form.
func (h *handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	token := randomToken()
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: token, Path: "/login", HttpOnly: true, Secure: secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	h.render(w, status, "login", loginData{Page: "login", CSRF: token, Next: safeNext(r.FormValue("next")), Error: msg})
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		h.log.Warn().Str("remote", remoteHost(r)).Msg("admin login without a valid CSRF token")
		h.renderLogin(w, r, http.StatusForbidden, "The form expired. Please try again.")
		return
	}
	addr := remoteHost(r)
	if h.throttled(addr) {
		h.log.Warn().Str("remote", addr).Msg("admin login refused: too many failures")
		h.renderLogin(w, r, http.StatusTooManyRequests, "Too many failed logins. Wait a minute and try again.")
		return
	}
	name := r.PostFormValue("name")
	if !h.cred.check(name, r.PostFormValue("password")) {
		h.fail(addr)
		h.log.Warn().Str("remote", addr).Msg("admin login failed")
		h.renderLogin(w, r, http.StatusUnauthorized, "Wrong name or password.")
		return
	}
	token := randomToken()
	s := session{name: name, expires: h.now().Add(h.cfg.lifetime()), csrf: randomToken()}
	h.mu.Lock()
	// Drop expired sessions now and then.
	for k, old := range h.sessions {
		if !h.now().Before(old.expires) {
			delete(h.sessions, k)
		}
	}
	h.sessions[sessionKey(token)] = s
	delete(h.failures, addr)
	h.mu.Unlock()
	h.log.Info().Str("remote", addr).Str("admin", name).Msg("admin login")
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true, Secure: secure(r),
		SameSite: http.SameSiteStrictMode, MaxAge: int(h.cfg.lifetime().Seconds())})
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: "", Path: "/login", MaxAge: -1})
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request, s session) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginForm)
	if subtle.ConstantTimeCompare([]byte(s.csrf), []byte(r.PostFormValue("csrf"))) != 1 {
		http.Error(w, "bad form", http.StatusForbidden)
		return
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		h.mu.Lock()
		delete(h.sessions, sessionKey(c.Value))
		h.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// throttled says whether addr has failed too often lately.
func (h *handler) throttled(addr string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	recent := h.failures[addr][:0]
	for _, t := range h.failures[addr] {
		if h.now().Sub(t) < failureWindow {
			recent = append(recent, t)
		}
	}
	h.failures[addr] = recent
	return len(recent) >= maxFailures
}

func (h *handler) fail(addr string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.failures) > 10000 { // bounded memory under a spray of addresses
		clear(h.failures)
	}
	h.failures[addr] = append(h.failures[addr], h.now())
}

// render executes a page template with a fresh CSP nonce.
func (h *handler) render(w http.ResponseWriter, status int, name string, data any) {
	nonce := randomToken()
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; img-src 'self'; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var buf bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&buf, name, pageWith{Nonce: nonce, Data: data}); err != nil {
		h.log.Error().Err(err).Str("page", name).Msg("admin page template failed")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// pageWith is what every template gets: the CSP nonce and the page's data.
type pageWith struct {
	Nonce string
	Data  any
}
