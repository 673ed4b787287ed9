package host

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"github.com/rs/zerolog"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/plugin"
)

// Notifier runs one notifier plugin and delivers notifications through it.
// It implements mfa.Notifier. Create it with New, then Start it; Close
// stops it. Notify is safe for concurrent use.
type Notifier struct {
	name     string
	cfg      Config
	opts     Options
	log      zerolog.Logger
	settings []byte
	checksum []byte // external plugins only
	scrub    *scrubber

	// pollInterval is how often the supervisor checks that the process
	// is alive (a failed call tells it at once).
	pollInterval time.Duration

	mu      sync.Mutex
	started bool
	closed  bool
	cur     *instance     // nil while (re)starting
	ready   chan struct{} // closed when cur is set, a restart fails, or the host is closed
	down    error         // why the last restart failed; nil once one succeeds
	cancel  context.CancelFunc
	done    chan struct{} // closed when the supervisor has returned
}

var _ mfa.Notifier = (*Notifier)(nil)

// ErrClosed is returned by Notify after Close.
var ErrClosed = errors.New("plugin: notifier closed")

// instance is one running plugin process.
type instance struct {
	client   *goplugin.Client
	notifier plugin.Notifier
	dead     chan struct{}
	once     sync.Once
}

func (i *instance) markDead() { i.once.Do(func() { close(i.dead) }) }

// New checks cfg and returns a host for the notifier called name. It starts
// nothing: call Start.
func New(name string, cfg Config, opts Options) (*Notifier, error) {
	if name == "" {
		return nil, errors.New("plugin: notifier without a name")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	settings, err := cfg.settingsJSON()
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", name, err)
	}
	if cfg.Builtin != "" && opts.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("plugin %s: finding the radmfa binary for built-in %s: %w", name, cfg.Builtin, err)
		}
		opts.Executable = exe
	}
	n := &Notifier{
		name:         name,
		cfg:          cfg,
		opts:         opts,
		log:          opts.Logger.With().Str("plugin", name).Logger(),
		settings:     settings,
		scrub:        &scrubber{},
		pollInterval: 500 * time.Millisecond,
		ready:        make(chan struct{}),
	}
	if cfg.Path != "" {
		n.checksum, _ = parseChecksum(cfg.SHA256) // checked by Validate
	}
	return n, nil
}

// Name returns the notifier's name from the config.
func (n *Notifier) Name() string { return n.name }

// Start starts the plugin process, verifies it and configures it, within
// ctx and the start timeout. A plugin that cannot start (wrong checksum,
// missing program, refused settings) is an error and nothing keeps
// running. After a successful Start the host restarts the plugin whenever
// it exits, until Close.
func (n *Notifier) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.started || n.closed {
		n.mu.Unlock()
		return fmt.Errorf("plugin %s: already started", n.name)
	}
	n.started = true
	n.mu.Unlock()

	inst, err := n.launch(ctx)
	if err != nil {
		n.mu.Lock()
		n.started = false
		n.mu.Unlock()
		return err
	}
	sctx, cancel := context.WithCancel(context.Background())
	n.mu.Lock()
	n.cur, n.cancel, n.done = inst, cancel, make(chan struct{})
	close(n.ready)
	n.mu.Unlock()
	go n.supervise(sctx, inst)
	return nil
}

// Close stops the plugin and the host's goroutines and waits for them. A
// restart in progress may delay it by up to the start timeout. Notify
// calls after Close return ErrClosed.
func (n *Notifier) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	cancel, done := n.cancel, n.done
	inst := n.cur
	n.cur = nil
	select {
	case <-n.ready:
	default:
		close(n.ready) // wake waiters; they see closed
	}
	n.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
	if inst != nil {
		inst.client.Kill()
	}
	return nil
}

// Notify delivers one notification through the plugin, within ctx and the
// notifier's timeout. It waits for a plugin that is being restarted, and
// fails at once while restarts are failing (a crash loop, a replaced
// binary). On
// error the Delivery has Status "failed" and a Detail without secrets; a
// plugin that reports a failed delivery gives Status "failed" and no
// error.
func (n *Notifier) Notify(ctx context.Context, note mfa.Notification) (mfa.Delivery, error) {
	req := notifyRequest(note)
	if err := req.Validate(); err != nil {
		return failed(err), fmt.Errorf("plugin %s: %w", n.name, err)
	}
	timeout := n.cfg.timeout()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	inst, err := n.instance(ctx)
	if err != nil {
		err = fmt.Errorf("plugin %s: not running: %w", n.name, err)
		return failed(err), err
	}
	n.scrub.add(req.Secrets()...)
	start := time.Now()
	resp, err := inst.notifier.Notify(ctx, req)
	if err != nil {
		err = n.notifyError(ctx, inst, err, timeout)
		n.log.Warn().Str("kind", req.Kind.String()).Dur("elapsed", time.Since(start)).Str("error", err.Error()).Msg("notification failed")
		return failed(err), err
	}
	d := mfa.Delivery{ID: n.scrub.scrub(resp.ID), Status: resp.Status.String(), Detail: n.scrub.scrub(resp.Detail)}
	n.log.Debug().Str("kind", req.Kind.String()).Str("status", d.Status).Str("id", d.ID).Dur("elapsed", time.Since(start)).Msg("notification delivered")
	return d, nil
}

// notifyError explains a failed call, without secrets, and notices a
// plugin that died.
func (n *Notifier) notifyError(ctx context.Context, inst *instance, err error, timeout time.Duration) error {
	// The plugin's side sees the same deadline and may cancel the stream a
	// moment before the host's timer fires: a failure at the deadline is
	// the deadline's.
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < deadlineSlack || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("plugin %s: notify: no answer within the deadline (timeout %v): %w", n.name, timeout, context.DeadlineExceeded)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return fmt.Errorf("plugin %s: notify: %w", n.name, context.Canceled)
	}
	var remote *plugin.RemoteError
	if errors.As(err, &remote) {
		return fmt.Errorf("plugin %s: notify: %s", n.name, n.scrub.scrub(remote.Message))
	}
	if status.Code(err) == codes.Unavailable || inst.client.Exited() {
		inst.markDead()
		return fmt.Errorf("plugin %s: notify: lost the plugin process (restarting it): %s", n.name, n.scrub.scrub(status.Convert(err).Message()))
	}
	return fmt.Errorf("plugin %s: notify: %s", n.name, n.scrub.scrub(status.Convert(err).Message()))
}

// deadlineSlack is how close to its deadline a failed call counts as
// timed out.
const deadlineSlack = 20 * time.Millisecond

func failed(err error) mfa.Delivery {
	return mfa.Delivery{Status: plugin.StatusFailed.String(), Detail: err.Error()}
}

// instance returns the running plugin, waiting while it restarts.
func (n *Notifier) instance(ctx context.Context) (*instance, error) {
	for {
		n.mu.Lock()
		switch {
		case n.closed:
			n.mu.Unlock()
			return nil, ErrClosed
		case !n.started:
			n.mu.Unlock()
			return nil, errors.New("not started")
		case n.cur == nil && n.down != nil:
			// Restarts are failing: fail fast rather than make every
			// caller wait out its deadline.
			err := n.down
			n.mu.Unlock()
			return nil, err
		case n.cur != nil:
			select {
			case <-n.cur.dead:
				// Dead but not yet replaced: make callers wait for the
				// supervisor's restart.
				n.cur = nil
				n.ready = make(chan struct{})
			default:
				cur := n.cur
				n.mu.Unlock()
				return cur, nil
			}
		}
		ready := n.ready
		n.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the plugin to restart: %w", ctx.Err())
		}
	}
}

// supervise restarts the plugin whenever it dies, with backoff, until ctx
// ends.
func (n *Notifier) supervise(ctx context.Context, inst *instance) {
	defer close(n.done)
	tick := time.NewTicker(n.pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if inst.client.Exited() {
				inst.markDead()
			}
			continue
		case <-inst.dead:
		}
		n.mu.Lock()
		if n.cur == inst {
			n.cur = nil
			n.ready = make(chan struct{})
		}
		n.mu.Unlock()
		// From here n.cur is nil and n.ready open until the restart.
		inst.client.Kill()
		n.log.Warn().Msg("plugin process exited; restarting it")

		backoff := 100 * time.Millisecond
		for {
			next, err := n.launch(ctx)
			if err == nil {
				n.mu.Lock()
				if n.closed {
					n.mu.Unlock()
					next.client.Kill()
					return
				}
				n.cur, n.down = next, nil
				close(n.ready)
				n.mu.Unlock()
				n.log.Info().Msg("plugin restarted")
				inst = next
				break
			}
			if ctx.Err() != nil {
				return
			}
			// Logged before the waiters learn of it, so that the log
			// already explains the failure they report.
			n.log.Error().Str("error", err.Error()).Dur("retry_in", backoff).Msg("plugin restart failed")
			n.mu.Lock()
			if !n.closed {
				n.down = fmt.Errorf("restart failed (retrying): %w", err)
				close(n.ready) // wake waiters: they fail fast now
				n.ready = make(chan struct{})
			}
			n.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 30*time.Second)
		}
	}
}

// launch starts one plugin process and configures it.
func (n *Notifier) launch(ctx context.Context) (*instance, error) {
	startTimeout := n.cfg.startTimeout()
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < startTimeout {
			startTimeout = left
		}
	}
	if startTimeout <= 0 || ctx.Err() != nil {
		return nil, fmt.Errorf("plugin %s: start: %w", n.name, context.DeadlineExceeded)
	}
	path, args := n.cfg.program(n.opts)
	var secure *goplugin.SecureConfig
	if n.checksum != nil {
		if err := verifyChecksum(path, n.checksum); err != nil {
			return nil, fmt.Errorf("plugin %s: %w", n.name, err)
		}
		secure = &goplugin.SecureConfig{Checksum: n.checksum, Hash: sha256.New()}
	}
	cmd := exec.Command(path, args...)
	cmd.Dir = n.opts.Dir
	cmd.Env = append(hostEnv(), n.cfg.Env...)
	setProcAttr(cmd)
	logger := newHCLogger(n.log, n.scrub)
	client := goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  plugin.Handshake,
		Plugins:          map[string]goplugin.Plugin{plugin.PluginName: &plugin.GRPCPlugin{}},
		Cmd:              cmd,
		SecureConfig:     secure,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		Logger:           logger,
		StartTimeout:     startTimeout,
		AutoMTLS:         true,
		SkipHostEnv:      true,
		SyncStdout:       newLineWriter(n.log, n.scrub, "stdout"),
		SyncStderr:       newLineWriter(n.log, n.scrub, "stderr"),
	})
	prog := filepath.Base(path)
	if n.cfg.Builtin != "" {
		prog = "built-in " + n.cfg.Builtin
	}
	fail := func(step string, err error) (*instance, error) {
		client.Kill()
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			err = fmt.Errorf("%s changed: its SHA-256 checksum no longer matches the config; refusing to start it", path)
		}
		return nil, fmt.Errorf("plugin %s: %s %s: %w", n.name, step, prog, err)
	}
	rpc, err := client.Client()
	if err != nil {
		return fail("start", err)
	}
	raw, err := rpc.Dispense(plugin.PluginName)
	if err != nil {
		return fail("start", err)
	}
	notifier, ok := raw.(plugin.Notifier)
	if !ok {
		return fail("start", fmt.Errorf("dispensed %T, not a plugin.Notifier", raw))
	}
	cctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	if _, err := notifier.Configure(cctx, &plugin.ConfigureRequest{Name: n.name, Settings: n.settings}); err != nil {
		var remote *plugin.RemoteError
		if errors.As(err, &remote) {
			err = errors.New(remote.Message)
		}
		return fail("configure", err)
	}
	n.log.Debug().Str("path", path).Msg("plugin ready")
	return &instance{client: client, notifier: notifier, dead: make(chan struct{})}, nil
}

// verifyChecksum compares the file's SHA-256 with want. go-plugin checks
// again (SecureConfig); this check gives the clearer message.
func verifyChecksum(path string, want []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verify checksum: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("verify checksum of %s: %w", path, err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want) {
		return fmt.Errorf("%s has SHA-256 %x, but the config says sha256 = %x: refusing to start it (a changed or replaced plugin binary)", path, got, want)
	}
	return nil
}

// hostEnv is the part of radmfa's environment that plugins get.
func hostEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "TMPDIR", "TZ", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR",
		"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}
