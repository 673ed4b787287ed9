// Package command is the built-in notifier that runs a program for each
// notification, such as an SMS gateway's command-line client. The program
// gets the notification as one JSON object on standard input (the same
// object as the webhook notifier's "data": kind, user, to, subject,
// message, code, push{…}), no shell, and a minimal environment.
//
// Settings ([notifiers.NAME.settings] with builtin = "command"):
//
//	path    = "/usr/local/bin/send-sms"  # required, absolute
//	args    = ["--account", "radmfa"]     # optional
//	env     = ["SMS_GATEWAY=https://…"]   # optional, added to PATH, LANG and TZ
//	timeout = "10s"                        # default 10s; the program is killed after it
//
// Exit status 0 is a sent delivery, and the first line of standard output
// (if any, at most 200 bytes) is its id. Any other status, or the timeout,
// is a failed delivery whose detail quotes the end of standard error, with
// the code and approval URL removed. The program and everything it starts
// are killed at the timeout.
package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/radmfa/radmfa/plugin"
	"github.com/radmfa/radmfa/plugin/builtin/internal/message"
	"github.com/radmfa/radmfa/plugin/builtin/internal/settings"
)

// DefaultTimeout bounds a run when the settings give no timeout.
const DefaultTimeout = 10 * time.Second

// basePath is the PATH the program runs with unless env sets one.
const basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Config is the command notifier's settings. Zero values are the
// defaults.
type Config struct {
	// Path is the program to run: an absolute path.
	Path string `json:"path"`
	// Args are its arguments (no shell: no globbing, no variables).
	Args []string `json:"args"`
	// Env adds KEY=VALUE entries to the environment, which otherwise
	// holds only PATH, LANG and TZ.
	Env []string `json:"env"`
	// Timeout bounds one run. Default 10s.
	Timeout plugin.Duration `json:"timeout"`
}

// ParseConfig decodes settings strictly and validates them.
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if err := plugin.DecodeSettings(data, &c); err != nil {
		return c, fmt.Errorf("command: %w", err)
	}
	return c, c.Validate()
}

// Validate checks the settings without touching the file system.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("command: path is required")
	}
	if !filepath.IsAbs(c.Path) {
		return fmt.Errorf("command: path = %q: want an absolute path", c.Path)
	}
	for _, a := range c.Args {
		if strings.ContainsRune(a, 0) {
			return fmt.Errorf("command: args: %q contains a NUL byte", a)
		}
	}
	for _, e := range c.Env {
		k, _, ok := strings.Cut(e, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t\n\x00") || strings.ContainsRune(e, 0) {
			return fmt.Errorf("command: env entry %q: want KEY=VALUE", e)
		}
	}
	return settings.CheckTimeout("command: timeout", c.Timeout.Std())
}

// Notifier runs the configured program.
type Notifier struct {
	log *slog.Logger

	mu  sync.RWMutex
	cfg *Config
}

var _ plugin.Notifier = (*Notifier)(nil)

// New returns an unconfigured command notifier that logs to log.
func New(log *slog.Logger) *Notifier {
	return &Notifier{log: log}
}

// Configure applies the settings and checks that the program exists and is
// executable.
func (n *Notifier) Configure(_ context.Context, req *plugin.ConfigureRequest) (*plugin.ConfigureResponse, error) {
	cfg, err := ParseConfig(req.Settings)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("command: %s is not an executable file", cfg.Path)
	}
	n.mu.Lock()
	n.cfg = &cfg
	n.mu.Unlock()
	n.log.Info("command configured", "path", cfg.Path)
	return &plugin.ConfigureResponse{}, nil
}

// maxOutput bounds what is kept of the program's stdout and stderr.
const maxOutput = 16 << 10

// Notify runs the program once with the notification on standard input.
func (n *Notifier) Notify(ctx context.Context, req *plugin.NotifyRequest) (*plugin.NotifyResponse, error) {
	n.mu.RLock()
	cfg := n.cfg
	n.mu.RUnlock()
	if cfg == nil {
		return nil, fmt.Errorf("command: %w", settings.ErrNotConfigured)
	}
	input, err := json.Marshal(message.NewPayload(req))
	if err != nil {
		return nil, fmt.Errorf("command: %w", err)
	}
	timeout := cfg.Timeout.Or(DefaultTimeout)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := exec.CommandContext(ctx, cfg.Path, cfg.Args...)
	cmd.Env = environ(cfg.Env)
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(input)
	stdout, stderr := &limitedBuffer{max: maxOutput}, &limitedBuffer{max: maxOutput}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	killGroup(cmd)
	cmd.WaitDelay = time.Second

	start := time.Now()
	err = cmd.Run()
	elapsed := time.Since(start)
	secrets := req.Secrets()
	errOut := message.Excerpt(stderr.String(), 400, secrets...)
	switch {
	case err == nil:
		id, _, _ := strings.Cut(stdout.String(), "\n")
		id = message.Excerpt(id, 200, secrets...)
		n.log.Debug("command delivered", "kind", req.Kind.String(), "seconds", elapsed.Seconds())
		return plugin.Sent(id, "exit status 0"), nil
	case ctx.Err() != nil:
		detail := fmt.Sprintf("command: %s killed at the deadline, after %v (timeout %v)", filepath.Base(cfg.Path), elapsed.Round(100*time.Millisecond), timeout)
		if errors.Is(ctx.Err(), context.Canceled) {
			detail = fmt.Sprintf("command: %s killed: the notification was cancelled", filepath.Base(cfg.Path))
		}
		if errOut != "" {
			detail += ": " + errOut
		}
		return plugin.Failed("%s", detail), nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		detail := fmt.Sprintf("command: %s: %s", filepath.Base(cfg.Path), ee.ProcessState.String())
		if errOut != "" {
			detail += ": " + errOut
		}
		return plugin.Failed("%s", detail), nil
	}
	return plugin.Failed("command: %s", message.Excerpt(err.Error(), 300, secrets...)), nil
}

// environ is the program's environment: a fixed PATH, LANG and the
// plugin's TZ, then the configured entries (which may override them).
func environ(extra []string) []string {
	env := []string{"PATH=" + basePath, "LANG=C.UTF-8"}
	if tz, ok := os.LookupEnv("TZ"); ok {
		env = append(env, "TZ="+tz)
	}
	return append(env, extra...)
}

// limitedBuffer keeps the first max bytes written and discards the rest,
// so a chatty program cannot exhaust memory.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string { return b.buf.String() }
