package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/radmfa/radmfa/exec/rlmrest"
	"github.com/radmfa/radmfa/internal/metrics"
	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/internal/web/approve"
	"github.com/radmfa/radmfa/sqlite"
)

// serveConfig is the [serve] section.
type serveConfig struct {
	// Listen lists the addresses of the RADIUS-side API that FreeRADIUS's
	// rlm_rest and radmfa exec talk to: "host:port" or "unix:PATH".
	// Default: 127.0.0.1:18122 and unix:<data_dir>/radmfa.sock. Keep it
	// on loopback or a unix socket: requests carry passwords.
	Listen []string `toml:"listen"`
	// TLSCert and TLSKey, if set, serve the TCP listeners over HTTPS.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// DecisionTimeout bounds one decision. Default 10s. A request that
	// waits for a push may take the push timeout longer.
	DecisionTimeout mfa.Duration `toml:"decision_timeout"`
	// ShutdownTimeout is how long SIGTERM waits for requests in flight.
	// Default 30s.
	ShutdownTimeout mfa.Duration `toml:"shutdown_timeout"`
}

// DefaultListen is the RADIUS-side API's TCP address when [serve] listen
// is unset.
const DefaultListen = "127.0.0.1:18122"

// socketName is the unix socket in the data directory.
const socketName = "radmfa.sock"

func (s serveConfig) listen(dataDir string) []string {
	if len(s.Listen) > 0 {
		return s.Listen
	}
	return []string{DefaultListen, "unix:" + filepath.Join(dataDir, socketName)}
}

func (s serveConfig) decisionTimeout() time.Duration {
	if s.DecisionTimeout == 0 {
		return rlmrest.DefaultTimeout
	}
	return time.Duration(s.DecisionTimeout)
}

func (s serveConfig) shutdownTimeout() time.Duration {
	if s.ShutdownTimeout == 0 {
		return 30 * time.Second
	}
	return time.Duration(s.ShutdownTimeout)
}

func (s serveConfig) validate() error {
	var errs []error
	for _, l := range s.Listen {
		if p, ok := strings.CutPrefix(l, "unix:"); ok {
			if p == "" {
				errs = append(errs, fmt.Errorf("serve.listen %q: empty socket path", l))
			}
			continue
		}
		if _, _, err := net.SplitHostPort(l); err != nil {
			errs = append(errs, fmt.Errorf("serve.listen %q: want host:port or unix:PATH", l))
		}
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		errs = append(errs, errors.New("serve.tls_cert and serve.tls_key go together"))
	}
	if t := s.decisionTimeout(); t < time.Second || t > 10*time.Minute {
		errs = append(errs, fmt.Errorf("serve.decision_timeout = %s: must be between 1s and 10m", t))
	}
	return errors.Join(errs...)
}

func (c *cli) serveCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the radmfa daemon that FreeRADIUS's rlm_rest (and radmfa exec) call",
		Long: `serve runs radmfa as a long-lived process: the same engine as "radmfa exec",
reached by FreeRADIUS's rlm_rest module over HTTP (POST /radius/authorize), and
by "radmfa exec" over a unix socket when [exec] daemon names it.

Listeners ([serve] listen): 127.0.0.1:18122 and unix:<data_dir>/radmfa.sock by
default. Also served there: GET /healthz (database reachable) and GET /metrics
(Prometheus text format).

Decisions from many requests are committed together (group commit); each
request is answered only after its events are in the database's WAL.

SIGTERM: stops accepting connections, finishes the requests in flight
(answering any that would have to wait with "no reply", so the NAS
retransmits to the restarted radmfa), then exits.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return c.runServe(cmd.Context()) },
	}
}

// server is a running radmfa serve.
type server struct {
	log       zerolog.Logger
	store     *sqlite.Store
	batcher   *sqlite.Batcher
	broker    *mfa.Broker
	engine    *mfa.Engine
	handler   *rlmrest.Handler
	http      *http.Server
	approval  *http.Server   // the public approval page; nil when off
	extra     []*http.Server // the admin page
	notifiers *notifiers     // nil without [notifiers]
	stop      context.CancelFunc
	bg        sync.WaitGroup // background jobs (maintenance)
	listeners []net.Listener
	sockets   []string
	closers   []func()
}

// serverOptions are what tests (and the plugin host) inject.
type serverOptions struct {
	// notifier delivers pushes, codes and alerts; nil: the notifiers of
	// [notifiers] (none configured: push and codes are not available).
	notifier mfa.Notifier
}

func (c *cli) runServe(ctx context.Context) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	log, closeLog, err := newLogger(cfg.Log, c.stderr, "serve")
	if err != nil {
		return err
	}
	defer closeLog()
	s, err := startServer(ctx, cfg, log, serverOptions{})
	if err != nil {
		return err
	}
	<-ctx.Done()
	return s.shutdown(cfg.Serve.shutdownTimeout())
}

// startServer opens the store and the listeners and starts serving.
func startServer(ctx context.Context, cfg *config, log zerolog.Logger, o serverOptions) (*server, error) {
	store, err := sqlite.Open(ctx, cfg.Store, sqlite.Options{Create: true})
	if err != nil {
		return nil, err
	}
	s := &server{log: log, store: store, batcher: store.NewBatcher(0), broker: mfa.NewBroker(store.PushOutcome)}
	opts := []mfa.Option{mfa.WithPushWaiter(s.broker)}
	if o.notifier == nil {
		if s.notifiers, err = newNotifiers(cfg, log, false); err != nil {
			s.close()
			return nil, err
		}
		if s.notifiers != nil {
			if err := s.notifiers.Start(ctx); err != nil {
				s.notifiers = nil
				s.close()
				return nil, fmt.Errorf("serve: %w", err)
			}
			o.notifier = s.notifiers
			log.Info().Strs("notifiers", s.notifiers.group.Names()).Msg("notifiers started")
		}
	}
	if o.notifier != nil {
		opts = append(opts, mfa.WithNotifier(o.notifier))
	} else if cfg.Push.ApprovalURL != "" {
		log.Warn().Msg("push.approval_url is set but no notifier is configured: push triggers ask for the app's code instead")
	}
	dir, err := s.directory(ctx, cfg, &opts) // [ldap] (ldap.go)
	if err != nil {
		s.close()
		return nil, err
	}
	engine, err := mfa.New(s.batcher, cfg.engineConfig(), opts...)
	if err != nil {
		s.close()
		return nil, err
	}
	s.engine = engine
	reg := metrics.NewRegistry()
	// A request may wait for a push (inline, or a challenge's answer)
	// until the push times out, on top of the decision itself.
	timeout := cfg.Serve.decisionTimeout()
	if w, ok := longestPushWait(cfg); ok {
		timeout += w.timeout
	}
	s.handler = &rlmrest.Handler{
		Decider: engine,
		Log:     log,
		Timeout: timeout,
		Observe: observer(reg),
	}
	mux := http.NewServeMux()
	mux.Handle("/radius/authorize", s.handler)
	mux.HandleFunc("GET /healthz", s.healthz)
	s.registerMetrics(reg)
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", metrics.ContentType)
		reg.WriteText(w)
	})
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      timeout + 5*time.Second,
		IdleTimeout:       120 * time.Second, // longer than rlm_rest's pool idle_timeout (60 s)
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          stdlog.New(httpErrorLog{log}, "", 0),
	}
	if cfg.Serve.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.Serve.TLSCert, cfg.Serve.TLSKey)
		if err != nil {
			s.close()
			return nil, fmt.Errorf("serve: TLS: %w", err)
		}
		s.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	for _, addr := range cfg.Serve.listen(cfg.DataDir) {
		l, err := s.listen(addr)
		if err != nil {
			s.close()
			return nil, err
		}
		s.listeners = append(s.listeners, l)
	}
	// Decided once, here: Serve fills in TLSConfig (for HTTP/2) as it
	// starts, so the goroutines must not look at it.
	useTLS := s.http.TLSConfig != nil
	for _, l := range s.listeners {
		go func() {
			var err error
			if useTLS && l.Addr().Network() == "tcp" {
				err = s.http.ServeTLS(l, "", "")
			} else {
				err = s.http.Serve(l)
			}
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error().Err(err).Str("listen", l.Addr().String()).Msg("listener failed")
			}
		}()
		log.Info().Str("listen", l.Addr().Network()+":"+l.Addr().String()).Msg("RADIUS-side API listening")
	}
	if cfg.Approval.Listen != "" {
		if err := s.startApproval(cfg); err != nil {
			s.close()
			return nil, err
		}
	}
	if cfg.Admin.CredentialFile != "" {
		if err := s.startAdmin(cfg); err != nil {
			s.close()
			return nil, err
		}
	}
	if err := s.startSelfService(cfg, dir, o.notifier); err != nil { // [self_service] (ldap.go)
		s.close()
		return nil, err
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		s.maintain(bg, cfg)
	}()
	log.Info().Str("database", store.Path()).Str("version", versionString()).Msg("radmfa serve started")
	return s, nil
}

// startApproval serves the push approval page on its own (public)
// listener, over TLS when configured.
func (s *server) startApproval(cfg *config) error {
	key, err := cfg.Approval.apiKey()
	if err != nil {
		return err
	}
	log := s.log.With().Str("listener", "approval").Logger()
	mux := http.NewServeMux()
	page := approve.New(s.engine, key, log)
	mux.Handle("/approve/", page)
	mux.Handle("/api/v1/push/", page)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	s.approval, err = s.startPage(webPage{name: "approval", listen: cfg.Approval.Listen, tlsCert: cfg.Approval.TLSCert, tlsKey: cfg.Approval.TLSKey,
		handler: mux, writeTimeout: 30 * time.Second, listening: "push approval page listening"}, log)
	return err
}

// webPage is one of serve's web pages (approval, admin, self-service) on a
// TCP listener of its own, over TLS when a certificate is set.
type webPage struct {
	name            string // in errors: "approval" -> "serve: approval listener …"
	listen          string // host:port
	tlsCert, tlsKey string
	handler         http.Handler
	writeTimeout    time.Duration
	listening       string // the log message once it listens
}

// startPage listens for p and serves it in the background; shutdown stops
// the server it returns.
func (s *server) startPage(p webPage, log zerolog.Logger) (*http.Server, error) {
	l, err := net.Listen("tcp", p.listen)
	if err != nil {
		return nil, fmt.Errorf("serve: %s listener %s: %w", p.name, p.listen, err)
	}
	s.listeners = append(s.listeners, l)
	srv := &http.Server{
		Handler:           p.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      p.writeTimeout,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          stdlog.New(httpErrorLog{log}, "", 0),
	}
	tlsOn := p.tlsCert != ""
	if tlsOn {
		cert, err := tls.LoadX509KeyPair(p.tlsCert, p.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("serve: %s TLS: %w", p.name, err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	go func() {
		var err error
		if tlsOn {
			err = srv.ServeTLS(l, "", "")
		} else {
			err = srv.Serve(l)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg(p.name + " listener failed")
		}
	}()
	log.Info().Str("listen", l.Addr().String()).Bool("tls", tlsOn).Msg(p.listening)
	return srv, nil
}

// listen opens a TCP or unix listener. A unix socket is created mode 0660
// (FreeRADIUS's user must reach it) and replaces a stale socket file left
// by a crash, never a socket another radmfa is serving on.
func (s *server) listen(addr string) (net.Listener, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("serve: listen %s: %w", addr, err)
		}
		return l, nil
	}
	if st, err := os.Lstat(path); err == nil && st.Mode()&os.ModeSocket != 0 {
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("serve: %s: another radmfa serve is listening there", path)
		}
		os.Remove(path)
	}
	old := syscall.Umask(0o117)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("serve: listen %s: %w", addr, err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(true)
	sqlite.FixOwnership(path)
	s.sockets = append(s.sockets, path)
	return l, nil
}

// shutdown stops serving: requests in flight finish (those that would
// wait are answered "no reply"), then the store is flushed and closed.
func (s *server) shutdown(timeout time.Duration) error {
	s.log.Info().Msg("shutting down: finishing requests in flight")
	s.handler.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := s.http.Shutdown(ctx)
	if err == nil {
		// Requests that waited for a push answer on their own connection.
		err = s.handler.WaitTaken(ctx)
	}
	if err != nil {
		s.log.Error().Err(err).Msg("requests still in flight at the shutdown timeout")
	}
	if s.approval != nil {
		s.approval.Shutdown(ctx)
	}
	for _, srv := range s.extra {
		srv.Shutdown(ctx)
	}
	s.close()
	s.log.Info().Msg("radmfa serve stopped")
	return err
}

func (s *server) close() {
	if s.stop != nil {
		s.stop()
		s.bg.Wait()
	}
	for _, l := range s.listeners {
		l.Close()
	}
	if s.notifiers != nil {
		if err := s.notifiers.Close(); err != nil {
			s.log.Warn().Err(err).Msg("closing notifiers")
		}
	}
	for _, c := range s.closers {
		c()
	}
	s.batcher.Close()
	s.store.Close()
}

// healthz answers 200 when the database answers within a second.
func (s *server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Error().Err(err).Msg("health check failed")
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// observer returns the handler hook that records decisions in metrics.
func observer(reg *metrics.Registry) func(mfa.Request, mfa.Decision, int, time.Duration) {
	decisions := reg.NewCounterVec("radmfa_decisions_total", "Decisions by front door, result and RADIUS client.", "front_door", "result", "client")
	latency := reg.NewHistogramVec("radmfa_decision_duration_seconds", "Time from request to answer.", metrics.DefaultBuckets, "front_door")
	return func(req mfa.Request, d mfa.Decision, status int, took time.Duration) {
		result := d.Action.String()
		if d.Action == mfa.ActionInvalid {
			result = "fail"
		}
		client := req.NAS.ClientName
		if client == "" {
			client = req.NAS.ClientIP
		}
		door := req.FrontDoor.String()
		decisions.Inc(door, result, client)
		latency.Observe(took.Seconds(), door)
	}
}

// registerMetrics adds the gauges read at scrape time.
func (s *server) registerMetrics(reg *metrics.Registry) {
	var mu sync.Mutex
	reg.NewGaugeFunc("radmfa_pending_challenges", "Access-Challenges that can still be answered.", func() float64 {
		mu.Lock()
		defer mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := s.store.PendingChallenges(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	reg.NewGaugeFunc("radmfa_pending_pushes", "Pushes waiting for an answer.", func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		n, err := s.store.PendingPushes(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	reg.NewGaugeFunc("radmfa_push_waiters", "Requests waiting in this process for a push to be answered.", func() float64 {
		return float64(s.broker.Waiting())
	})
	reg.NewGaugeFunc("go_goroutines", "Number of goroutines.", func() float64 { return float64(runtime.NumGoroutine()) })
	reg.NewGaugeFunc("process_resident_memory_bytes", "Resident memory size in bytes.", func() float64 {
		b, err := os.ReadFile("/proc/self/statm")
		if err != nil {
			return -1
		}
		var size, rss float64
		fmt.Sscan(string(b), &size, &rss)
		return rss * float64(os.Getpagesize())
	})
}

// httpErrorLog routes net/http's own error messages (TLS handshakes, bad
// requests) into the structured log.
type httpErrorLog struct{ log zerolog.Logger }

func (h httpErrorLog) Write(p []byte) (int, error) {
	h.log.Warn().Str("source", "net/http").Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
