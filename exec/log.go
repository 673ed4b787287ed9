package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

// logConfig is the [log] section.
type logConfig struct {
	// Level is debug, info, warn or error. Default info.
	Level string `toml:"level"`
	// File receives the log (appended). Default: standard error, which
	// FreeRADIUS shows when it runs with -X and discards otherwise.
	// radmfa never logs to standard output: it belongs to FreeRADIUS.
	File string `toml:"file"`
	// Format is json or console. Default json, console on a terminal.
	Format string `toml:"format"`
}

func (l logConfig) validate() error {
	if _, err := l.level(); err != nil {
		return err
	}
	switch l.Format {
	case "", "json", "console":
		return nil
	}
	return fmt.Errorf("log.format = %q: want json or console", l.Format)
}

func (l logConfig) level() (zerolog.Level, error) {
	switch l.Level {
	case "", "info":
		return zerolog.InfoLevel, nil
	case "debug":
		return zerolog.DebugLevel, nil
	case "warn":
		return zerolog.WarnLevel, nil
	case "error":
		return zerolog.ErrorLevel, nil
	}
	return zerolog.NoLevel, fmt.Errorf("log.level = %q: want debug, info, warn or error", l.Level)
}

func init() {
	zerolog.TimeFieldFormat = "2006-01-02T15:04:05.000Z07:00"
	zerolog.DurationFieldUnit = time.Second
	zerolog.DurationFieldInteger = false
}

// newLogger returns the logger described by cfg, writing to the log file or
// to stderr, and a function that closes the file.
func newLogger(cfg logConfig, stderr io.Writer, component string) (zerolog.Logger, func(), error) {
	level, err := cfg.level()
	if err != nil {
		return zerolog.Nop(), func() {}, err
	}
	w, closeFn := stderr, func() {}
	if cfg.File != "" {
		f, err := os.OpenFile(cfg.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return zerolog.Nop(), closeFn, fmt.Errorf("log file: %w", err)
		}
		w, closeFn = f, func() { f.Close() }
	}
	if cfg.Format == "console" || (cfg.Format == "" && isTerminal(w)) {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Str("component", component).Logger(), closeFn, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
