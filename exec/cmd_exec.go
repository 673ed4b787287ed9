package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/radmfa/radmfa/exec/rlmexec"
	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

// execConfig is the [exec] section.
type execConfig struct {
	// Timeout bounds one radmfa exec decision. When it passes, radmfa
	// records the event and exits 2 (fail). Default 9s, just under
	// rlm_exec's default timeout of 10 s; keep it below yours.
	Timeout mfa.Duration `toml:"timeout"`
	// Daemon, if set, is a running radmfa serve that decides for exec:
	// "unix:/var/lib/radmfa/radmfa.sock" or "http://127.0.0.1:18122".
	// Push approvals need it. When it cannot be reached, exec decides
	// locally with the same database (OTP codes work; a push follows the
	// fail mode) and logs that. Default: decide locally.
	Daemon string `toml:"daemon"`
}

// defaultExecTimeout is used when [exec] timeout is unset.
const defaultExecTimeout = 9 * time.Second

func (e execConfig) timeout() time.Duration {
	if e.Timeout == 0 {
		return defaultExecTimeout
	}
	return time.Duration(e.Timeout)
}

func (e execConfig) validate() error {
	if t := e.timeout(); t < time.Second || t > 10*time.Minute {
		return fmt.Errorf("exec.timeout = %s: must be between 1s and 10m", t)
	}
	if d := e.Daemon; d != "" && !strings.HasPrefix(d, "unix:/") && !strings.HasPrefix(d, "http://") && !strings.HasPrefix(d, "https://") {
		return fmt.Errorf("exec.daemon = %q: want unix:/path/to/radmfa.sock or http://host:port", d)
	}
	return nil
}

// recordTimeout bounds writing the event after a failure or SIGTERM.
const recordTimeout = 2 * time.Second

// execFlags are the flags of radmfa exec.
type execFlags struct {
	clientIP      string
	clientName    string
	clientPort    int
	authenticator string
}

func (f *execFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.clientIP, "client-ip", "", "address of the RADIUS client (%{Packet-Src-IP-Address})")
	fs.StringVar(&f.clientName, "client-name", "", "short name of the RADIUS client (%{client:shortname})")
	fs.IntVar(&f.clientPort, "client-port", 0, "source port of the packet (%{Packet-Src-Port})")
	fs.StringVar(&f.authenticator, "authenticator", "", "the packet's Request Authenticator (%{Packet-Authentication-Vector}): with the source address and port it recognises the same packet sent again")
}

// apply puts the flags' packet details into req; a malformed value is an
// error (the request is then refused, with an event).
func (f execFlags) apply(req *mfa.Request) error {
	if f.clientIP != "" {
		req.NAS.ClientIP = f.clientIP
	}
	if f.clientName != "" {
		req.NAS.ClientName = f.clientName
	}
	var errs []error
	if f.clientPort < 0 || f.clientPort > 65535 {
		errs = append(errs, fmt.Errorf("--client-port %d: not a port number", f.clientPort))
	} else {
		req.NAS.ClientPort = f.clientPort
	}
	if f.authenticator != "" {
		h, ok := strings.CutPrefix(f.authenticator, "0x")
		b, err := hex.DecodeString(h)
		if !ok || err != nil || len(b) != 16 {
			errs = append(errs, errors.New("--authenticator: want 0x and 32 hex digits"))
		} else {
			req.Authenticator = b
		}
	}
	return errors.Join(errs...)
}

// fastExec runs "radmfa exec [flags]" without building the command tree:
// FreeRADIUS starts radmfa once per request, so start-up time is request
// latency. The flags are the same as the exec command's. Anything else
// (--help, an unknown flag, a stray argument) returns false, and the
// command tree handles it with its usual messages.
func (c *cli) fastExec(ctx context.Context, args []string) (int, bool) {
	if len(args) == 0 || args[0] != "exec" {
		return 0, false
	}
	fs := pflag.NewFlagSet("exec", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.globalFlags(fs)
	var f execFlags
	f.register(fs)
	help := fs.BoolP("help", "h", false, "")
	if err := fs.Parse(args[1:]); err != nil || *help || fs.NArg() > 0 {
		return 0, false
	}
	return c.runExec(ctx, f), true
}

func (c *cli) execCommand() *cobra.Command {
	var f execFlags
	cmd := &cobra.Command{
		Use:   "exec",
		Short: "Decide one request for FreeRADIUS rlm_exec (reads the environment, writes stdout)",
		Long: `exec is the rlm_exec front door. FreeRADIUS runs it once per request with
wait = yes and shell_escape = yes: the request attributes arrive as environment
variables (USER_NAME, USER_PASSWORD, STATE, NAS_IDENTIFIER, CALLING_STATION_ID, …),
reply attributes (Reply-Message, State) go to standard output, and the exit
code is the module's rcode:

  0  accept     (the snippet then sets control:Auth-Type := Accept)
  1  reject     (Access-Reject with Reply-Message)
  2  fail       (radmfa could not decide: store error, timeout, SIGTERM)
  4  challenge  (handled; the snippet sets Response-Packet-Type := Access-Challenge)
  6  no reply   (userlock; radmfa serve is restarting: the snippet answers nothing)

With [exec] daemon set, exec hands the request to radmfa serve (same JSON as
rlm_rest sends) and relays its answer; if serve cannot be reached, exec
decides locally with the same database and logs that.

Logs go to [log] file or standard error, never standard output. Every
decision, and every failure to decide that can still be written, is an event
in the database. The database and key file are created on first use.

Pass --client-name=%{client:shortname} and --client-ip=%{Packet-Src-IP-Address}
so challenges are bound to the RADIUS client FreeRADIUS authenticated, and
--client-port=%{Packet-Src-Port} --authenticator=%{Packet-Authentication-Vector}
so the same packet sent again (retransmitted, or to another FreeRADIUS after a
failover) counts once.`,
		Example: `  # mods-available/radmfa (see testdata/freeradius/)
  exec radmfa {
      wait = yes
      program = "/usr/local/bin/radmfa exec --config /etc/radmfa/radmfa.toml --client-name=%{client:shortname} --client-ip=%{Packet-Src-IP-Address} --client-port=%{Packet-Src-Port} --authenticator=%{Packet-Authentication-Vector}"
      input_pairs = request
      output_pairs = reply
      shell_escape = yes
      timeout = 30
  }`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c.exitCode = c.runExec(cmd.Context(), f)
			return nil
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// runExec decides one request and returns the exit code. It never writes
// anything but reply attributes to stdout.
func (c *cli) runExec(ctx context.Context, f execFlags) int {
	start := time.Now()
	req, parseErr := rlmexec.ParseEnv(c.environ)
	if err := f.apply(&req); err != nil {
		parseErr = errors.Join(parseErr, err)
	}
	unavailable := mfa.Decision{Message: mfa.MsgUnavailable}

	cfg, err := c.config()
	if err != nil {
		fmt.Fprintf(c.stderr, "radmfa exec: %v\n", err)
		return c.reply(unavailable)
	}
	log, closeLog, err := newLogger(cfg.Log, c.stderr, "exec")
	if err != nil {
		fmt.Fprintf(c.stderr, "radmfa exec: %v\n", err)
		return c.reply(unavailable)
	}
	defer closeLog()

	ctx, cancel := context.WithTimeout(ctx, cfg.Exec.timeout())
	defer cancel()
	if cfg.Exec.Daemon != "" && parseErr == nil {
		d, noReply, down, err := forward(ctx, cfg.Exec.Daemon, req)
		switch {
		case err == nil && noReply:
			log.Info().Str("user", mfa.Printable(req.UserName)).Msg("daemon is shutting down: no reply")
			return rlmexec.ExitNoReply
		case err == nil:
			log.Info().Str("tx", d.TxID).Str("user", mfa.Printable(req.UserName)).Stringer("action", d.Action).
				Dur("duration", time.Since(start)).Msg("decision by the daemon")
			return c.reply(d)
		case !down:
			log.Error().Err(err).Str("user", mfa.Printable(req.UserName)).Msg("could not decide: the daemon failed")
			return c.reply(unavailable)
		}
		log.Warn().Err(err).Msg("daemon unreachable: deciding locally")
	}
	store, err := sqlite.Open(ctx, cfg.Store, sqlite.Options{Create: true})
	if err != nil {
		log.Error().Err(err).Str("user", mfa.Printable(req.UserName)).Msg("could not decide: store unavailable")
		return c.reply(unavailable)
	}
	// The store is deliberately not closed, only trimmed after the
	// decision (see sqlite.Store.TrimWAL): closing the last connection
	// checkpoints and deletes the WAL, four fsyncs and two unlinks that
	// cost more than the decision itself.
	defer store.TrimWAL(context.WithoutCancel(ctx))
	// Notifiers start only if a code is sent; the directory connects
	// only when the engine asks it.
	opts, release, err := oneShotOptions(cfg, log)
	defer release()
	if err != nil {
		log.Error().Err(err).Msg("could not decide: notifier or directory config")
		return c.reply(unavailable)
	}
	engine, err := mfa.New(store, cfg.engineConfig(), opts...)
	if err != nil {
		log.Error().Err(err).Msg("could not decide: engine config")
		return c.reply(unavailable)
	}

	var d mfa.Decision
	if parseErr != nil {
		d, err = engine.Refuse(ctx, req, "malformed request: "+parseErr.Error())
	} else {
		d, err = engine.Decide(ctx, req)
	}
	if err != nil {
		cause := err.Error()
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			cause = fmt.Sprintf("no decision within exec.timeout (%s)", cfg.Exec.timeout())
		case ctx.Err() != nil:
			cause = "terminated (SIGTERM from FreeRADIUS: its exec timeout passed?)"
		}
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer rcancel()
		if rerr := engine.RecordError(rctx, req, d.TxID, cause); rerr != nil {
			log.Error().Err(rerr).Msg("event not recorded")
		}
		log.Error().Err(err).Str("tx", d.TxID).Str("user", mfa.Printable(req.UserName)).Str("cause", cause).Msg("could not decide")
		return c.reply(unavailable)
	}
	log.Info().Str("tx", d.TxID).Str("user", mfa.Printable(req.UserName)).Stringer("action", d.Action).
		Str("reason", d.Reason).Dur("duration", time.Since(start)).Msg("decision")
	return c.reply(d)
}

// reply writes the decision for rlm_exec and returns the exit code.
func (c *cli) reply(d mfa.Decision) int {
	var b bytes.Buffer
	code, err := rlmexec.Write(&b, d)
	if err != nil {
		fmt.Fprintf(c.stderr, "radmfa exec: reply: %v\n", err)
		b.Reset()
		code, _ = rlmexec.Write(&b, mfa.Decision{Message: mfa.MsgUnavailable})
	}
	c.stdout.Write(b.Bytes())
	return code
}
