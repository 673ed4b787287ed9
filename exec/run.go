package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/user"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/radmfa/radmfa/internal/mfa"
	"github.com/radmfa/radmfa/sqlite"
)

// Exit codes shared by every command (radmfa exec has its own, see
// exec/rlmexec).
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// cli is one invocation of radmfa: its environment and global flags.
type cli struct {
	environ []string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer

	configPath string // --config
	dbPath     string // --db

	// exitCode lets a command choose its exit code without an error
	// (radmfa exec maps decisions to codes).
	exitCode int
}

// usageError marks errors in how a command was called (exit code 2).
type usageError struct{ error }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// run runs radmfa with the arguments and returns the exit code.
func run(ctx context.Context, args, environ []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &cli{environ: environ, stdin: stdin, stdout: stdout, stderr: stderr}
	if code, ok := c.fastExec(ctx, args); ok {
		return code
	}
	if code, ok := c.fastNTLMAuth(ctx, args); ok {
		return code
	}
	root := c.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return c.exitCode
	}
	if cmd == nil {
		cmd = root
	}
	var ue usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		fmt.Fprintf(stderr, "radmfa: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
		return exitUsage
	}
	fmt.Fprintf(stderr, "radmfa: %v\n", err)
	return exitError
}

func (c *cli) getenv(key string) string {
	for i := len(c.environ) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(c.environ[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}

func (c *cli) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "radmfa",
		Short: "Second factor for existing RADIUS servers",
		Long: `radmfa gives an existing RADIUS server (FreeRADIUS, or NPS through FreeRADIUS)
a second factor: it verifies OTP codes, interprets passcode triggers typed into
the password field, answers Access-Challenge flows, and records every step
(Challenge / Success / Failure) in an SQLite event log.

With no config file everything lives in ./radmfa-data. Every command takes
--config (env RADMFA_CONFIG) and --db (env RADMFA_DB).`,
		Example: `  radmfa user add alice            # enrol alice, show a QR code to scan
  radmfa report activity           # what happened lately
  radmfa exec                      # called by FreeRADIUS rlm_exec`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.HiddenDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	c.globalFlags(root.PersistentFlags())
	root.AddCommand(
		c.execCommand(),
		c.serveCommand(),
		c.ntlmAuthCommand(),
		c.userCommand(),
		c.deviceCommand(),
		c.reportCommand(),
		c.checkConfigCommand(),
		c.doctorCommand(),
		c.pluginCommand(),
		c.versionCommand(),
	)
	return root
}

// globalFlags registers the flags every command takes.
func (c *cli) globalFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.configPath, "config", "", "config file (TOML); env RADMFA_CONFIG; default: none, data in ./radmfa-data")
	fs.StringVar(&c.dbPath, "db", "", "database file; env RADMFA_DB; overrides [store] path (the key file goes next to it, x.db -> x.key, unless [store] key_file is set)")
}

// config loads the configuration named by --config or RADMFA_CONFIG and
// applies --db or RADMFA_DB.
func (c *cli) config() (*config, error) {
	path := c.configPath
	if path == "" {
		path = c.getenv("RADMFA_CONFIG")
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	db := c.dbPath
	if db == "" {
		db = c.getenv("RADMFA_DB")
	}
	if db != "" {
		if err := cfg.setDB(db); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", cfg.name(), err)
	}
	return cfg, nil
}

// name describes where the config came from.
func (c *config) name() string {
	if c.file == "" {
		return "(embedded default)"
	}
	return c.file
}

// openStore opens the database; create says whether a missing one may be
// created.
func (c *cli) openStore(ctx context.Context, cfg *config, create bool) (*sqlite.Store, error) {
	return sqlite.Open(ctx, cfg.Store, sqlite.Options{Create: create})
}

// actor names who runs an admin command, for the audit log.
func (c *cli) actor() string {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if s := c.getenv("SUDO_USER"); s != "" && s != name {
		name += " (sudo: " + s + ")"
	}
	return name
}

// exactArgs checks the number of positional arguments, naming them in the
// error.
func exactArgs(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != len(names) {
			return usagef("%s takes %d argument(s): %s (got %d)", cmd.CommandPath(), len(names), strings.Join(names, " "), len(args))
		}
		return nil
	}
}

// notFound rewrites store "not found" errors for people.
func notFound(err error) error {
	if errors.Is(err, mfa.ErrNotFound) {
		return errors.New(strings.TrimSuffix(err.Error(), ": "+mfa.ErrNotFound.Error()) + " not found")
	}
	return err
}
