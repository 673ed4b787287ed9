package host

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
	"github.com/rs/zerolog"
)

// scrubber remembers the secrets of recent notifications and removes them
// from text that came from a plugin (its logs, errors and details): a
// plugin that logs a revealed code must not put it in radmfa's log.
type scrubber struct {
	mu     sync.Mutex
	recent [128]string
	next   int
}

// minSecret is the shortest value worth scrubbing: shorter ones would
// blank out ordinary text.
const minSecret = 4

func (s *scrubber) add(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range secrets {
		if len(v) < minSecret {
			continue
		}
		s.recent[s.next] = v
		s.next = (s.next + 1) % len(s.recent)
	}
}

func (s *scrubber) scrub(text string) string {
	if text == "" {
		return text
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range s.recent {
		if v != "" && strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, "[redacted]")
		}
	}
	return text
}

// hcLogger is an hclog.Logger that writes to zerolog: go-plugin logs its
// own events and the plugin's log lines through it.
type hcLogger struct {
	log   zerolog.Logger
	scrub *scrubber
	name  string
	args  []any
}

var _ hclog.Logger = (*hcLogger)(nil)

func newHCLogger(log zerolog.Logger, scrub *scrubber) *hcLogger {
	return &hcLogger{log: log, scrub: scrub}
}

func (l *hcLogger) Log(level hclog.Level, msg string, args ...any) {
	ev := l.log.WithLevel(zerologLevel(level))
	if ev == nil {
		return
	}
	all := append(append([]any(nil), l.args...), args...)
	for i := 0; i+1 < len(all); i += 2 {
		key, ok := all[i].(string)
		if !ok {
			continue
		}
		l.field(ev, key, all[i+1])
	}
	ev.Msg(l.scrub.scrub(msg))
}

// field adds one key/value pair, renaming hclog's keys and scrubbing
// values.
func (l *hcLogger) field(ev *zerolog.Event, key string, v any) {
	switch key {
	case "timestamp", "@timestamp", "@caller", "level", "message", "time":
		return // zerolog has its own
	case "@module":
		key = "module"
	case "plugin":
		key = "plugin_path" // go-plugin's name for the binary; "plugin" is radmfa's notifier name
	case "component":
		key = "plugin_component"
	}
	key = strings.TrimPrefix(key, "@")
	switch v := v.(type) {
	case string:
		ev.Str(key, l.scrub.scrub(v))
	case bool:
		ev.Bool(key, v)
	case float64:
		ev.Float64(key, v)
	case int:
		ev.Int(key, v)
	case int64:
		ev.Int64(key, v)
	case error:
		ev.Str(key, l.scrub.scrub(v.Error()))
	case nil:
		ev.Interface(key, nil)
	default:
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			ev.Str(key, "(unprintable)")
			return
		}
		ev.RawJSON(key, []byte(l.scrub.scrub(strings.TrimSpace(b.String()))))
	}
}

func zerologLevel(l hclog.Level) zerolog.Level {
	switch l {
	case hclog.Trace:
		return zerolog.TraceLevel
	case hclog.Debug:
		return zerolog.DebugLevel
	case hclog.Info, hclog.NoLevel:
		return zerolog.InfoLevel
	case hclog.Warn:
		return zerolog.WarnLevel
	case hclog.Error:
		return zerolog.ErrorLevel
	case hclog.Off:
		return zerolog.Disabled
	}
	return zerolog.InfoLevel
}

func (l *hcLogger) Trace(msg string, args ...any) { l.Log(hclog.Trace, msg, args...) }
func (l *hcLogger) Debug(msg string, args ...any) { l.Log(hclog.Debug, msg, args...) }
func (l *hcLogger) Info(msg string, args ...any)  { l.Log(hclog.Info, msg, args...) }
func (l *hcLogger) Warn(msg string, args ...any)  { l.Log(hclog.Warn, msg, args...) }
func (l *hcLogger) Error(msg string, args ...any) { l.Log(hclog.Error, msg, args...) }

func (l *hcLogger) enabled(level zerolog.Level) bool {
	return level >= l.log.GetLevel() && level >= zerolog.GlobalLevel()
}

func (l *hcLogger) IsTrace() bool { return l.enabled(zerolog.TraceLevel) }
func (l *hcLogger) IsDebug() bool { return l.enabled(zerolog.DebugLevel) }
func (l *hcLogger) IsInfo() bool  { return l.enabled(zerolog.InfoLevel) }
func (l *hcLogger) IsWarn() bool  { return l.enabled(zerolog.WarnLevel) }
func (l *hcLogger) IsError() bool { return l.enabled(zerolog.ErrorLevel) }

func (l *hcLogger) ImpliedArgs() []any { return l.args }

func (l *hcLogger) With(args ...any) hclog.Logger {
	c := *l
	c.args = append(append([]any(nil), l.args...), args...)
	return &c
}

func (l *hcLogger) Name() string { return l.name }

// Named keeps go-plugin's sub-logger names (the plugin binary's, "stdio")
// in a "module" field.
func (l *hcLogger) Named(name string) hclog.Logger {
	if l.name != "" {
		name = l.name + "." + name
	}
	return l.ResetNamed(name)
}

func (l *hcLogger) ResetNamed(name string) hclog.Logger {
	c := *l
	c.name = name
	c.log = l.log.With().Str("module", name).Logger()
	return &c
}

// SetLevel is ignored: radmfa's log level rules.
func (l *hcLogger) SetLevel(hclog.Level) {}

func (l *hcLogger) GetLevel() hclog.Level {
	switch lv := max(l.log.GetLevel(), zerolog.GlobalLevel()); {
	case lv <= zerolog.TraceLevel:
		return hclog.Trace
	case lv == zerolog.DebugLevel:
		return hclog.Debug
	case lv == zerolog.InfoLevel:
		return hclog.Info
	case lv == zerolog.WarnLevel:
		return hclog.Warn
	case lv == zerolog.Disabled:
		return hclog.Off
	}
	return hclog.Error
}

func (l *hcLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(l.StandardWriter(opts), "", 0)
}

func (l *hcLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &lineWriter{emit: func(line string) { l.Info(line) }}
}

// lineWriter splits what a plugin writes to its (redirected) stdout or
// stderr into lines and logs each: hclog JSON lines with their level and
// fields, others as they are.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(line string)
}

const maxLine = 64 << 10

func newLineWriter(log zerolog.Logger, scrub *scrubber, stream string) *lineWriter {
	l := &hcLogger{log: log.With().Str("stream", stream).Logger(), scrub: scrub}
	return &lineWriter{emit: func(line string) { l.logLine(line) }}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			if len(w.buf) > maxLine {
				w.emit(string(w.buf))
				w.buf = w.buf[:0]
			}
			return len(p), nil
		}
		if line := strings.TrimRight(string(w.buf[:i]), "\r"); line != "" {
			w.emit(line)
		}
		w.buf = w.buf[i+1:]
	}
}

// logLine logs one line from a plugin's output stream.
func (l *hcLogger) logLine(line string) {
	if strings.HasPrefix(line, "{") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) == nil {
			msg, _ := entry["@message"].(string)
			lv, _ := entry["@level"].(string)
			delete(entry, "@message")
			delete(entry, "@level")
			args := make([]any, 0, 2*len(entry))
			for _, k := range slices.Sorted(maps.Keys(entry)) {
				args = append(args, k, entry[k])
			}
			l.Log(hclog.LevelFromString(lv), msg, args...)
			return
		}
	}
	l.Info(line)
}
