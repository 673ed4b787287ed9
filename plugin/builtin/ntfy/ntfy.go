// Package ntfy is the built-in notifier that publishes to an ntfy server
// (https://ntfy.sh or a self-hosted one) through its JSON publish API. A
// push becomes a notification with the resource, user, client IP and time,
// and an "Approve or deny" button that opens radmfa's approval page; codes
// and alerts become plain messages.
//
// Settings ([notifiers.NAME.settings] with builtin = "ntfy"):
//
//	server     = "https://ntfy.sh"   # default
//	topic      = "radmfa-k3x9…"      # for notifications without a To; pick an unguessable name
//	token_file = "/etc/radmfa/ntfy.token"  # optional access token (tk_…), sent as Bearer
//	priority   = 4                   # 1–5, default 4 (high)
//	timeout    = "10s"               # default 10s
//
// A notification's To, when set, is the topic (per-user topics). Anyone
// who knows a topic on a public server can read it: use a self-hosted
// server with access control or long random topic names. Topics are
// therefore never logged.
package ntfy

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/radmfa/radmfa/plugin"
	"github.com/radmfa/radmfa/plugin/builtin/internal/message"
	"github.com/radmfa/radmfa/plugin/builtin/internal/settings"
)

// Defaults for Config's zero values.
const (
	DefaultServer   = "https://ntfy.sh"
	DefaultPriority = 4
	DefaultTimeout  = 10 * time.Second
)

// Config is the ntfy notifier's settings. Zero values are the defaults.
type Config struct {
	// Server is the ntfy server's base URL. Default https://ntfy.sh.
	Server string `json:"server"`
	// Topic receives notifications that have no To. Optional if every
	// notification names its topic.
	Topic string `json:"topic"`
	// TokenFile holds an access token, sent as "Authorization: Bearer".
	TokenFile string `json:"token_file"`
	// Priority is ntfy's priority, 1 (min) to 5 (max). Default 4 (high).
	Priority int `json:"priority"`
	// Timeout bounds one publish. Default 10s.
	Timeout plugin.Duration `json:"timeout"`
}

// ParseConfig decodes settings strictly and validates them.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := plugin.DecodeSettings(data, &c); err != nil {
		return c, fmt.Errorf("ntfy: %w", err)
	}
	return c, c.Validate()
}

// Validate checks the settings without reading files.
func (c Config) Validate() error {
	if c.Server != "" {
		if _, err := settings.CheckURL("ntfy: server", c.Server); err != nil {
			return err
		}
	}
	if c.Topic != "" {
		if err := checkTopic(c.Topic); err != nil {
			return fmt.Errorf("ntfy: topic: %w", err)
		}
	}
	if c.Priority < 0 || c.Priority > 5 {
		return fmt.Errorf("ntfy: priority = %d: want 1 to 5 (0: default 4)", c.Priority)
	}
	return settings.CheckTimeout("ntfy: timeout", c.Timeout.Std())
}

// checkTopic accepts ntfy's topic names: 1 to 64 letters, digits, - and _.
func checkTopic(t string) error {
	if len(t) == 0 || len(t) > 64 {
		return fmt.Errorf("%q: want 1 to 64 characters", t)
	}
	for _, r := range t {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return fmt.Errorf("%q: want only letters, digits, - and _", t)
		}
	}
	return nil
}

// Notifier publishes notifications to ntfy.
type Notifier struct {
	log *slog.Logger
	loc *time.Location

	mu     sync.RWMutex
	cfg    Config
	server *url.URL
	token  string
	client *http.Client
}

var _ plugin.Notifier = (*Notifier)(nil)

// New returns an unconfigured ntfy notifier that logs to log.
func New(log *slog.Logger) *Notifier {
	return &Notifier{log: log, loc: time.Local}
}

// Configure applies the settings and reads the token file.
func (n *Notifier) Configure(_ context.Context, req *plugin.ConfigureRequest) (*plugin.ConfigureResponse, error) {
	cfg, err := ParseConfig(req.Settings)
	if err != nil {
		return nil, err
	}
	server := cfg.Server
	if server == "" {
		server = DefaultServer
	}
	u, err := settings.CheckURL("ntfy: server", server)
	if err != nil {
		return nil, err
	}
	var token string
	if cfg.TokenFile != "" {
		if token, err = settings.ReadSecretFile("ntfy: token_file", cfg.TokenFile); err != nil {
			return nil, err
		}
	}
	client := &http.Client{
		Timeout:       cfg.Timeout.Or(DefaultTimeout),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	n.mu.Lock()
	n.cfg, n.server, n.token, n.client = cfg, u, token, client
	n.mu.Unlock()
	// The topic is not logged: on a public server it is the password.
	n.log.Info("ntfy configured", "server", u.Redacted(), "default_topic", cfg.Topic != "", "token", token != "")
	return &plugin.ConfigureResponse{}, nil
}

// publish is ntfy's JSON publish body.
type publish struct {
	Topic    string   `json:"topic"`
	Title    string   `json:"title,omitempty"`
	Message  string   `json:"message"`
	Tags     []string `json:"tags,omitempty"`
	Priority int      `json:"priority,omitempty"`
	Click    string   `json:"click,omitempty"`
	Actions  []action `json:"actions,omitempty"`
}

type action struct {
	Action string `json:"action"`
	Label  string `json:"label"`
	URL    string `json:"url"`
	Clear  bool   `json:"clear,omitempty"`
}

// Notify publishes one notification.
func (n *Notifier) Notify(ctx context.Context, req *plugin.NotifyRequest) (*plugin.NotifyResponse, error) {
	n.mu.RLock()
	cfg, server, token, client := n.cfg, n.server, n.token, n.client
	n.mu.RUnlock()
	if client == nil {
		return nil, fmt.Errorf("ntfy: %w", settings.ErrNotConfigured)
	}
	topic := req.To
	if topic == "" {
		topic = cfg.Topic
	}
	if topic == "" {
		return nil, fmt.Errorf("ntfy: no topic: the notification has no To and the settings no topic")
	}
	if err := checkTopic(topic); err != nil {
		return nil, fmt.Errorf("ntfy: topic: %w", err)
	}
	body := publish{Topic: topic, Title: message.Title(req), Priority: cfg.Priority}
	if body.Priority == 0 {
		body.Priority = DefaultPriority
	}
	switch req.Kind {
	case plugin.KindPush:
		lines := message.PushLines(req, n.loc)
		body.Message = strings.Join(lines, "\n")
		body.Tags = []string{"lock"}
		u := req.Push.ApprovalURL.Reveal()
		body.Click = u
		body.Actions = []action{{Action: "view", Label: "Approve or deny", URL: u, Clear: true}}
	case plugin.KindCode:
		body.Message = req.RevealText()
		body.Tags = []string{"key"}
	default:
		body.Message = req.RevealText()
		body.Tags = []string{"warning"}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("ntfy: %w", err)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, server.String(), bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("ntfy: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("User-Agent", "radmfa-ntfy")
	if token != "" {
		hreq.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(hreq)
	if err != nil {
		// url.Error quotes the server URL, which holds no secret.
		return plugin.Failed("ntfy: %s", message.Excerpt(err.Error(), 300, req.Secrets()...)), nil
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	if resp.StatusCode/100 != 2 {
		return plugin.Failed("ntfy: server answered %s: %s", resp.Status, message.Excerpt(string(answer), 300, req.Secrets()...)), nil
	}
	var published struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(answer, &published)
	n.log.Debug("ntfy published", "kind", req.Kind.String(), "id", published.ID)
	return plugin.Sent(published.ID, "published to ntfy"), nil
}
