// Package smtp is the built-in notifier that sends e-mail: one-time codes
// to the user's address, alerts to the user or the operator, and pushes as
// a message with the approval link.
//
// Settings ([notifiers.NAME.settings] with builtin = "smtp"):
//
//	host          = "smtp.example.com"   # required
//	port          = 587                   # default 587, or 465 with tls = "tls"
//	tls           = "starttls"            # starttls (default), tls (implicit), none (loopback relays only)
//	from          = "radmfa <mfa@example.com>"  # required
//	to            = "ops@example.com"     # for notifications without a To (operator alerts)
//	username      = "radmfa"              # optional; needs password_file
//	password_file = "/etc/radmfa/smtp.password"
//	ca_file       = "/etc/radmfa/smtp-ca.pem"  # optional: trust these roots instead of the system's
//	helo          = "radius1.example.com" # default: "localhost"
//	timeout       = "10s"                 # whole conversation; default 10s
//
// With tls = "starttls" a server that does not offer STARTTLS is an error:
// radmfa never sends codes or approval links in clear text over the
// network. Messages are UTF-8 plain text, quoted-printable.
package smtp

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/radmfa/radmfa/plugin"
	"github.com/radmfa/radmfa/plugin/builtin/internal/message"
	"github.com/radmfa/radmfa/plugin/builtin/internal/settings"
)

// Defaults for Config's zero values.
const (
	DefaultTimeout = 10 * time.Second
	DefaultHELO    = "localhost"
)

// TLS modes.
const (
	TLSStartTLS = "starttls"
	TLSImplicit = "tls"
	TLSNone     = "none"
)

// Config is the smtp notifier's settings. Zero values are the defaults.
type Config struct {
	Host string `json:"host"`
	// Port defaults to 587, or 465 with TLS "tls".
	Port int `json:"port"`
	// TLS is starttls (default), tls or none. none is allowed only to a
	// loopback host and never with a username.
	TLS string `json:"tls"`
	// From is the sender address, optionally with a display name.
	From string `json:"from"`
	// To receives notifications that have no To of their own.
	To           string `json:"to"`
	Username     string `json:"username"`
	PasswordFile string `json:"password_file"`
	// CAFile holds PEM certificates to trust for the server instead of
	// the system's roots.
	CAFile string `json:"ca_file"`
	// HELO is the name radmfa gives in EHLO. Default "localhost".
	HELO string `json:"helo"`
	// Timeout bounds the whole conversation. Default 10s.
	Timeout plugin.Duration `json:"timeout"`
}

// ParseConfig decodes settings strictly and validates them.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := plugin.DecodeSettings(data, &c); err != nil {
		return c, fmt.Errorf("smtp: %w", err)
	}
	return c, c.Validate()
}

// Validate checks the settings without reading files.
func (c Config) Validate() error {
	var errs []error
	if c.Host == "" || strings.ContainsAny(c.Host, " /\r\n") {
		errs = append(errs, fmt.Errorf("smtp: host = %q: want a host name or address", c.Host))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("smtp: port = %d: want 1 to 65535 (0: default)", c.Port))
	}
	switch c.tlsMode() {
	case TLSStartTLS, TLSImplicit:
	case TLSNone:
		if !settings.IsLoopback(c.Host) {
			errs = append(errs, fmt.Errorf("smtp: tls = \"none\" is allowed only to a loopback relay, not %q", c.Host))
		}
		if c.Username != "" {
			errs = append(errs, errors.New(`smtp: username with tls = "none" would send the password in clear text`))
		}
	default:
		errs = append(errs, fmt.Errorf("smtp: tls = %q: want starttls, tls or none", c.TLS))
	}
	if _, err := parseAddress(c.From); err != nil {
		errs = append(errs, fmt.Errorf("smtp: from: %w", err))
	}
	if c.To != "" {
		if _, err := parseAddress(c.To); err != nil {
			errs = append(errs, fmt.Errorf("smtp: to: %w", err))
		}
	}
	if (c.Username == "") != (c.PasswordFile == "") {
		errs = append(errs, errors.New("smtp: username and password_file go together"))
	}
	if strings.ContainsAny(c.HELO, " \r\n") {
		errs = append(errs, fmt.Errorf("smtp: helo = %q: want a host name", c.HELO))
	}
	if err := settings.CheckTimeout("smtp: timeout", c.Timeout.Std()); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c Config) tlsMode() string {
	if c.TLS == "" {
		return TLSStartTLS
	}
	return c.TLS
}

func (c Config) addr() string {
	port := c.Port
	if port == 0 {
		port = 587
		if c.tlsMode() == TLSImplicit {
			port = 465
		}
	}
	return net.JoinHostPort(c.Host, strconv.Itoa(port))
}

// parseAddress parses one address and refuses header injection.
func parseAddress(s string) (*mail.Address, error) {
	if s == "" {
		return nil, errors.New("an address is required")
	}
	if strings.ContainsAny(s, "\r\n") {
		return nil, errors.New("address contains a line break")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", s, err)
	}
	return a, nil
}

// Notifier sends e-mail.
type Notifier struct {
	log *slog.Logger
	now func() time.Time
	loc *time.Location

	mu       sync.RWMutex
	cfg      *Config
	from     *mail.Address
	password string
	tls      *tls.Config
}

var _ plugin.Notifier = (*Notifier)(nil)

// New returns an unconfigured smtp notifier that logs to log.
func New(log *slog.Logger) *Notifier {
	return &Notifier{log: log, now: time.Now, loc: time.Local}
}

// Configure applies the settings and reads the password and CA files.
func (n *Notifier) Configure(_ context.Context, req *plugin.ConfigureRequest) (*plugin.ConfigureResponse, error) {
	cfg, err := ParseConfig(req.Settings)
	if err != nil {
		return nil, err
	}
	from, _ := parseAddress(cfg.From) // checked by Validate
	var password string
	if cfg.PasswordFile != "" {
		if password, err = settings.ReadSecretFile("smtp: password_file", cfg.PasswordFile); err != nil {
			return nil, err
		}
	}
	tc := &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("smtp: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("smtp: ca_file %s: no PEM certificate in it", cfg.CAFile)
		}
		tc.RootCAs = pool
	}
	n.mu.Lock()
	n.cfg, n.from, n.password, n.tls = &cfg, from, password, tc
	n.mu.Unlock()
	n.log.Info("smtp configured", "server", cfg.addr(), "tls", cfg.tlsMode(), "auth", cfg.Username != "")
	return &plugin.ConfigureResponse{}, nil
}

// Notify sends one message.
func (n *Notifier) Notify(ctx context.Context, req *plugin.NotifyRequest) (*plugin.NotifyResponse, error) {
	n.mu.RLock()
	cfg, from, password, tc := n.cfg, n.from, n.password, n.tls
	n.mu.RUnlock()
	if cfg == nil {
		return nil, fmt.Errorf("smtp: %w", settings.ErrNotConfigured)
	}
	rcpt := req.To
	if rcpt == "" {
		rcpt = cfg.To
	}
	if rcpt == "" {
		return nil, errors.New("smtp: no recipient: the notification has no To and the settings no to")
	}
	to, err := parseAddress(rcpt)
	if err != nil {
		return nil, fmt.Errorf("smtp: recipient: %w", err)
	}
	id, msg, err := n.compose(req, cfg, from, to)
	if err != nil {
		return nil, err
	}
	timeout := cfg.Timeout.Or(DefaultTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := send(ctx, cfg, tc, password, from.Address, to.Address, msg); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%s: no answer in time (timeout %v): %w", cfg.addr(), timeout, ctx.Err())
		}
		return plugin.Failed("smtp: %s", message.Excerpt(err.Error(), 300, append(req.Secrets(), password)...)), nil
	}
	n.log.Debug("smtp sent", "kind", req.Kind.String(), "message_id", id)
	return plugin.Sent(id, "accepted by "+cfg.addr()), nil
}

// compose writes the message: headers, then a quoted-printable UTF-8
// body.
func (n *Notifier) compose(req *plugin.NotifyRequest, cfg *Config, from, to *mail.Address) (string, []byte, error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", nil, fmt.Errorf("smtp: %w", err)
	}
	domain := "radmfa.invalid"
	if _, d, ok := strings.Cut(from.Address, "@"); ok && d != "" {
		domain = d
	}
	id := "<" + hex.EncodeToString(rnd[:]) + "@" + domain + ">"
	subject := strings.NewReplacer("\r", " ", "\n", " ").Replace(message.Title(req))
	var text string
	switch req.Kind {
	case plugin.KindPush:
		lines := message.PushLines(req, n.loc)
		if req.Text != "" {
			lines = append([]string{strings.NewReplacer("{url}", "", "{code}", "").Replace(req.Text), ""}, lines...)
		}
		lines = append(lines, "", "Approve or deny: "+req.Push.ApprovalURL.Reveal(), "",
			"If this was not you, choose Deny and tell your administrator.")
		text = strings.Join(lines, "\n")
	default:
		text = req.RevealText()
	}
	var b bytes.Buffer
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", from.String())
	header("To", to.String())
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", n.now().Format(time.RFC1123Z))
	header("Message-ID", id)
	header("MIME-Version", "1.0")
	header("Content-Type", `text/plain; charset="utf-8"`)
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(text, "\n", "\r\n") + "\r\n")); err != nil {
		return "", nil, fmt.Errorf("smtp: %w", err)
	}
	if err := qp.Close(); err != nil {
		return "", nil, fmt.Errorf("smtp: %w", err)
	}
	return id, b.Bytes(), nil
}

// send runs one SMTP conversation within ctx.
func send(ctx context.Context, cfg *Config, tc *tls.Config, password, from, to string, msg []byte) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.addr())
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if cfg.tlsMode() == TLSImplicit {
		tconn := tls.Client(conn, tc)
		if err := tconn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return fmt.Errorf("tls: %w", err)
		}
		conn = tconn
	}
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	helo := cfg.HELO
	if helo == "" {
		helo = DefaultHELO
	}
	if err := c.Hello(helo); err != nil {
		return fmt.Errorf("EHLO: %w", err)
	}
	if cfg.tlsMode() == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return fmt.Errorf("%s does not offer STARTTLS (set tls = \"tls\" for implicit TLS)", cfg.addr())
		}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	}
	if cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, password, cfg.Host)); err != nil {
			return fmt.Errorf("AUTH: %w", err)
		}
	}
	if err := c.Mail(from); err != nil {
		return fmt.Errorf("MAIL FROM: %w", err)
	}
	if err := c.Rcpt(to); err != nil {
		return fmt.Errorf("RCPT TO: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("DATA: %w", err)
	}
	return c.Quit()
}
