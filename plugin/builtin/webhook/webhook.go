// Package webhook is the built-in notifier that POSTs each notification as
// JSON to a URL, signed per the Standard Webhooks scheme
// (https://www.standardwebhooks.com): headers webhook-id, webhook-timestamp
// (Unix seconds) and webhook-signature ("v1,<base64 HMAC-SHA256>" of
// "id.timestamp.body", keyed with the whsec_ secret). Receivers verify
// with any Standard Webhooks library, or with Verify.
//
// Settings ([notifiers.NAME.settings] with builtin = "webhook"):
//
//	url         = "https://sms-gw.example.com/radmfa"  # required; http only to loopback
//	secret_file = "/etc/radmfa/webhook.secret"          # required: whsec_<base64 of 24–64 bytes>
//	timeout     = "10s"                                  # default 10s
//
// The body is {"type": "radmfa.push"|"radmfa.code"|"radmfa.alert",
// "timestamp": RFC 3339, "data": {...}}, where data holds kind, user, to,
// subject, message (the text for a person, code and URL included), code,
// and push {approval_url, resource, organisation, client_ip, request_time,
// expires, variant, request_code}. It carries secrets: use https. A 2xx
// answer is a sent delivery; anything else (redirects too) a failed one.
package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/radmfa/radmfa/plugin"
	"github.com/radmfa/radmfa/plugin/builtin/internal/message"
	"github.com/radmfa/radmfa/plugin/builtin/internal/settings"
)

// DefaultTimeout bounds a delivery when the settings give no timeout.
const DefaultTimeout = 10 * time.Second

// Config is the webhook notifier's settings. Zero values are the
// defaults.
type Config struct {
	// URL receives the POSTs: https, or http to a loopback address.
	URL string `json:"url"`
	// SecretFile holds the signing secret, "whsec_" and the base64 of 24
	// to 64 random bytes.
	SecretFile string `json:"secret_file"`
	// Timeout bounds one delivery. Default 10s.
	Timeout plugin.Duration `json:"timeout"`
}

// ParseConfig decodes settings strictly and validates them.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := plugin.DecodeSettings(data, &c); err != nil {
		return c, fmt.Errorf("webhook: %w", err)
	}
	return c, c.Validate()
}

// Validate checks the settings without reading files.
func (c Config) Validate() error {
	if _, err := settings.CheckURL("webhook: url", c.URL); err != nil {
		return err
	}
	if c.SecretFile == "" {
		return fmt.Errorf("webhook: secret_file is required (a file holding whsec_…)")
	}
	return settings.CheckTimeout("webhook: timeout", c.Timeout.Std())
}

// Notifier posts signed notifications.
type Notifier struct {
	log *slog.Logger
	now func() time.Time

	mu     sync.RWMutex
	url    *url.URL
	key    []byte
	client *http.Client
}

var _ plugin.Notifier = (*Notifier)(nil)

// New returns an unconfigured webhook notifier that logs to log.
func New(log *slog.Logger) *Notifier {
	return &Notifier{log: log, now: time.Now}
}

// Configure applies the settings and reads the signing secret.
func (n *Notifier) Configure(_ context.Context, req *plugin.ConfigureRequest) (*plugin.ConfigureResponse, error) {
	cfg, err := ParseConfig(req.Settings)
	if err != nil {
		return nil, err
	}
	u, _ := settings.CheckURL("webhook: url", cfg.URL) // checked by Validate
	raw, err := settings.ReadSecretFile("webhook: secret_file", cfg.SecretFile)
	if err != nil {
		return nil, err
	}
	key, err := ParseSecret(raw)
	if err != nil {
		return nil, fmt.Errorf("webhook: secret_file %s: %w", cfg.SecretFile, err)
	}
	client := &http.Client{
		Timeout:       cfg.Timeout.Or(DefaultTimeout),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	n.mu.Lock()
	n.url, n.key, n.client = u, key, client
	n.mu.Unlock()
	n.log.Info("webhook configured", "url", u.Redacted())
	return &plugin.ConfigureResponse{}, nil
}

// envelope is the Standard Webhooks payload structure.
type envelope struct {
	Type      string          `json:"type"`
	Timestamp time.Time       `json:"timestamp"`
	Data      message.Payload `json:"data"`
}

// Notify posts one notification.
func (n *Notifier) Notify(ctx context.Context, req *plugin.NotifyRequest) (*plugin.NotifyResponse, error) {
	n.mu.RLock()
	u, key, client := n.url, n.key, n.client
	n.mu.RUnlock()
	if client == nil {
		return nil, fmt.Errorf("webhook: %w", settings.ErrNotConfigured)
	}
	now := n.now()
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(envelope{Type: "radmfa." + req.Kind.String(), Timestamp: now.UTC(), Data: message.NewPayload(req)}); err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	id, err := newMessageID()
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body.Bytes()))
	if err != nil {
		return nil, fmt.Errorf("webhook: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("User-Agent", "radmfa-webhook")
	hreq.Header.Set(HeaderID, id)
	hreq.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	hreq.Header.Set(HeaderSignature, Sign(key, id, now, body.Bytes()))
	resp, err := client.Do(hreq)
	if err != nil {
		return plugin.Failed("webhook: %s", message.Excerpt(err.Error(), 300, req.Secrets()...)), nil
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return plugin.Failed("webhook: %s answered %s: %s", u.Redacted(), resp.Status, message.Excerpt(string(answer), 300, req.Secrets()...)), nil
	}
	n.log.Debug("webhook delivered", "kind", req.Kind.String(), "id", id, "status", resp.StatusCode)
	return plugin.Sent(id, "delivered: "+resp.Status), nil
}

// newMessageID returns "msg_" and 26 random base32 characters (130 bits).
func newMessageID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return "msg_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])), nil
}
