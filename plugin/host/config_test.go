package host

import (
	"strings"
	"testing"
	"time"

	"github.com/radmfa/radmfa/internal/mfa"
)

func TestConfigValidate(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		cfg  Config
		want string // "" valid
	}{
		{"builtin", Config{Builtin: "ntfy", Settings: map[string]any{"topic": "t"}}, ""},
		{"external", Config{Path: "/usr/lib/radmfa/sms", SHA256: sum, Args: []string{"-v"}, Env: []string{"GW=x=y"}}, ""},
		{"checksum with newline", Config{Path: "p", SHA256: sum + "\n"}, ""},
		{"timeouts", Config{Builtin: "command", Settings: map[string]any{"path": "/bin/true"},
			Timeout: mfa.Duration(time.Minute), StartTimeout: mfa.Duration(time.Second)}, ""},
		{"neither", Config{}, "want builtin (one of command, ntfy, smtp, webhook) or path"},
		{"both", Config{Builtin: "ntfy", Path: "/x"}, "cannot be used together"},
		{"unknown builtin", Config{Builtin: "sms"}, `no built-in notifier "sms"`},
		{"builtin settings", Config{Builtin: "webhook", Settings: map[string]any{"url": "http://example.com/"}}, "loopback"},
		{"builtin with checksum", Config{Builtin: "ntfy", SHA256: sum}, "args and sha256 are for external plugins"},
		{"no checksum", Config{Path: "/x"}, "sha256 is required"},
		{"short checksum", Config{Path: "/x", SHA256: "abc"}, "want 64 hex digits"},
		{"not hex", Config{Path: "/x", SHA256: strings.Repeat("zz", 32)}, "want 64 hex digits"},
		{"negative timeout", Config{Path: "/x", SHA256: sum, Timeout: mfa.Duration(-time.Second)}, "timeout = -1s"},
		{"huge start timeout", Config{Path: "/x", SHA256: sum, StartTimeout: mfa.Duration(time.Hour)}, "start_timeout = 1h0m0s"},
		{"env without value", Config{Path: "/x", SHA256: sum, Env: []string{"FOO"}}, `env entry "FOO"`},
		{"env cookie", Config{Path: "/x", SHA256: sum, Env: []string{"RADMFA_PLUGIN=x"}}, "set by radmfa"},
		{"env go-plugin", Config{Path: "/x", SHA256: sum, Env: []string{"PLUGIN_MIN_PORT=1"}}, "set by radmfa"},
		{"unencodable settings", Config{Path: "/x", SHA256: sum, Settings: map[string]any{"f": func() {}}}, "settings:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want valid", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestProgram(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		opts     Options
		wantPath string
		wantArgs string
	}{
		{"builtin", Config{Builtin: "smtp"}, Options{Executable: "/usr/bin/radmfa"}, "/usr/bin/radmfa", "plugin smtp"},
		{"absolute", Config{Path: "/opt/p", Args: []string{"-x"}}, Options{Dir: "/etc/radmfa"}, "/opt/p", "-x"},
		{"relative to the config", Config{Path: "plugins/p"}, Options{Dir: "/etc/radmfa"}, "/etc/radmfa/plugins/p", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, args := tt.cfg.program(tt.opts)
			if path != tt.wantPath || strings.Join(args, " ") != tt.wantArgs {
				t.Fatalf("got %s %v, want %s %s", path, args, tt.wantPath, tt.wantArgs)
			}
		})
	}
}

func TestHostEnv(t *testing.T) {
	t.Setenv("RADMFA_DB", "/secret/place.db")
	t.Setenv("TZ", "Europe/London")
	env := strings.Join(hostEnv(), "\n")
	if strings.Contains(env, "RADMFA_DB") || !strings.Contains(env, "TZ=Europe/London") {
		t.Fatalf("plugin environment:\n%s", env)
	}
}
