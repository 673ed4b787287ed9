// Package approve is radmfa's push approval page and its JSON API, served
// by radmfa serve on the public approval listener.
//
// The URL's token is a bearer secret (128 random bits, single use,
// expiring): it is never logged, the page sets Referrer-Policy no-referrer
// and Cache-Control no-store, and every answer is a POST protected by a
// CSRF token (double-submit: a SameSite=Strict cookie and a form field).
// The page loads nothing from elsewhere: styles and the one script (which
// shows the request time in the viewer's locale) are inline under a
// Content-Security-Policy nonce.
//
// The JSON API (/api/v1/push/TOKEN) is for app integrations: requests are
// signed with HMAC-SHA256 over the timestamp, method, path and body with
// a shared key, and refused outside a five-minute window.
package approve

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/radmfa/radmfa/internal/mfa"
)

// Approver is what the page needs from the engine.
type Approver interface {
	PushView(ctx context.Context, token string) (mfa.PushView, error)
	DecidePush(ctx context.Context, token string, d mfa.PushDecision) (mfa.PushOutcome, error)
}

// Handler serves the approval page (/approve/TOKEN) and API
// (/api/v1/push/TOKEN).
type Handler struct {
	approver Approver
	log      zerolog.Logger
	apiKey   []byte // nil: the API is off
	now      func() time.Time
	mux      *http.ServeMux
}

// New returns the handler. apiKey enables the JSON API when not empty.
func New(a Approver, apiKey []byte, log zerolog.Logger) *Handler {
	h := &Handler{approver: a, log: log, apiKey: apiKey, now: time.Now, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /approve/{token}", h.page)
	h.mux.HandleFunc("POST /approve/{token}", h.answer)
	h.mux.HandleFunc("GET /api/v1/push/{token}", h.apiGet)
	h.mux.HandleFunc("POST /api/v1/push/{token}", h.apiPost)
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	h.mux.ServeHTTP(w, r)
}

const (
	csrfCookie = "radmfa_csrf"
	maxForm    = 4 << 10
)

// validToken rejects what cannot be a token before any lookup.
func validToken(t string) bool {
	if len(t) < 16 || len(t) > 64 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// pageData is what the template renders.
type pageData struct {
	Nonce     string
	Title     string
	Message   string
	Error     bool
	View      *mfa.PushView
	CSRF      string
	Action    string
	TimeISO   string
	TimeUTC   string
	ExpiresIn int
	Denying   bool
}

func (h *Handler) page(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	data := pageData{Nonce: randomString(16), Action: r.URL.Path}
	if !validToken(token) {
		h.render(w, http.StatusNotFound, data.withError("Unknown request", mfa.ErrPushNotFound))
		return
	}
	v, err := h.approver.PushView(r.Context(), token)
	switch {
	case err != nil:
		h.render(w, statusOf(err), data.withError("Unknown request", err))
		return
	case v.ExpiredAlready || v.Outcome == mfa.PushExpired:
		h.render(w, http.StatusGone, data.withError("Expired", mfa.ErrPushExpired))
		return
	case v.Outcome != mfa.PushPending:
		h.render(w, http.StatusGone, data.withError("Already answered", mfa.ErrPushDecided))
		return
	}
	data.View = &v
	data.Title = "Sign-in request"
	data.CSRF = randomString(16)
	data.TimeISO = v.RequestTime.UTC().Format(time.RFC3339)
	data.TimeUTC = v.RequestTime.UTC().Format("2006-01-02 15:04:05 UTC")
	data.ExpiresIn = int(time.Until(v.Expires).Seconds())
	data.Denying = r.URL.Query().Get("deny") == "1"
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: data.CSRF, Path: "/approve/", HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: 600})
	h.render(w, http.StatusOK, data)
}

func (d pageData) withError(title string, err error) pageData {
	d.Title, d.Error = title, true
	switch {
	case errors.Is(err, mfa.ErrPushNotFound):
		d.Message = "This link is not valid, or was already used. If you are trying to sign in, start again."
	case errors.Is(err, mfa.ErrPushDecided):
		d.Message = "This sign-in request was already answered."
	case errors.Is(err, mfa.ErrPushExpired):
		d.Message = "This sign-in request has expired. If you are trying to sign in, start again."
	default:
		d.Title, d.Message = "Something went wrong", "The request could not be answered; please try again."
	}
	return d
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, mfa.ErrPushNotFound):
		return http.StatusNotFound
	case errors.Is(err, mfa.ErrPushDecided), errors.Is(err, mfa.ErrPushExpired):
		return http.StatusGone
	}
	return http.StatusInternalServerError
}

// publicMessage is what an API client is told about err: the meaning of a
// known error, never the text of an internal one (store details).
func publicMessage(err error) string {
	for _, known := range []error{mfa.ErrPushNotFound, mfa.ErrPushDecided, mfa.ErrPushExpired} {
		if errors.Is(err, known) {
			return known.Error()
		}
	}
	return "internal error"
}

func (h *Handler) answer(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	data := pageData{Nonce: randomString(16)}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil || !validToken(token) {
		h.render(w, http.StatusBadRequest, data.withError("Unknown request", mfa.ErrPushNotFound))
		return
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || c.Value == "" || !hmac.Equal([]byte(c.Value), []byte(r.PostFormValue("csrf"))) {
		h.log.Warn().Msg("approval answer without a valid CSRF token")
		d := data
		d.Title, d.Error = "Please try again", true
		d.Message = "Your answer could not be verified (the page was old, or opened elsewhere). Open the link from the notification again."
		h.render(w, http.StatusForbidden, d)
		return
	}
	var dec mfa.PushDecision
	switch r.PostFormValue("action") {
	case "approve":
		dec = mfa.PushDecision{Approve: true, Number: r.PostFormValue("number")}
	case "deny_fraud":
		dec = mfa.PushDecision{Fraud: true}
	case "deny_mistake":
		dec = mfa.PushDecision{}
	default:
		h.render(w, http.StatusBadRequest, data.withError("Please try again", errors.New("no action")))
		return
	}
	dec.By = "page"
	outcome, err := h.approver.DecidePush(r.Context(), token, dec)
	if err != nil {
		if statusOf(err) == http.StatusInternalServerError {
			h.log.Error().Err(err).Msg("approval answer failed")
		}
		h.render(w, statusOf(err), data.withError("Could not answer", err))
		return
	}
	h.log.Info().Str("outcome", string(outcome)).Str("by", "page").Msg("push answered")
	data.Title, data.Message = outcomeText(outcome)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: "", Path: "/approve/", MaxAge: -1})
	h.render(w, http.StatusOK, data)
}

func outcomeText(o mfa.PushOutcome) (string, string) {
	switch o {
	case mfa.PushApproved:
		return "Approved", "You are signed in. You can close this page."
	case mfa.PushDeniedFraud:
		return "Denied", "Thank you. The sign-in was blocked and your help desk has been told. If you did not try to sign in, change your password."
	case mfa.PushWrongNumber:
		return "Denied", "That was not the number shown at sign-in, so the request was denied. If you are signing in, start again."
	default:
		return "Denied", "The request was cancelled. You can sign in again, or use a code from your authenticator app."
	}
}

func (h *Handler) render(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", fmt.Sprintf(
		"default-src 'none'; style-src 'nonce-%s'; script-src 'nonce-%s'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'", d.Nonce, d.Nonce))
	var b bytes.Buffer
	if err := pageTemplate().Execute(&b, d); err != nil {
		h.log.Error().Err(err).Msg("approval page template")
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// apiRequest is the JSON API's POST body.
type apiRequest struct {
	Decision string `json:"decision"` // approve, deny_fraud, deny_mistake
	Number   string `json:"number,omitempty"`
}

// apiView is the JSON API's GET answer.
type apiView struct {
	User         string    `json:"user"`
	Resource     string    `json:"resource"`
	Organisation string    `json:"organisation"`
	ClientIP     string    `json:"client_ip"`
	RequestTime  time.Time `json:"request_time"`
	Expires      time.Time `json:"expires"`
	Variant      string    `json:"variant"`
	RequestCode  string    `json:"request_code,omitempty"`
	Choices      []string  `json:"choices,omitempty"`
	Outcome      string    `json:"outcome"`
}

// API signature headers.
const (
	HeaderTimestamp = "X-Radmfa-Timestamp"
	HeaderSignature = "X-Radmfa-Signature"
	maxSkew         = 5 * time.Minute
)

// Sign returns the X-Radmfa-Signature value for an API request: "v1="
// and the hex HMAC-SHA256, under key, of timestamp, method, path and body
// joined by newlines. App integrations compute the same.
func Sign(key []byte, timestamp, method, path string, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s\n%s\n%s\n", timestamp, method, path)
	m.Write(body)
	return "v1=" + hex.EncodeToString(m.Sum(nil))
}

// verify checks an API request's signature and returns its body.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if len(h.apiKey) == 0 {
		http.NotFound(w, r)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxForm))
	if err != nil {
		apiError(w, http.StatusBadRequest, "body too large")
		return nil, false
	}
	ts := r.Header.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || h.now().Sub(time.Unix(sec, 0)).Abs() > maxSkew {
		apiError(w, http.StatusUnauthorized, "missing or stale "+HeaderTimestamp)
		return nil, false
	}
	want := Sign(h.apiKey, ts, r.Method, r.URL.Path, body)
	if !hmac.Equal([]byte(want), []byte(r.Header.Get(HeaderSignature))) {
		h.log.Warn().Msg("approval API request with a bad signature")
		apiError(w, http.StatusUnauthorized, "bad "+HeaderSignature)
		return nil, false
	}
	if !validToken(r.PathValue("token")) {
		apiError(w, http.StatusNotFound, mfa.ErrPushNotFound.Error())
		return nil, false
	}
	return body, true
}

func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (h *Handler) apiGet(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.verify(w, r); !ok {
		return
	}
	v, err := h.approver.PushView(r.Context(), r.PathValue("token"))
	if err != nil {
		if statusOf(err) == http.StatusInternalServerError {
			h.log.Error().Err(err).Msg("approval API view failed")
		}
		apiError(w, statusOf(err), publicMessage(err))
		return
	}
	outcome := string(v.Outcome)
	if v.ExpiredAlready {
		outcome = string(mfa.PushExpired)
	}
	writeJSON(w, http.StatusOK, apiView{User: v.User, Resource: v.Resource, Organisation: v.Organisation, ClientIP: v.ClientIP,
		RequestTime: v.RequestTime, Expires: v.Expires, Variant: string(v.Variant), RequestCode: v.RequestCode,
		Choices: v.Choices, Outcome: outcome})
}

func (h *Handler) apiPost(w http.ResponseWriter, r *http.Request) {
	body, ok := h.verify(w, r)
	if !ok {
		return
	}
	var req apiRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "body: want {\"decision\": \"approve|deny_fraud|deny_mistake\", \"number\": \"…\"}")
		return
	}
	d := mfa.PushDecision{By: "api", Number: req.Number}
	switch req.Decision {
	case "approve":
		d.Approve = true
	case "deny_fraud":
		d.Fraud = true
	case "deny_mistake":
	default:
		apiError(w, http.StatusBadRequest, "decision: want approve, deny_fraud or deny_mistake")
		return
	}
	outcome, err := h.approver.DecidePush(r.Context(), r.PathValue("token"), d)
	if err != nil {
		if statusOf(err) == http.StatusInternalServerError {
			h.log.Error().Err(err).Msg("approval API answer failed")
		}
		apiError(w, statusOf(err), publicMessage(err))
		return
	}
	h.log.Info().Str("outcome", string(outcome)).Str("by", "api").Msg("push answered")
	writeJSON(w, http.StatusOK, map[string]string{"outcome": string(outcome)})
}

// pageTemplate is parsed on first use, not at start-up: every radmfa
// process links this package, and radmfa exec must start fast.
var pageTemplate = sync.OnceValue(func() *template.Template { return template.Must(template.New("page").Parse(pageHTML)) })

const pageHTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{.Title}}</title>
<style nonce="{{.Nonce}}">
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f3f4f6;color:#111}
main{max-width:28rem;margin:0 auto;padding:1.25rem}
.card{background:#fff;border-radius:12px;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin:0 0 1rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem .9rem;margin:0 0 1.25rem}
dt{color:#555}dd{margin:0;font-weight:600;word-break:break-word}
.code{font-size:2rem;letter-spacing:.3rem;text-align:center;font-weight:700;margin:.5rem 0 1rem}
button,input{font-size:1.1rem;border-radius:10px;padding:.85rem;width:100%;box-sizing:border-box;margin:.35rem 0}
button{border:0;cursor:pointer;font-weight:600}
.approve{background:#15803d;color:#fff}.deny{background:#e5e7eb;color:#111}.fraud{background:#b91c1c;color:#fff}
.choices{display:grid;grid-template-columns:repeat(3,1fr);gap:.5rem}
.choices button{background:#1d4ed8;color:#fff;font-size:1.6rem}
input{border:1px solid #9ca3af;text-align:center;font-size:1.6rem}
.error h1{color:#b91c1c}.note{color:#555;font-size:.9rem;margin-top:1rem}
</style>
</head>
<body><main><div class="card{{if .Error}} error{{end}}">
<h1>{{.Title}}</h1>
{{if .View}}
<dl>
<dt>User</dt><dd id="user">{{.View.User}}</dd>
<dt>Signing in to</dt><dd id="resource">{{if .View.Resource}}{{.View.Resource}}{{else}}-{{end}}</dd>
{{if .View.Organisation}}<dt>Organisation</dt><dd id="organisation">{{.View.Organisation}}</dd>{{end}}
<dt>From</dt><dd id="client-ip">{{if .View.ClientIP}}{{.View.ClientIP}}{{else}}unknown{{end}}</dd>
<dt>When</dt><dd><time id="when" datetime="{{.TimeISO}}">{{.TimeUTC}}</time></dd>
</dl>
{{if .Denying}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
<p>Why are you denying this request?</p>
<button class="fraud" name="action" value="deny_fraud" id="deny-fraud">It wasn't me</button>
<button class="deny" name="action" value="deny_mistake" id="deny-mistake">I made a mistake</button>
</form>
{{else}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf" value="{{.CSRF}}">
{{if eq (print .View.Variant) "ack"}}<p>Check that your sign-in screen shows this request code:</p><p class="code" id="request-code">{{.View.RequestCode}}</p>{{end}}
{{if eq (print .View.Variant) "choose"}}<p>Choose the number shown on your sign-in screen:</p>
<input type="hidden" name="action" value="approve">
<div class="choices">{{range .View.Choices}}<button name="number" value="{{.}}" class="choice">{{.}}</button>{{end}}</div>
{{else if eq (print .View.Variant) "enter"}}<p>Enter the number shown on your sign-in screen:</p>
<input name="number" id="number" inputmode="numeric" autocomplete="off" maxlength="8" required>
<button class="approve" name="action" value="approve" id="approve">Approve</button>
{{else}}
<button class="approve" name="action" value="approve" id="approve">Approve</button>
{{end}}
</form>
<form method="get" action="{{.Action}}"><input type="hidden" name="deny" value="1"><button class="deny" id="deny">Deny</button></form>
{{end}}
<p class="note">This request expires in about {{.ExpiresIn}} seconds.</p>
{{else}}
<p id="message">{{.Message}}</p>
{{end}}
</div></main>
<script nonce="{{.Nonce}}">
var t=document.getElementById("when");
if(t){var d=new Date(t.getAttribute("datetime"));if(!isNaN(d)){t.textContent=d.toLocaleString();}}
</script>
</body></html>
`
